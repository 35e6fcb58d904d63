"""Importing a real WordPress export (shared/data/wordpress, WordPress's own theme test data)."""

from sqlalchemy import func
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Thread
from tests.conftest import add_site
from tests.safety import SHARED
from tests.safety import needs_shared
from tests.safety import unsafe_parts

WXR = SHARED / "data" / "wordpress" / "themeunittestdata.wordpress.xml"
needs_wxr = needs_shared(WXR)


def counts(app, column):
    with app.app_context():
        return dict(db.session.execute(select(column, func.count()).group_by(column)).all())


@needs_wxr
def test_a_wordpress_export_is_imported_whole(app, cli, client):
    add_site(app, url="https://wpthemetestdata.wordpress.com")
    result = cli("import", "wordpress", str(WXR), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("imported 33 into ")
    assert counts(app, Comment.kind) == {"comment": 29, "pingback": 2, "trackback": 2}
    assert counts(app, Comment.status) == {"approved": 30, "pending": 3}
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(Comment).where(Comment.status == "pending")
            )
            == 3
        )
        replies = db.session.scalars(select(Comment).where(Comment.parent_id.is_not(None))).all()
        assert replies, "threaded replies keep their parents"
        for reply in replies:
            assert reply.parent_id is not None
            assert db.session.get(Comment, reply.parent_id).thread_id == reply.thread_id
        for comment in db.session.scalars(select(Comment)):
            assert unsafe_parts(comment.html) == []
            assert comment.remote_hash == "" or len(comment.remote_hash) == 32
        linkback = db.session.scalar(select(Comment).where(Comment.kind == "pingback"))
        assert linkback.source_url.startswith("http") and linkback.excerpt
        published_reply = next(
            r
            for r in replies
            if r.status == "approved" and db.session.get(Comment, r.parent_id).status == "approved"
        )
        uri = db.session.get(Thread, published_reply.thread_id).uri
    thread = client.get("/api/comments", query_string={"site": "blog", "uri": uri}).get_json()
    assert thread["count"] > 0 and any(c["replies"] for c in thread["comments"])

    again = cli("import", "wordpress", str(WXR), "--site", "blog")
    assert "imported 0 into 0 page(s)" in again.output and "33 were there already" in again.output
    assert sum(counts(app, Comment.kind).values()) == 33


def test_import_errors_are_clear_and_write_nothing(app, cli, tmp_path):
    add_site(app)
    missing = cli("import", "wordpress", str(tmp_path / "nope.xml"), "--site", "blog")
    assert missing.exit_code == 1 and "Cannot read" in missing.output
    not_xml = tmp_path / "a.xml"
    not_xml.write_text("<rss><channel>")
    assert "not well-formed" in cli("import", "wordpress", str(not_xml), "--site", "blog").output
    other = tmp_path / "b.xml"
    other.write_text("<feed/>")
    assert (
        "not a WordPress export" in cli("import", "wordpress", str(other), "--site", "blog").output
    )
    bomb = tmp_path / "c.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss>&a;</rss>')
    assert "refused" in cli("import", "wordpress", str(bomb), "--site", "blog").output
    empty = tmp_path / "d.xml"
    empty.write_text("<rss><channel></channel></rss>")
    unknown_site = cli("import", "wordpress", str(empty), "--site", "nosuch")
    assert unknown_site.exit_code == 1 and "no site called 'nosuch'" in unknown_site.output
    assert counts(app, Comment.kind) == {}


@needs_wxr
def test_export_writes_every_comment_as_json(app, cli):
    import json

    add_site(app, url="https://wpthemetestdata.wordpress.com")
    cli("import", "wordpress", str(WXR), "--site", "blog")
    result = cli("export", "--site", "blog")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["format"] == "commentsvc-export" and data["site"]["name"] == "blog"
    exported = [c for t in data["threads"] for c in t["comments"]]
    assert len(exported) == 33
    assert {c["kind"] for c in exported} == {"comment", "pingback", "trackback"}
    assert all(c["created"].endswith("Z") for c in exported)
    assert cli("export", "--site", "nosuch").exit_code == 1
