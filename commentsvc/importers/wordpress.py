"""WordPress's export format (WXR): the comments of every post and page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import defusedxml.ElementTree
from defusedxml import DefusedXmlException

from commentsvc.errors import ValidationError
from commentsvc.importers import Record

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


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element, name: str) -> str:
    # WordPress has used both http:// and https:// for its namespace: match the local name.
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def parse(path: Path) -> list[Record]:
    """Return the comments of a WXR file as records.

    :raise ValidationError: when the file cannot be read or is not a WordPress export.
    """
    try:
        root = defusedxml.ElementTree.parse(path, forbid_dtd=True).getroot()
    except OSError as exc:
        raise ValidationError(f"Cannot read {path}: {exc.strerror}.", field="file") from None
    except DefusedXmlException:
        raise ValidationError(
            f"{path} declares a DOCTYPE or entities; refused.", field="file"
        ) from None
    except Exception:  # noqa: BLE001 - any parser complaint means the file is not well-formed
        raise ValidationError(f"{path} is not well-formed XML.", field="file") from None
    channel = next((c for c in root if _local(c.tag) == "channel"), None)
    if _local(root.tag) != "rss" or channel is None:
        raise ValidationError(f"{path} is not a WordPress export (WXR).", field="file")
    records = []
    for item in (i for i in channel if _local(i.tag) == "item"):
        link = _child(item, "link")
        uri = urlsplit(link).path or "/"
        title = _child(item, "title")
        for entry in (c for c in item if _local(c.tag) == "comment"):
            records.append(_record(entry, uri, title))
    return records


def _record(entry, uri: str, title: str) -> Record:
    key = _child(entry, "comment_id")
    stamp = _child(entry, "comment_date_gmt") or _child(entry, "comment_date")
    try:
        created = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ValidationError(
            f"Comment {key} has no readable date ({stamp!r}).", field="file"
        ) from None
    parent = _child(entry, "comment_parent")
    return Record(
        key=key,
        uri=uri,
        title=title,
        kind=KINDS.get(_child(entry, "comment_type"), "comment"),
        status=STATUSES.get(_child(entry, "comment_approved"), "pending"),
        author=_child(entry, "comment_author"),
        email=_child(entry, "comment_author_email"),
        website=_child(entry, "comment_author_url"),
        address=_child(entry, "comment_author_IP"),
        created=created,
        body=_child(entry, "comment_content"),
        parent="" if parent in ("", "0") else parent,
    )
