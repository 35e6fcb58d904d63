"""Comments: post, read threads, edit and delete one's own, likes, counts, moderation status."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import email_validator
from flask import current_app
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm import defer

from commentsvc import fields
from commentsvc import identities
from commentsvc import notify
from commentsvc import queue
from commentsvc import spam
from commentsvc import titles
from commentsvc import tokens
from commentsvc.db import db
from commentsvc.db import fast_read
from commentsvc.db import insert_ignore
from commentsvc.db import write_transaction
from commentsvc.errors import Conflict
from commentsvc.errors import Forbidden
from commentsvc.errors import NotFound
from commentsvc.errors import RateLimited
from commentsvc.errors import Unauthorized
from commentsvc.errors import ValidationError
from commentsvc.models import Comment
from commentsvc.models import DeletedCopy
from commentsvc.models import Identity
from commentsvc.models import Like
from commentsvc.models import ModerationEvent
from commentsvc.models import Site
from commentsvc.models import SiteOrigin
from commentsvc.models import Thread
from commentsvc.sanitize import render_markdown

SORTS = ("oldest", "newest", "top")
DEFAULT_PAGE = 100
MAX_PAGE = 200
MAX_URI = 1000  # a page's path, as the threads' uri column holds it
MAX_COUNT_URIS = 100
PUBLISHED = "approved"
# Kinds counted as comments (the rest are mentions): replies here, and replies on the fediverse.
CONVERSATION_KINDS = ("comment", "fediverse")
MAX_ID = 2**31 - 1
MAX_CURSOR_BYTES = 200
EPOCH = datetime(1970, 1, 1)
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def shown_status(status: str) -> str:
    """Return a stored status in the words readers and the API use: published, pending or
    deleted. Spam shows as pending: whoever wrote it learns only that it is held."""
    if status == PUBLISHED:
        return "published"
    return "deleted" if status == "deleted" else "pending"


# --- input -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommentInput:
    """A validated new comment, as a reader sends it (`shapes.NewComment` checks it)."""

    text: str
    author: str = ""
    email: str = ""
    website: str = ""
    parent: int | None = None
    title: str = ""
    notify: bool = False
    honeypot: str = ""
    form_token: str | None = None


_PLAIN_PATH = re.compile(rf"/[\x21-\x7e]{{0,{MAX_URI - 1}}}", re.ASCII)


def parse_uri(value: Any) -> str:
    """Validate a thread's uri: the page's path, starting with '/'."""
    if isinstance(value, str) and _PLAIN_PATH.fullmatch(value):
        return value  # printable ASCII without spaces: what the rules below give back unchanged
    uri = fields.text_field(value, "uri", max_length=MAX_URI, required=True)
    # A uri is a key: taken exactly as sent or refused, never trimmed into another page's key.
    if uri != value or not uri.startswith("/") or any(ch.isspace() for ch in uri):
        raise ValidationError("uri must be the page's path, starting with '/'.", field="uri")
    return uri


def parse_email(value: Any) -> str:
    """Validate an optional email address (never shown publicly): exactly one address, by
    email-validator's rules (no DNS lookup), normalised and lower-cased."""
    email = fields.text_field(value, "email", max_length=254)
    if not email:
        return ""
    try:
        checked = email_validator.validate_email(email, check_deliverability=False)
    except email_validator.EmailNotValidError:
        raise ValidationError(
            "email is not an email address.", field="email", code="invalid"
        ) from None
    return checked.normalized.lower()


def parse_website(value: Any) -> str:
    """Validate an optional website: http(s) only; a bare domain gets https://."""
    website = fields.text_field(value, "website", max_length=500)
    if (
        website
        and "://" not in website
        and not website.lower().startswith(("javascript:", "data:"))
    ):
        website = "https://" + website
    return fields.http_url(website, "website", max_length=520)


# --- posting -----------------------------------------------------------------------------------


def post_comment(
    site: Site,
    uri: str,
    data: CommentInput,
    *,
    address: str,
    now: datetime,
    guard: spam.Guard,
    identity: Identity | None = None,
) -> tuple[Comment, str]:
    """Store a new comment under the site's rules; return it and its edit token.

    identity is the signed-in reader (their verified name and profile replace author and
    website); without one, the site's anonymous setting decides.

    :raise Unauthorized: when the site takes signed-in readers only.
    :raise RateLimited: when the address posts too fast (guard on).
    :raise Conflict: for a duplicate.
    """
    data = _as_author(site, data, identity)
    if guard.limits:
        spam.limit_posts(guard.limits, address)
    html = render_markdown(data.text)
    submission = spam.Submission(
        text=data.text,
        html=html,
        author=data.author,
        email=data.email,
        website=data.website,
        address=address,
        honeypot=data.honeypot,
        form_token=data.form_token,
        identity_id=identity.id if identity else None,
        identity=f"{identity.provider}:{identity.subject}" if identity else "",
    )
    form_check = spam.check_form_token(data.form_token, guard.secret, site.name, uri, now)
    # The answer is built from the comment as stored: no second read of it after the commit.
    with write_transaction(keep_loaded=True) as session:
        # The title comes from the site's page, never from a commenter (data.title is ignored).
        thread = get_or_create_thread(site, uri, now=now)
        parent = _check_parent(thread, data.parent)
        spam.refuse_duplicate(thread, submission, now)
        decision = spam.assess(
            site, submission, now=now, guard=guard.enabled, form_check=form_check
        )
        owner = identity is not None and identities.is_owner(identity)
        if owner:
            decision = spam.Decision("approved", "the owner, signed in")
        comment = Comment(
            thread_id=thread.id,
            parent_id=parent.id if parent else None,
            root_id=root_of(parent),
            kind="comment",
            status=decision.status,
            reason=decision.reason,
            author=data.author,
            email=data.email,
            website=data.website,
            text=data.text,
            html=html,
            created=now,
            remote_hash=address,
            notify=data.notify,
            identity_id=identity.id if identity else None,
            by_owner=owner,
            # The provider's picture, fetched and served by the service (photos.py).
            author_photo=identity.photo_url if identity else "",
        )
        session.add(comment)
        session.flush()
        touch_thread(session, thread.id)
        record_event(comment, "rules", decision.status, decision.reason, now)
        notify.on_comment(comment, "new", now)
    return comment, edit_token(guard.secret, comment, site)


def _as_author(site: Site, data: CommentInput, identity: Identity | None) -> CommentInput:
    """Return the input as the site takes it: a verified name and profile for a signed-in
    reader; for others, what the site's anonymous setting allows."""
    if identity is not None:
        return replace(data, author=identity.name, website=identity.url)
    if site.anonymous == "off":
        raise Unauthorized(
            "This site takes comments from signed-in readers only: sign in first.",
            field="Authorization",
        )
    if site.anonymous == "name-required" and not data.author:
        raise ValidationError("Give your name, or sign in.", field="author", code="empty")
    return data


def touch_thread(session, thread_id: int) -> None:
    """Mark a thread as changed, in the caller's transaction: its ETags and cached answers go.

    Every write a thread read could show calls this; the version is bumped in SQL, never read
    and written back, so that two writers at once both count.
    """
    session.execute(_BUMP_VERSION, {"bumped": thread_id})


_BUMP_VERSION = (
    update(Thread)
    .where(Thread.id == bindparam("bumped"))
    .values(version=Thread.version + 1)
    .execution_options(synchronize_session=False)
)


def root_of(parent: Comment | None) -> int | None:
    """Return the root_id of a reply to parent (None for a top-level comment)."""
    if parent is None:
        return None
    return parent.root_id or parent.id


def get_or_create_thread(site: Site, uri: str, *, now: datetime, title: str = "") -> Thread:
    """Return the thread of (site, uri), creating it; a new thread without a title (one from the
    owner, as an import gives) gets its page's title, fetched in the background."""
    session = db.session()
    title = titles.clean_title(title)
    key = {"site_id": site.id, "uri": uri}
    thread = session.scalar(_THREAD_AT, key)
    created = False
    if thread is None:
        # ON CONFLICT DO NOTHING: two first comments at once on PostgreSQL both find the thread.
        try:
            created = insert_ignore(
                session, Thread, site_id=site.id, uri=uri, title=title, likes=0, created=now
            )
        except IntegrityError as error:
            # The site's row is gone: removed since the request read it (its threads with it).
            raise NotFound(f"There is no site called {site.name!r}.", field="site") from error
        thread = session.scalar(_THREAD_AT, key)
    if title and not thread.title:
        thread.title = title
    if created and not thread.title:
        titles.queue_title(thread)
    return thread


_THREAD_AT = select(Thread).where(
    Thread.site_id == bindparam("site_id"), Thread.uri == bindparam("uri")
)


def find_comment(comment_id: int) -> Comment | None:
    """Return the comment with this id, or None (ids beyond the column's range included)."""
    if not 1 <= comment_id <= MAX_ID:
        return None
    return db.session.get(Comment, comment_id)


def _check_parent(thread: Thread, parent_id: int | None) -> Comment | None:
    if parent_id is None:
        return None
    parent = find_comment(parent_id)
    if parent is None or parent.status != PUBLISHED:
        raise ValidationError("parent is not a published comment.", field="parent")
    if parent.thread_id != thread.id:
        raise ValidationError("parent belongs to another thread.", field="parent")
    return parent


def record_event(comment: Comment, actor: str, action: str, reason: str, now: datetime) -> None:
    """Log a decision about a comment: who made it, what it was, and why."""
    db.session.add(
        ModerationEvent(
            comment_id=comment.id, actor=actor, action=action, reason=reason, created=now
        )
    )


# --- edit tokens -------------------------------------------------------------------------------


def edit_token(secret: str, comment: Comment, site: Site) -> str:
    """Return a token that lets the author edit this comment, as it is now, inside the window."""
    expires = int(_epoch(comment.created) + site.edit_window)
    return tokens.dump(secret, tokens.EDIT, [comment.id, expires, _content_key(comment)])


def token_expiry(token: str) -> datetime:
    """Return when an edit token just made by edit_token stops working."""
    _comment_id, expires, _content = tokens.peek(tokens.EDIT, token)
    return tokens.from_epoch(expires)


def check_edit_token(
    secret: str, comment: Comment, token: str | None, *, now: datetime, for_edit: bool = True
) -> None:
    """Accept a token made for this comment and its current content, inside its window.

    :raise Forbidden: otherwise (any malformed token included).
    """
    try:
        comment_id, expires, content = tokens.load(secret, tokens.EDIT, token, length=3)
        expires = tokens.whole_number(expires)
    except tokens.BadToken:
        raise _token_refused() from None
    if comment_id != comment.id or content != _content_key(comment):
        raise _token_refused()
    if for_edit and _epoch(now) > expires:
        raise Forbidden("The time to edit or delete this comment is over.", code="edit_window")


def _token_refused() -> Forbidden:
    # One answer whatever the comment is (held, spam, deleted, or none at all), so that a
    # wrong token tells nobody whether a held comment exists or where it belongs.
    return Forbidden(
        "The edit token is missing or not valid for this comment.", field="X-Edit-Token"
    )


def holds_token(secret: str, comment: Comment | None, token: str | None) -> bool:
    """Return True when the token was made for this comment as it is now (window aside)."""
    if comment is None or comment.status == "deleted":
        return False
    try:
        check_edit_token(secret, comment, token, now=comment.created, for_edit=False)
    except (Forbidden, ValueError):
        return False
    return True


def _content_key(comment: Comment) -> str:
    """Return a digest of what the author wrote: an edit by anyone else uses the token up."""
    content = "\x00".join((comment.text, comment.author, comment.website))
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


# --- the author's own comment ----------------------------------------------------------------


def get_own_comment(
    comment_id: int,
    token: str | None,
    *,
    secret: str,
    now: datetime,
    identity: Identity | None = None,
) -> tuple[Comment, bool]:
    """Return a comment that is published or the reader's own, and whether the token (or
    the signed-in identity) shows it to be theirs.

    :raise NotFound: for an unknown comment, or one that is not published and not theirs.
    """
    comment = find_comment(comment_id)
    if comment is None or comment.status == "deleted":
        raise NotFound("There is no such comment.")
    try:
        check_edit_token(secret, comment, token, now=now, for_edit=False)
        own = True
    except Forbidden:
        own = is_authors(comment, identity)
    if not own and comment.status != PUBLISHED:
        raise NotFound("There is no such comment.")
    return comment, own


def edit_comment(
    comment_id: int,
    token: str | None,
    changes: dict[str, str],
    *,
    address: str,
    now: datetime,
    guard: spam.Guard,
    identity: Identity | None = None,
) -> tuple[Comment, str]:
    """Change one's own comment inside the edit window; rendered and moderated like a post.

    The author shows it is theirs by its edit token, or by being signed in as its identity
    (from any device); a signed-in author's name and website stay the verified ones.

    :raise RateLimited: when the address renders too often (guard on).
    """
    if guard.limits:
        spam.limit_renders(guard.limits, address)
    with write_transaction():
        comment, site = _own_for_change(
            comment_id, token, now=now, secret=guard.secret, identity=identity
        )
        for key, value in changes.items():
            if comment.identity_id is None or key == "text":
                setattr(comment, key, value)
        comment.html = render_markdown(comment.text)
        comment.modified = now
        submission = spam.Submission(
            text=comment.text,
            html=comment.html,
            author=comment.author,
            email=comment.email,
            website=comment.website,
            address=comment.remote_hash,
        )
        decision = spam.assess(site, submission, now=now, guard=False, form_check=None)
        # An edit may hold a published comment (a new link, a moderation word), never release one.
        if decision.status != "approved" and comment.status == PUBLISHED:
            comment.status, comment.reason = decision.status, decision.reason
        touch_thread(db.session, comment.thread_id)
        record_event(comment, "author", "edit", decision.reason, now)
    return comment, edit_token(guard.secret, comment, site)


def delete_comment(
    comment_id: int,
    token: str | None,
    *,
    now: datetime,
    secret: str,
    identity: Identity | None = None,
) -> None:
    """Delete one's own comment inside the edit window; replies keep their place."""
    with write_transaction():
        comment, _site = _own_for_change(
            comment_id, token, now=now, secret=secret, identity=identity
        )
        _erase(comment, now)
        touch_thread(db.session, comment.thread_id)
        record_event(comment, "author", "delete", "deleted by its author", now)


def _own_for_change(
    comment_id: int, token: str | None, *, now: datetime, secret: str, identity=None
):
    comment = find_comment(comment_id)
    if comment is None or comment.status == "deleted":
        raise _token_refused()
    site = db.session.get(Site, comment.thread.site_id)
    if token is None and is_authors(comment, identity):
        if _epoch(now) > _epoch(comment.created) + site.edit_window:
            raise Forbidden("The time to edit or delete this comment is over.", code="edit_window")
        return comment, site
    check_edit_token(secret, comment, token, now=now)
    return comment, site


def is_authors(comment: Comment | None, identity: Identity | None) -> bool:
    """Return True when the signed-in identity wrote the comment."""
    return (
        comment is not None
        and identity is not None
        and comment.identity_id is not None
        and comment.identity_id == identity.id
    )


def own_ids(site: Site, uri: str, identity: Identity) -> list[int]:
    """Return the ids of a signed-in reader's comments (not deleted) in one thread."""
    return list(
        db.session.scalars(
            select(Comment.id)
            .join(Thread)
            .where(
                Thread.site_id == site.id,
                Thread.uri == uri,
                Comment.identity_id == identity.id,
                Comment.status != "deleted",
            )
            .order_by(Comment.id)
            .limit(500)
        )
    )


def held_comments(site: Site, identity: Identity, *, limit: int = 50) -> list[Comment]:
    """Return a signed-in reader's comments on the site that wait for moderation, newest first."""
    return list(
        db.session.scalars(
            select(Comment)
            .join(Thread)
            .where(
                Thread.site_id == site.id,
                Comment.identity_id == identity.id,
                Comment.status.in_(("pending", "spam")),
            )
            .order_by(Comment.created.desc(), Comment.id.desc())
            .limit(limit)
        )
    )


def _erase(comment: Comment, now: datetime) -> None:
    comment.status = "deleted"
    comment.text = comment.html = comment.author = comment.email = comment.website = ""
    comment.notify = False
    comment.modified = now


def set_status(comment: Comment, status: str, *, actor: str, reason: str, now: datetime) -> None:
    """Move a comment to approved, pending, spam or deleted, recording who did it and why.

    Deleting erases the comment at once but keeps a copy for UNDO_WINDOW, so that a later status
    change within it restores the comment.

    :raise Conflict: when a deleted comment is moved out of deleted after its copy is gone.
    """
    fields.choice(status, "status", ("approved", "pending", "spam", "deleted"))
    was_published = comment.status == PUBLISHED
    first_publication = status == PUBLISHED and not _published_before(comment)
    if status == "deleted":
        _keep_copy(comment, now)
        _erase(comment, now)
    else:
        if comment.status == "deleted":
            _restore_copy(comment)
        comment.status = status
    comment.reason = reason
    touch_thread(db.session, comment.thread_id)
    record_event(comment, actor, status, reason, now)
    if status == PUBLISHED and not was_published:
        notify.on_comment(comment, "approved", now, first=first_publication)
    elif status == "deleted" and was_published:
        notify.on_comment(comment, "deleted", now)


def _published_before(comment: Comment) -> bool:
    """Tell whether the comment was ever published (the log keeps every approval)."""
    approved = select(ModerationEvent.id).where(
        ModerationEvent.comment_id == comment.id, ModerationEvent.action == PUBLISHED
    )
    return comment.status == PUBLISHED or db.session.scalar(approved.limit(1)) is not None


# How long an owner's delete can be undone; the copy is erased by a queued job after that.
UNDO_WINDOW = timedelta(hours=24)


def _keep_copy(comment: Comment, now: datetime) -> None:
    session = db.session()
    session.execute(delete(DeletedCopy).where(DeletedCopy.comment_id == comment.id))
    session.add(
        DeletedCopy(
            comment_id=comment.id,
            status=comment.status,
            author=comment.author,
            email=comment.email,
            website=comment.website,
            text=comment.text,
            html=comment.html,
            notify=comment.notify,
            deleted=now,
        )
    )
    queue.enqueue("erase-copy", {"comment": comment.id}, now=now + UNDO_WINDOW)


def _restore_copy(comment: Comment) -> None:
    copy = db.session.get(DeletedCopy, comment.id)
    if copy is None:
        raise Conflict("This comment was erased for good; it cannot be restored.")
    comment.author, comment.email, comment.website = copy.author, copy.email, copy.website
    comment.text, comment.html, comment.notify = copy.text, copy.html, copy.notify
    db.session.delete(copy)


def deleted_copy(comment: Comment) -> DeletedCopy | None:
    """Return what deleting the comment erased, while it can still be restored."""
    if comment.status != "deleted":
        return None
    return db.session.get(DeletedCopy, comment.id)


def erase_copies(now: datetime) -> int:
    """Erase the copies of deleted comments older than UNDO_WINDOW; return how many."""
    with write_transaction() as session:
        result = session.execute(
            delete(DeletedCopy).where(DeletedCopy.deleted <= now - UNDO_WINDOW)
        )
        return result.rowcount


@queue.handler("erase-copy")
def erase_copy(payload: dict) -> None:
    """Erase deleted comments' copies once they can no longer be undone."""
    erase_copies(current_app.extensions["clock"]())


# --- reading -----------------------------------------------------------------------------------


@dataclass
class Node:
    """A comment with its visible replies."""

    comment: Comment
    replies: list[Node] = field(default_factory=list)


@dataclass(frozen=True)
class Counts:
    """What a thread shows: comments, mentions (linkbacks) and Webmention likes of the page."""

    comments: int = 0
    mentions: int = 0
    likes: int = 0

    @property
    def total(self) -> int:
        """Return the responses an index page counts: comments and mentions, never likes."""
        return self.comments + self.mentions


@dataclass
class ThreadPage:
    """One page of a thread: top-level comments with all their replies."""

    thread: Thread | None
    counts: Counts
    nodes: list[Node]
    next_cursor: str | None
    likes: int = 0

    @property
    def count(self) -> int:
        """Return the thread's comments and mentions, as /api/counts gives them."""
        return self.counts.total


def get_thread(site: Site, uri: str) -> Thread | None:
    """Return the thread of (site, uri), or None before its first comment."""
    return db.session.scalar(select(Thread).where(Thread.site_id == site.id, Thread.uri == uri))


@dataclass(frozen=True)
class ReadState:
    """What one indexed lookup tells about a read: the versions its answer is keyed by."""

    site_id: int
    site_version: int
    cache_max_age: int
    # uri -> (thread id, version); a uri without a thread is absent.
    threads: dict[str, tuple[int, int]]
    origin_known: bool


def _read_state_query(with_origin: bool, slots: int):
    known = (
        exists().where(SiteOrigin.origin == bindparam("origin")) if with_origin else literal(False)
    )
    uri_matches = (
        Thread.uri == bindparam("u0")
        if slots == 1
        else Thread.uri.in_([bindparam(f"u{n}") for n in range(slots)])
    )
    return (
        select(
            Site.id,
            Site.version,
            Site.cache_max_age,
            Thread.uri,
            Thread.id,
            Thread.version,
            known.label("origin_known"),
        )
        .outerjoin(Thread, and_(Thread.site_id == Site.id, uri_matches))
        .where(Site.name == bindparam("name"))
    )


# Built once: the hot path runs them with new values, compiled once (db.fast_read). A list of
# uris goes in a fixed number of slots (the smallest that holds it; the rest repeat the first):
# a statement without expanding parameters, as fast_read needs.
_URI_SLOTS = (1, 10, 25, 50, MAX_COUNT_URIS)
_READ_STATE = {
    (origin, slots): _read_state_query(origin, slots)
    for origin in (True, False)
    for slots in _URI_SLOTS
}


def read_state(site_name: str, uris: list[str], origin: str | None = None) -> ReadState | None:
    """Return the site's and the threads' versions (and whether origin is any site's) in one
    query, or None when there is no such site."""
    if not 1 <= len(uris) <= MAX_COUNT_URIS:
        raise ValueError(f"read_state takes 1 to {MAX_COUNT_URIS} uris, not {len(uris)}")
    slots = next(n for n in _URI_SLOTS if n >= len(uris))
    params = {"name": site_name, **{f"u{n}": uris[n % len(uris)] for n in range(slots)}}
    # As sites.site_for_origin compares it; a header no origin can be (NUL, controls) is none.
    if origin is not None:
        printable = fields.is_printable_ascii(origin, max_length=300)
        origin = fields.normal_origin(origin) if printable else None
    if origin:
        params["origin"] = origin
    rows = fast_read(_READ_STATE[bool(origin), slots], params)
    if not rows:
        return None
    first = rows[0]
    threads = {row[3]: (row[4], row[5]) for row in rows if row[4] is not None}
    return ReadState(first[0], first[1], first[2], threads, bool(first[6]))


def parse_page(sort: str, cursor: str | None) -> tuple[int, ...] | None:
    """Validate a thread page's sort and cursor; return where the page starts."""
    fields.choice(sort, "sort", SORTS)
    return _decode_cursor(cursor, sort) if cursor else None


def list_thread(
    site: Site,
    uri: str,
    *,
    sort: str = "oldest",
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> ThreadPage:
    """Return a page of the thread's published comments, replies nested under their parents.

    A bounded number of queries whatever the thread's size: the counts, one page of top-level
    comments in the sort's order from the cursor on, and the replies of those in one query.
    """
    after = parse_page(sort, cursor)
    thread = get_thread(site, uri)
    if thread is None:
        return ThreadPage(None, Counts(), [], None)
    counts = count_threads([thread.id])[thread.id]
    page, more = _page_of_roots(thread.id, sort, after, limit)
    next_cursor = _encode_cursor(sort, _sort_key(page[-1].comment, sort)) if more else None
    return ThreadPage(thread, counts, page, next_cursor, thread.likes + counts.likes)


def _page_of_roots(
    thread_id: int, sort: str, after: tuple[int, ...] | None, limit: int
) -> tuple[list[Node], bool]:
    """Return up to limit visible top-level comments with their replies, and whether more follow."""
    visible: list[Node] = []
    while True:
        wanted = limit + 1 - len(visible)
        batch = db.session.scalars(_roots_query(thread_id, sort, after, wanted)).all()
        visible.extend(node for node in _with_replies(batch) if _visible(node))
        if len(visible) > limit:
            return visible[:limit], True
        if len(batch) < wanted:
            return visible, False
        # Rare: deleted roots whose only replies are held. Read on past them.
        after = _sort_key(batch[-1], sort)


def _roots_query(thread_id: int, sort: str, after: tuple[int, ...] | None, limit: int):
    reply = aliased(Comment)
    # A deleted comment shows (as a placeholder) only while a published reply hangs under it.
    placeholder = and_(
        Comment.status == "deleted",
        exists().where(reply.root_id == Comment.id, reply.status == PUBLISHED),
    )
    query = (
        select(Comment)
        .options(defer(Comment.text))
        .where(
            Comment.thread_id == thread_id,
            Comment.parent_id.is_(None),
            or_(Comment.status == PUBLISHED, placeholder),
        )
    )
    if sort == "newest":
        order = (Comment.created.desc(), Comment.id.desc())
    elif sort == "top":
        order = (Comment.likes.desc(), Comment.created, Comment.id)
    else:
        order = (Comment.created, Comment.id)
    if after is not None:
        query = query.where(_after(sort, after))
    return query.order_by(*order).limit(limit)


def _after(sort: str, key: tuple[int, ...]):
    """Return the condition 'sorts after key' in SQL, the same order as _sort_key."""
    if sort == "top" and len(key) == 3:
        likes, micros, last_id = -key[0], key[1], key[2]
        moment = _moment(micros)
        return or_(
            Comment.likes < likes,
            and_(
                Comment.likes == likes,
                or_(
                    Comment.created > moment,
                    and_(Comment.created == moment, Comment.id > last_id),
                ),
            ),
        )
    if sort == "newest" and len(key) == 2:
        moment = _moment(-key[0])
        return or_(Comment.created < moment, and_(Comment.created == moment, Comment.id < -key[1]))
    if sort == "oldest" and len(key) == 2:
        moment = _moment(key[0])
        return or_(Comment.created > moment, and_(Comment.created == moment, Comment.id > key[1]))
    raise ValidationError("cursor is not one this thread gave out for this sort.", field="cursor")


def _with_replies(roots: list[Comment]) -> list[Node]:
    """Return the roots as nodes with every published or deleted reply nested, at any depth."""
    nodes = {c.id: Node(c) for c in roots}
    if not roots:
        return []
    replies = db.session.scalars(
        select(Comment)
        .options(defer(Comment.text))
        .where(Comment.root_id.in_(list(nodes)), Comment.status.in_((PUBLISHED, "deleted")))
        .order_by(Comment.created, Comment.id)
    ).all()
    nodes.update((c.id, Node(c)) for c in replies)
    for reply in replies:
        parent = nodes.get(reply.parent_id)
        # A reply to a held or spam comment waits with it, neither shown nor counted.
        if parent is not None:
            parent.replies.append(nodes[reply.id])
    return [nodes[c.id] for c in roots]


def _build_tree(rows: Iterable[Any]) -> list[Node]:
    """Nest published and deleted rows (anything with id, parent_id, status) into what shows."""
    nodes = {c.id: Node(c) for c in rows}
    roots: list[Node] = []
    for node in nodes.values():
        parent_id = node.comment.parent_id
        if parent_id is None:
            roots.append(node)
        elif parent_id in nodes:
            nodes[parent_id].replies.append(node)
        # Else the parent is held or spam: its replies wait with it, neither shown nor counted,
        # and come back when it is approved.
    return [n for n in roots if _visible(n)]


def _visible(node: Node) -> bool:
    node.replies = [r for r in node.replies if _visible(r)]
    # A deleted comment stays as a placeholder only while replies hang from it.
    return node.comment.status == PUBLISHED or bool(node.replies)


def _count(nodes: Iterable[Node]) -> Counts:
    """Count what _build_tree keeps: the one definition used by threads and /api/counts."""
    comments = mentions = likes = 0
    stack = list(nodes)
    while stack:
        node = stack.pop()
        stack.extend(node.replies)
        c = node.comment
        if c.status != PUBLISHED:
            continue
        if c.kind in CONVERSATION_KINDS:
            comments += 1
        elif c.mention_type == "like":
            # Webmention likes are likes of the page, listed (for their avatars) not counted.
            likes += 1
        else:
            mentions += 1
    return Counts(comments, mentions, likes)


def count_threads(thread_ids: list[int]) -> dict[int, Counts]:
    """Return what each thread shows, counted in the database.

    A published comment shows unless a comment above it is held or spam; such trees are rare
    (the moderation queue), so they alone are read and counted as the thread shows them.
    """
    found = {thread_id: Counts() for thread_id in thread_ids}
    if not thread_ids:
        return found
    root = func.coalesce(Comment.root_id, Comment.id)
    # The trees with a held or spam comment, read first: as a subquery, PostgreSQL may plan
    # the IN below as a loop over every comment of the thread.
    held = set(
        db.session.scalars(
            select(root).where(
                Comment.thread_id.in_(thread_ids), Comment.status.not_in((PUBLISHED, "deleted"))
            )
        )
    )
    totals: dict[int, list[int]] = {thread_id: [0, 0, 0] for thread_id in thread_ids}
    grouped = db.session.execute(
        select(Comment.thread_id, Comment.kind, Comment.mention_type, func.count())
        .where(
            Comment.thread_id.in_(thread_ids),
            Comment.status == PUBLISHED,
            *([root.not_in(held)] if held else []),
        )
        .group_by(Comment.thread_id, Comment.kind, Comment.mention_type)
    ).all()
    for thread_id, kind, mention_type, number in grouped:
        slot = 0 if kind in CONVERSATION_KINDS else 2 if mention_type == "like" else 1
        totals[thread_id][slot] += number
    rows = []
    if held:
        rows = db.session.execute(
            select(
                Comment.thread_id,
                Comment.id,
                Comment.parent_id,
                Comment.status,
                Comment.kind,
                Comment.mention_type,
            ).where(
                Comment.thread_id.in_(thread_ids),
                Comment.status.in_((PUBLISHED, "deleted")),
                root.in_(held),
            )
        ).all()
    by_thread: dict[int, list[Any]] = {}
    for row in rows:
        by_thread.setdefault(row.thread_id, []).append(row)
    for thread_id, total in totals.items():
        extra = _count(_build_tree(by_thread.get(thread_id, [])))
        found[thread_id] = Counts(
            total[0] + extra.comments, total[1] + extra.mentions, total[2] + extra.likes
        )
    return found


def _sort_key(comment: Comment, sort: str) -> tuple[int, ...]:
    micros = (comment.created - EPOCH) // timedelta(microseconds=1)
    if sort == "newest":
        return (-micros, -comment.id)
    if sort == "top":
        return (-comment.likes, micros, comment.id)
    return (micros, comment.id)


def _moment(micros: int) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise ValidationError(
            "cursor is not one this thread gave out for this sort.", field="cursor"
        ) from None


def _encode_cursor(sort: str, key: tuple[int, ...]) -> str:
    raw = json.dumps([sort, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[int, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error):
        raw = b""
    # Cursors given out are a few dozen bytes: anything long is not one, and is not parsed.
    value = fields.json_value(raw, "cursor") if 0 < len(raw) <= MAX_CURSOR_BYTES else None
    if (
        not isinstance(value, list)
        or not value
        or value[0] != sort
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])
        or len(value) != (4 if sort == "top" else 3)
    ):
        raise ValidationError(
            "cursor is not one this thread gave out for this sort.", field="cursor"
        )
    return tuple(value[1:])


def count_comments(site: Site, uris: list[str]) -> dict[str, Counts]:
    """Return what each uri's thread shows (comments, mentions), in the order asked."""
    if len(uris) > MAX_COUNT_URIS:
        raise ValidationError(
            f"Ask for at most {MAX_COUNT_URIS} uris at once.", field="uri", code="too_long"
        )
    ids = dict(
        db.session.execute(
            select(Thread.uri, Thread.id).where(Thread.site_id == site.id, Thread.uri.in_(uris))
        ).all()
    )
    found = count_threads(list(ids.values()))
    return {uri: found[ids[uri]] if uri in ids else Counts() for uri in uris}


# --- likes -------------------------------------------------------------------------------------


def like_comment(
    comment_id: int,
    visitor: str,
    *,
    now: datetime,
    guard: spam.Guard,
    address: str = "",
    like: bool = True,
) -> int:
    """Count the visitor's like of a published comment once (or take it back); return its likes.

    :raise RateLimited: when the address likes too fast, or for too many visitors (guard on).
    """
    _limit_likes(guard, address or visitor)
    with write_transaction() as session:
        comment = find_comment(comment_id)
        if comment is None or comment.status != PUBLISHED:
            raise NotFound("There is no such comment.")
        target = (Like.comment_id == comment.id,)
        delta = _toggle_like(
            session, target, comment.thread_id, comment.id, visitor, address, like, now, guard
        )
        _count_like(session, comment, comment.thread_id, delta)
        return comment.likes


def like_page(
    site: Site,
    uri: str,
    visitor: str,
    *,
    now: datetime,
    guard: spam.Guard,
    address: str = "",
    like: bool = True,
) -> int:
    """Count the visitor's like of the page once (or take it back); return the page's likes.

    :raise RateLimited: when the address likes too fast, or for too many visitors (guard on).
    """
    _limit_likes(guard, address or visitor)
    with write_transaction() as session:
        thread = get_or_create_thread(site, uri, now=now)
        target = (Like.thread_id == thread.id, Like.comment_id.is_(None))
        delta = _toggle_like(session, target, thread.id, None, visitor, address, like, now, guard)
        _count_like(session, thread, thread.id, delta)
        return thread.likes


def _limit_likes(guard: spam.Guard, who: str) -> None:
    if guard.limits:
        spam.limit_likes(guard.limits, who)


def _count_like(session, liked: Comment | Thread, thread_id: int, delta: int) -> None:
    """Add delta to the likes of a comment or a page, in SQL, and reload the count."""
    if delta:
        model = type(liked)
        session.execute(update(model).where(model.id == liked.id).values(likes=model.likes + delta))
        touch_thread(session, thread_id)
    session.refresh(liked)


# One household or office shares an address: a few visitors behind one are real readers, dozens
# liking the same page are one person clearing their localStorage.
MAX_VISITORS_PER_ADDRESS = 10


def visitor_key(secret: str, visitor: str) -> str:
    """Return the keyed hash stored for a visitor id: likes can be counted, not followed."""
    message = f"visitor\x00{visitor}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def _toggle_like(session, target, thread_id, comment_id, visitor, address, like, now, guard):
    """Add or remove one like row; return the change to the counter (-1, 0 or 1)."""
    key = visitor_key(guard.secret, visitor)
    if not like:
        removed = session.execute(delete(Like).where(*target, Like.visitor == key))
        return -removed.rowcount
    if guard.enabled and address:
        voters = session.scalar(
            select(func.count()).select_from(Like).where(*target, Like.address == address)
        )
        mine = session.scalar(select(Like.id).where(*target, Like.visitor == key))
        if mine is None and voters >= MAX_VISITORS_PER_ADDRESS:
            raise RateLimited("Too many likes of this from your address.", retry_after=86400)
    added = insert_ignore(
        session,
        Like,
        thread_id=thread_id,
        comment_id=comment_id,
        visitor=key,
        address=address,
        created=now,
    )
    return 1 if added else 0


def preview(text: Any, *, max_length: int, address: str, guard: spam.Guard) -> str:
    """Return the HTML a comment text would be stored as.

    :raise RateLimited: when the address renders too often (guard on).
    """
    text = fields.text_field(text, "text", max_length=max_length, required=True, multiline=True)
    if guard.limits:
        spam.limit_renders(guard.limits, address)
    return render_markdown(text)
