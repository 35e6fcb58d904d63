"""Verification of a linkback: does the source page really link to the target, and how."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from dataclasses import replace
from urllib.parse import urljoin
from urllib.parse import urlsplit

import mf2py
import webencodings
from bs4 import BeautifulSoup

from commentsvc.linkbacks.fetch import Fetched
from commentsvc.linkbacks.markup import tidy_html
from commentsvc.linkbacks.urls import normalise_url
from commentsvc.linkbacks.urls import same_url

__all__ = ["Found", "decode_html", "find_link"]

EXCERPT_SIDE = 100
# What a stored linkback may hold, in code points: a source cannot grow a thread beyond this.
MAX_TITLE = 200
MAX_AUTHOR = 100
MAX_EXCERPT = 300
MAX_URL = 2000
# Links examined per page, and the size of the h-entry handed to mf2py: bounds on CPU time.
MAX_MATCHES = 50
MAX_MICROFORMAT_ELEMENTS = 5000
_MARKERS = re.compile(r"^(?:\s*(?:\[(?:…|\.\.\.)\]|…))+|(?:(?:\[(?:…|\.\.\.)\]|…)\s*)+$")
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
    # The h-entry's own u-url when it differs from the source: the original a copy stands for
    # (Bridgy's copy of a fediverse reply names the reply's URL here).
    original_url: str = ""


def decode_html(body: bytes, content_type_header: str = "") -> str:
    """Return the page as text: charset from the BOM, the header, <meta>, then a fallback.

    Labels are read as browsers read them (WHATWG Encoding, through webencodings): a label that
    names no text encoding (rot13, base64, zlib) is ignored, never handed to codecs.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    declared = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type_header or "", re.I)
    meta = _META_CHARSET.search(body[:4096])
    for label, in_page in (
        (declared.group(1) if declared else None, False),
        (meta.group(1).decode("ascii") if meta else None, True),
    ):
        encoding = _encoding(label, in_page)
        if encoding is not None:
            try:
                return encoding.codec_info.decode(body, "replace")[0]
            except (LookupError, UnicodeError, TypeError, ValueError):
                break
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def _encoding(label: str | None, in_page: bool):
    if not label:
        return None
    encoding = webencodings.lookup(label)
    if encoding is None or encoding.name == "replacement":
        return None
    if in_page and encoding.name.startswith("utf-16"):
        # A page cannot be UTF-16 and say so in ASCII: browsers read it as UTF-8.
        return webencodings.UTF8
    return encoding


def clip(text: str, limit: int) -> str:
    """Return text cut to at most limit code points, at a word boundary where there is one."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else text[:limit]).rstrip()


def clip_excerpt(text: str) -> str:
    """Return an excerpt fit to store: no "[…]" markers of its own (the widget adds them),
    at most MAX_EXCERPT code points, cut between words."""
    return clip(_MARKERS.sub("", _clean(text)).strip(), MAX_EXCERPT)


def clip_url(url: str) -> str:
    """Return an http(s) URL fit to store, or "" for anything else or anything too long."""
    url = url.strip()
    if len(url) > MAX_URL or not url.lower().startswith(("http://", "https://")):
        return ""
    return url


def find_link(fetched: Fetched, target: str, *, media: bool = False) -> Found | None:
    """Return what the page says around its link to target, or None when it has none.

    Only real links count: <a href> (and for Webmention, img/video/audio sources), after
    entity decoding and resolution against the page's final URL, equal to the target exactly.
    Text, HTML comments and escaped HTML never count. The page is read through its tidy copy
    (markup.tidy_html), so that the work is linear in its size and bounded.
    """
    if fetched.content_type not in HTML_TYPES:
        return None
    text = decode_html(fetched.body, fetched.headers.get("content-type", ""))
    soup = BeautifulSoup(tidy_html(text).html, "html.parser")
    base = _base_url(soup, fetched.url)
    try:
        wanted = normalise_url(target)
    except ValueError:
        return None
    matches = []
    for tag in soup.find_all(["a", *MEDIA_TAGS] if media else ["a"]):
        attr = "href" if tag.name == "a" else MEDIA_TAGS[tag.name]
        value = tag.get(attr)
        if isinstance(value, str) and value.strip() and same_url(urljoin(base, value), wanted):
            matches.append(tag)
            if len(matches) >= MAX_MATCHES:
                break
    anchor = _best_link(matches)
    if anchor is None:
        return None
    title = _title(soup) or (urlsplit(fetched.url).hostname or fetched.url)
    found = Found(title=clip(title, MAX_TITLE), excerpt="")
    # Microformats first: the excerpt replaces the link in the tree with its text.
    found = _with_microformats(found, soup, base, wanted)
    return replace(found, excerpt=_excerpt(anchor))


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
    try:
        return urljoin(url, base["href"]) if base else url
    except ValueError:
        return url


def _title(soup: BeautifulSoup) -> str:
    tag = soup.find("title")
    return _clean(tag.get_text()) if tag else ""


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _excerpt(anchor) -> str:
    """Return about 100 characters either side of the link, from its block of text, cut
    between words at both ends."""
    block = anchor
    while block.parent is not None and block.name not in _BLOCKS:
        block = block.parent
    marker = "\x00LINK\x00"
    link_text = clip(_clean(anchor.get_text()) or anchor.get("href", "") or "", EXCERPT_SIDE)
    anchor.replace_with(marker + link_text + marker)
    text = _clean(block.get_text(" "))
    before, _, rest = text.partition(marker)
    middle, _, after = rest.partition(marker)
    before = _tail_words(before.rstrip(), EXCERPT_SIDE)
    after = clip(after.lstrip(), EXCERPT_SIDE)
    excerpt = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _clean(f"{before} {middle} {after}"))
    return clip_excerpt(excerpt)


def _tail_words(text: str, limit: int) -> str:
    """Return the last limit code points of text, starting at a word boundary."""
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    if text[-limit - 1] != " ":
        space = tail.find(" ")
        tail = tail[space + 1 :] if 0 <= space < limit // 2 else tail
    return tail.lstrip()


def _with_microformats(found: Found, soup: BeautifulSoup, url: str, target: str) -> Found:
    # mf2py reads only the first h-entry of the tidy copy, and only when it is of a bounded
    # size; it gets the URL as a base and never fetches.
    entry_tag = soup.find(class_="h-entry")
    if entry_tag is None or len(entry_tag.find_all(True)) > MAX_MICROFORMAT_ELEMENTS:
        return found
    try:
        parsed = mf2py.parse(doc=str(entry_tag), url=url, html_parser="html.parser")
    except Exception:  # noqa: BLE001 - microformats are a bonus; a broken page still verifies
        return found
    entry = next((i for i in parsed.get("items", []) if "h-entry" in i.get("type", [])), None)
    if entry is None:
        return found
    props = entry.get("properties", {})
    author, author_url, photo = _author(props.get("author", []))
    mention_type = "mention"
    for prop, kind in (("in-reply-to", "reply"), ("like-of", "like"), ("repost-of", "repost")):
        if any(same_url(_value_url(v), target) for v in props.get(prop, []) if _value_url(v)):
            mention_type = kind
            break
    name = _text(props.get("name", []))
    original = clip_url(_value_url((props.get("url") or [""])[0]))
    return Found(
        original_url=original if original and not same_url(original, url) else "",
        title=clip(name or found.title, MAX_TITLE),
        excerpt=found.excerpt,
        author=clip(author, MAX_AUTHOR),
        author_url=clip_url(author_url),
        author_photo=clip_url(photo),
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
