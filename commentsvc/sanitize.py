"""Rendering and sanitising: the only module that imports bleach."""

from __future__ import annotations

import functools
import html
import re

import bleach
from bleach.linkifier import LinkifyFilter
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {"p", "br", "a", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li"}
)
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]+")


def _safe_href(value: str) -> bool:
    # bleach lets through what urlparse cannot read a scheme from ("jav%09ascript:x"): a link
    # is kept only when it is relative (no colon before the first / ? #) or its scheme is allowed.
    head = re.split(r"[/?#]", _CONTROL.sub("", value), maxsplit=1)[0]
    return ":" not in head or head.split(":", 1)[0].lower() in ALLOWED_PROTOCOLS


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    return tag == "a" and (name == "rel" or (name == "href" and _safe_href(value)))


ALLOWED_ATTRIBUTES = {"a": _allowed_attribute}
LINK_REL = "nofollow ugc noopener"
# Deeper quotes and lists render as text: rendering stays linear in the input, whatever it is.
MAX_NESTING = 20


def _set_rel(attrs, new=False):
    # Every link, the author's own or one found by linkify, gets the same rel.
    attrs[(None, "rel")] = LINK_REL
    attrs.pop((None, "target"), None)
    return attrs


@functools.cache
def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML off: "<script>" in a comment is text, not markup.
    return MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "breaks": True, "maxNesting": MAX_NESTING},
    )


@functools.cache
def _cleaner() -> bleach.Cleaner:
    return bleach.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[
            functools.partial(
                LinkifyFilter, callbacks=[_set_rel], skip_tags={"pre", "code"}, parse_email=False
            )
        ],
    )


def render_markdown(text: str) -> str:
    """Return the comment text rendered from Markdown and sanitised, ready to store."""
    return clean_html(_markdown().render(text))


def clean_html(markup: str) -> str:
    """Return markup reduced to the allow-list, links given rel="nofollow ugc noopener"."""
    return _cleaner().clean(markup).strip()


# Remote HTML (a fediverse post) is cut to this many characters before it is parsed.
MAX_REMOTE_HTML = 20_000


def clean_remote_html(markup: str) -> str:
    """Return HTML from another server reduced to the allow-list: images (custom emoji) become
    their alt text, links (mentions, hashtags) stay links."""
    soup = BeautifulSoup(markup[:MAX_REMOTE_HTML], "html.parser")
    # What never shows as text on the server it came from does not show here either.
    for hidden in soup.find_all(["script", "style", "template", "noscript", "iframe", "object"]):
        hidden.decompose()
    for image in soup.find_all("img"):
        alt = image.get("alt")
        image.replace_with(alt if isinstance(alt, str) else "")
    return clean_html(str(soup))


def html_text(markup: str) -> str:
    """Return the text of sanitised markup, for the rules that read words."""
    return BeautifulSoup(markup, "html.parser").get_text(" ").strip()


def escape(text: str) -> str:
    """Return plain text escaped for HTML (fields that are not rich text)."""
    return html.escape(text, quote=True)


def count_links(markup: str) -> int:
    """Return how many links sanitised markup holds."""
    return markup.count("<a ")
