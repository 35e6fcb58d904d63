"""Importing comments from other systems: formats parse to Records, one function stores them."""

from __future__ import annotations

import gzip
import html
import json
import re
import zlib
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
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

# Largest export file read (after gunzip): beyond it an import stops before parsing anything.
MAX_FILE_BYTES = 256 * 1024 * 1024
# Longest thread uri (the threads.uri column).
MAX_URI = 1024
# Longest comment text kept from an import, in code points (posts here stop at MAX_TEXT_LENGTH).
MAX_TEXT = 100_000
_TAG = re.compile(r"<[^>]+>")
# What fields.text_field strips from what readers send (NUL, C0/C1 controls but tab and newline,
# bidi overrides), and lone surrogates (from \udcxx escapes in JSON): no column takes them
# (PostgreSQL refuses NUL), and no reader should see them.
UNSAFE_TEXT = _UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
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
    markdown: str | None = None  # the Markdown source, where the other system kept one
    likes: int = 0  # likes or the positive score the other system counted
    notify: bool = False  # the author asked for mail about replies
    modified: datetime | None = None


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


# --- reading files -----------------------------------------------------------------------------


def read_file(path, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """Return a file's bytes, gunzipped when it is gzip (Disqus and Remark42 send .gz files).

    :raise ValidationError: when it cannot be read or is larger than max_bytes.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ValidationError(f"Cannot read {path}: {exc.strerror}.", field="file") from None
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except (OSError, EOFError, zlib.error):
            raise ValidationError(f"{path} is a broken gzip file.", field="file") from None
    if len(data) > max_bytes:
        raise ValidationError(
            f"{path} is larger than {max_bytes // 1024 // 1024} MB; split it first.", field="file"
        )
    return data


def read_xml(path, *, max_bytes: int = MAX_FILE_BYTES):
    """Return the root element of an XML file, parsed with DOCTYPEs and entities refused.

    :raise ValidationError: when it cannot be read or is not well-formed.
    """
    data = read_file(path, max_bytes=max_bytes)
    try:
        return defusedxml.ElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise ValidationError(
            f"{path} declares a DOCTYPE or entities; refused.", field="file"
        ) from None
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise ValidationError(
            f"{path} is not well-formed XML (line {line}, column {column}).", field="file"
        ) from None
    except Exception:  # noqa: BLE001 - any parser complaint means the file is not well-formed
        raise ValidationError(f"{path} is not well-formed XML.", field="file") from None


def read_json(data: bytes, what: str) -> object:
    """Return one JSON value; undecodable bytes become U+FFFD rather than stopping the import.

    :raise ValueError: when it is not JSON (or nested too deep to read).
    """
    try:
        return json.loads(data.decode("utf-8", "replace"))
    except RecursionError:
        raise ValueError(f"{what} is nested too deep") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not JSON ({exc.msg} at {exc.lineno}:{exc.colno})") from None


def clean(value: object, limit: int, *, multiline: bool = False) -> str:
    """Return a value from a file as text no column refuses: controls dropped, cut to limit."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    return (_UNSAFE if multiline else _UNSAFE_LINE).sub("", value)[:limit].strip()


def parse_time(value: object) -> datetime | None:
    """Return an ISO 8601 or epoch time as naive UTC, or None when it is not one."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str):
            text = value.strip()
            # Go writes nanoseconds (.123456789Z); Python reads at most microseconds.
            text = re.sub(r"(\.\d{6})\d+", r"\1", text)
            moment = datetime.fromisoformat(text)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if not 1970 <= moment.year <= 9999:
        return None
    return moment


def drop_duplicates(records: list[Record], problems: list[Problem]) -> list[Record]:
    """Return the records with each id once: a repeated id is reported and skipped."""
    seen: set[str] = set()
    kept = []
    for record in records:
        if record.key in seen:
            problems.append(Problem(record.position, f"id {record.key} appears twice: skipped"))
            continue
        seen.add(record.key)
        kept.append(record)
    return kept


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
    imported_from: str = "",
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
            _store(
                session,
                site,
                records,
                uris,
                report,
                secret=secret,
                now=now,
                progress=progress,
                imported_from=imported_from,
            )
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


def _store(session, site, records, uris, report, *, secret, now, progress, imported_from) -> None:
    stored: dict[str, Comment] = {}
    added: list[tuple[Record, Comment]] = []
    for record in sorted(records, key=lambda r: (r.created, r.key)):
        uri = uris[id(record)]
        linkback = record.kind in ("pingback", "trackback")
        if len(uri) > MAX_URI or _UNSAFE_LINE.search(uri):
            report.problems.append(
                Problem(record.position, "its page address is too long or has controls: skipped")
            )
            if progress is not None:
                progress(1)
            continue
        try:
            if linkback:
                text = clip_excerpt(excerpt_of(record.body))
            elif record.markdown is not None:
                text = clean(record.markdown, MAX_TEXT, multiline=True)
            else:
                text = clean(to_markdown(record.body), MAX_TEXT, multiline=True)
            rendered = render_markdown(text)
        except (ValueError, RecursionError) as exc:
            # One unusable body (e.g. HTML nested a thousand deep) must not stop the import.
            report.problems.append(
                Problem(record.position, f"its body cannot be converted ({exc!r:.80}): skipped")
            )
            if progress is not None:
                progress(1)
            continue
        thread = comments.get_or_create_thread(site, uri, now=now, title=clean(record.title, 300))
        # A linkback is its source in the thread; a comment, its time, author and text.
        same = (
            [Comment.source_url == _source_url(record.website)]
            if linkback
            else [
                Comment.created == record.created,
                Comment.author == clean(record.author, 200),
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
            author=clean(record.author, 200),
            email=clean(record.email, 320).lower(),
            website=clean(record.website, 2048)
            if record.website.startswith(("http://", "https://"))
            else "",
            text=text,
            html=rendered,
            created=record.created,
            modified=record.modified,
            remote_hash=address_hash(secret, record.address) if record.address else "",
            by_owner=record.by_owner and not linkback,
            likes=max(0, min(record.likes, 10**9)),
            notify=record.notify and bool(record.email),
            imported_from=imported_from,
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
