"""Moderation: the queue, finding comments, acting on them, bans, and the log of it all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from commentsvc import comments
from commentsvc import fields
from commentsvc import notify
from commentsvc import spam
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.errors import NotFound
from commentsvc.errors import ValidationError
from commentsvc.models import BAN_KINDS
from commentsvc.models import KINDS
from commentsvc.models import STATUSES
from commentsvc.models import Ban
from commentsvc.models import Comment
from commentsvc.models import Mention
from commentsvc.models import ModerationEvent
from commentsvc.models import Site
from commentsvc.models import Thread
from commentsvc.sanitize import render_markdown

ACTIONS = {
    "approve": "approved",
    "hold": "pending",
    "spam": "spam",
    "delete": "deleted",
    # Takes a deleted comment back to the status it had (its copy says which).
    "restore": "",
}
PAGE_SIZE = 50
MAX_PAGE = 100_000  # far past any real list; keeps OFFSET within every database's range


@dataclass(frozen=True)
class Filters:
    """What the list of all comments is narrowed to; empty means any."""

    site: str = ""
    uri: str = ""
    status: str = ""
    kind: str = ""
    q: str = ""
    page: int = 1


def _with_thread(query):
    return query.join(Thread, Comment.thread_id == Thread.id).join(Site, Thread.site_id == Site.id)


def held_comments(limit: int = 200) -> list[Comment]:
    """Return everything held for moderation, across all sites, newest first."""
    query = (
        _with_thread(select(Comment))
        .options(joinedload(Comment.thread).joinedload(Thread.site))
        .where(Comment.status == "pending")
        .order_by(Comment.created.desc(), Comment.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def find_comments(filters: Filters) -> tuple[list[Comment], bool]:
    """Return one page of comments matching the filters, newest first, and whether more follow."""
    for name in ("site", "uri", "q"):
        fields.text_field(getattr(filters, name), name, max_length=1000)
    query = _with_thread(select(Comment)).options(
        joinedload(Comment.thread).joinedload(Thread.site)
    )
    if filters.site:
        query = query.where(Site.name == filters.site)
    if filters.uri:
        query = query.where(Thread.uri == filters.uri)
    if filters.status:
        query = query.where(Comment.status == fields.choice(filters.status, "status", STATUSES))
    if filters.kind:
        query = query.where(Comment.kind == fields.choice(filters.kind, "kind", KINDS))
    if filters.q:
        pattern = (
            "%" + filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(
                Comment.text.ilike(pattern, escape="\\"),
                Comment.author.ilike(pattern, escape="\\"),
                Comment.email.ilike(pattern, escape="\\"),
                Comment.source_url.ilike(pattern, escape="\\"),
            )
        )
    page = max(1, filters.page)
    rows = list(
        db.session.scalars(
            query.order_by(Comment.created.desc(), Comment.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def get_comment(comment_id: int) -> Comment:
    """Return any comment by id, whatever its status.

    :raise NotFound: when there is none.
    """
    comment = comments.find_comment(comment_id)
    if comment is None:
        raise NotFound("There is no such comment.")
    return comment


def act(ids: list[int], action: str, *, actor: str, now: datetime) -> list[tuple[int, str]]:
    """Approve, mark as spam, delete or hold the comments; return (id, status before) of each
    one changed, which is what undo needs."""
    status = ACTIONS.get(action)
    if status is None:
        raise ValidationError(f"Unknown action {action!r}.", field="action")
    if not ids:
        raise ValidationError("Select at least one comment.", field="ids", code="empty")
    changed = []
    with write_transaction():
        for comment_id in ids:
            comment = comments.find_comment(comment_id)
            if comment is None:
                continue
            target = status or _status_before_delete(comment)
            if not target or comment.status == target or not _can_leave(comment):
                continue
            changed.append((comment.id, comment.status))
            comments.set_status(
                comment, target, actor=actor, reason=f"{action} by {actor}", now=now
            )
    return changed


def _status_before_delete(comment: Comment) -> str:
    copy = comments.deleted_copy(comment)
    return copy.status if copy is not None else ""


def _can_leave(comment: Comment) -> bool:
    # A deleted comment whose copy is erased has nothing left to show again.
    return comment.status != "deleted" or comments.deleted_copy(comment) is not None


def undo(changes: list[tuple[int, str, str]], *, actor: str, now: datetime) -> int:
    """Put comments back to their status before an action: (id, before, after) for each.

    A comment changed by anyone since (its status is no longer `after`) is left alone.
    """
    undone = 0
    with write_transaction():
        for comment_id, before, after in changes:
            comment = comments.find_comment(comment_id)
            if comment is None or comment.status != after or before not in STATUSES:
                continue
            if not _can_leave(comment):
                continue
            comments.set_status(comment, before, actor=actor, reason=f"undone by {actor}", now=now)
            undone += 1
    return undone


def status_actions(comment: Comment) -> list[str]:
    """Return the actions that change this comment's status, in the order the pages show them."""
    if comment.status == "deleted":
        return ["restore"] if comments.deleted_copy(comment) is not None else []
    if comment.status == "spam":
        return ["approve", "delete"]  # "Not spam" publishes it
    return [a for a in ("approve", "hold", "spam", "delete") if ACTIONS[a] != comment.status]


def comment_context(comment: Comment) -> tuple[Comment | None, list[Comment]]:
    """Return the comment's parent and its direct replies (any status, oldest first)."""
    parent = comments.find_comment(comment.parent_id) if comment.parent_id else None
    replies = db.session.scalars(
        select(Comment)
        .where(Comment.parent_id == comment.id)
        .order_by(Comment.created, Comment.id)
        .limit(200)
    )
    return parent, list(replies)


def live_url(comment: Comment) -> str | None:
    """Return the comment's address on the site's page, when readers can see it there."""
    return notify.comment_url(comment) if comment.status == comments.PUBLISHED else None


def edit(comment_id: int, text: str, *, actor: str, now: datetime, max_length: int) -> Comment:
    """Change a comment's text; it is rendered and sanitised like a post."""
    text = fields.text_field(text, "text", max_length=max_length, required=True, multiline=True)
    with write_transaction():
        comment = get_comment(comment_id)
        comment.text = text
        comment.html = render_markdown(text)
        comment.modified = now
        comments.touch_thread(db.session, comment.thread_id)
        comments.record_event(comment, actor, "edit", "edited by the site's owner", now)
        return comment


def reply_as_owner(
    parent_id: int, text: str, *, author: str, actor: str, now: datetime, max_length: int
) -> Comment:
    """Publish the site owner's reply to a comment (approving the comment replied to)."""
    text = fields.text_field(text, "text", max_length=max_length, required=True, multiline=True)
    author = fields.text_field(author, "author", max_length=100)
    with write_transaction():
        parent = get_comment(parent_id)
        if parent.status == "deleted":
            raise ValidationError("That comment was deleted.", field="text")
        if parent.status != "approved":
            comments.set_status(
                parent, "approved", actor=actor, reason="replied to by the owner", now=now
            )
        reply = Comment(
            thread_id=parent.thread_id,
            parent_id=parent.id,
            root_id=comments.root_of(parent),
            kind="comment",
            status="approved",
            reason=f"written by {actor}",
            author=author,
            text=text,
            html=render_markdown(text),
            created=now,
            by_owner=True,
        )
        db.session.add(reply)
        db.session.flush()
        comments.touch_thread(db.session, reply.thread_id)
        comments.record_event(reply, actor, "approved", "the owner's reply", now)
        notify.on_comment(reply, "new", now)
        return reply


# --- bans ----------------------------------------------------------------------------------------


def ban_value(kind: str, value: str) -> str:
    """Return the ban's value in the form the rules compare: lower case; a domain, not a URL."""
    fields.choice(kind, "kind", BAN_KINDS)
    value = fields.text_field(value, "value", max_length=320, required=True)
    # An identity is "provider:subject", and a provider's subject is compared exactly.
    value = value if kind == "identity" else value.lower()
    if kind == "identity" and ":" not in value:
        raise ValidationError("Name the identity as provider:subject.", field="value")
    if kind == "domain":
        value = fields.url_host(value if "://" in value else "https://" + value)
        value = value.removeprefix("www.")
    if kind == "email":
        value = spam.normal_email(value)
    if kind == "handle":
        value = value.removeprefix("@")
    if not value:
        raise ValidationError("Say what to ban.", field="value")
    return value


def add_ban(
    kind: str, value: str, *, site: str = "", reason: str = "", actor: str, now: datetime
) -> Ban:
    """Ban an email address, a client address hash, a website domain or a signed-in identity
    (provider:subject), on one site or all."""
    value = ban_value(kind, value)
    reason = fields.text_field(reason, "reason", max_length=500)
    site = fields.text_field(site, "site", max_length=64)
    with write_transaction() as session:
        site_id = None
        if site:
            found = session.scalar(select(Site).where(Site.name == site))
            if found is None:
                raise ValidationError(f"There is no site called {site!r}.", field="site")
            site_id = found.id
        ban = Ban(site_id=site_id, kind=kind, value=value, reason=reason, created=now)
        session.add(ban)
        session.add(
            ModerationEvent(actor=actor, action="ban", reason=f"{kind} {value}", created=now)
        )
        return ban


def ban_author(comment_id: int, kind: str, *, actor: str, now: datetime) -> Ban:
    """Ban the author of a comment by its email, its address hash, or its website's domain."""
    comment = get_comment(comment_id)
    value = {
        "email": comment.email,
        "address": comment.remote_hash,
        "domain": urlsplit(comment.website or comment.source_url or "").hostname or "",
        "handle": comment.handle,
        "identity": (
            f"{comment.identity.provider}:{comment.identity.subject}" if comment.identity else ""
        ),
    }.get(kind, "")
    if not value:
        raise ValidationError(f"This comment has no {kind} to ban.", field="kind")
    return add_ban(kind, value, reason=f"author of comment {comment.id}", actor=actor, now=now)


def lift_ban(ban_id: int, *, actor: str, now: datetime) -> None:
    """Lift a ban."""
    with write_transaction() as session:
        # Past the id column's range is no ban (and no query: the database would refuse it).
        ban = session.get(Ban, ban_id) if 1 <= ban_id <= comments.MAX_ID else None
        if ban is None:
            raise NotFound("There is no such ban.")
        session.add(
            ModerationEvent(
                actor=actor, action="unban", reason=f"{ban.kind} {ban.value}", created=now
            )
        )
        session.delete(ban)


def list_bans() -> list[Ban]:
    """Return every ban, newest first."""
    return list(db.session.scalars(select(Ban).order_by(Ban.created.desc(), Ban.id.desc())))


# --- the log and linkbacks ----------------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    """One line of the log: an event with its comment, or one whole import."""

    created: datetime
    actor: str
    action: str
    reason: str
    comment: Comment | None = None
    comment_id: int | None = None
    count: int = 1


# The importer records one event per comment, all with the same actor and time.
IMPORT_ACTOR = "import"


def recent_events(limit: int = 200) -> list[LogEntry]:
    """Return the latest moderation decisions, newest first, each import as one line."""
    single = db.session.execute(
        select(ModerationEvent, Comment)
        .outerjoin(Comment, ModerationEvent.comment_id == Comment.id)
        .options(joinedload(Comment.thread).joinedload(Thread.site))
        .where(or_(ModerationEvent.actor != IMPORT_ACTOR, ModerationEvent.comment_id.is_(None)))
        .order_by(ModerationEvent.created.desc(), ModerationEvent.id.desc())
        .limit(limit)
    ).all()
    imports = db.session.execute(
        select(ModerationEvent.created, func.count())
        .where(ModerationEvent.actor == IMPORT_ACTOR, ModerationEvent.comment_id.is_not(None))
        .group_by(ModerationEvent.created)
        .order_by(ModerationEvent.created.desc())
        .limit(limit)
    ).all()
    entries = [
        LogEntry(e.created, e.actor, e.action, e.reason, comment=c, comment_id=e.comment_id)
        for e, c in single
    ]
    entries += [
        LogEntry(created, IMPORT_ACTOR, "import", f"{count} imported", count=count)
        for created, count in imports
    ]
    entries.sort(key=lambda entry: entry.created, reverse=True)
    return entries[:limit]


def mention_of(comment: Comment) -> Mention | None:
    """Return the Webmention record behind a linkback, with its verification result."""
    if comment.kind != "webmention":
        return None
    return db.session.scalar(select(Mention).where(Mention.comment_id == comment.id))
