"""Importing comments from other systems: formats parse to Records, one function stores them."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from sqlalchemy import select

from commentsvc import comments
from commentsvc.db import write_transaction
from commentsvc.models import Comment
from commentsvc.models import Site
from commentsvc.sanitize import clean_html
from commentsvc.spam import address_hash

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@dataclass
class Record:
    """One comment as another system exported it, in our terms."""

    key: str  # its id in the export, for replies to find their parent
    uri: str
    title: str
    kind: str  # comment, pingback or trackback
    status: str  # approved, pending, spam or deleted
    author: str
    email: str
    website: str
    address: str  # the raw client address: hashed on the way in, never stored
    created: datetime
    body: str  # HTML as the other system stored it
    parent: str = ""


@dataclass
class Report:
    threads: set[str] = field(default_factory=set)
    imported: int = 0
    skipped: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def to_paragraphs(body: str) -> str:
    """Return WordPress-style text (blank lines between paragraphs) as HTML paragraphs."""
    if re.search(r"<p[\s>]", body, re.I):
        return body
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)


def plain_text(markup: str) -> str:
    """Return the text of some HTML, entities decoded, spaces collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()


def import_records(site: Site, records: list[Record], *, secret: str, now: datetime) -> Report:
    """Store the records in the site's threads, replies under their parents, all in one
    transaction. Importing the same export again adds nothing twice."""
    report = Report()
    stored: dict[str, Comment] = {}
    with write_transaction() as session:
        for record in sorted(records, key=lambda r: (r.created, r.key)):
            thread = comments.get_or_create_thread(
                site, record.uri, now=now, title=record.title[:300]
            )
            html_body = clean_html(to_paragraphs(record.body))
            text = plain_text(record.body)
            linkback = record.kind in ("pingback", "trackback")
            # A linkback is its source in the thread; a comment, its time, author and text.
            same = (
                [Comment.source_url == record.website[:1000]]
                if linkback
                else [
                    Comment.created == record.created,
                    Comment.author == record.author[:200],
                    Comment.text == text,
                ]
            )
            existing = session.scalar(select(Comment).where(Comment.thread_id == thread.id, *same))
            if existing is not None:
                stored[record.key] = existing
                report.skipped += 1
                continue
            parent = stored.get(record.parent)
            comment = Comment(
                thread_id=thread.id,
                parent_id=parent.id if parent is not None else None,
                root_id=comments.root_of(parent),
                kind=record.kind,
                status=record.status,
                reason="imported",
                author=record.author[:200],
                email=record.email.lower()[:320],
                website=record.website[:2048]
                if record.website.startswith(("http://", "https://"))
                else "",
                text=text,
                html="" if linkback else html_body,
                created=record.created,
                remote_hash=address_hash(secret, record.address) if record.address else "",
                source_url=record.website[:1000] if linkback and record.website else None,
                source_title=record.author[:500] if linkback else "",
                excerpt=text[:400] if linkback else "",
            )
            if linkback:
                comment.html = f"<p>{html.escape(comment.excerpt)}</p>" if comment.excerpt else ""
                comment.author = ""
            session.add(comment)
            session.flush()
            comments.touch_thread(session, thread.id)
            comments.record_event(comment, "import", comment.status, "imported", now)
            stored[record.key] = comment
            report.threads.add(record.uri)
            report.imported += 1
            report.by_kind[record.kind] = report.by_kind.get(record.kind, 0) + 1
    return report
