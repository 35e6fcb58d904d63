"""The one spelling of a URL that linkback identity compares and stores."""

from __future__ import annotations

from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import idna

from commentsvc.fields import normal_host


def normalise_url(url: str) -> str:
    """Return the one spelling of a URL that linkback identity compares and stores.

    Scheme and host in lower case, the host in IDNA (ASCII) form without a trailing dot, no
    default port, no credentials, no fragment, no empty query, "/" for an empty path.

    :raise ValueError: when it is no URL with a host (or the host is no valid name).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    raw = (parts.hostname or "").rstrip(".")
    if not raw:
        raise ValueError("a URL without a host")
    if raw.isascii() and ":" not in raw:
        _check_labels(raw)
    host = normal_host(raw)  # the one form of a host, as bans and origins compare it
    if not host.isascii():
        raise ValueError("a host name that IDNA cannot spell")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def _check_labels(host: str) -> None:
    for label in host.split("."):
        if not label or len(label) > 63:
            raise ValueError("a host name with an empty or overlong label")
        if label.startswith("xn--"):
            idna.decode(label)  # an A-label that decodes to nothing valid names no host


def same_url(a: str, b: str) -> bool:
    """Tell whether two URLs name the same page (after normalise_url); invalid ones never do."""
    try:
        return normalise_url(a) == normalise_url(b)
    except ValueError:
        return False


def host_of(url: str) -> str:
    """Return the normalised host[:port] of a URL, or "" when it has none."""
    try:
        return urlsplit(normalise_url(url)).netloc
    except ValueError:
        return ""
