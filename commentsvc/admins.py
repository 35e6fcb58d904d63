"""Admin accounts for the moderation pages."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime
from datetime import timedelta

from limits import RateLimitItem
from limits import RateLimitItemPerDay
from limits import RateLimitItemPerSecond
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from commentsvc import fields
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.errors import Conflict
from commentsvc.errors import NotFound
from commentsvc.errors import ValidationError
from commentsvc.models import Admin
from commentsvc.models import AdminSession
from commentsvc.ratelimit import Limiter

MIN_PASSWORD_LENGTH = 10
# scrypt is memory-hard; Werkzeug's parameters follow current guidance (n=2**15, r=8, p=1).
PASSWORD_METHOD = "scrypt"  # noqa: S105 - a method name, not a password


def add_admin(username: str, password: str) -> Admin:
    """Create an admin account with a hashed password."""
    username = fields.name_field(username, "username")
    _check_password(password)
    with write_transaction() as session:
        if session.scalar(select(Admin.id).where(Admin.username == username)) is not None:
            raise ValidationError(f"An admin called {username!r} exists already.", field="username")
        admin = Admin(
            username=username, password_hash=generate_password_hash(password, PASSWORD_METHOD)
        )
        session.add(admin)
        try:
            session.flush()
        except IntegrityError:
            raise ValidationError(
                f"An admin called {username!r} exists already.", field="username"
            ) from None
    return admin


def list_admins() -> list[Admin]:
    """Return every admin, by name."""
    return list(db.session.scalars(select(Admin).order_by(Admin.username)))


def remove_admin(username: str) -> None:
    """Remove an admin; their sessions end with the account.

    :raise NotFound: when there is no such admin.
    :raise Conflict: for the last admin, so that someone can always sign in.
    """
    with write_transaction() as session:
        admin = _get_admin(username)
        # Locking every admin row: two removals at once cannot both pass the check below.
        if len(session.scalars(select(Admin.id).with_for_update()).all()) <= 1:
            raise Conflict(f"{username!r} is the last admin; add another one first.")
        session.execute(delete(Admin).where(Admin.id == admin.id))


def set_password(username: str, password: str, *, keep_session: str | None = None) -> None:
    """Give an admin a new password and end their sessions (all but keep_session's token).

    :raise NotFound: when there is no such admin.
    """
    _check_password(password)
    with write_transaction() as session:
        admin = _get_admin(username)
        admin.password_hash = generate_password_hash(password, PASSWORD_METHOD)
        ended = delete(AdminSession).where(AdminSession.admin_id == admin.id)
        if keep_session:
            ended = ended.where(AdminSession.token_hash != _hash(keep_session))
        session.execute(ended)


def change_password(username: str, current: str, password: str, *, keep_session: str) -> None:
    """Change one's own password, proving the current one; one's other sessions end.

    :raise ValidationError: when the current password is wrong.
    """
    if check_login(username, current) is None:
        raise ValidationError("The current password is not right.", field="current")
    set_password(username, password, keep_session=keep_session)


def _get_admin(username: str) -> Admin:
    admin = db.session.scalar(select(Admin).where(Admin.username == username))
    if admin is None:
        raise NotFound(f"There is no admin called {username!r}.", field="username")
    return admin


def check_login(username: str, password: str) -> Admin | None:
    """Return the admin when the password is right, else None (the same for unknown users)."""
    # NUL cannot be in any name, and PostgreSQL refuses to compare text holding one.
    found = "\x00" not in username
    admin = db.session.scalar(select(Admin).where(Admin.username == username)) if found else None
    if admin is None:
        # Hash anyway so that an unknown name takes as long as a wrong password.
        check_password_hash(_dummy_hash(), password)
        return None
    return admin if check_password_hash(admin.password_hash, password) else None


# --- login limits ---------------------------------------------------------------------------------
# Failures slow the address they come from, never the account: whoever guesses passwords cannot
# keep the owner out. An address has a few free failures a day, then waits, twice as long after
# each further failure, and knocking while told to wait counts as one. Across addresses, one
# account's failures from clients it never logged in from are capped (distributed guessing);
# that cap never applies to an address or a browser the account has logged in from.

LOGIN_FREE_FAILURES = 5
LOGIN_BACKOFF_FIRST = 30  # seconds
LOGIN_BACKOFF_MAX = 24 * 3600
LOGIN_FAILURES = RateLimitItemPerDay(1_000_000_000)  # a counter: an address's failures of a day
LOGIN_UNKNOWN_FAILURES = "20 per hour"  # one account's failures from clients it does not know
LOGIN_KNOWN = RateLimitItemPerDay(1_000_000_000, 90)  # the addresses an account logged in from


def login_wait(limiter: Limiter, address: str, username: str, *, trusted: bool) -> int:
    """Return the seconds a client must wait before its password is checked (0: none).

    address is the keyed hash of the client's address; trusted says the client showed that it
    logged in to this account before (a signed cookie).
    """
    failures = limiter.count(LOGIN_FAILURES, "login-failures", address)
    if failures >= LOGIN_FREE_FAILURES and limiter.wait(
        _backoff(failures), "login-backoff", address, str(failures)
    ):
        return _count_failure(limiter, address)
    if not _known(limiter, address, username, trusted):
        return limiter.wait(LOGIN_UNKNOWN_FAILURES, "login-unknown", username)
    return 0


def login_failed(limiter: Limiter, address: str, username: str, *, trusted: bool) -> None:
    """Count a wrong password against the address (and the account, from an unknown client)."""
    if not _known(limiter, address, username, trusted):
        limiter.hit(LOGIN_UNKNOWN_FAILURES, "login-unknown", username)
    _count_failure(limiter, address)


def login_succeeded(limiter: Limiter, address: str, username: str) -> None:
    """Forget the address's failures and remember it as one the account logs in from."""
    limiter.clear(LOGIN_FAILURES, "login-failures", address)
    limiter.hit(LOGIN_KNOWN, "login-known", username, address)


def _known(limiter: Limiter, address: str, username: str, trusted: bool) -> bool:
    return trusted or limiter.seen(LOGIN_KNOWN, "login-known", username, address)


def _count_failure(limiter: Limiter, address: str) -> int:
    limiter.hit(LOGIN_FAILURES, "login-failures", address)
    failures = limiter.count(LOGIN_FAILURES, "login-failures", address)
    if failures < LOGIN_FREE_FAILURES:
        return 0
    backoff = _backoff(failures)
    limiter.hit(backoff, "login-backoff", address, str(failures))
    return backoff.get_expiry()


def _backoff(failures: int) -> RateLimitItem:
    doublings = min(failures - LOGIN_FREE_FAILURES, 20)
    seconds = min(LOGIN_BACKOFF_FIRST * 2**doublings, LOGIN_BACKOFF_MAX)
    return RateLimitItemPerSecond(1, seconds)


# --- sessions ------------------------------------------------------------------------------------

SESSION_LIFETIME = timedelta(hours=12)


def start_session(admin: Admin, now: datetime) -> tuple[str, str]:
    """Open a session for the admin; return its cookie token and its CSRF token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with write_transaction() as session:
        session.add(
            AdminSession(
                token_hash=_hash(token),
                admin_id=admin.id,
                csrf=csrf,
                created=now,
                expires=now + SESSION_LIFETIME,
            )
        )
    return token, csrf


def find_session(token: str | None, now: datetime) -> AdminSession | None:
    """Return the live session a cookie token belongs to, or None."""
    if not token:
        return None
    found = db.session.get(AdminSession, _hash(token))
    if found is None or found.expires < now:
        return None
    return found


def end_session(token: str | None) -> None:
    """End a session for good: its cookie is refused from now on."""
    if token:
        with write_transaction() as session:
            session.execute(delete(AdminSession).where(AdminSession.token_hash == _hash(token)))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            field="password",
        )
    if len(password) > 1024 or "\x00" in password:
        raise ValidationError(
            "The password must be at most 1024 characters, without NUL.", field="password"
        )


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash("not a password", PASSWORD_METHOD)
