"""WordPress's export format (WXR): the comments of every post and page."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from commentsvc.errors import ValidationError
from commentsvc.importers import MAX_FILE_BYTES
from commentsvc.importers import Problem
from commentsvc.importers import Record
from commentsvc.importers import drop_duplicates
from commentsvc.importers import read_xml

STATUSES = {
    "1": "approved",
    "approve": "approved",
    "0": "pending",
    "hold": "pending",
    "spam": "spam",
    "trash": "deleted",
    "post-trashed": "deleted",
}
KINDS = {"": "comment", "comment": "comment", "pingback": "pingback", "trackback": "trackback"}
_NO_USER = ("", "0")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element, name: str) -> str:
    # WordPress has used both http:// and https:// for its namespace: match the local name.
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _text(element, name: str) -> str:
    # Titles and names are stored HTML-escaped (&#8217;, &laquo;): decode them exactly once.
    return html.unescape(_child(element, name))


def _date(*stamps: str) -> datetime | None:
    # WordPress writes 0000-00-00 00:00:00 where it has no date (drafts, some imports).
    for stamp in stamps:
        try:
            return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
    return None


def thread_uri(link: str) -> str:
    """Return the thread uri of a post's link: its path, and its query for plain permalinks
    (?p=12, ?page_id=3), which tell posts apart where the path cannot."""
    parts = urlsplit(link)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class _Owners:
    """The blog's own authors, to keep the badge on their comments."""

    def __init__(self, channel) -> None:
        authors = [a for a in channel if _local(a.tag) == "author"]
        self.ids = {_child(a, "author_id") for a in authors} - set(_NO_USER)
        self.emails = {_child(a, "author_email").lower() for a in authors} - {""}
        self.logins = {_child(a, "author_login") for a in authors} - {""}

    def wrote(self, entry, post_author: str) -> bool:
        user = _child(entry, "comment_user_id")
        if user in _NO_USER:
            return False
        email = _child(entry, "comment_author_email").lower()
        # Exports from wordpress.com carry no author ids: the signed-in user's email or
        # login then tells a blog author from a registered reader.
        return (
            user in self.ids
            or (email and email in self.emails)
            or _child(entry, "comment_author") in self.logins | {post_author} - {""}
        )


def parse(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> tuple[list[Record], list[Problem]]:
    """Return the comments of a WXR file as records, and the entries skipped with why.

    :raise ValidationError: when the file cannot be read or is not a WordPress export.
    """
    root = read_xml(path, max_bytes=max_bytes)
    channel = next((c for c in root if _local(c.tag) == "channel"), None)
    if _local(root.tag) != "rss" or channel is None:
        raise ValidationError(f"{path} is not a WordPress export (WXR).", field="file")
    owners = _Owners(channel)
    records: list[Record] = []
    problems: list[Problem] = []
    items = (i for i in channel if _local(i.tag) == "item")
    for number, item in enumerate(items, 1):
        link = _child(item, "link") or _child(item, "guid")
        post = _child(item, "post_id") or f"item {number}"
        post_date = _date(_child(item, "post_date_gmt"), _child(item, "post_date"))
        entries = (c for c in item if _local(c.tag) == "comment")
        for index, entry in enumerate(entries, 1):
            key = _child(entry, "comment_id")
            position = f"item {number} (post {post}), comment {index} (id {key or '?'})"
            created = (
                _date(_child(entry, "comment_date_gmt"), _child(entry, "comment_date")) or post_date
            )
            if not key:
                problems.append(Problem(position, "it has no comment_id: skipped"))
                continue
            if created is None:
                problems.append(
                    Problem(position, "neither it nor its post has a readable date: skipped")
                )
                continue
            parent = _child(entry, "comment_parent")
            records.append(
                Record(
                    key=key,
                    uri=thread_uri(link),
                    title=_text(item, "title"),
                    kind=KINDS.get(_child(entry, "comment_type"), "comment"),
                    status=STATUSES.get(_child(entry, "comment_approved"), "pending"),
                    author=_text(entry, "comment_author"),
                    email=_child(entry, "comment_author_email"),
                    website=_child(entry, "comment_author_url"),
                    address=_child(entry, "comment_author_IP"),
                    created=created,
                    body=_child(entry, "comment_content"),
                    parent="" if parent in _NO_USER else parent,
                    by_owner=bool(owners.wrote(entry, _child(item, "creator"))),
                    post=post,
                    link=link,
                    position=position,
                )
            )
    return drop_duplicates(records, problems), problems
