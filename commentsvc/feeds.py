"""Atom feeds (RFC 4287) of a site's or a thread's latest published comments and linkbacks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from urllib.parse import urlencode
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from markupsafe import Markup
from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlalchemy.orm import selectinload

from commentsvc import notify
from commentsvc.comments import PUBLISHED
from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Site
from commentsvc.models import Thread

MAX_ENTRIES = 50
# Stop adding entries beyond this much content: a feed stays a few hundred KB at most.
MAX_CONTENT_CHARS = 512 * 1024
HIDDEN = ("pending", "spam")
# What XML 1.0 cannot carry at all (lxml refuses it): controls, lone surrogates, U+FFFE/FFFF.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
KIND_WORDS = {
    "pingback": "Pingback",
    "trackback": "Trackback",
    "webmention": "Mention",
    "reply": "Reply",
    "like": "Like",
    "repost": "Repost",
    "mention": "Mention",
}


@dataclass(frozen=True)
class FeedVersion:
    """What a feed's answer is keyed by: the site's settings and its threads' versions."""

    site_id: int
    site_version: int
    threads: int
    total: int
    cache_max_age: int


def site_version(name: str) -> FeedVersion | None:
    """Return the versions a site-wide feed is built from, in one query, or None (no site).

    Every change a thread read could show bumps its thread's version by one, and threads are
    never removed but with their site: the sum of the versions moves with every such change.
    """
    row = db.session.execute(
        select(
            Site.id,
            Site.version,
            Site.cache_max_age,
            func.count(Thread.id),
            func.coalesce(func.sum(Thread.version), 0),
        )
        .outerjoin(Thread, Thread.site_id == Site.id)
        .where(Site.name == name)
        .group_by(Site.id, Site.version, Site.cache_max_age)
    ).first()
    if row is None:
        return None
    return FeedVersion(row[0], row[1], row[3], int(row[4]), row[2])


def site_feed(site: Site, *, public_url: str, generator: str) -> bytes:
    """Return the Atom feed of the site's latest published comments and linkbacks."""
    entries = latest_published(site, None)
    feed = _feed(
        site,
        feed_id=_tag(site, "feed"),
        title=f"Comments on {urlsplit(site.url).netloc or site.name}",
        page=site.url,
        self_url=_self_url(public_url, site, None),
        generator=generator,
    )
    return _finish(feed, site, entries, site.created)


def thread_feed(
    site: Site, thread: Thread | None, uri: str, *, public_url: str, generator: str
) -> bytes:
    """Return the Atom feed of one thread's latest published comments and linkbacks."""
    entries = latest_published(site, thread) if thread else []
    feed = _feed(
        site,
        feed_id=_tag(site, f"feed:{uri}"),
        title=f"Comments on {thread.title if thread and thread.title else uri}",
        page=_page_url(site, uri),
        self_url=_self_url(public_url, site, uri),
        generator=generator,
    )
    return _finish(feed, site, entries, thread.created if thread else site.created)


def latest_published(site: Site, thread: Thread | None, limit: int = MAX_ENTRIES) -> list[Comment]:
    """Return the newest comments and linkbacks that the site's pages show, newest first.

    A published reply under a held or spam comment waits with it (as threads show it); such
    trees are rare, so only those are read whole.
    """
    if thread is not None:
        scope = Comment.thread_id == thread.id
    else:
        scope = Comment.thread_id.in_(select(Thread.id).where(Thread.site_id == site.id))
    hidden = _hidden_replies(scope)
    query = (
        select(Comment)
        .options(selectinload(Comment.thread))
        .where(scope, Comment.status == PUBLISHED, *([Comment.id.not_in(hidden)] if hidden else []))
        .order_by(Comment.created.desc(), Comment.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def _hidden_replies(scope) -> list[int]:
    """Return the ids of published comments under a held or spam comment."""
    child = aliased(Comment)
    root = func.coalesce(Comment.root_id, Comment.id)
    held_roots = set(
        db.session.scalars(
            select(root).where(
                scope,
                Comment.status.in_(HIDDEN),
                exists().where(and_(child.parent_id == Comment.id)),
            )
        )
    )
    if not held_roots:
        return []
    rows = db.session.execute(
        select(Comment.id, Comment.parent_id, Comment.status).where(root.in_(held_roots))
    ).all()
    parents = {row.id: (row.parent_id, row.status) for row in rows}
    hidden = []
    for comment_id, (parent_id, status) in parents.items():
        if status != PUBLISHED:
            continue
        seen = 0
        while parent_id is not None and seen < len(parents):
            parent_id, parent_status = parents.get(parent_id, (None, PUBLISHED))
            seen += 1
            if parent_status in HIDDEN:
                hidden.append(comment_id)
                break
    return hidden


def _feed(site, *, feed_id, title, page, self_url, generator) -> FeedGenerator:
    feed = FeedGenerator()
    feed.id(feed_id)
    feed.title(_xml(title))
    feed.link(href=_xml(page), rel="alternate", type="text/html")
    if self_url:
        feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.generator("commentsvc", version=generator)
    return feed


def _finish(feed: FeedGenerator, site: Site, entries: list[Comment], fallback: datetime) -> bytes:
    updated = fallback
    size = 0
    for comment in entries:
        content = _content(comment)
        size += len(content)
        if size > MAX_CONTENT_CHARS:
            break
        moment = comment.modified or comment.created
        updated = max(updated, moment)
        entry = feed.add_entry(order="append")
        entry.id(_tag(site, f"comment:{comment.id}"))
        entry.title(_xml(_title(comment)))
        # One link only: feedgen 1.0 writes an entry's links without their rel, so a second
        # (the linkback's source) would read as another alternate. The source is in the content.
        entry.link(href=_xml(notify.comment_url(comment)), rel="alternate")
        entry.published(_aware(comment.created))
        entry.updated(_aware(moment))
        author = {"name": _xml(comment.author) or _default_author(comment)}
        if comment.website.startswith(("https://", "http://")):
            author["uri"] = _xml(comment.website)
        entry.author(author)
        entry.content(content, type="html")
    feed.updated(_aware(updated))
    return feed.atom_str(pretty=False, xml_declaration=True)


def _content(comment: Comment) -> str:
    """Return the entry's HTML: the stored, sanitised HTML, or a linkback's escaped excerpt."""
    if comment.kind == "comment":
        return _xml(comment.html)
    html = Markup("<p>[\u2026] {} [\u2026]</p>").format(comment.excerpt) if comment.excerpt else ""
    if comment.source_url:
        html += Markup('<p><a href="{}">{}</a></p>').format(
            comment.source_url, comment.source_title or comment.source_url
        )
    return _xml(str(html))


def _title(comment: Comment) -> str:
    page = comment.thread.title or comment.thread.uri
    if comment.kind == "comment":
        return f"{comment.author or 'Anonymous'} on {page}"
    word = KIND_WORDS.get(comment.mention_type or comment.kind, "Mention")
    return f"{word} from {comment.source_title or urlsplit(comment.source_url or '').netloc}"


def _default_author(comment: Comment) -> str:
    if comment.kind != "comment" and comment.source_url:
        return _xml(urlsplit(comment.source_url).netloc) or "Anonymous"
    return "Anonymous"


def _tag(site: Site, specific: str) -> str:
    """Return a permanent tag: URI (RFC 4151) from the site's host and creation date."""
    host = urlsplit(site.url).hostname or "localhost"
    return _xml(f"tag:{host},{site.created:%Y-%m-%d}:commentsvc:{site.name}:{specific}")


def _page_url(site: Site, uri: str) -> str:
    parts = urlsplit(site.url)
    return f"{parts.scheme}://{parts.netloc}{uri}"


def _self_url(public_url: str, site: Site, uri: str | None) -> str:
    if not public_url:
        return ""
    query = {"site": site.name, **({"uri": uri} if uri is not None else {})}
    return f"{public_url.rstrip('/')}/feed.atom?{urlencode(query)}"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def _xml(text: str) -> str:
    return NOT_XML.sub("", text or "")
