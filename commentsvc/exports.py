"""The service's own export: every site, thread, comment, like, linkback, ban and moderation
event, as one versioned JSON document; and restoring one (`commentsvc import commentsvc`).

Each table's columns are written by name, so a column added later is exported without a change
here; an export read back into an empty database and exported again gives the same bytes.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DataError
from sqlalchemy.exc import IntegrityError

from commentsvc import comments
from commentsvc import fediverse
from commentsvc import fields
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.errors import ValidationError
from commentsvc.importers import MAX_FILE_BYTES
from commentsvc.importers import UNSAFE_TEXT
from commentsvc.importers import Problem
from commentsvc.importers import Report
from commentsvc.importers import map_uri
from commentsvc.importers import read_file
from commentsvc.importers import read_json
from commentsvc.models import BAN_KINDS
from commentsvc.models import FEDIVERSE_POST_STATES
from commentsvc.models import KINDS
from commentsvc.models import LINKED_BY
from commentsvc.models import MODERATION_POLICIES
from commentsvc.models import STATUSES
from commentsvc.models import Ban
from commentsvc.models import Comment
from commentsvc.models import DeletedCopy
from commentsvc.models import FediversePost
from commentsvc.models import Identity
from commentsvc.models import Like
from commentsvc.models import Mention
from commentsvc.models import ModerationEvent
from commentsvc.models import SentLink
from commentsvc.models import Site
from commentsvc.models import SiteOrigin
from commentsvc.models import Thread
from commentsvc.models import utcnow
from commentsvc.sanitize import clean_html

FORMAT = "commentsvc-export"
# 1: site settings, threads and comments only. 2: every table a site's data lives in.
VERSION = 2

# Columns left out: row ids other than comments' (references use comment ids), the parent a
# row is nested under, and the version counters of the answer cache.
_SKIP = {
    Site: {"id", "version"},
    Thread: {"id", "site_id", "version"},
    # A fediverse reply's link to its post is not exported: the post, linked again, finds its
    # replies by their addresses at its first fetch.
    Comment: {"thread_id", "fediverse_post_id", "identity_id"},
    # Where a post lives and how it was last fetched: from its URL, and fetched again.
    FediversePost: {
        "id",
        "thread_id",
        "server",
        "status_id",
        "status_etag",
        "context_etag",
        "fetched",
        "next_fetch",
    },
    # A signed-in author's identity travels with each comment; its sign-out counter does not.
    Identity: {"id", "generation", "created", "updated"},
    Like: {"id", "thread_id"},
    DeletedCopy: {"comment_id"},
    ModerationEvent: {"id"},
    Mention: {"id"},
    Ban: {"id", "site_id"},
    SentLink: {"id"},
}


def _columns(model) -> list:
    return [c for c in model.__table__.columns if c.name not in _SKIP[model]]


def _row(obj) -> dict[str, Any]:
    return {c.name: _out(getattr(obj, c.key)) for c in _columns(type(obj))}


def _out(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds") + "Z"
    return value


# --- export --------------------------------------------------------------------------------


def export_site(site: Site) -> dict:
    """Return one site's settings and everything stored for it (emails included)."""
    return {"format": FORMAT, "version": VERSION, "sites": [_site(site)]}


def export_all() -> dict:
    """Return every site, and what belongs to none (service-wide bans, the log of imports)."""
    all_sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    entries = [_site(s) for s in all_sites]
    claimed_mentions = {m["key"] for e in entries for m in e["mentions"]}
    claimed_links = {(s["source"], s["target"]) for e in entries for s in e["sent_links"]}
    return {
        "format": FORMAT,
        "version": VERSION,
        "sites": entries,
        "bans": [
            _row(b)
            for b in db.session.scalars(
                select(Ban).where(Ban.site_id.is_(None)).order_by(Ban.created, Ban.id)
            )
        ],
        "events": [
            _row(e)
            for e in db.session.scalars(
                select(ModerationEvent)
                .where(ModerationEvent.comment_id.is_(None))
                .order_by(ModerationEvent.created, ModerationEvent.id)
            )
        ],
        "mentions": [
            _row(m)
            for m in db.session.scalars(select(Mention).order_by(Mention.created, Mention.id))
            if m.key not in claimed_mentions
        ],
        "sent_links": [
            _row(s)
            for s in db.session.scalars(select(SentLink).order_by(SentLink.source, SentLink.target))
            if (s.source, s.target) not in claimed_links
        ],
    }


def dump(data: dict) -> str:
    """Return an export as the text the command writes (stable: same data, same bytes)."""
    return json.dumps(data, ensure_ascii=False, indent=1)


def _site(site: Site) -> dict:
    entry = _row(site)
    entry["origins"] = [o.origin for o in site.origins]
    entry["bans"] = [
        _row(b)
        for b in db.session.scalars(
            select(Ban).where(Ban.site_id == site.id).order_by(Ban.created, Ban.id)
        )
    ]
    threads = db.session.scalars(
        select(Thread).where(Thread.site_id == site.id).order_by(Thread.uri)
    ).all()
    entry["threads"] = [_thread(t) for t in threads]
    in_site = select(Comment.id).join(Thread).where(Thread.site_id == site.id)
    entry["events"] = [
        _row(e)
        for e in db.session.scalars(
            select(ModerationEvent)
            .where(ModerationEvent.comment_id.in_(in_site))
            .order_by(ModerationEvent.created, ModerationEvent.id)
        )
    ]
    prefix = site.url.rstrip("/") + "/"
    entry["mentions"] = [
        _row(m)
        for m in db.session.scalars(
            select(Mention)
            .where(
                or_(
                    Mention.comment_id.in_(in_site),
                    Mention.comment_id.is_(None)
                    & Mention.target.startswith(prefix, autoescape=True),
                )
            )
            .order_by(Mention.created, Mention.id)
        )
    ]
    entry["sent_links"] = [
        _row(s)
        for s in db.session.scalars(
            select(SentLink)
            .where(SentLink.source.startswith(prefix, autoescape=True))
            .order_by(SentLink.source, SentLink.target)
        )
    ]
    return entry


def _thread(thread: Thread) -> dict:
    entry = _row(thread)
    likes = db.session.scalars(
        select(Like).where(Like.thread_id == thread.id).order_by(Like.id)
    ).all()
    entry["page_likes"] = [_row(x) for x in likes if x.comment_id is None]
    by_comment: dict[int, list[dict]] = {}
    for like in likes:
        if like.comment_id is not None:
            by_comment.setdefault(like.comment_id, []).append(_row(like))
    rows = db.session.scalars(
        select(Comment).where(Comment.thread_id == thread.id).order_by(Comment.created, Comment.id)
    ).all()
    copies = {
        c.comment_id: c
        for c in db.session.scalars(
            select(DeletedCopy).where(DeletedCopy.comment_id.in_([r.id for r in rows]))
        )
    }
    identities = {
        i.id: i
        for i in db.session.scalars(
            select(Identity).where(Identity.id.in_({r.identity_id for r in rows} - {None}))
        )
    }
    entry["comments"] = []
    for comment in rows:
        data = _row(comment)
        data["liked_by"] = by_comment.get(comment.id, [])
        copy = copies.get(comment.id)
        data["deleted_copy"] = _row(copy) if copy is not None else None
        identity = identities.get(comment.identity_id)
        data["identity"] = _row(identity) if identity is not None else None
        entry["comments"].append(data)
    posts = db.session.scalars(
        select(FediversePost).where(FediversePost.thread_id == thread.id).order_by(FediversePost.id)
    )
    entry["fediverse_posts"] = [_row(post) for post in posts]
    return entry


# --- restore -------------------------------------------------------------------------------


class _DryRun(Exception):
    """Raised to roll back a dry run once everything is counted."""


def read_export(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> dict:
    """Return an export file's data, checked to be ours and of a version this code reads.

    :raise ValidationError: when it cannot be read or is not a commentsvc export.
    """
    try:
        data = read_json(read_file(path, max_bytes=max_bytes), str(path))
    except ValueError as exc:
        raise ValidationError(f"{exc}.", field="file") from None
    return check_export(data, str(path))


def check_export(data: Any, name: str = "the file") -> dict:
    """Return export data in the shape restore() reads (version 1 brought to version 2).

    :raise ValidationError: when it is not a commentsvc export of a version this code reads.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationError(f"{name} is not a commentsvc export.", field="file")
    version = data.get("version")
    if version == 1 and isinstance(data.get("site"), dict):
        # Version 1 had one site, its threads beside it.
        data = {**data, "sites": [{**data["site"], "threads": data.get("threads")}]}
    elif version != VERSION:
        raise ValidationError(
            f"{name} is a commentsvc export of version {version!r}; this version reads 1 and "
            f"{VERSION}.",
            field="file",
        )
    if not isinstance(data.get("sites"), list) or not all(
        isinstance(s, dict) for s in data["sites"]
    ):
        raise ValidationError(f"{name} has no list of sites.", field="file")
    return data


def count_comments(data: dict) -> int:
    """Return how many comments an export holds (for a progress bar)."""
    return sum(
        len(_list(t.get("comments")))
        for s in data["sites"]
        for t in _list(s.get("threads"))
        if isinstance(t, dict)
    )


def restore(
    data: dict,
    *,
    site_name: str | None,
    url_map: Iterable[tuple[str, str]] = (),
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> Report:
    """Store an export (as check_export returns it): sites that do not exist are created with
    their settings, and every thread, comment, like, linkback, ban and event not there yet is
    added, comments keeping their ids where those are free. Restoring the same export twice
    adds nothing; a file whose rows clash with each other writes nothing.

    :raise ValidationError: when site_name names no site of a file with several, or rows clash.
    """
    entries = data["sites"]
    whole = site_name is None
    if not whole:
        named = [e for e in entries if e.get("name") == site_name]
        if len(entries) == 1:
            named = entries
        if len(named) != 1:
            names = ", ".join(str(e.get("name")) for e in entries)
            raise ValidationError(
                f"The export holds the sites {names}; name one with --site, or leave --site "
                "out to restore them all.",
                field="site",
            )
        entries = named
    restoring = _Restore(Report(dry_run=dry_run), list(url_map), progress, now or utcnow())
    try:
        with write_transaction() as session:
            restoring.keep_ids = _ids_are_free(session, entries)
            for entry in entries:
                restoring.site(session, entry, site_name or entry.get("name"))
            if whole:
                restoring.service(session, data)
            _fix_sequences(session)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except (IntegrityError, DataError) as exc:
        # The checks above take each row alone; two rows of a hand-edited file may still clash.
        raise ValidationError(
            f"The export holds rows the database refuses ({str(exc.orig).splitlines()[0]}); "
            "nothing was written.",
            field="file",
        ) from None
    return restoring.report


def _ids_are_free(session, entries: list[dict]) -> bool:
    # Comments keep their ids (the widget's #csvc-comment-ID anchors, links in old mail) when
    # every id is above those in use, as in an empty database; else all get new ones, since
    # a mix could hand a new id to one comment that a later one of the file brings along.
    ids = [
        c.get("id")
        for e in entries
        for t in _list(e.get("threads"))
        if isinstance(t, dict)
        for c in _list(t.get("comments"))
        if isinstance(c, dict) and isinstance(c.get("id"), int) and not isinstance(c["id"], bool)
    ]
    highest = session.scalar(select(func.max(Comment.id)))
    return bool(ids) and (highest is None or min(ids) > highest)


def _ref(value: Any) -> int | None:
    """Return a comment id the file refers to, or None for anything that is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _fix_sequences(session) -> None:
    # Comments keep their ids; PostgreSQL's sequence must then start after the largest.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sql_text(
                "SELECT setval(pg_get_serial_sequence('comments', 'id'), "
                "(SELECT COALESCE(MAX(id), 0) + 1 FROM comments), false)"
            )
        )


def _value(column, raw: Any) -> Any:
    """Return a value from the file in the column's type. :raise ValueError: if it is not."""
    kind = column.type
    if raw is None:
        if column.nullable:
            return None
        raise ValueError(f"{column.name} is missing")
    if isinstance(kind, DateTime):
        try:
            moment = datetime.fromisoformat(raw[:-1]) if isinstance(raw, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is not None or not raw.endswith("Z"):
            raise ValueError(f"{column.name} is not a time")
        return moment
    if isinstance(kind, Boolean):
        if not isinstance(raw, bool):
            raise ValueError(f"{column.name} is not true or false")
        return raw
    if isinstance(kind, Integer):
        if isinstance(raw, bool) or not isinstance(raw, int) or not -(2**31) <= raw < 2**31:
            raise ValueError(f"{column.name} is not a number")
        return raw
    if isinstance(kind, Float):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError(f"{column.name} is not a number")
        return float(raw)
    if isinstance(kind, String):
        if not isinstance(raw, str):
            raise ValueError(f"{column.name} is not text")
        limit = kind.length or 1_000_000
        # As stored, whitespace and all; only what no column may hold (NUL, controls) is dropped.
        value = UNSAFE_TEXT.sub("", raw)
        if len(value) > limit:
            raise ValueError(f"{column.name} is longer than {limit}")
        return value
    if isinstance(kind, LargeBinary):
        raise ValueError(f"{column.name} cannot be restored")
    raise ValueError(f"{column.name} has a type this version does not restore")


# Columns whose value is one of a few words: a file may not bring others.
_CHOICES = {
    (Site, "moderation"): MODERATION_POLICIES,
    (Comment, "kind"): KINDS,
    (Comment, "status"): STATUSES,
    (DeletedCopy, "status"): STATUSES,
    (Ban, "kind"): BAN_KINDS,
    (FediversePost, "state"): FEDIVERSE_POST_STATES,
    (FediversePost, "linked_by"): LINKED_BY,
}
# Links readers click: http(s) only, as when they are posted.
_LINKS = {(Comment, "website"), (Site, "url")}


def _values(model, raw: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return a row's columns from the file; columns it lacks take their defaults."""
    if not isinstance(raw, dict):
        raise ValueError("it is not an object")
    values = {}
    for column in _columns(model):
        if column.name in skip:
            continue
        if column.name not in raw:
            required = not (column.nullable or column.default or column.server_default)
            if required and not column.primary_key:
                raise ValueError(f"{column.name} is missing")
            continue
        value = _value(column, raw[column.name])
        allowed = _CHOICES.get((model, column.name))
        if allowed is not None and value not in allowed:
            raise ValueError(f"{column.name} {value!r} is not one of {', '.join(allowed)}")
        if (
            (model, column.name) in _LINKS
            and value
            and not value.startswith(("http://", "https://"))
        ):
            raise ValueError(f"{column.name} is not an http(s) URL")
        values[column.key] = value
    return values


class _Restore:
    def __init__(self, report: Report, url_map, progress, now: datetime) -> None:
        self.report = report
        self.now = now
        self.url_map = url_map
        self.progress = progress or (lambda n: None)
        self.ids: dict[int, Comment] = {}  # the file's comment ids, to what they are now
        self.new: set[int] = set()  # the file's ids of comments this restore added
        self.keep_ids = False
        self.likes: set[tuple[int, int | None, str]] = set()

    def problem(self, where: str, message: str) -> None:
        self.report.problems.append(Problem(where, message))

    def site(self, session, entry: dict, name: Any) -> None:
        if not isinstance(name, str) or not name:
            self.problem("site ?", "it has no name: skipped")
            return
        site = session.scalar(select(Site).where(Site.name == name))
        if site is not None and _list(entry.get("origins")):
            self.problem(f"site {name}", "exists already: its own settings are kept")
        if site is None:
            try:
                name = fields.name_field(name, "site")
                values = _values(Site, entry, skip=("name",))
            except (ValueError, ValidationError) as exc:
                self.problem(f"site {name[:64]!r}", f"{exc}: skipped")
                return
            site = Site(name=name, **values)
            session.add(site)
            session.flush()
            for origin in _list(entry.get("origins")):
                if not isinstance(origin, str):
                    continue
                if session.scalar(select(SiteOrigin).where(SiteOrigin.origin == origin)):
                    self.problem(
                        f"site {name}", f"origin {origin} belongs to another site: left out"
                    )
                    continue
                session.add(SiteOrigin(site_id=site.id, origin=origin[:255]))
        for number, raw in enumerate(_list(entry.get("bans")), 1):
            self.ban(session, raw, site.id, f"site {name}, ban {number}")
        for number, raw in enumerate(_list(entry.get("threads")), 1):
            self.thread(session, site, raw, f"site {name}, thread {number}")
        session.flush()
        self.links(session, entry, f"site {name}")

    def service(self, session, data: dict) -> None:
        for number, raw in enumerate(_list(data.get("bans")), 1):
            self.ban(session, raw, None, f"ban {number}")
        self.links(session, data, "service")

    def links(self, session, entry: dict, where: str) -> None:
        for number, raw in enumerate(_list(entry.get("events")), 1):
            self.event(session, raw, f"{where}, event {number}")
        for number, raw in enumerate(_list(entry.get("mentions")), 1):
            self.mention(session, raw, f"{where}, mention {number}")
        for number, raw in enumerate(_list(entry.get("sent_links")), 1):
            try:
                values = _values(SentLink, raw)
            except ValueError as exc:
                self.problem(f"{where}, sent link {number}", f"{exc}: skipped")
                continue
            same = select(SentLink).where(
                SentLink.source == values.get("source"), SentLink.target == values.get("target")
            )
            if session.scalar(same) is None:
                session.add(SentLink(**values))

    def ban(self, session, raw: Any, site_id: int | None, where: str) -> None:
        try:
            values = _values(Ban, raw)
        except ValueError as exc:
            self.problem(where, f"{exc}: skipped")
            return
        same = select(Ban).where(
            Ban.site_id.is_(site_id) if site_id is None else Ban.site_id == site_id,
            Ban.kind == values.get("kind"),
            Ban.value == values.get("value"),
        )
        if session.scalar(same) is None:
            session.add(Ban(site_id=site_id, **values))

    def thread(self, session, site: Site, raw: Any, where: str) -> None:
        try:
            values = _values(Thread, raw)
        except ValueError as exc:
            self.problem(where, f"{exc}: skipped")
            return
        uri = values.get("uri")
        if not uri:
            self.problem(where, "it has no uri: skipped")
            return
        uri = map_uri(types.SimpleNamespace(link="", uri=uri), self.url_map)
        values["uri"] = uri
        thread = session.scalar(select(Thread).where(Thread.site_id == site.id, Thread.uri == uri))
        fresh = thread is None
        if fresh:
            thread = Thread(site_id=site.id, **values)
            session.add(thread)
            session.flush()
        added: list[tuple[dict, Comment]] = []
        for number, item in enumerate(_list(raw.get("comments")), 1):
            self.progress(1)
            comment = self.comment(session, thread, item, f"{where}, comment {number}")
            if comment is not None:
                added.append((item, comment))
        session.flush()
        for item, comment in added:
            parent = self.ids.get(_ref(item.get("parent_id")))
            if item.get("parent_id") is not None and parent is None:
                self.problem(
                    f"comment {item.get('id')}", "its parent is not in the export: top-level"
                )
            comment.parent_id = parent.id if parent is not None else None
            root = self.ids.get(_ref(item.get("root_id")))
            comment.root_id = (
                root.id if root is not None else comments.root_of(parent) if parent else None
            )
            for like in _list(item.get("liked_by")):
                self.like(session, thread, comment.id, like, f"comment {item.get('id')}")
            copy = item.get("deleted_copy")
            if isinstance(copy, dict):
                try:
                    session.add(DeletedCopy(comment_id=comment.id, **_values(DeletedCopy, copy)))
                except ValueError as exc:
                    self.problem(f"comment {item.get('id')}", f"its deleted copy: {exc}")
        if fresh:
            for like in _list(raw.get("page_likes")):
                self.like(session, thread, None, like, where)
        for number, item in enumerate(_list(raw.get("fediverse_posts")), 1):
            self.fediverse_post(session, site, thread, item, f"{where}, fediverse post {number}")
        if added or fresh:
            self.report.threads.add(uri)
            comments.touch_thread(session, thread.id)

    def comment(self, session, thread: Thread, raw: Any, where: str) -> Comment | None:
        try:
            values = _values(Comment, raw, skip=("id", "parent_id", "root_id"))
            old_id = _ref(raw.get("id"))
            if old_id is None or not 0 < old_id < 2**31:
                raise ValueError("its id is not a number from 1 to 2147483647")
        except ValueError as exc:
            self.problem(where, f"{exc}: skipped")
            return None
        if old_id in self.ids:
            self.problem(where, f"id {old_id} appears twice: skipped")
            return None
        existing = session.get(Comment, old_id)
        if existing is not None and not (
            existing.thread_id == thread.id and existing.created == values.get("created")
        ):
            existing = session.scalar(
                select(Comment).where(
                    Comment.thread_id == thread.id,
                    Comment.created == values.get("created"),
                    Comment.author == values.get("author", ""),
                    Comment.text == values.get("text", ""),
                )
            )
        if existing is None and values.get("source_url"):
            # One record per linkback source in a thread (a unique constraint).
            existing = session.scalar(
                select(Comment).where(
                    Comment.thread_id == thread.id, Comment.source_url == values["source_url"]
                )
            )
        if existing is not None:
            self.ids[old_id] = existing
            self.report.skipped += 1
            return None
        # Stored HTML was sanitised when it was written; a file may have been edited since.
        values["html"] = clean_html(values.get("html", ""))
        comment = Comment(thread_id=thread.id, **values)
        if isinstance(raw.get("identity"), dict):
            comment.identity_id = self.identity(session, raw["identity"], where)
        if self.keep_ids and 0 < old_id:
            comment.id = old_id
        session.add(comment)
        self.ids[old_id] = comment
        self.new.add(old_id)
        self.report.imported += 1
        kind, status = comment.kind or "comment", comment.status or "pending"
        self.report.by_kind[kind] = self.report.by_kind.get(kind, 0) + 1
        self.report.by_status[status] = self.report.by_status.get(status, 0) + 1
        return comment

    def fediverse_post(self, session, site: Site, thread: Thread, raw: Any, where: str) -> None:
        try:
            values = _values(FediversePost, raw)
            url, server, status_id = fediverse.parse_post_url(values.get("url"), site)
        except (ValueError, ValidationError) as exc:
            self.problem(where, f"{exc}: skipped")
            return
        linked = session.scalars(
            select(FediversePost.url).where(FediversePost.thread_id == thread.id)
        ).all()
        if url in linked:
            return
        if len(linked) >= fediverse.MAX_POSTS_PER_THREAD:
            self.problem(where, f"the page has {len(linked)} posts linked already: skipped")
            return
        values.update(url=url, server=server, status_id=status_id)
        post = FediversePost(thread_id=thread.id, **values)
        session.add(post)
        session.flush()
        if post.state not in ("refused", "gone"):
            # Fetched again at once: its replies (restored as comments) are found by address.
            fediverse.schedule_fetch(post, self.now, at=self.now)

    def identity(self, session, raw: dict, where: str) -> int | None:
        """Return the id of the identity a comment's author signed in as, adding it if new."""
        try:
            values = _values(Identity, raw)
        except ValueError as exc:
            self.problem(where, f"its author's identity: {exc}: the comment is kept without it")
            return None
        found = session.scalar(
            select(Identity).where(
                Identity.provider == values["provider"], Identity.subject == values["subject"]
            )
        )
        if found is None:
            found = Identity(**values)
            session.add(found)
            session.flush()
        return found.id

    def like(self, session, thread: Thread, comment_id: int | None, raw: Any, where: str) -> None:
        try:
            values = _values(Like, raw, skip=("comment_id",))
        except ValueError as exc:
            self.problem(where, f"a like: {exc}: skipped")
            return
        key = (thread.id, comment_id, values["visitor"])
        if key in self.likes:
            self.problem(where, "a like of the same visitor twice: skipped")
            return
        self.likes.add(key)
        session.add(Like(thread_id=thread.id, comment_id=comment_id, **values))

    def event(self, session, raw: Any, where: str) -> None:
        try:
            values = _values(ModerationEvent, raw, skip=("comment_id",))
        except ValueError as exc:
            self.problem(where, f"{exc}: skipped")
            return
        old = _ref(raw.get("comment_id"))
        if old is None and raw.get("comment_id") is not None:
            self.problem(where, "its comment_id is not a number: skipped")
            return
        if old is None:
            same = select(ModerationEvent).where(
                ModerationEvent.comment_id.is_(None),
                ModerationEvent.created == values.get("created"),
                ModerationEvent.action == values.get("action"),
                ModerationEvent.actor == values.get("actor"),
                ModerationEvent.reason == values.get("reason", ""),
            )
            if session.scalar(same) is None:
                session.add(ModerationEvent(**values))
        elif old in self.new:
            # Events of comments that were there already are there already too.
            session.add(ModerationEvent(comment_id=self.ids[old].id, **values))

    def mention(self, session, raw: Any, where: str) -> None:
        try:
            values = _values(Mention, raw, skip=("comment_id",))
        except ValueError as exc:
            self.problem(where, f"{exc}: skipped")
            return
        same = select(Mention).where(
            or_(
                Mention.key == values.get("key"),
                (Mention.source == values.get("source")) & (Mention.target == values.get("target")),
            )
        )
        if session.scalar(same) is not None:
            return
        comment = self.ids.get(_ref(raw.get("comment_id")))
        session.add(Mention(comment_id=comment.id if comment is not None else None, **values))
