"""Signed tokens: one mechanism (itsdangerous) for every token the service hands out.

Each purpose has its own salt, so that a token made for one purpose is never accepted for
another. The binding data (a comment's id and state, a thread, an expiry) travels inside the
token, signed; expiries are checked against the caller's clock (now=), not the system's.
Any malformed, forged or oversized token raises BadToken, which callers turn into their own
domain error: a token never causes a 500.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from itsdangerous import BadData
from itsdangerous import URLSafeSerializer

EDIT = "edit"  # X-Edit-Token: the author's right to edit or delete, until the window closes
FORM = "form"  # X-Form-Token: when the thread was loaded (the time trap)
MAIL_ACTION = "mail-action"  # the owner's one-click approve/spam/delete links
UNSUBSCRIBE = "unsubscribe"  # a reader's unsubscribe link for replies
ADMIN_LOGIN = "admin-login"  # the login form's CSRF token, bound to the login cookie's nonce
ADMIN_DEVICE = "admin-device"  # the cookie that remembers which admin used this browser
ADMIN_UNDO = "admin-undo"  # the admin page's offer to take back the action just done
COMMENTER = "commenter"  # Authorization: Bearer: a signed-in reader, on one site, until expiry
SIGN_IN = "sign-in"  # the popup's cookie: state, nonce and PKCE verifier of one sign-in
READER_DATA = "reader-data"  # a reader's mailed link to their own comments, for a day
READER_ERASE = "reader-erase"  # the erase form's CSRF token on that link's page
PURPOSES = (
    EDIT,
    FORM,
    MAIL_ACTION,
    UNSUBSCRIBE,
    ADMIN_LOGIN,
    ADMIN_DEVICE,
    ADMIN_UNDO,
    COMMENTER,
    SIGN_IN,
    READER_DATA,
    READER_ERASE,
)

MAX_TOKEN_LENGTH = 1000  # longer input is refused before any decoding


class BadToken(ValueError):
    """A token that is missing, malformed, forged, made for another purpose or expired."""


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeSerializer(secret, salt=f"commentsvc.{purpose}")


def dump(secret: str, purpose: str, data: list[Any]) -> str:
    """Return a signed, URL-safe token that carries data (a short JSON list)."""
    return _serializer(secret, purpose).dumps(data)


def load(secret: str, purpose: str, token: object, *, length: int | None = None) -> list[Any]:
    """Return the data of a token made by dump for this purpose.

    length, when given, is the number of items the data must have.

    :raise BadToken: for anything else.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise BadToken("missing or oversized token")
    if not token.isascii() or not token.isprintable():
        raise BadToken("malformed token")
    try:
        data = _serializer(secret, purpose).loads(token)
    except (BadData, ValueError, UnicodeError):
        raise BadToken("malformed or forged token") from None
    if not isinstance(data, list) or (length is not None and len(data) != length):
        raise BadToken("malformed token")
    return data


def dump_expiring(secret: str, purpose: str, data: Any, expires: datetime) -> str:
    """Return a signed token that carries data until expires (naive UTC)."""
    return dump(secret, purpose, [epoch(expires), data])


def load_expiring(secret: str, purpose: str, token: object, *, now: datetime) -> Any:
    """Return the data of a token made by dump_expiring, if it has not expired by now.

    :raise BadToken: for a bad or expired token.
    """
    expires, data = load(secret, purpose, token, length=2)
    if whole_number(expires) < epoch(now):
        raise BadToken("expired token")
    return data


def peek(purpose: str, token: str) -> list[Any]:
    """Return the data of a token this service just made, without checking its signature.

    Only for reading back what we signed ourselves (an expiry to show); never to trust input.
    """
    _valid, data = _serializer("unchecked", purpose).loads_unsafe(token)
    if not isinstance(data, list):
        raise BadToken("malformed token")
    return data


def epoch(moment: datetime) -> int:
    """Return a naive UTC datetime as whole seconds since 1970 (the expiries inside tokens)."""
    return int(moment.replace(tzinfo=UTC).timestamp())


def from_epoch(seconds: int) -> datetime:
    """Return whole seconds since 1970 as a naive UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def whole_number(value: object) -> int:
    """Return value if it is a plain int (not a bool) from a token's data.

    :raise BadToken: otherwise.
    """
    if type(value) is not int:
        raise BadToken("malformed token")
    return value
