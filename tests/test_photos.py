"""Author photos: fetched once by the service, checked, and served from it; never the sender's."""

from __future__ import annotations

import struct
import zlib

import pytest

from commentsvc import queue
from commentsvc.photos import MAX_BYTES
from commentsvc.photos import PhotoRefused
from commentsvc.photos import check_image
from tests.linkbacks.test_receive import send


def png(width: int = 2, height: int = 2, padding: int = 0) -> bytes:
    """Return a real PNG image (grey pixels), with an optional text chunk to make it bigger."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(min(height, 4)))
    extra = chunk(b"tEXt", b"c\x00" + b"x" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def like_page(target: str, photo: str) -> str:
    return f"""<html><head><title>Liked</title></head><body>
<article class="h-entry"><span class="p-author h-card"><img class="u-photo" src="{photo}">
<a class="u-url p-name" href="https://bea.example.org">Bea</a></span>
<a class="u-like-of" href="{target}">liked</a></article></body></html>"""


def run_queue(app, limit=100):
    with app.app_context():
        return queue.run_pending(limit=limit)


def mentions(client):
    return client.get("/api/comments?site=blog&uri=/post/1").get_json()["comments"]


def test_a_like_photo_is_fetched_once_and_served_by_the_service(app, client, ours, theirs):
    image = png()
    theirs.page("/me.png", image, headers={"Content-Type": "image/png"})
    target = ours.url + "/post/1"
    assert (
        send(client, theirs.page("/like", like_page(target, "/me.png")), target).status_code == 201
    )
    run_queue(app, limit=1)  # the mention, not the photo yet
    [like] = mentions(client)
    avatar = like["avatar"]
    assert avatar.startswith("http://localhost/api/photo/") and "me.png" not in str(like)
    waiting = client.get(avatar)
    assert waiting.mimetype == "image/svg+xml"  # the identicon, until the photo is here
    assert "max-age=300" in waiting.headers["Cache-Control"]
    assert theirs.hits("/me.png") == 0
    run_queue(app)
    served = client.get(avatar)
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert served.data == image
    assert "immutable" in served.headers["Cache-Control"]
    assert served.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    # Sent again, and read many times: the sender's server saw one request, from the service.
    send(client, theirs.url + "/like", target)
    run_queue(app)
    for _ in range(3):
        client.get(mentions(client)[0]["avatar"])
    assert theirs.hits("/me.png") == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        ("<html>not an image</html>", "text/html"),
        ("<html>not an image</html>", "image/png"),  # the type claimed, not the bytes
        (png(padding=MAX_BYTES), "image/png"),  # too big
        (png(width=100_000, height=100_000), "image/png"),  # a small file, a huge image
    ],
)
def test_anything_but_a_small_image_gives_the_identicon(
    app, client, ours, theirs, body, content_type
):
    theirs.page("/me", body, headers={"Content-Type": content_type})
    target = ours.url + "/post/1"
    send(client, theirs.page("/like", like_page(target, "/me")), target)
    run_queue(app)
    [like] = mentions(client)
    response = client.get(like["avatar"])
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<script" not in response.data
    assert theirs.hits("/me") == 1


def test_a_photo_on_a_server_that_is_not_there_gives_the_identicon(app, client, ours, theirs):
    target = ours.url + "/post/1"
    send(client, theirs.page("/like", like_page(target, "http://127.0.0.1:9/me.png")), target)
    run_queue(app)
    [like] = mentions(client)
    assert client.get(like["avatar"]).mimetype == "image/svg+xml"


def test_check_image_takes_png_jpeg_gif_and_webp_by_their_bytes():
    assert check_image(png(), "image/png") == "image/png"
    gif = b"GIF89a" + struct.pack("<HH", 2, 2) + b"\x00" * 20
    assert check_image(gif, "image/gif") == "image/gif"
    jpeg = (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\xff\xc0\x00\x11\x08\x00\x02\x00\x02\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
        + b"\xff\xd9"
    )
    assert check_image(jpeg, "image/jpg") == "image/jpeg"
    for body, declared in [(png(), "image/gif"), (gif, "image/webp"), (b"", "image/png")]:
        with pytest.raises(PhotoRefused):
            check_image(body, declared)


def test_no_comment_json_names_another_server_to_load(app, client, ours, theirs):
    """Every avatar the widget would load is on the service (Gravatar only where turned on)."""
    from tests.conftest import add_site

    add_site(app, "grav", "https://grav.example.org", gravatar=True)
    theirs.page("/me.png", png(), headers={"Content-Type": "image/png"})
    target = ours.url + "/post/1"
    send(client, theirs.page("/like", like_page(target, theirs.url + "/me.png")), target)
    send(client, theirs.page("/like2", like_page(target, "http://127.0.0.1:9/x.png")), target)
    for body in (
        {"site": "blog", "uri": "/post/1", "text": "![x](https://tracker.example/x.png) hi"},
        {
            "site": "blog",
            "uri": "/post/1",
            "text": "hi",
            "email": "a@example.org",
            "website": "a.example",
        },
        {"site": "grav", "uri": "/p", "text": "hi", "email": "a@example.org"},
        {"site": "grav", "uri": "/p", "text": "anonymous"},
    ):
        assert client.post("/api/comments", json=body).status_code == 201
    run_queue(app)

    def avatars(items):
        for item in items:
            yield item["avatar"], item["html"]
            yield from avatars(item["replies"])

    found = []
    for site, uri in (("blog", "/post/1"), ("grav", "/p")):
        thread = client.get("/api/comments", query_string={"site": site, "uri": uri}).get_json()
        for avatar, html in avatars(thread["comments"]):
            found.append(avatar)
            assert "<img" not in html and "src=" not in html
            allowed = avatar.startswith("http://localhost/api/")
            gravatar = site == "grav" and avatar.startswith("https://www.gravatar.com/avatar/")
            assert allowed or gravatar, avatar
    assert len(found) == 6
    assert sum("gravatar" in a for a in found) == 1


def test_a_spam_mention_gets_its_photo_neither_fetched_nor_stored(app, client, ours, theirs):
    from commentsvc.db import db
    from commentsvc.models import Photo
    from commentsvc.sites import update_site

    theirs.page("/me.png", png(), headers={"Content-Type": "image/png"})
    with app.app_context():
        update_site("blog", disallowed_words="liked")
    target = ours.url + "/post/1"
    send(client, theirs.page("/like", like_page(target, theirs.url + "/me.png")), target)
    run_queue(app)
    with app.app_context():
        assert db.session.query(Photo).count() == 0
    assert mentions(client) == [] and theirs.hits("/me.png") == 0
