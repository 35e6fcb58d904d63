"""Validation of single input values; each failure is a ValidationError naming the field."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import idna

from commentsvc.errors import ValidationError

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls, DEL, and the bidi overrides that can disguise text; tab and newline are
# kept in multi-line fields only.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Characters RFC 3986 never allows in a URL, which browsers would have to escape.
_NOT_IN_URLS = re.compile(r"[<>\"`{}|\\^]")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}\.?$){_LABEL}(?:\.{_LABEL})*\.?$", re.I)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def text_field(
    value: Any,
    field: str,
    *,
    max_length: int,
    required: bool = False,
    multiline: bool = False,
) -> str:
    """Return the value as clean text: controls stripped, length checked in code points."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string.", field=field)
    if _SURROGATE.search(value):
        raise ValidationError(f"{field} contains invalid characters.", field=field)
    if "\x00" in value:
        raise ValidationError(f"{field} must not contain NUL characters.", field=field)
    # The limit applies to what was sent, as documented, before anything is stripped.
    if len(value) > max_length:
        raise ValidationError(
            f"{field} is {len(value)} characters long; the limit is {max_length}.", field=field
        )
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = (_CONTROLS if multiline else _CONTROLS_ONE_LINE).sub("", value).strip()
    if required and not value:
        raise ValidationError(f"{field} must not be empty.", field=field)
    return value[:max_length]  # NFC may compose; it never lengthens past what was checked


def http_url(value: Any, field: str, *, required: bool = False, max_length: int = 2000) -> str:
    """Return an absolute http(s) URL with a host, or "" when optional and empty."""
    value = text_field(value, field, max_length=max_length, required=required)
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValidationError(f"{field} is not a valid URL.", field=field) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{field} must be an http or https URL.", field=field)
    if any(ch.isspace() for ch in value):
        raise ValidationError(f"{field} must not contain spaces.", field=field)
    if _NOT_IN_URLS.search(value) or not _valid_host(parts.hostname):
        raise ValidationError(f"{field} is not a valid URL.", field=field)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    netloc = (userinfo + "@" if userinfo else "") + hostport.lower()
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(_HOSTNAME.match(ascii_host))


def origin(value: Any, field: str = "origin") -> str:
    """Return a normalised origin (scheme://host[:port], lower case, default port dropped)."""
    url = http_url(value, field, required=True, max_length=255)
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValidationError(
            f"{field} must be scheme://host[:port] only, like https://blog.example.org.",
            field=field,
        )
    return origin_of(url)


def normal_host(host: str | None) -> str:
    """Return a host in the one form hosts are compared in: lower case, no trailing dot, IDNA
    (punycode) for names, the canonical text for IP addresses.

    `Spam.Example.`, `spam.example` and `xn--...` and its Unicode spelling are one host to DNS;
    bans, origins and linkback targets must see one host too.
    """
    host = (host or "").strip().strip("[]").rstrip(".").lower()
    if not host:
        return ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        pass
    try:  # names IDNA 2008 refuses but DNS serves, like labels with '_'
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def url_host(url: str) -> str:
    """Return the normal host of a URL, or "" when it has none (or is not a URL)."""
    try:
        return normal_host(urlsplit(url.strip()).hostname)
    except ValueError:
        return ""


def normal_origin(value: str | None) -> str | None:
    """Return an origin header's value in the stored form, or None when it is not one."""
    if not value or "://" not in value:
        return None
    try:
        return origin_of(value.strip())
    except ValueError:
        return None


def origin_of(url: str) -> str:
    """Return the origin of an absolute http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = normal_host(parts.hostname)
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


# What a name (of a site, of an admin) may contain, as forms and errors say it.
NAME_RULE = "1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"


def name_field(value: Any, field: str = "name") -> str:
    """Return a short identifier: lower-case letters, digits, '.', '_' and '-'."""
    value = text_field(value, field, max_length=64, required=True)
    if not _NAME.match(value):
        raise ValidationError(f"{field} must be {NAME_RULE}.", field=field)
    return value


def choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    """Return the value when it is one of the choices."""
    if value not in choices:
        raise ValidationError(f"{field} must be one of: {', '.join(choices)}.", field=field)
    return value


def integer(value: Any, field: str, *, minimum: int = 0, maximum: int = 10**9) -> int:
    """Return a whole number within bounds (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise ValidationError(f"{field} must be a whole number.", field=field) from None
    if not minimum <= value <= maximum:
        raise ValidationError(f"{field} must be between {minimum} and {maximum}.", field=field)
    return value
