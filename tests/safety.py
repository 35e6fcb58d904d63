"""The XSS pass criteria of shared/data/xss/SOURCES.md, checked with an HTML5 parser."""

from __future__ import annotations

import re
from pathlib import Path

import html5lib
import pytest

FORBIDDEN_ELEMENTS = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "form",
    "img",
    "noscript",
    "base",
    "link",
    "meta",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "data", "poster"}
SAFE_SCHEMES = {"http", "https", "mailto"}
_STRIP = re.compile(r"[\x00-\x20\x7f-\x9f]+")

SHARED = Path(__file__).resolve().parents[2] / "shared"
XSS_DIR = SHARED / "data" / "xss"
INSTEAD = "; the compact corpus of tests/test_attacks.py runs instead"


def needs_shared(path: Path, instead: str = ""):
    """Skip where a large shared corpus is absent (a clone on its own); CI has ../shared."""
    return pytest.mark.skipif(
        not path.exists(),
        reason=f"needs {path} from ../shared (absent: a clone on its own){instead}",
    )


def unsafe_parts(markup: str) -> list[str]:
    """Return what in the markup could run script or load from elsewhere (empty when safe)."""
    problems = []
    document = html5lib.parseFragment(markup, treebuilder="etree", namespaceHTMLElements=False)
    for element in document.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        local = tag.rsplit("}", 1)[-1].lower()
        if local in FORBIDDEN_ELEMENTS:
            problems.append(f"element <{local}>")
        for name, value in element.attrib.items():
            attr = name.rsplit("}", 1)[-1].lower()
            if attr.startswith("on"):
                problems.append(f"event handler {attr}")
            if attr == "style":
                problems.append("style attribute")
            if attr in URL_ATTRIBUTES:
                cleaned = _STRIP.sub("", value).lower()
                scheme = cleaned.split(":", 1)[0] if ":" in cleaned.split("/", 1)[0] else ""
                if scheme and scheme not in SAFE_SCHEMES:
                    problems.append(f"{attr} with scheme {scheme}")
    return problems


def xss_vectors(collection: str = "") -> list[str]:
    """Return every line of the shared XSS lists (or one collection), once each, non-empty."""
    seen: dict[str, None] = {}
    for path in sorted((XSS_DIR / collection).rglob("*.txt")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                seen.setdefault(line, None)
    return list(seen)
