"""Tables: columns, relationships and indexes; behaviour lives in the domain modules."""

from __future__ import annotations

import secrets
from datetime import UTC
from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from commentsvc.db import db

MODERATION_POLICIES = ("none", "links", "first-time", "all")
KINDS = ("comment", "pingback", "trackback", "webmention", "fediverse")
STATUSES = ("pending", "approved", "spam", "deleted")
BAN_KINDS = ("email", "address", "domain", "identity", "handle")
PROVIDER_KINDS = ("oidc", "github", "wordpress", "mastodon", "indieauth")
ANONYMOUS_POLICIES = ("on", "name-required", "off")
# A linked fediverse post: not fetched yet, fetched, failing (asked again), refused or deleted
# there (never asked again); and who linked it.
FEDIVERSE_POST_STATES = ("pending", "ok", "failed", "refused", "gone")
LINKED_BY = ("owner", "widget", "page")


def utcnow() -> datetime:
    """Return the current time in UTC, without tzinfo (the form stored in every table)."""
    return datetime.now(UTC).replace(tzinfo=None)


def first_version() -> int:
    """Return where a new site's or thread's version starts: at random, so that one removed and
    made again (SQLite gives a removed row's id to the next) never has the answer cache keys
    and ETags of the one before. Room is left for 2**30 bumps."""
    return secrets.randbelow(2**30)


class Site(db.Model):
    __tablename__ = "sites"
    # A write transaction keeps the site as the request read it (db.write_transaction).
    kept_through_request = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    moderation: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    link_limit: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    moderation_words: Mapped[str] = mapped_column(Text, default="", server_default="")
    disallowed_words: Mapped[str] = mapped_column(Text, default="", server_default="")
    edit_window: Mapped[int] = mapped_column(Integer, default=900, server_default="900")
    linkbacks: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_text("true"))
    gravatar: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    owner_email: Mapped[str] = mapped_column(String(320), default="", server_default="")
    webhook_url: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Bumped by every change of the site's settings: part of every cached answer's key.
    version: Mapped[int] = mapped_column(Integer, default=first_version, server_default="0")
    # Seconds a shared cache (a CDN) may keep a thread or counts answer; 0: revalidate always.
    cache_max_age: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The fediverse accounts (user@host, one a line) whose posts may be linked to its pages.
    fediverse_accounts: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The sign-in providers the widget offers, by name, comma-separated, in the owner's order.
    sign_in: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Comments without signing in: on, name-required, or off (signed-in readers only).
    anonymous: Mapped[str] = mapped_column(String(16), default="on", server_default="on")

    origins: Mapped[list[SiteOrigin]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="SiteOrigin.id"
    )


class SiteOrigin(db.Model):
    """An origin (scheme://host[:port]) whose pages may embed the site's widget."""

    __tablename__ = "site_origins"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    # One origin belongs to one site: CORS and write checks look the site up by it.
    origin: Mapped[str] = mapped_column(String(255), unique=True)

    site: Mapped[Site] = relationship(back_populates="origins")


class Thread(db.Model):
    """The comments of one page, keyed by (site, uri)."""

    __tablename__ = "threads"
    __table_args__ = (UniqueConstraint("site_id", "uri"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    uri: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(String(500), default="", server_default="")
    likes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Bumped (SET version = version + 1) in the transaction of every change a read could show:
    # ETags and cached answers are keyed by it.
    version: Mapped[int] = mapped_column(Integer, default=first_version, server_default="0")

    site: Mapped[Site] = relationship()


class Comment(db.Model):
    """A comment, or a linkback (pingback, trackback, Webmention) in the same thread."""

    __tablename__ = "comments"
    __table_args__ = (
        # A thread's published comments in order: the read that matters most.
        Index("ix_comments_thread_status_created", "thread_id", "status", "created"),
        # The moderation queue across sites, newest first.
        Index("ix_comments_status_created", "status", "created"),
        # The duplicate check of every post: this client's comments in the thread, recent ones.
        Index("ix_comments_thread_remote_hash_created", "thread_id", "remote_hash", "created"),
        # One record per linkback source and thread; NULL for plain comments never collides.
        UniqueConstraint("thread_id", "source_url"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), index=True
    )
    # The top-level comment a reply hangs under, at any depth (NULL for top-level comments):
    # a page of roots loads all its replies in one query.
    root_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16), default="comment", server_default="comment")
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    author: Mapped[str] = mapped_column(String(200), default="", server_default="")
    email: Mapped[str] = mapped_column(String(320), default="", server_default="", index=True)
    website: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    html: Mapped[str] = mapped_column(Text, default="", server_default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime | None] = mapped_column(DateTime)
    remote_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    likes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    notify: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    by_owner: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    # Why the comment has its status: the rule and its detail, e.g. "links: 3 links (limit 2)".
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Linkbacks only: where the link is, what that page is called, the text around the link.
    source_url: Mapped[str | None] = mapped_column(String(2048))
    source_title: Mapped[str] = mapped_column(String(500), default="", server_default="")
    excerpt: Mapped[str] = mapped_column(Text, default="", server_default="")
    author_photo: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    # Webmention only: reply, like, repost or mention (from the source's microformats).
    mention_type: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # Fediverse replies: the author's handle (user@host) and the linked post they answer.
    handle: Mapped[str] = mapped_column(String(320), default="", server_default="")
    fediverse_post_id: Mapped[int | None] = mapped_column(
        ForeignKey("fediverse_posts.id", ondelete="SET NULL"), index=True
    )
    # Where the original is when the source is a copy (a Bridgy page's u-url), or a fediverse
    # reply's ActivityPub id: the same reply by two roads is found by it.
    original_url: Mapped[str | None] = mapped_column(String(2048))
    # "" for a comment written here; else the system it was imported from (wordpress, disqus,
    # isso, remark42, commento). Its `text` is Markdown either way (imports convert HTML on the
    # way in), so an owner's edit re-renders it like any comment.
    imported_from: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # The signed-in reader who wrote it (NULL for anonymous comments and linkbacks).
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("identities.id", ondelete="SET NULL"), index=True
    )

    thread: Mapped[Thread] = relationship()
    # Loaded with the comments of a page in one more query, only for those that have one.
    identity: Mapped[Identity | None] = relationship(lazy="selectin")


class DeletedCopy(db.Model):
    """What an owner's delete erased from a comment, kept for a while so that it can be undone."""

    __tablename__ = "deleted_copies"

    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True
    )
    # The status the comment had before it was deleted: undo puts it back.
    status: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(200), default="", server_default="")
    email: Mapped[str] = mapped_column(String(320), default="", server_default="")
    website: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    html: Mapped[str] = mapped_column(Text, default="", server_default="")
    notify: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    deleted: Mapped[datetime] = mapped_column(DateTime, index=True)


class Like(db.Model):
    """One visitor's like of a page (comment_id NULL) or of a comment."""

    __tablename__ = "likes"
    __table_args__ = (
        Index(
            "uq_likes_page_visitor",
            "thread_id",
            "visitor",
            unique=True,
            sqlite_where=sql_text("comment_id IS NULL"),
            postgresql_where=sql_text("comment_id IS NULL"),
        ),
        Index(
            "uq_likes_comment_visitor",
            "comment_id",
            "visitor",
            unique=True,
            sqlite_where=sql_text("comment_id IS NOT NULL"),
            postgresql_where=sql_text("comment_id IS NOT NULL"),
        ),
        # How many visitors one address has liked a page or comment for (the stuffing cap).
        Index("ix_likes_thread_address", "thread_id", "address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    # Keyed hashes: of the random id the widget keeps, and of the client's address.
    visitor: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Admin(db.Model):
    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The admin's own sign-in identity: their comments through the widget are the owner's.
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("identities.id", ondelete="SET NULL")
    )


class Ban(db.Model):
    """A ban by email, client address hash or website domain; site NULL means every site."""

    __tablename__ = "bans"
    __table_args__ = (Index("ix_bans_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Job(db.Model):
    """Background work kept in the database so that nothing is lost on a restart."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_after", "status", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    run_after: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ModerationEvent(db.Model):
    """One decision about a comment: who (a rule, an admin, the author), what, why, when."""

    __tablename__ = "moderation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class RateCounter(db.Model):
    """A fixed-window counter for rate limits shared by every worker (without Redis)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class Mention(db.Model):
    """A Webmention as received: its status page reports what became of it."""

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("source", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The status page's address; random, so that mentions cannot be enumerated.
    key: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(2048))
    target: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    remote_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SentLink(db.Model):
    """A link from one of the site's pages, and what sending a linkback for it gave."""

    __tablename__ = "sent_links"
    __table_args__ = (UniqueConstraint("source", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(2048))
    target: Mapped[str] = mapped_column(String(2048))
    protocol: Mapped[str] = mapped_column(String(16), default="", server_default="")
    endpoint: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    result: Mapped[str] = mapped_column(String(500), default="", server_default="")
    ok: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    present: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_text("true"))
    sent: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AdminSession(db.Model):
    """A signed-in admin's session; logging out deletes it, so its cookie stops working."""

    __tablename__ = "admin_sessions"

    # SHA-256 of the cookie's token: a copy of the database gives no one a session.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires: Mapped[datetime] = mapped_column(DateTime)

    admin: Mapped[Admin] = relationship()


class Photo(db.Model):
    """An author's photo named by a linkback source, fetched once and served by the service,
    so that no reader's browser asks the sender's server for it."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A keyed hash of the URL: the widget's address for the photo, which names no other server.
    key: Mapped[str] = mapped_column(String(32), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    # pending (not fetched yet), ok, or failed (the identicon stands in).
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    content_type: Mapped[str] = mapped_column(String(32), default="", server_default="")
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    fetched: Mapped[datetime | None] = mapped_column(DateTime)


class FediversePost(db.Model):
    """A fediverse post linked to a thread: its replies, boosts and favourites are fetched."""

    __tablename__ = "fediverse_posts"
    __table_args__ = (UniqueConstraint("thread_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    # The server asked (the URL's scheme://host) and the post's id there.
    server: Mapped[str] = mapped_column(String(300))
    status_id: Mapped[str] = mapped_column(String(64))
    # FEDIVERSE_POST_STATES
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    account: Mapped[str] = mapped_column(String(320), default="", server_default="")
    linked_by: Mapped[str] = mapped_column(String(16), default="owner", server_default="owner")
    boosts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    favourites: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    posted: Mapped[datetime | None] = mapped_column(DateTime)
    # Validators of the last answers, sent back as If-None-Match.
    status_etag: Mapped[str] = mapped_column(String(200), default="", server_default="")
    context_etag: Mapped[str] = mapped_column(String(200), default="", server_default="")
    fetched: Mapped[datetime | None] = mapped_column(DateTime)
    next_fetch: Mapped[datetime | None] = mapped_column(DateTime)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    thread: Mapped[Thread] = relationship()


class FediverseServer(db.Model):
    """A fediverse server's recent failures: it is asked again only after a growing pause."""

    __tablename__ = "fediverse_servers"

    server: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_after: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="", server_default="")


class AuthProvider(db.Model):
    """A sign-in provider the owner configured: `commentsvc auth add NAME --kind KIND`."""

    __tablename__ = "auth_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    issuer: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    client_id: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # The client secret, encrypted with a key derived from SECRET_KEY (see identities.py).
    secret: Mapped[str] = mapped_column(Text, default="", server_default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuthRegistration(db.Model):
    """The service's app registration on one Mastodon server, made on first use and kept."""

    __tablename__ = "auth_registrations"
    __table_args__ = (UniqueConstraint("provider", "server"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    # scheme://host[:port] of the server the reader named.
    server: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(Text, default="", server_default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Identity(db.Model):
    """A reader as a provider vouches for them: (provider, stable subject), name, profile."""

    __tablename__ = "identities"
    kept_through_request = True  # as Site's
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(500))
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    url: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    photo_url: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    # Inside every commenter token; bumped on sign out, so that every token given out so far
    # stops working.
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SignInHandoff(db.Model):
    """A finished sign-in for the widget to fetch, when the popup could not hand it over (a
    provider's page sent Cross-Origin-Opener-Policy and cut the popup off from the page).

    Keyed by the SHA-256 of a secret the popup's first page gave the widget only (the flow's
    cookie keeps the digest). It names who signed in, never a token: the token is made when the
    widget fetches it, once.
    Kept for ten minutes at most (identities.HANDOFF_LIFETIME).
    """

    __tablename__ = "sign_in_handoffs"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    # The error the popup showed, as the API gives errors (JSON); "" when signed in.
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
