"""Author photos from linkback sources: fetched once by the service, checked, stored, served.

A Webmention's h-card may name a photo on any server. Readers' browsers must ask nobody but the
service, so the service fetches the photo itself (through the hardened fetcher, in the
background), keeps it only when it is a small PNG, JPEG, GIF or WebP, and serves it from its own
address; until then, or when the fetch fails, the identicon stands in.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from datetime import datetime

import imagesize
from sqlalchemy import select

from commentsvc import queue
from commentsvc.db import db
from commentsvc.db import insert_ignore
from commentsvc.db import write_transaction
from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.models import Photo

MAX_BYTES = 512 * 1024
MAX_SIDE = 2048  # pixels: a small file can still unpack into a huge image in the browser
JOB_KIND = "photo"
ACCEPT = "image/png, image/jpeg, image/gif, image/webp"
# Content types, by the magic bytes that must open the file. SVG (a document that can carry
# script and fetch other resources) and every other type are refused.
_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


class PhotoRefused(Exception):
    """A fetched file that is not a photo the service serves; the message says why."""


def photo_key(secret: str, url: str) -> str:
    """Return the service's name for a remote photo: a keyed hash of its URL."""
    message = f"photo\x00{url}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def request_photo(secret: str, url: str, *, now: datetime) -> str:
    """Record a remote photo and queue its fetch, once per URL (inside the caller's
    transaction); return its key, or "" when there is no URL."""
    if not url.startswith(("http://", "https://")):
        return ""
    key = photo_key(secret, url)
    added = insert_ignore(
        db.session(), Photo, key=key, url=url[:2048], status="pending", created=now
    )
    if added:
        queue.enqueue(JOB_KIND, {"key": key}, now=now)
    return key


def fetch_photo(key: str, *, fetcher: Fetcher, now: datetime) -> str:
    """Fetch a recorded photo, check it, store it; return its status (ok or failed).

    :raise queue.Retry: when the photo's server failed or did not answer in time.
    """
    photo = db.session.scalar(select(Photo).where(Photo.key == key))
    if photo is None or photo.status == "ok":
        return photo.status if photo else "failed"
    url = photo.url
    try:
        fetched = fetcher.request("GET", url, headers={"Accept": ACCEPT}, accept_errors=False)
        content_type = check_image(fetched.body, fetched.content_type)
    except FetchError as error:
        if error.kind == "timeout" or (error.status or 0) >= 500:
            raise queue.Retry(error.message) from None
        return _settle(key, "failed", error.message, now=now)
    except PhotoRefused as refused:
        return _settle(key, "failed", str(refused), now=now)
    return _settle(key, "ok", "", now=now, content_type=content_type, data=fetched.body)


def check_image(body: bytes, declared: str) -> str:
    """Return the content type of a photo the service serves, by its header and its bytes.

    :raise PhotoRefused: for anything but a small PNG, JPEG, GIF or WebP of sane size.
    """
    declared = _ALIASES.get(declared, declared)
    if declared not in _MAGIC:
        raise PhotoRefused(f"not a PNG, JPEG, GIF or WebP image ({declared or 'no type'})")
    if len(body) > MAX_BYTES:
        raise PhotoRefused(f"larger than {MAX_BYTES // 1024} KB")
    if not body.startswith(_MAGIC[declared]) or (
        declared == "image/webp" and body[8:12] != b"WEBP"
    ):
        raise PhotoRefused(f"the file's bytes are not those of {declared}")
    try:
        width, height = imagesize.get(io.BytesIO(body))
    except Exception:  # noqa: BLE001 - a hostile file may break the header parser in any way
        width = height = -1
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise PhotoRefused(f"not an image of at most {MAX_SIDE}×{MAX_SIDE} pixels")
    return declared


def _settle(key: str, status: str, reason: str, *, now: datetime, **values) -> str:
    with write_transaction() as session:
        photo = session.scalar(select(Photo).where(Photo.key == key))
        if photo is not None:
            photo.status, photo.reason, photo.fetched = status, reason[:500], now
            for name, value in values.items():
                setattr(photo, name, value)
    return status


def stored_photo(key: str) -> Photo | None:
    """Return the photo with this key when it was fetched and kept, else None."""
    return db.session.scalar(select(Photo).where(Photo.key == key, Photo.status == "ok"))


@queue.handler(JOB_KIND)
def run_fetch_photo(payload: dict) -> None:
    from flask import current_app

    fetch_photo(
        payload["key"],
        fetcher=current_app.extensions["fetcher"],
        now=current_app.extensions["clock"](),
    )
