"""Validation of single input values; each failure is a ValidationError naming the field."""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import idna
from werkzeug.routing import BaseConverter

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
# ASCII digits only: str.isdigit() and int() also take '²', '٣' and full-width digits.
_DECIMAL = re.compile(r"^[0-9]{1,20}$", re.ASCII)
# A path on this service: printable ASCII, no backslash, and never '//' (another host).
_LOCAL_PATH = re.compile(r"^/(?![/\\])[\x21-\x5b\x5d-\x7e]*$", re.ASCII)
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$", re.ASCII)
# No request body of this API is more than a flat object; a cursor is a flat list.
MAX_JSON_DEPTH = 16


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
            f"{field} is {len(value)} characters long; the limit is {max_length}.",
            field=field,
            code="too_long",
        )
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = (_CONTROLS if multiline else _CONTROLS_ONE_LINE).sub("", value).strip()
    if required and not value:
        raise ValidationError(f"{field} must not be empty.", field=field, code="empty")
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


def has_controls(value: str) -> bool:
    """Return True when the value holds NUL, a control or a bidi override (one-line rules)."""
    return bool(_CONTROLS_ONE_LINE.search(value))


def is_name(value: str) -> bool:
    """Return True when the value has the shape name_field accepts."""
    return bool(_NAME.match(value))


def is_printable_ascii(value: Any, *, max_length: int) -> bool:
    """Return True for a string of printable ASCII (no controls, no NUL) within max_length."""
    return isinstance(value, str) and len(value) <= max_length and bool(_PRINTABLE.match(value))


def choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    """Return the value when it is one of the choices."""
    if value not in choices:
        raise ValidationError(f"{field} must be one of: {', '.join(choices)}.", field=field)
    return value


def integer(value: Any, field: str, *, minimum: int = 0, maximum: int = 10**9) -> int:
    """Return a whole number within bounds, from a number or its ASCII decimal digits."""
    if isinstance(value, bool):
        raise ValidationError(f"{field} must be a whole number.", field=field)
    if isinstance(value, int):
        if not minimum <= value <= maximum:
            raise ValidationError(
                f"{field} must be a number from {minimum} to {maximum}.", field=field
            )
        return value
    return decimal(str(value).strip(), field, minimum=minimum, maximum=maximum)


def decimal(value: Any, field: str, *, minimum: int = 0, maximum: int = 10**9) -> int:
    """Return the whole number that ASCII digits spell, within bounds.

    :raise ValidationError: for anything else ('²', '٣', '-1', ' 1', '1e3', an overflow).
    """
    number = parse_decimal(value, minimum=minimum, maximum=maximum)
    if number is None:
        raise ValidationError(f"{field} must be a number from {minimum} to {maximum}.", field=field)
    return number


def parse_decimal(value: Any, *, minimum: int = 0, maximum: int = 10**9) -> int | None:
    """Return the whole number that ASCII digits spell when within bounds, else None."""
    if not isinstance(value, str) or not _DECIMAL.match(value):
        return None
    number = int(value)
    return number if minimum <= number <= maximum else None


class DecimalConverter(BaseConverter):
    """The `int` of routes, in ASCII digits only: any other spelling is no match (404).

    The views bound the number to their column's range (a converter that refused it would make
    Werkzeug answer 405 for the path's other methods).
    """

    regex = r"[0-9]{1,20}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))


def local_path(value: Any, prefix: str) -> str | None:
    """Return the value when it is a path on this service under prefix, else None.

    Used for redirect targets given by the client: no other host, no line breaks, no controls.
    """
    if not isinstance(value, str) or len(value) > 2000 or not _LOCAL_PATH.match(value):
        return None
    rest = value[len(prefix) :]
    if not value.startswith(prefix) or rest[:1] not in ("", "/", "?", "#"):
        return None
    return value


_TOO_DEEP = object()


def json_value(raw: bytes | str, field: str) -> Any:
    """Return the JSON value that raw spells, refusing nesting deeper than MAX_JSON_DEPTH.

    :raise ValidationError: for text that is not JSON (code invalid) or nested too deeply
        (code too_deep).
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        # The C decoder stops at the interpreter's recursion limit, before the stack does.
        value = _TOO_DEEP
    except ValueError:  # UnicodeDecodeError included
        raise ValidationError(f"{field} is not valid JSON.", field=field) from None
    if value is _TOO_DEEP or _deeper_than(value, MAX_JSON_DEPTH):
        raise ValidationError(
            f"{field} is nested more than {MAX_JSON_DEPTH} levels deep.",
            field=field,
            code="too_deep",
        )
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    # Iterative, so that checking a deep value cannot itself recurse too deeply.
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
