"""Verification of a linkback: does the source page really link to the target, and how."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from urllib.parse import urljoin
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import mf2py
from bs4 import BeautifulSoup
from bs4 import Comment as HTMLComment

from commentsvc.linkbacks.fetch import Fetched

EXCERPT_SIDE = 100
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?)])")
HTML_TYPES = ("text/html", "application/xhtml+xml", "")
_BLOCKS = {
    "p",
    "li",
    "blockquote",
    "article",
    "div",
    "section",
    "td",
    "body",
    "nav",
    "header",
    "footer",
    "main",
    "figure",
    "dd",
}
MEDIA_TAGS = {"img": "src", "video": "src", "audio": "src", "source": "src"}


@dataclass(frozen=True)
class Found:
    """What a verified source says about its link: all plain text, never the source's HTML."""

    title: str
    excerpt: str
    author: str = ""
    author_url: str = ""
    author_photo: str = ""
    mention_type: str = "mention"  # reply, like, repost or mention


def decode_html(body: bytes, content_type_header: str = "") -> str:
    """Return the page as text: charset from the BOM, the header, <meta>, then a fallback."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    declared = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type_header or "", re.I)
    meta = _META_CHARSET.search(body[:4096])
    for label in (
        declared.group(1) if declared else None,
        meta.group(1).decode("ascii") if meta else None,
    ):
        encoding = _codec(label)
        if encoding:
            return body.decode(encoding, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    # As browsers do (WHATWG Encoding): a page that says Latin-1 or ASCII is read as windows-1252.
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def normalise_url(url: str) -> str:
    """Return a URL in a form fit for exact comparison: scheme and host lower case, no fragment."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and (parts.scheme.lower(), port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


def find_link(fetched: Fetched, target: str, *, media: bool = False) -> Found | None:
    """Return what the page says around its link to target, or None when it has none.

    Only real links count: <a href> (and for Webmention, img/video/audio sources), after
    entity decoding and resolution against the page's final URL, equal to the target exactly.
    Text, HTML comments and escaped HTML never count.
    """
    if fetched.content_type not in HTML_TYPES:
        return None
    text = decode_html(fetched.body, fetched.headers.get("content-type", ""))
    soup = BeautifulSoup(text, "html.parser")
    base = _base_url(soup, fetched.url)
    wanted = normalise_url(target)
    matches = []
    for tag in soup.find_all(["a", *MEDIA_TAGS] if media else ["a"]):
        attr = "href" if tag.name == "a" else MEDIA_TAGS[tag.name]
        value = tag.get(attr)
        if isinstance(value, str) and value.strip():
            try:
                if normalise_url(urljoin(base, value.strip())) == wanted:
                    matches.append(tag)
            except ValueError:
                continue
    anchor = _best_link(matches)
    if anchor is None:
        return None
    title = _title(soup) or (urlsplit(fetched.url).hostname or fetched.url)
    excerpt = _excerpt(anchor)
    return _with_microformats(Found(title=title, excerpt=excerpt), text, fetched.url, wanted)


def _best_link(matches: list):
    """Prefer the link in the post's own text over one in navigation or a sidebar."""
    for inside in (_in_entry_content, _in_article):
        for tag in matches:
            if inside(tag):
                return tag
    return matches[0] if matches else None


def _in_entry_content(tag) -> bool:
    return any("e-content" in (parent.get("class") or []) for parent in tag.parents)


def _in_article(tag) -> bool:
    return any(parent.name in ("article", "main") for parent in tag.parents)


def _base_url(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    return urljoin(url, base["href"]) if base else url


def _title(soup: BeautifulSoup) -> str:
    tag = soup.find("title")
    return _clean(tag.get_text())[:300] if tag else ""


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _excerpt(anchor) -> str:
    """Return about 100 characters either side of the link, from its block of text."""
    block = anchor
    while block.parent is not None and block.name not in _BLOCKS:
        block = block.parent
    for comment in block.find_all(string=lambda s: isinstance(s, HTMLComment)):
        comment.extract()
    for hidden in block.find_all(["script", "style", "template", "noscript"]):
        hidden.decompose()
    marker = "\x00LINK\x00"
    link_text = _clean(anchor.get_text()) or anchor.get("href", "") or ""
    anchor.replace_with(marker + link_text + marker)
    text = _clean(block.get_text(" "))
    before, _, rest = text.partition(marker)
    middle, _, after = rest.partition(marker)
    before = before.rstrip()[-EXCERPT_SIDE:].lstrip()
    after = after.lstrip()[:EXCERPT_SIDE].rstrip()
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _clean(f"{before} {middle} {after}"))


def _with_microformats(found: Found, text: str, url: str, target: str) -> Found:
    # mf2py gets the text we already have and the URL only as a base: it never fetches.
    try:
        parsed = mf2py.parse(doc=text, url=url, html_parser="html.parser")
    except Exception:  # noqa: BLE001 - microformats are a bonus; a broken page still verifies
        return found
    entry = next((i for i in parsed.get("items", []) if "h-entry" in i.get("type", [])), None)
    if entry is None:
        return found
    props = entry.get("properties", {})
    author, author_url, photo = _author(props.get("author", []))
    mention_type = "mention"
    for prop, kind in (("in-reply-to", "reply"), ("like-of", "like"), ("repost-of", "repost")):
        if any(
            normalise_url(_value_url(v)) == target for v in props.get(prop, []) if _value_url(v)
        ):
            mention_type = kind
            break
    name = _text(props.get("name", []))
    return Found(
        title=(name or found.title)[:300],
        excerpt=found.excerpt,
        author=author[:100],
        author_url=author_url if author_url.startswith(("http://", "https://")) else "",
        author_photo=photo if photo.startswith(("http://", "https://")) else "",
        mention_type=mention_type,
    )


def _author(values: list) -> tuple[str, str, str]:
    for value in values:
        if isinstance(value, dict):
            props = value.get("properties", {})
            return (
                _text(props.get("name", [])),
                _value_url((props.get("url") or [""])[0]),
                _value_url((props.get("photo") or [""])[0]),
            )
        if isinstance(value, str):
            return _clean(value), "", ""
    return "", "", ""


def _value_url(value) -> str:
    if isinstance(value, dict):
        value = (
            value.get("value")
            or value.get("url")
            or (value.get("properties", {}).get("url") or [""])[0]
        )
    return value if isinstance(value, str) else ""


def _text(values: list) -> str:
    for value in values:
        if isinstance(value, str):
            return _clean(value)
        if isinstance(value, dict) and isinstance(value.get("value"), str):
            return _clean(value["value"])
    return ""
