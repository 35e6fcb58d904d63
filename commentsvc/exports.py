"""Exporting a site: every thread and comment, as one JSON document the owner keeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import FediversePost
from commentsvc.models import Site
from commentsvc.models import Thread

FORMAT = "commentsvc-export"
VERSION = 1
COMMENT_FIELDS = (
    "id",
    "parent_id",
    "kind",
    "status",
    "reason",
    "author",
    "email",
    "website",
    "text",
    "html",
    "likes",
    "notify",
    "by_owner",
    "source_url",
    "source_title",
    "excerpt",
    "author_photo",
    "mention_type",
    "handle",
    "original_url",
)


def export_site(site: Site) -> dict:
    """Return the site's settings, threads and comments (all statuses, emails included)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "site": {
            "name": site.name,
            "url": site.url,
            "origins": [o.origin for o in site.origins],
            "moderation": site.moderation,
            "link_limit": site.link_limit,
            "edit_window": site.edit_window,
            "linkbacks": site.linkbacks,
            "fediverse_accounts": [a for a in site.fediverse_accounts.split("\n") if a],
        },
        "threads": list(_threads(site)),
    }


def _threads(site: Site) -> Iterator[dict]:
    threads = db.session.scalars(
        select(Thread).where(Thread.site_id == site.id).order_by(Thread.uri)
    )
    for thread in threads:
        rows = db.session.scalars(
            select(Comment)
            .where(Comment.thread_id == thread.id)
            .order_by(Comment.created, Comment.id)
        )
        yield {
            "uri": thread.uri,
            "title": thread.title,
            "likes": thread.likes,
            "fediverse_posts": list(
                db.session.scalars(
                    select(FediversePost.url)
                    .where(FediversePost.thread_id == thread.id)
                    .order_by(FediversePost.id)
                )
            ),
            "comments": [_comment(c) for c in rows],
        }


def _comment(comment: Comment) -> dict:
    data = {name: getattr(comment, name) for name in COMMENT_FIELDS}
    data["created"] = _iso(comment.created)
    data["modified"] = _iso(comment.modified)
    return data


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None
