"""Commento's JSON export (version 1: comments and commenters) and Comentario's own export
(version 3: pages, comments and commenters by UUID, as comentarioExportV3 in Comentario's
internal/svc/impex_comentario.go writes it, gzipped), told apart by the version field."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

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
    if (
        isinstance(data, dict)
        and data.get("version") == 3
        and isinstance(data.get("comments"), list)
    ):
        return _parse_v3(data)
    if not (
        isinstance(data, dict)
        and data.get("version") == 1
        and isinstance(data.get("comments"), list)
    ):
        raise ValidationError(
            f"{path} is not a Commento export (version 1) or a Comentario export (version 3).",
            field="file",
        )
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
                website=_website(person),
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


# Comentario's anonymous user: comments by readers who did not sign in name it as their author.
ANONYMOUS = "00000000-0000-0000-0000-000000000000"


def _by_id(items: object) -> dict[str, dict]:
    if not isinstance(items, list):
        return {}
    return {i["id"]: i for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)}


def _status(item: dict) -> str:
    if item.get("isDeleted") is True:
        return "deleted"
    if item.get("isApproved") is True:
        return "approved"
    if item.get("isPending") is True:
        return "pending"
    # Neither approved nor pending is what Comentario's moderators call rejected: kept hidden.
    return "spam"


def _parse_v3(data: dict) -> tuple[list[Record], list[Problem]]:
    """Return the comments of a Comentario export (version 3) as records, and those skipped."""
    pages = _by_id(data.get("pages"))
    commenters = _by_id(data.get("commenters"))
    records: list[Record] = []
    problems: list[Problem] = []
    for number, item in enumerate(data["comments"], 1):
        key = _str(item.get("id")) if isinstance(item, dict) else ""
        position = f"comment {number} (id {key[:36] or '?'})"
        if not key:
            problems.append(Problem(position, "it is not a comment with an id: skipped"))
            continue
        page = pages.get(_str(item.get("pageId")))
        path_ = _str(page.get("path")) if page else ""
        if not path_:
            problems.append(Problem(position, "its page is not in the export: skipped"))
            continue
        created = parse_time(item.get("createdTime"))
        if created is None:
            problems.append(Problem(position, "it has no readable createdTime: skipped"))
            continue
        status = _status(item)
        deleted = status == "deleted"
        who = _str(item.get("userCreated"))
        person = commenters.get(who)
        if person is None:
            person = {}
            if who and who != ANONYMOUS:
                problems.append(
                    Problem(position, f"its commenter {who[:36]} is not in the export: anonymous")
                )
        name = _str(person.get("name")) or _str(item.get("authorName"))
        try:
            parts = urlsplit(_str(item.get("url")))
        except ValueError:  # a broken address ("http://[") only loses the origin for --url-map
            parts = urlsplit("")
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""
        uri = path_ if path_.startswith("/") else "/" + path_
        score = item.get("score")
        records.append(
            Record(
                key=key,
                uri=thread_uri(uri),
                title=_str(page.get("title")),
                kind="comment",
                status=status,
                author=name or ("" if deleted else "Anonymous"),
                email=_str(person.get("email")),
                website=_str(person.get("websiteUrl")),
                address="",
                created=created,
                body=_str(item.get("html")),
                markdown=None if deleted else _str(item.get("markdown")) or None,
                parent=_str(item.get("parentId")),
                by_owner=person.get("isModerator") is True,
                likes=max(score, 0)
                if isinstance(score, int) and not isinstance(score, bool)
                else 0,
                post=uri,
                link=origin + uri,
                position=position,
                modified=parse_time(item.get("editedTime")),
            )
        )
    return drop_duplicates(records, problems), problems


def _website(person: dict) -> str:
    # Commento keeps "undefined" for a commenter without a website; some writers of version 1
    # files name the field websiteUrl, as Comentario's own records do.
    link = _str(person.get("link")) or _str(person.get("websiteUrl"))
    return "" if link == "undefined" else link
