"""Isso's SQLite database (comments.db), read directly: threads, comments, likes, modes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from commentsvc.errors import ValidationError
from commentsvc.importers import MAX_FILE_BYTES
from commentsvc.importers import Problem
from commentsvc.importers import Record
from commentsvc.importers import drop_duplicates
from commentsvc.importers import parse_time

# Isso's comment modes: 1 accepted, 2 waiting for moderation, 4 deleted (kept for its replies).
MODES = {1: "approved", 2: "pending", 4: "deleted"}
NEEDED = {
    "threads": {"id", "uri", "title"},
    "comments": {"tid", "id", "parent", "created", "mode", "text", "author", "email", "website"},
}
REQUIRED_ORDER = ("id", "tid", "parent", "created", "mode", "text", "author", "email", "website")
OPTIONAL = ("modified", "remote_addr", "likes", "notification")
# A crafted database (views, huge rows) must not hold the CPU: queries stop after this long.
DEADLINE_SECONDS = 60


def _connect(path: Path) -> sqlite3.Connection:
    # Read-only and immutable: the file is never written, not even a journal beside it.
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    connection = sqlite3.connect(uri, uri=True)
    connection.text_factory = lambda raw: raw.decode("utf-8", "replace")
    connection.execute("PRAGMA trusted_schema = OFF")
    deadline = time.monotonic() + DEADLINE_SECONDS
    connection.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    return connection


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def parse(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> tuple[list[Record], list[Problem]]:
    """Return the comments of an Isso database as records, and the rows skipped with why.

    :raise ValidationError: when the file cannot be read or is not an Isso database.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
        size = path.stat().st_size
    except OSError as exc:
        raise ValidationError(f"Cannot read {path}: {exc.strerror}.", field="file") from None
    if head != b"SQLite format 3\x00":
        raise ValidationError(
            f"{path} is not an SQLite database (Isso's comments.db).", field="file"
        )
    if size > max_bytes:
        raise ValidationError(
            f"{path} is larger than {max_bytes // 1024 // 1024} MB.", field="file"
        )
    try:
        connection = _connect(path)
        try:
            return _read(connection, path)
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise ValidationError(
            f"{path} cannot be read as an Isso database ({exc}).", field="file"
        ) from None


def _read(connection: sqlite3.Connection, path: Path) -> tuple[list[Record], list[Problem]]:
    columns = {}
    for table in NEEDED:
        columns[table] = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if not NEEDED[table] <= columns[table]:
            raise ValidationError(
                f"{path} is not an Isso database (no table {table} with "
                f"{', '.join(sorted(NEEDED[table]))}).",
                field="file",
            )
    optional = [f"c.{name}" if name in columns["comments"] else "NULL" for name in OPTIONAL]
    wanted = ", ".join([*(f"c.{n}" for n in REQUIRED_ORDER), *optional, "t.uri", "t.title"])
    # Only column names checked against the table's own list go into the statement.
    query = f"SELECT {wanted} FROM comments AS c LEFT JOIN threads AS t ON t.id = c.tid"  # noqa: S608
    rows = connection.execute(query + " ORDER BY c.id")
    records: list[Record] = []
    problems: list[Problem] = []
    for row in rows:
        key, tid, parent, created, mode, text, author, email, website = row[:9]
        modified, address, likes, notification, uri, title = row[9:]
        position = f"comment id {key}"
        moment = parse_time(created) if isinstance(created, int | float) else None
        if not isinstance(key, int):
            problems.append(Problem(position, "its id is not a number: skipped"))
            continue
        if not isinstance(uri, str) or not uri:
            problems.append(Problem(position, f"its thread {tid} is not in the database: skipped"))
            continue
        if moment is None:
            problems.append(Problem(position, "its created time is not a time: skipped"))
            continue
        if mode not in MODES:
            problems.append(Problem(position, f"its mode {mode!r} is not 1, 2 or 4: held"))
        status = MODES.get(mode, "pending")
        records.append(
            Record(
                key=str(key),
                uri=uri if uri.startswith("/") else "/" + uri,
                title=_text(title),
                kind="comment",
                status=status,
                author=_text(author),
                email=_text(email),
                website=_text(website),
                address=_text(address),
                created=moment,
                body="",
                # Isso stores the Markdown the reader wrote and renders it on every read.
                markdown=_text(text),
                parent=str(parent) if isinstance(parent, int) else "",
                likes=likes if isinstance(likes, int) else 0,
                notify=notification == 1,
                modified=parse_time(modified) if isinstance(modified, int | float) else None,
                post=str(tid),
                link=uri,
                position=position,
            )
        )
    return drop_duplicates(records, problems), problems
