"""A reader's own data: the signed link mailed to them, their comments, their copy, their erasure.

A reader proves they hold an address by following a link mailed to it. The link names one of
their comments and a keyed digest of the address (never the address itself, which would end up
in logs); it stops working when it expires or once that comment no longer carries the address.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import selectinload

from commentsvc import comments
from commentsvc import notify
from commentsvc import queue
from commentsvc import tokens
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.errors import Forbidden
from commentsvc.errors import RateLimited
from commentsvc.errors import ValidationError
from commentsvc.models import Comment
from commentsvc.models import DeletedCopy
from commentsvc.models import Job
from commentsvc.models import ModerationEvent
from commentsvc.models import Site
from commentsvc.models import Thread
from commentsvc.ratelimit import Limiter

LINK_LIFETIME = timedelta(hours=24)
MAIL_KIND = "mail-data-link"
# Per client: a person asking for their own links now and then; per address: someone else's
# inbox is not flooded, whoever asks (past this, no mail goes out, and the answer is the same).
CLIENT_LIMITS = ("5 per hour", "20 per day")
ADDRESS_LIMITS = ("3 per hour", "6 per day")
ERASED_REASON = "erased at the author's request"
# How many ids go into one IN (...): well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


def email_key(secret: str, email: str) -> str:
    """Return a keyed digest of an address: what links and rate limits carry instead of it."""
    message = f"reader-email\x00{email}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


# --- asking for the link ---------------------------------------------------------------------


def request_link(
    site: Site, email: Any, *, address: str, limiter: Limiter, secret: str, now: datetime
) -> None:
    """Queue a mail to the address with a link to its comments on the site, if it has any.

    The answer is the same whether the address commented or not, and whether its own limit
    let a mail go: only the address's owner learns anything, from their inbox.

    :raise RateLimited: when the client asks too often.
    """
    email = comments.parse_email(email)
    if not email:
        raise ValidationError("email is required.", field="email", code="empty")
    for limit in CLIENT_LIMITS:
        wait = limiter.hit(limit, "reader-link", address)
        if wait:
            raise RateLimited(
                f"Too many requests for links. Try again in {wait} seconds.", retry_after=wait
            )
    for limit in ADDRESS_LIMITS:
        if limiter.hit(limit, "reader-mail", email_key(secret, email)):
            return
    with write_transaction():
        anchor = db.session.scalar(
            select(Comment.id)
            .join(Thread, Thread.id == Comment.thread_id)
            .where(Thread.site_id == site.id, Comment.email == email)
            .order_by(Comment.created.desc(), Comment.id.desc())
            .limit(1)
        )
        if anchor is not None:
            queue.enqueue(MAIL_KIND, {"comment": anchor}, now=now)


def link_token(secret: str, comment: Comment, now: datetime) -> str:
    """Return the token of a reader's link to their data, anchored on one of their comments."""
    data = [
        comment.thread.site_id,
        comment.id,
        email_key(secret, comment.email),
        tokens.epoch(now + LINK_LIFETIME),
    ]
    return tokens.dump(secret, tokens.READER_DATA, data)


def check_link(secret: str, token: str, now: datetime) -> tuple[Site, str]:
    """Return the site and the address a reader's link stands for.

    :raise Forbidden: for a forged or expired link, or one whose comment no longer carries the
        address (erased, deleted).
    """
    try:
        site_id, comment_id, key, expires = tokens.load(secret, tokens.READER_DATA, token, length=4)
        site_id, comment_id = tokens.whole_number(site_id), tokens.whole_number(comment_id)
        expires = tokens.whole_number(expires)
    except tokens.BadToken:
        raise Forbidden("This link is not valid.") from None
    if tokens.epoch(now) > expires:
        raise Forbidden("This link has expired: ask for a new one from a comment section.")
    comment = comments.find_comment(comment_id)
    if (
        comment is None
        or not comment.email
        or comment.thread.site_id != site_id
        or not hmac.compare_digest(key, email_key(secret, comment.email))
    ):
        raise Forbidden("This link is no longer valid: ask for a new one from a comment section.")
    return comment.thread.site, comment.email


def erase_token(secret: str, link: str) -> str:
    """Return the CSRF token of the erase form on the page of this link."""
    digest = hashlib.sha256(link.encode()).hexdigest()[:32]
    return tokens.dump(secret, tokens.READER_ERASE, [digest])


def check_erase_token(secret: str, link: str, token: Any) -> None:
    """Accept the erase form's CSRF token made for this link.

    :raise Forbidden: otherwise.
    """
    try:
        [digest] = tokens.load(secret, tokens.READER_ERASE, token, length=1)
    except tokens.BadToken:
        raise Forbidden("The form is not valid: open the page again.") from None
    if digest != hashlib.sha256(link.encode()).hexdigest()[:32]:
        raise Forbidden("The form is not valid: open the page again.")


# --- reading -------------------------------------------------------------------------------------


def _scope(site: Site | None):
    return (Thread.site_id == site.id,) if site is not None else ()


def reader_comments(site: Site | None, email: str) -> list[Comment]:
    """Return every comment made with the address (on the site, or on every site), oldest first."""
    if not email:
        return []
    return list(
        db.session.scalars(
            select(Comment)
            .join(Thread, Thread.id == Comment.thread_id)
            .options(selectinload(Comment.thread).selectinload(Thread.site))
            .where(Comment.email == email, *_scope(site))
            .order_by(Comment.created, Comment.id)
        )
    )


def export_reader(site: Site | None, email: str, now: datetime) -> dict[str, Any]:
    """Return everything stored with the address, as a JSON-ready document."""
    found = reader_comments(site, email)
    return {
        "site": site.name if site else None,
        "email": email,
        "exported": _iso(now),
        "comments": [
            {
                "id": c.id,
                "site": c.thread.site.name,
                "uri": c.thread.uri,
                "page": notify.comment_url(c),
                "title": c.thread.title,
                "parent": c.parent_id,
                "status": comments.shown_status(c.status),
                "author": c.author,
                "email": c.email,
                "website": c.website,
                "text": c.text,
                "html": c.html,
                "notify": c.notify,
                "likes": c.likes,
                "created": _iso(c.created),
                "modified": _iso(c.modified) if c.modified else None,
            }
            for c in found
        ],
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"


# --- erasing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """What an erasure did: comments deleted, and comments kept as placeholders for replies."""

    deleted: int
    placeholders: int


def erase_reader(site: Site | None, email: str, *, actor: str, now: datetime) -> Erasure:
    """Remove the address's text, name, address and website from every comment made with it.

    A comment with replies stays as a placeholder (as a deleted one does), so that the replies
    keep their place; the others are deleted. The log records that an erasure happened, and
    how many comments it touched, never what they said or who wrote them.
    """
    if not email:
        raise ValidationError("email is required.", field="email", code="empty")
    with write_transaction() as session:
        # Comments the owner deleted keep an undo copy for a day: their words live there.
        copied = select(DeletedCopy.comment_id).where(DeletedCopy.email == email)
        mine = session.execute(
            select(Comment.id, Comment.parent_id, Comment.thread_id)
            .join(Thread, Thread.id == Comment.thread_id)
            .where(or_(Comment.email == email, Comment.id.in_(copied)), *_scope(site))
        ).all()
        _delete_in(session, DeletedCopy, DeletedCopy.comment_id, [r.id for r in mine])
        ids = {row.id for row in mine}
        parent_of = {row.id: row.parent_id for row in mine}
        children = _reply_counts(session, list(ids))
        # Leaves first: a reply of their own under their own comment goes, then that comment.
        gone: list[int] = []
        leaves = [i for i in ids if not children.get(i)]
        while leaves:
            leaf = leaves.pop()
            gone.append(leaf)
            parent = parent_of.get(leaf)
            if parent in ids:
                children[parent] -= 1
                if children[parent] == 0:
                    leaves.append(parent)
        gone_set = set(gone)
        kept = [i for i in ids if i not in gone_set]
        _delete_in(session, Comment, Comment.id, gone)
        for chunk in _chunks(kept):
            session.execute(
                update(Comment)
                .where(Comment.id.in_(chunk))
                .values(
                    status="deleted",
                    text="",
                    html="",
                    author="",
                    email="",
                    website="",
                    remote_hash="",
                    notify=False,
                    reason=ERASED_REASON,
                    modified=now,
                )
                .execution_options(synchronize_session=False)
            )
        # A failed mail's error may quote the address it was for.
        pattern = "%" + email.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        session.execute(
            update(Job)
            .where(Job.last_error.like(pattern, escape="\\"))
            .values(last_error="(erased)")
            .execution_options(synchronize_session=False)
        )
        for thread_id in sorted({row.thread_id for row in mine}):
            comments.touch_thread(session, thread_id)
        if mine:
            session.add(
                ModerationEvent(
                    comment_id=None,
                    actor=actor,
                    action="erase",
                    reason=f"a reader's data erased: {len(ids)} comment(s)",
                    created=now,
                )
            )
        session.expire_all()
        return Erasure(deleted=len(gone), placeholders=len(kept))


def _reply_counts(session, ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for chunk in _chunks(ids):
        rows = session.execute(
            select(Comment.parent_id, func.count())
            .where(Comment.parent_id.in_(chunk))
            .group_by(Comment.parent_id)
        ).all()
        counts.update({parent: number for parent, number in rows})
    return counts


def _delete_in(session, model, column, ids: list[int]) -> None:
    for chunk in _chunks(ids):
        session.execute(
            delete(model).where(column.in_(chunk)).execution_options(synchronize_session=False)
        )


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


# --- mail ----------------------------------------------------------------------------------------


@queue.handler(MAIL_KIND)
def mail_data_link(payload: dict) -> None:
    """Queue handler: mail a reader the link to their comments."""
    from flask import current_app

    comment_id = payload.get("comment") if isinstance(payload, dict) else None
    if type(comment_id) is not int:
        raise queue.Permanent(f"malformed payload: no comment id in {payload!r:.200}")
    current_app.extensions["notifier"].mail_data_link(comment_id, current_app.extensions["clock"]())
