"""Importing comments from other systems: formats parse to Records, one function stores them."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from urllib.parse import urlsplit

from markdownify import markdownify
from sqlalchemy import select

from commentsvc import comments
from commentsvc.db import write_transaction
from commentsvc.errors import ValidationError
from commentsvc.linkbacks.verify import MAX_TITLE
from commentsvc.linkbacks.verify import MAX_URL
from commentsvc.linkbacks.verify import clip
from commentsvc.linkbacks.verify import clip_excerpt
from commentsvc.linkbacks.verify import normalise_url
from commentsvc.models import Comment
from commentsvc.models import ModerationEvent
from commentsvc.models import Site
from commentsvc.sanitize import render_markdown
from commentsvc.spam import address_hash

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_HEADING = re.compile(r"<(h[1-6])(\s[^>]*)?>(.*?)</\1\s*>", re.I | re.S)
# "[...] text [...]": the widget draws the markers around an excerpt itself.
_MARKERS = re.compile(r"^(\s*\[(?:\.\.\.|…)\]\s*)+|(\s*\[(?:\.\.\.|…)\]\s*)+$")


@dataclass
class Record:
    """One comment as another system exported it, in our terms."""

    key: str  # its id in the export, for replies to find their parent
    uri: str  # the thread's uri before any --url-map
    title: str  # plain text, entities decoded
    kind: str  # comment, pingback or trackback
    status: str  # approved, pending, spam or deleted
    author: str  # plain text, entities decoded
    email: str
    website: str
    address: str  # the raw client address: hashed on the way in, never stored
    created: datetime
    body: str  # HTML as the other system stored it
    parent: str = ""
    by_owner: bool = False
    post: str = ""  # the post or page the comment belongs to, to tell two posts apart
    link: str = ""  # the post's full address in the export, for --url-map
    position: str = ""  # where in the file it was, for messages


@dataclass
class Problem:
    """A record that was skipped or changed on the way in, and why."""

    position: str
    message: str

    def __str__(self) -> str:
        return f"{self.position}: {self.message}"


@dataclass
class Report:
    threads: set[str] = field(default_factory=set)
    imported: int = 0
    skipped: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False


class _DryRun(Exception):
    """Raised to roll back a dry run's transaction once it has counted everything."""


# --- converting bodies -------------------------------------------------------------------------


def to_paragraphs(body: str) -> str:
    """Return WordPress-style text (blank lines between paragraphs) as HTML paragraphs."""
    if re.search(r"<(p|h[1-6]|table|ul|ol|pre|blockquote|div)[\s>]", body, re.I):
        return body
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)


def to_markdown(body: str) -> str:
    """Return another system's comment HTML as the Markdown source an edit starts from."""
    # Comments render CommonMark without headings: a heading becomes a bold line of its own.
    flat = _HEADING.sub(lambda m: f"<p><strong>{m.group(3)}</strong></p>", to_paragraphs(body))
    markdown = markdownify(flat, heading_style="ATX", bullets="-", escape_misc=False)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


def plain_text(markup: str) -> str:
    """Return the text of some HTML, entities decoded once, spaces collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()


def excerpt_of(markup: str) -> str:
    """Return a linkback's excerpt as text, without the "[…]" markers the widget adds."""
    return _MARKERS.sub("", plain_text(markup)).strip()


# --- moving threads ----------------------------------------------------------------------------


def parse_url_map(pairs: Iterable[str]) -> list[tuple[str, str]]:
    """Return FROM=TO pairs as tuples; TO starts with / or http(s)://, so FROM may hold "=".

    :raise ValidationError: for a pair without a usable TO.
    """
    mapping = []
    for pair in pairs:
        match = re.match(r"^(.+?)=(/.*|https?://.*)$", pair.strip())
        if not match:
            raise ValidationError(
                f"--url-map {pair!r} is not FROM=TO (TO starts with / or http(s)://).",
                field="url_map",
            )
        mapping.append((match.group(1), match.group(2)))
    return mapping


def read_url_map_file(text: str) -> list[tuple[str, str]]:
    """Return the pairs of a mapping file: one `FROM,TO` (or FROM TO) a line, # comments."""
    mapping = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in re.split(r"[,\t ]+", line, maxsplit=1)]
        if len(parts) != 2 or not parts[1].startswith(("/", "http://", "https://")):
            raise ValidationError(
                f"line {number} of the URL map is not FROM,TO: {line!r}", field="url_map"
            )
        mapping.append((parts[0], parts[1]))
    return mapping


def map_uri(record: Record, mapping: list[tuple[str, str]]) -> str:
    """Return the record's thread uri after the owner's mapping.

    A FROM with a query (?p=12) matches the post's link or uri exactly; any other FROM is a
    prefix of either, and the rest follows TO. An exact match wins, then the longest prefix.
    """
    best: tuple[float, str] | None = None
    for source, target in mapping:
        for candidate in (record.link, record.uri):
            if not candidate or not candidate.startswith(source):
                continue
            exact = candidate == source
            if "?" in source and not exact:
                continue
            score = float("inf") if exact else len(source)
            if best is None or score > best[0]:
                best = (score, target + candidate[len(source) :])
    if best is None:
        return record.uri
    moved = urlsplit(best[1])
    return (moved.path or "/") + (f"?{moved.query}" if moved.query else "")


def _check_collisions(records: list[Record], uris: dict[int, str]) -> None:
    posts: dict[str, dict[str, Record]] = {}
    for record in records:
        posts.setdefault(uris[id(record)], {}).setdefault(record.post or record.uri, record)
    shared = {uri: found for uri, found in posts.items() if len(found) > 1}
    if not shared:
        return
    lines = []
    for uri, found in sorted(shared.items()):
        names = "; ".join(f"post {r.post} {r.title!r} ({r.link or r.uri})" for r in found.values())
        lines.append(f"{uri} <- {names}")
    raise ValidationError(
        "Several posts would share one thread: "
        + " | ".join(lines)
        + ". Map them apart with --url-map FROM=TO, or pass --merge to join them.",
        field="url_map",
    )


# --- storing -----------------------------------------------------------------------------------


def import_records(
    site: Site,
    records: list[Record],
    *,
    secret: str,
    now: datetime,
    source: str = "an export",
    actor: str = "import",
    url_map: Iterable[tuple[str, str]] = (),
    merge: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Store the records in the site's threads, replies under their parents, in one
    transaction. Importing the same export again adds nothing twice; a dry run counts what
    would be added and writes nothing.

    :raise ValidationError: when two posts would land in one thread and merge is off.
    """
    mapping = list(url_map)
    uris = {id(r): map_uri(r, mapping) for r in records}
    if not merge:
        _check_collisions(records, uris)
    report = Report(dry_run=dry_run)
    for source, target in mapping:
        # A typo in a mapping would leave threads where they were without a word.
        if not any(r.link.startswith(source) or r.uri.startswith(source) for r in records):
            report.problems.append(Problem("--url-map", f"{source}={target} matched no post"))
    try:
        with write_transaction() as session:
            _store(session, site, records, uris, report, secret=secret, now=now, progress=progress)
            if report.imported:
                # One line in the log for the whole import, not one per comment.
                session.add(
                    ModerationEvent(
                        actor=actor,
                        action="import",
                        reason=f"{report.imported} comment(s) imported into {site.name} "
                        f"from {source} ({_kinds(report)})"[:500],
                        created=now,
                    )
                )
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


def _store(session, site, records, uris, report, *, secret, now, progress) -> None:
    stored: dict[str, Comment] = {}
    added: list[tuple[Record, Comment]] = []
    for record in sorted(records, key=lambda r: (r.created, r.key)):
        uri = uris[id(record)]
        linkback = record.kind in ("pingback", "trackback")
        try:
            text = clip_excerpt(excerpt_of(record.body)) if linkback else to_markdown(record.body)
            rendered = render_markdown(text)
        except (ValueError, RecursionError) as exc:
            # One unusable body (e.g. HTML nested a thousand deep) must not stop the import.
            report.problems.append(
                Problem(record.position, f"its body cannot be converted ({exc!r:.80}): skipped")
            )
            if progress is not None:
                progress(1)
            continue
        thread = comments.get_or_create_thread(site, uri, now=now, title=record.title[:300])
        # A linkback is its source in the thread; a comment, its time, author and text.
        same = (
            [Comment.source_url == _source_url(record.website)]
            if linkback
            else [
                Comment.created == record.created,
                Comment.author == record.author[:200],
                Comment.text == text,
            ]
        )
        existing = session.scalar(select(Comment).where(Comment.thread_id == thread.id, *same))
        if progress is not None:
            progress(1)
        if existing is not None:
            stored[record.key] = existing
            report.skipped += 1
            continue
        comment = Comment(
            thread_id=thread.id,
            kind=record.kind,
            status=record.status,
            reason="imported",
            author=record.author[:200],
            email=record.email.lower()[:320],
            website=record.website[:2048]
            if record.website.startswith(("http://", "https://"))
            else "",
            text=text,
            html=rendered,
            created=record.created,
            remote_hash=address_hash(secret, record.address) if record.address else "",
            by_owner=record.by_owner and not linkback,
        )
        if linkback:
            comment.source_url = _source_url(record.website) or None
            comment.source_title = clip(record.author, MAX_TITLE)
            comment.excerpt = text
            comment.html = f"<p>{html.escape(comment.excerpt)}</p>" if comment.excerpt else ""
            comment.author = ""
        session.add(comment)
        stored[record.key] = comment
        added.append((record, comment))
        report.threads.add(uri)
        report.imported += 1
        report.by_kind[record.kind] = report.by_kind.get(record.kind, 0) + 1
        report.by_status[record.status] = report.by_status.get(record.status, 0) + 1
    session.flush()
    # Parents after every comment exists: a reply may carry an earlier date than its parent.
    for record, comment in added:
        if not record.parent:
            continue
        parent = stored.get(record.parent)
        if parent is None:
            report.problems.append(
                Problem(
                    record.position,
                    f"its parent {record.parent} is not in the export: "
                    "imported as a top-level comment",
                )
            )
        elif parent.thread_id != comment.thread_id:
            report.problems.append(
                Problem(
                    record.position,
                    f"its parent {record.parent} is in another thread: "
                    "imported as a top-level comment",
                )
            )
        else:
            comment.parent_id = parent.id
    _set_roots(stored, added)
    for thread_id in {comment.thread_id for _record, comment in added}:
        comments.touch_thread(session, thread_id)


def _set_roots(stored: dict[str, Comment], added: list[tuple[Record, Comment]]) -> None:
    # Replies are shown under their thread's root (comments.root_id); parents may come after
    # their replies in the export, so the roots are found once every parent is known.
    by_id = {comment.id: comment for comment in stored.values()}
    for _record, comment in added:
        node, root, seen = comment, None, set()
        while node.parent_id is not None and node.id not in seen:
            seen.add(node.id)
            parent = by_id.get(node.parent_id)
            if parent is None:
                root = node.parent_id
                break
            if parent.root_id:
                root = parent.root_id
                break
            node, root = parent, parent.id
        comment.root_id = root


def _source_url(url: str) -> str:
    """Return a linkback's source as received linkbacks store it, so that the two match."""
    try:
        return normalise_url(url)[:MAX_URL]
    except ValueError:
        return url[:MAX_URL]


def _kinds(report: Report) -> str:
    return ", ".join(f"{n} {kind}(s)" for kind, n in sorted(report.by_kind.items()))


def describe(report: Report) -> str:
    """Return the one summary line an import ends with."""
    verb = "would import" if report.dry_run else "imported"
    kinds = _kinds(report)
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.by_status.items()))
    line = (
        f"{verb} {report.imported} into {len(report.threads)} page(s): {kinds or 'nothing new'}"
        f"{f' ({statuses})' if statuses else ''}; {report.skipped} were there already"
    )
    if report.problems:
        line += f"; {len(report.problems)} problem(s) reported above"
    if report.dry_run:
        line += "; nothing was written (dry run)"
    return line
