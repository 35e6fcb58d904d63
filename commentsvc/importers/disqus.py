"""Disqus's export (Admin > Moderation > Export): XML of threads and posts, often gzipped."""

from __future__ import annotations

from pathlib import Path

from commentsvc.errors import ValidationError
from commentsvc.importers import MAX_FILE_BYTES
from commentsvc.importers import Problem
from commentsvc.importers import Record
from commentsvc.importers import clean
from commentsvc.importers import drop_duplicates
from commentsvc.importers import parse_time
from commentsvc.importers import read_xml
from commentsvc.importers.wordpress import thread_uri


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element, *names: str):
    for name in names:
        element = next((c for c in element if _local(c.tag) == name), None)
        if element is None:
            return None
    return element


def _text(element, *names: str) -> str:
    found = _child(element, *names)
    return (found.text or "").strip() if found is not None else ""


def _dsq_id(element) -> str:
    # dsq:id, in the disqus-internals namespace; matched by local name as for WordPress.
    if element is None:
        return ""
    return next((v.strip() for k, v in element.attrib.items() if _local(k) == "id"), "")


def _flag(element, name: str) -> bool:
    return _text(element, name).lower() == "true"


def parse(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> tuple[list[Record], list[Problem]]:
    """Return the posts of a Disqus export as records, and the posts skipped with why.

    :raise ValidationError: when the file cannot be read or is not a Disqus export.
    """
    root = read_xml(path, max_bytes=max_bytes)
    if _local(root.tag) != "disqus":
        raise ValidationError(f"{path} is not a Disqus export.", field="file")
    threads: dict[str, tuple[str, str, bool]] = {}
    for thread in (e for e in root if _local(e.tag) == "thread"):
        link = _text(thread, "link")
        threads[_dsq_id(thread)] = (
            link,
            clean(_text(thread, "title"), 300),
            _flag(thread, "isDeleted"),
        )
    records: list[Record] = []
    problems: list[Problem] = []
    for number, post in enumerate((e for e in root if _local(e.tag) == "post"), 1):
        key = _dsq_id(post)
        position = f"post {number} (id {key or '?'})"
        thread_id = _dsq_id(_child(post, "thread"))
        created = parse_time(_text(post, "createdAt"))
        if not key:
            problems.append(Problem(position, "it has no dsq:id: skipped"))
            continue
        if thread_id not in threads:
            problems.append(
                Problem(position, f"its thread {thread_id or '?'} is not in the export: skipped")
            )
            continue
        link, title, thread_deleted = threads[thread_id]
        if thread_deleted:
            problems.append(Problem(position, f"its thread {thread_id} was deleted: skipped"))
            continue
        if not link.startswith(("http://", "https://", "/")):
            problems.append(Problem(position, f"its thread {thread_id} has no link: skipped"))
            continue
        if created is None:
            problems.append(Problem(position, "it has no readable createdAt: skipped"))
            continue
        status = "approved"
        if _flag(post, "isSpam"):
            status = "spam"
        elif _flag(post, "isDeleted"):
            status = "deleted"
        elif _text(post, "isApproved").lower() == "false":
            status = "pending"
        author = _child(post, "author")
        name = _text(author, "name") if author is not None else ""
        email = _text(author, "email") if author is not None else ""
        records.append(
            Record(
                key=key,
                uri=thread_uri(link),
                title=title,
                kind="comment",
                status=status,
                author=name,
                email=email,
                website="",
                address=_text(post, "ipAddress"),
                created=created,
                body="" if status == "deleted" else _text(post, "message"),
                parent=_dsq_id(_child(post, "parent")),
                post=thread_id,
                link=link,
                position=position,
            )
        )
    return drop_duplicates(records, problems), problems
