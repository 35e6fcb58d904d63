"""Remark42's backup (JSON lines: one line of users and posts, then one comment a line)."""

from __future__ import annotations

from pathlib import Path

from commentsvc.errors import ValidationError
from commentsvc.importers import MAX_FILE_BYTES
from commentsvc.importers import Problem
from commentsvc.importers import Record
from commentsvc.importers import drop_duplicates
from commentsvc.importers import parse_time
from commentsvc.importers import read_file
from commentsvc.importers import read_json
from commentsvc.importers.wordpress import thread_uri


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def parse(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> tuple[list[Record], list[Problem]]:
    """Return the comments of a Remark42 backup as records, and the lines skipped with why.

    :raise ValidationError: when the file cannot be read or is not a Remark42 backup.
    """
    lines = read_file(path, max_bytes=max_bytes).splitlines()
    try:
        meta = read_json(lines[0], "its first line") if lines else None
    except ValueError:
        meta = None
    if not (isinstance(meta, dict) and meta.get("version") in (0, 1)):
        raise ValidationError(
            f"{path} is not a Remark42 backup (its first line is not the version 0 or 1 "
            "line of users and posts).",
            field="file",
        )
    records: list[Record] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        position = f"line {number}"
        try:
            item = read_json(line, "it")
        except ValueError as exc:
            problems.append(Problem(position, f"{exc}: skipped"))
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(position, "it is not UTF-8: its bad bytes became U+FFFD"))
        key = _str(_dict(item).get("id"))
        position = f"line {number} (id {key[:40] or '?'})"
        if not key:
            problems.append(Problem(position, "it is not a comment with an id: skipped"))
            continue
        locator = _dict(item.get("locator"))
        url = _str(locator.get("url"))
        created = parse_time(item.get("time"))
        if not url:
            problems.append(Problem(position, "its locator has no url: skipped"))
            continue
        if created is None:
            problems.append(Problem(position, "it has no readable time: skipped"))
            continue
        user = _dict(item.get("user"))
        deleted = item.get("delete") is True
        score = item.get("score")
        original = _str(item.get("orig"))
        records.append(
            Record(
                key=key,
                uri=thread_uri(url),
                title=_str(item.get("title")),
                kind="comment",
                status="deleted" if deleted else "approved",
                author="" if deleted else _str(user.get("name")),
                email=_str(user.get("email")),
                website="",
                # Remark42 keeps a hash of the address already; hashing it again keeps bans
                # by address working across the imported comments of one person.
                address=_str(user.get("ip")),
                created=created,
                body="" if deleted else _str(item.get("text")),
                markdown=original if original and not deleted else None,
                parent=_str(item.get("pid")),
                by_owner=user.get("admin") is True,
                likes=score if isinstance(score, int) and not isinstance(score, bool) else 0,
                modified=parse_time(_dict(item.get("edit")).get("time")),
                post=url,
                link=url,
                position=position,
            )
        )
    return drop_duplicates(records, problems), problems
