"""Moderation: the queue, finding comments, acting on them, bans, and the log of it all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from commentsvc import comments
from commentsvc import fields
from commentsvc import notify
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

ACTIONS = {"approve": "approved", "spam": "spam", "delete": "deleted", "hold": "pending"}
PAGE_SIZE = 50


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


def act(ids: list[int], action: str, *, actor: str, now: datetime) -> int:
    """Approve, mark as spam, delete or hold the comments; return how many changed."""
    status = ACTIONS.get(action)
    if status is None:
        raise ValidationError(f"Unknown action {action!r}.", field="action")
    if not ids:
        raise ValidationError("Select at least one comment.", field="ids")
    changed = 0
    with write_transaction():
        for comment_id in ids:
            comment = comments.find_comment(comment_id)
            if comment is None or comment.status == status:
                continue
            comments.set_status(
                comment, status, actor=actor, reason=f"{action} by {actor}", now=now
            )
            changed += 1
    return changed


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
    value = fields.text_field(value, "value", max_length=320, required=True).lower()
    if kind == "domain" and "/" in value:
        value = (urlsplit(value if "://" in value else "https://" + value).hostname or "").lower()
    if kind == "domain" and value.startswith("www."):
        value = value[4:]
    if not value:
        raise ValidationError("Say what to ban.", field="value")
    return value


def add_ban(
    kind: str, value: str, *, site: str = "", reason: str = "", actor: str, now: datetime
) -> Ban:
    """Ban an email address, a client address hash or a website domain (on one site or all)."""
    value = ban_value(kind, value)
    reason = fields.text_field(reason, "reason", max_length=500)
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
    }.get(kind, "")
    if not value:
        raise ValidationError(f"This comment has no {kind} to ban.", field="kind")
    return add_ban(kind, value, reason=f"author of comment {comment.id}", actor=actor, now=now)


def lift_ban(ban_id: int, *, actor: str, now: datetime) -> None:
    """Lift a ban."""
    with write_transaction() as session:
        ban = session.get(Ban, ban_id)
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


def recent_events(limit: int = 200) -> list[ModerationEvent]:
    """Return the latest moderation decisions, newest first."""
    return list(
        db.session.scalars(
            select(ModerationEvent)
            .order_by(ModerationEvent.created.desc(), ModerationEvent.id.desc())
            .limit(limit)
        )
    )


def mention_of(comment: Comment) -> Mention | None:
    """Return the Webmention record behind a linkback, with its verification result."""
    if comment.kind != "webmention":
        return None
    return db.session.scalar(select(Mention).where(Mention.comment_id == comment.id))
