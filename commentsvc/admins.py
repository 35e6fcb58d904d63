"""Admin accounts for the moderation pages."""

from __future__ import annotations

import functools

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from commentsvc import fields
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.errors import ValidationError
from commentsvc.models import Admin

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


def check_login(username: str, password: str) -> Admin | None:
    """Return the admin when the password is right, else None (the same for unknown users)."""
    admin = db.session.scalar(select(Admin).where(Admin.username == username))
    if admin is None:
        # Hash anyway so that an unknown name takes as long as a wrong password.
        check_password_hash(_dummy_hash(), password)
        return None
    return admin if check_password_hash(admin.password_hash, password) else None


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
