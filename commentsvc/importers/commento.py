"""Commento's JSON export (version 1): comments and commenters. Comentario's own export is
version 3, of another shape, and is refused with a message saying so."""

from __future__ import annotations

from pathlib import Path

from commentsvc.errors import ValidationError
from commentsvc.importers import MAX_FILE_BYTES
from commentsvc.importers import Problem
from commentsvc.importers import Record
from commentsvc.importers import clean
from commentsvc.importers import drop_duplicates
from commentsvc.importers import parse_time
from commentsvc.importers import read_file
from commentsvc.importers import read_json
from commentsvc.importers.wordpress import thread_uri

STATES = {"approved": "approved", "unapproved": "pending", "flagged": "spam"}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> tuple[list[Record], list[Problem]]:
    """Return the comments of a Commento export as records, and those skipped with why.

    :raise ValidationError: when the file cannot be read or is not a Commento export.
    """
    try:
        data = read_json(read_file(path, max_bytes=max_bytes), str(path))
    except ValueError as exc:
        raise ValidationError(f"{exc}.", field="file") from None
    if not (
        isinstance(data, dict)
        and data.get("version") == 1
        and isinstance(data.get("comments"), list)
    ):
        version = data.get("version") if isinstance(data, dict) else None
        more = " (Comentario's own export is not read yet)" if version == 3 else ""
        raise ValidationError(f"{path} is not a Commento export of version 1{more}.", field="file")
    commenters = {}
    for person in data.get("commenters") or []:
        if isinstance(person, dict) and isinstance(person.get("commenterHex"), str):
            commenters[person["commenterHex"]] = person
    records: list[Record] = []
    problems: list[Problem] = []
    for number, item in enumerate(data["comments"], 1):
        key = _str(item.get("commentHex")) if isinstance(item, dict) else ""
        position = f"comment {number} (commentHex {key[:16] or '?'})"
        if not key:
            problems.append(Problem(position, "it is not a comment with a commentHex: skipped"))
            continue
        path_ = _str(item.get("url")) or _str(item.get("path"))
        created = parse_time(item.get("creationDate"))
        if not path_:
            problems.append(Problem(position, "it has no url: skipped"))
            continue
        if created is None:
            problems.append(Problem(position, "it has no readable creationDate: skipped"))
            continue
        person = commenters.get(_str(item.get("commenterHex")), {})
        deleted = item.get("deleted") is True
        status = "deleted" if deleted else STATES.get(_str(item.get("state")), "pending")
        parent = _str(item.get("parentHex"))
        domain = clean(item.get("domain"), 255)
        link = f"https://{domain}{path_}" if domain and path_.startswith("/") else path_
        score = item.get("score")
        records.append(
            Record(
                key=key,
                uri=thread_uri(path_ if path_.startswith("/") else "/" + path_),
                title="",
                kind="comment",
                status=status,
                author=_str(person.get("name")) or ("" if deleted else "Anonymous"),
                email=_str(person.get("email")),
                website=_str(person.get("link")),
                address="",
                created=created,
                body=_str(item.get("html")),
                markdown=None if deleted else _str(item.get("markdown")) or None,
                parent="" if parent in ("", "root") else parent,
                by_owner=person.get("isModerator") is True,
                likes=score if isinstance(score, int) and not isinstance(score, bool) else 0,
                post=path_,
                link=link,
                position=position,
            )
        )
    return drop_duplicates(records, problems), problems
