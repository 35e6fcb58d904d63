"""Signed-in readers: the providers the owner configured, the identities they vouch for, and
the commenter tokens that carry an identity to the API.

A commenter token is signed (tokens.py, its own salt) and binds an identity to one site until an
expiry; it also carries the identity's generation, which signing out bumps, so that every token
given out before stops working on every device.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from commentsvc import fields
from commentsvc import photos
from commentsvc import tokens
from commentsvc.db import db
from commentsvc.db import insert_ignore
from commentsvc.db import write_transaction
from commentsvc.errors import NotFound
from commentsvc.errors import Unauthorized
from commentsvc.errors import ValidationError
from commentsvc.models import PROVIDER_KINDS
from commentsvc.models import Admin
from commentsvc.models import AuthProvider
from commentsvc.models import AuthRegistration
from commentsvc.models import Identity
from commentsvc.models import SignInHandoff
from commentsvc.models import Site

# How long a commenter token works; signing in again gives a new one.
TOKEN_LIFETIME = timedelta(days=30)
# Kinds whose server the owner names (--issuer); the others have fixed or reader-named servers.
NEEDS_ISSUER = ("oidc",)
NEEDS_CLIENT = ("oidc", "github", "wordpress")


# --- providers ---------------------------------------------------------------------------------


def add_provider(
    name: str, kind: str, *, issuer: str = "", client_id: str = "", secret: str = "", key: str
) -> AuthProvider:
    """Configure a sign-in provider; the client secret is stored encrypted with key."""
    name = fields.name_field(name)
    kind = fields.choice(kind, "kind", PROVIDER_KINDS)
    issuer = fields.http_url(issuer, "issuer", required=kind in NEEDS_ISSUER).rstrip("/")
    client_id = fields.text_field(client_id, "client_id", max_length=500)
    secret = fields.text_field(secret, "secret", max_length=2000)
    if kind in NEEDS_CLIENT and not (client_id and secret):
        raise ValidationError(
            f"A {kind} provider needs --client-id and a client secret.",
            field="client_id",
            code="empty",
        )
    with write_transaction() as session:
        if session.scalar(select(AuthProvider.id).where(AuthProvider.name == name)):
            raise ValidationError(
                f"A provider called {name!r} exists already.", field="name", code="conflict"
            )
        provider = AuthProvider(
            name=name,
            kind=kind,
            issuer=issuer,
            client_id=client_id,
            secret=encrypt_secret(key, secret) if secret else "",
        )
        session.add(provider)
    return provider


def list_providers() -> list[AuthProvider]:
    """Return every configured provider, by name."""
    return list(db.session.scalars(select(AuthProvider).order_by(AuthProvider.name)))


def get_provider(name: str) -> AuthProvider:
    """Return the provider called name.

    :raise NotFound: when there is none.
    """
    found = (
        db.session.scalar(select(AuthProvider).where(AuthProvider.name == name))
        if isinstance(name, str) and fields.is_name(name)
        else None
    )
    if found is None:
        raise NotFound(f"There is no sign-in provider called {name!r}.", field="provider")
    return found


def remove_provider(name: str) -> None:
    """Remove a provider; sites stop offering it, its readers' comments keep their names."""
    with write_transaction() as session:
        provider = get_provider(name)
        session.delete(provider)
        # Read again under the lock: a site the request holds is not (db._end_read), and its
        # list is written back.
        fresh = select(Site).where(Site.sign_in != "").execution_options(populate_existing=True)
        for site in session.scalars(fresh):
            names = [n for n in site.sign_in.split(",") if n != name]
            if len(names) != len(site.sign_in.split(",")):
                site.sign_in = ",".join(names)
                site.version = Site.version + 1


def find_registration(provider: str, server: str) -> tuple[str, str] | None:
    """Return the client id and secret the service got from a Mastodon server, if it has."""
    found = db.session.scalar(
        select(AuthRegistration).where(
            AuthRegistration.provider == provider, AuthRegistration.server == server
        )
    )
    if found is None:
        return None
    return found.client_id, decrypt_secret(current_app.config["SECRET_KEY"], found.secret)


def save_registration(provider: str, server: str, client_id: str, secret: str) -> tuple[str, str]:
    """Keep the service's registration on a server (the first one made wins a race)."""
    key = current_app.config["SECRET_KEY"]
    with write_transaction() as session:
        insert_ignore(
            session,
            AuthRegistration,
            provider=provider,
            server=server,
            client_id=client_id[:500],
            secret=encrypt_secret(key, secret) if secret else "",
            created=datetime.now(UTC).replace(tzinfo=None),
        )
    return find_registration(provider, server) or (client_id, secret)


def site_providers(site: Site) -> list[str]:
    """Return the names of the providers a site offers, in the owner's order."""
    return [n for n in site.sign_in.split(",") if n]


def parse_sign_in(value: object) -> str:
    """Validate a site's list of providers (names given to `auth add`), comma-separated."""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    text = fields.text_field(value, "sign_in", max_length=1000)
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    known = {p.name for p in list_providers()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValidationError(
            f"There is no sign-in provider called {unknown[0]!r}; add it with "
            "`commentsvc auth add` first.",
            field="sign_in",
        )
    return ",".join(names)


def _fernet(key: str) -> Fernet:
    digest = hashlib.sha256(f"commentsvc.provider-secret\x00{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(key: str, secret: str) -> str:
    """Return a client secret encrypted for storage (key: the service's SECRET_KEY)."""
    return _fernet(key).encrypt(secret.encode()).decode()


def decrypt_secret(key: str, stored: str) -> str:
    """Return a stored client secret; a changed SECRET_KEY makes it unreadable."""
    if not stored:
        return ""
    try:
        return _fernet(key).decrypt(stored.encode()).decode()
    except InvalidToken:
        raise ValidationError(
            "The provider's client secret cannot be read (SECRET_KEY changed?); add the "
            "provider again.",
            field="secret",
        ) from None


# --- identities --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What a provider vouches for: a stable subject, and what the reader shows as."""

    subject: str
    name: str
    url: str = ""
    photo: str = ""


def save_identity(provider: str, profile: Profile, *, secret: str, now: datetime) -> Identity:
    """Record (or refresh) the identity a provider vouched for; queue its photo's fetch."""
    subject = profile.subject[:500]
    name = fields.text_field(profile.name[:200], "name", max_length=200) or subject[:200]
    url = _safe_url(profile.url)
    photo = _safe_url(profile.photo)
    with write_transaction() as session:
        insert_ignore(
            session,
            Identity,
            provider=provider,
            subject=subject,
            name=name,
            url=url,
            photo_url=photo,
            generation=0,
            created=now,
            updated=now,
        )
        identity = session.scalar(
            select(Identity).where(Identity.provider == provider, Identity.subject == subject)
        )
        identity.name, identity.url, identity.photo_url, identity.updated = name, url, photo, now
        if photo:
            photos.request_photo(secret, photo, now=now)
    return identity


def _safe_url(value: str) -> str:
    try:
        return fields.http_url(value or "", "url", max_length=2048)
    except ValidationError:
        return ""


def make_token(secret: str, identity: Identity, site: Site, *, now: datetime) -> str:
    """Return a commenter token: this identity, on this site, until TOKEN_LIFETIME from now."""
    expires = tokens.epoch(now + TOKEN_LIFETIME)
    return tokens.dump(
        secret, tokens.COMMENTER, [identity.id, site.id, identity.generation, expires]
    )


def check_token(secret: str, token: object, site: Site | None, *, now: datetime) -> Identity:
    """Return the identity a commenter token carries, for this site (None: any site).

    :raise Unauthorized: for a malformed, forged, expired, foreign-site or revoked token.
    """
    try:
        identity_id, site_id, generation, expires = tokens.load(
            secret, tokens.COMMENTER, token, length=4
        )
        for value in (identity_id, site_id, generation, expires):
            tokens.whole_number(value)
    except tokens.BadToken:
        raise Unauthorized(
            "The sign-in token is not valid (damaged or forged); sign in again.",
            field="Authorization",
        ) from None
    if tokens.epoch(now) > expires:
        raise Unauthorized("Your sign-in has expired; sign in again.", field="Authorization")
    if site is not None and site_id != site.id:
        raise Unauthorized(
            "This sign-in token was given for another site; sign in on this one.",
            field="Authorization",
        )
    identity = db.session.get(Identity, identity_id) if 0 < identity_id < 2**31 else None
    if identity is None or identity.generation != generation:
        raise Unauthorized(
            "This sign-in was ended (signed out); sign in again.", field="Authorization"
        )
    return identity


def token_site_id(secret: str, token: object) -> int | None:
    """Return the site a well-signed commenter token names (for checking the Origin first)."""
    try:
        data = tokens.load(secret, tokens.COMMENTER, token, length=4)
        return tokens.whole_number(data[1])
    except tokens.BadToken:
        return None


def revoke(identity: Identity) -> None:
    """End every commenter token of this identity (sign out, on every device)."""
    with write_transaction() as session:
        session.execute(
            update(Identity)
            .where(Identity.id == identity.id)
            .values(generation=Identity.generation + 1)
        )


def find_identity(name: str) -> Identity:
    """Return the identity named "provider:subject".

    :raise NotFound: when no one signed in as it yet.
    """
    provider, _, subject = str(name).partition(":")
    found = db.session.scalar(
        select(Identity).where(Identity.provider == provider, Identity.subject == subject)
    )
    if found is None:
        raise NotFound(
            f"No one has signed in as {name!r} yet: sign in through the widget first.",
            field="identity",
        )
    return found


def link_admin(username: str, identity_id: int | None) -> None:
    """Make an identity the admin's own (None: unlink): their widget comments are the owner's."""
    with write_transaction() as session:
        admin = session.scalar(select(Admin).where(Admin.username == username))
        if admin is None:
            raise NotFound(f"There is no admin called {username!r}.", field="username")
        admin.identity_id = identity_id


def is_owner(identity: Identity) -> bool:
    """Return True when an admin linked this identity to their account."""
    return db.session.scalar(select(Admin.id).where(Admin.identity_id == identity.id)) is not None


def identity_json(identity: Identity) -> dict:
    """Return the public form of an identity: provider, name, profile URL."""
    return {"provider": identity.provider, "name": identity.name, "url": identity.url or None}


# --- handing a sign-in to the widget ------------------------------------------------------------
# The popup hands its result to the page with postMessage. A provider's page that sends
# Cross-Origin-Opener-Policy cuts the popup off from the page for good; the widget then fetches
# the result from the service, with the secret the popup's first page (auth.start) made and gave
# it; the flow's cookie keeps the secret's SHA-256.

SIGN_IN_MESSAGE = "commentsvc:sign-in"
HANDOFF_LIFETIME = timedelta(minutes=10)
_HANDLE = re.compile(r"[0-9a-f]{64}")


def new_handoff() -> tuple[str, str]:
    """Return a fresh hand-off secret (for the widget) and its digest (for the flow)."""
    handle = secrets.token_hex(32)
    return handle, _digest(handle)


def parse_handle(value: object) -> str:
    """Return a hand-off secret (64 lowercase hex digits).

    :raise ValidationError: for anything else.
    """
    if value is None or value == "":
        raise ValidationError("handle is required.", field="handle", code="empty")
    if not isinstance(value, str) or _HANDLE.fullmatch(value) is None:
        raise ValidationError("handle must be 64 hexadecimal digits.", field="handle")
    return value


def _digest(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


def sign_in_message(secret: str, identity: Identity, site: Site, *, now: datetime) -> dict:
    """Return what the page gets when a reader signs in: a fresh token and who they are."""
    return {
        "type": SIGN_IN_MESSAGE,
        "token": make_token(secret, identity, site, now=now),
        "identity": identity_json(identity),
    }


def error_message(error: dict) -> dict:
    """Return what the page gets when a sign-in fails: the error, as the API gives errors."""
    return {"type": SIGN_IN_MESSAGE, "error": error}


def hand_off(
    digest: str, site_id: int, *, identity: Identity | None, error: dict | None, now: datetime
) -> None:
    """Keep a finished sign-in (who signed in, or the error) for the widget to fetch; stale
    ones go. Nothing is kept for a site removed meanwhile."""
    try:
        with write_transaction() as session:
            session.execute(
                delete(SignInHandoff).where(SignInHandoff.created < now - HANDOFF_LIFETIME)
            )
            session.add(
                SignInHandoff(
                    digest=digest,
                    site_id=site_id,
                    identity_id=identity.id if identity else None,
                    error=json.dumps(error) if error else "",
                    created=now,
                )
            )
    except IntegrityError:
        return  # the site is gone (no page is waiting), or the digest was used: the first stays


def take_handoff(secret: str, handle: str, site: Site, *, now: datetime) -> dict | None:
    """Return the sign-in kept for the widget's secret (once: it is gone after), or None while
    there is none (the reader has not finished, or it was taken)."""
    digest = _digest(handle)
    kept = db.session.get(SignInHandoff, digest)  # every poll reads; only a find writes
    if kept is None or kept.site_id != site.id:
        return None
    with write_transaction() as session:
        taken = session.execute(
            delete(SignInHandoff)
            .where(SignInHandoff.digest == digest)
            .returning(SignInHandoff.identity_id, SignInHandoff.error, SignInHandoff.created)
        ).first()
    if taken is None or taken.created < now - HANDOFF_LIFETIME:
        return None
    if taken.error:
        return error_message(json.loads(taken.error))
    identity = db.session.get(Identity, taken.identity_id)
    if identity is None:
        return None
    return sign_in_message(secret, identity, site, now=now)
