"""Reading a stranger's HTML in linear time: a bounded tokenizer that writes a tidy copy.

Source pages are hostile input. The parsers at hand are not linear on them (measured on
Python 3.11 and libxml2 2.14): the standard library's html.parser (and BeautifulSoup on top of
it) is quadratic in unclosed `</` and `<!--`, lxml in distinct attributes on one tag, html5lib in
unclosed formatting elements. So a page is first read here, in one pass, into a tidy copy:
well-formed, no comments, no script or style text, every text and attribute escaped, at most
MAX_ELEMENTS elements, MAX_DEPTH deep, MAX_ATTRIBUTES attributes each; a new `<a>` closes an open
one, as browsers do. BeautifulSoup and mf2py then read the tidy copy, in which nothing is
left that any parser handles badly.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

MAX_ELEMENTS = 20_000
MAX_DEPTH = 64
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_VALUE = 4096

VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr keygen".split()
)
# Their content is not markup; only the title's text is kept.
RAW_TEXT = frozenset(
    "script style xmp iframe noembed noframes noscript template textarea title".split()
)
# A new one of these closes the open one (the link, paragraph or list item before it).
SELF_CLOSING_SIBLINGS = frozenset(["a", "p", "li", "dt", "dd", "option"])

_TAG_NAME = re.compile(r"[A-Za-z][^\s/>]*")
_GOOD_TAG = re.compile(r"[a-z][a-z0-9-]{0,31}")
_ATTRIBUTE_NAME = re.compile(r"[^\s/>][^\s/>=]*")
_GOOD_ATTRIBUTE = re.compile(r"[a-z_:][-a-z0-9_:.]{0,63}")
_SPACES = re.compile(r"[\s/]+")
_EQUALS = re.compile(r"\s*=\s*")
_UNQUOTED = re.compile(r"[^\s>]*")
_RAW_END: dict[str, re.Pattern] = {
    name: re.compile(rf"</{name}[\s/>]", re.I) for name in RAW_TEXT | {"plaintext"}
}


@dataclass(frozen=True)
class Tidy:
    """A page's tidy copy, and how much of the page it holds."""

    html: str
    elements: int
    depth: int
    truncated: bool  # elements past MAX_ELEMENTS (or MAX_DEPTH) were left out


def tidy_html(text: str) -> Tidy:
    """Return a well-formed, bounded copy of text, read in one linear pass."""
    writer = _Writer()
    _tokenize(text.replace("\0", "\ufffd"), writer)
    return writer.finish()


class _Writer:
    def __init__(self):
        self.out: list[str] = []
        self.pending: list[str] = []  # raw text since the last tag, decoded and escaped at once
        self.stack: list[str] = []
        self.open: dict[str, int] = {}
        self.elements = 0
        self.depth = 0
        self.truncated = False

    def text(self, data: str) -> None:
        if data:
            self.pending.append(data)

    def _flush(self) -> None:
        if self.pending:
            self.out.append(html.escape(html.unescape("".join(self.pending)), quote=False))
            self.pending.clear()

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if not _GOOD_TAG.fullmatch(name):
            return
        if self.elements >= MAX_ELEMENTS:
            self.truncated = True
            return
        if name in SELF_CLOSING_SIBLINGS and self.open.get(name):
            self.end(name)
        if name not in VOID and len(self.stack) >= MAX_DEPTH:
            self.truncated = True  # its content stays with its parent
            return
        self.elements += 1
        self._flush()
        written = "".join(
            f' {key}="{html.escape(html.unescape(value)[:MAX_ATTRIBUTE_VALUE])}"'
            for key, value in attrs.items()
        )
        self.out.append(f"<{name}{written}>")
        if name not in VOID:
            self.stack.append(name)
            self.open[name] = self.open.get(name, 0) + 1
            self.depth = max(self.depth, len(self.stack))

    def end(self, name: str) -> None:
        if not self.open.get(name):
            return
        self._flush()
        while self.stack:
            closed = self.stack.pop()
            self.open[closed] -= 1
            self.out.append(f"</{closed}>")
            if closed == name:
                return

    def finish(self) -> Tidy:
        self._flush()
        while self.stack:
            self.out.append(f"</{self.stack.pop()}>")
        return Tidy("".join(self.out), self.elements, self.depth, self.truncated)


def _tokenize(s: str, writer: _Writer) -> None:
    """Split s into text and tags; every step consumes what it looked at, so the pass is linear."""
    n = len(s)
    i = 0
    while i < n:
        j = s.find("<", i)
        if j < 0:
            writer.text(s[i:])
            return
        writer.text(s[i:j])
        i = j
        following = s[i + 1 : i + 2]
        if s.startswith("<!--", i):
            end = s.find("-->", i + 4)
            i = n if end < 0 else end + 3
        elif following in ("!", "?"):
            end = s.find(">", i + 2)
            i = n if end < 0 else end + 1
        elif following == "/":
            name = _TAG_NAME.match(s, i + 2)
            end = s.find(">", name.end() if name else i + 2)
            if name:
                writer.end(name.group().lower())
            i = n if end < 0 else end + 1
        else:
            name = _TAG_NAME.match(s, i + 1)
            if name is None:
                writer.text("<")
                i += 1
                continue
            tag = name.group().lower()
            attrs, i = _attributes(s, name.end())
            writer.start(tag, attrs)
            if tag in _RAW_END:
                i = _raw_text(s, i, tag, writer)


def _attributes(s: str, i: int) -> tuple[dict[str, str], int]:
    n = len(s)
    attrs: dict[str, str] = {}
    while i < n:
        if s[i] == ">":
            return attrs, i + 1
        spaces = _SPACES.match(s, i)
        if spaces:
            i = spaces.end()
            continue
        name = _ATTRIBUTE_NAME.match(s, i)
        i = name.end()
        value = ""
        equals = _EQUALS.match(s, i)
        if equals:
            i = equals.end()
            if i < n and s[i] in "\"'":
                close = s.find(s[i], i + 1)
                value = s[i + 1 :] if close < 0 else s[i + 1 : close]
                i = n if close < 0 else close + 1
            else:
                unquoted = _UNQUOTED.match(s, i)
                value, i = unquoted.group(), unquoted.end()
        key = name.group().lower()
        if len(attrs) < MAX_ATTRIBUTES and key not in attrs and _GOOD_ATTRIBUTE.fullmatch(key):
            attrs[key] = value
    return attrs, n


def _raw_text(s: str, i: int, tag: str, writer: _Writer) -> int:
    if tag == "plaintext":
        end = None
    else:
        end = _RAW_END[tag].search(s, i)
    content = s[i : end.start() if end else len(s)]
    if tag == "title":
        writer.text(content)
    writer.end(tag)
    if end is None:
        return len(s)
    close = s.find(">", end.start())
    return len(s) if close < 0 else close + 1
