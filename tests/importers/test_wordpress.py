"""Importing WordPress exports: a small WXR written here with the nasty cases, and a real one
(shared/data/wordpress, WordPress's own theme test data) when the shared folder is there."""

import os
import subprocess
import sys
from datetime import datetime

import pytest
from sqlalchemy import func
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import ModerationEvent
from commentsvc.models import Thread
from tests.conftest import add_site
from tests.importers.imports import WXR
from tests.importers.imports import counts
from tests.importers.imports import needs_shared_export
from tests.safety import unsafe_parts


@needs_shared_export
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
    unknown_site = cli("import", "wordpress", str(other), "--site", "nosuch")
    assert unknown_site.exit_code == 1 and "no site called 'nosuch'" in unknown_site.output
    assert counts(app, Comment.kind) == {}


@needs_shared_export
def test_every_post_of_the_shared_export_gets_its_own_thread(app, cli):
    import defusedxml.ElementTree

    def local(child):
        return child.tag.rsplit("}", 1)[-1]

    posts = set()
    for post in defusedxml.ElementTree.parse(WXR).getroot().iter("item"):
        children = {local(child): child.text for child in post}
        if "comment" in children:
            posts.add(children["post_id"])
    assert len(posts) > 5
    add_site(app, url="https://wpthemetestdata.wordpress.com")
    assert cli("import", "wordpress", str(WXR), "--site", "blog").exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Thread)) == len(posts)


# --- a small export with the nasty cases, written here ------------------------------------

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
<title>A blog</title>
<link>https://old.example.org</link>
<wp:author><wp:author_id>7</wp:author_id><wp:author_login><![CDATA[owner]]></wp:author_login>
<wp:author_email><![CDATA[owner@example.org]]></wp:author_email></wp:author>
"""
TAIL = "</channel>\n</rss>\n"


def item(post_id, link, title, *comments, date="2013-01-05 10:00:00"):
    return f"""<item><title>{title}</title><link>{link}</link>
<dc:creator><![CDATA[owner]]></dc:creator><wp:post_id>{post_id}</wp:post_id>
<wp:post_date>{date}</wp:post_date><wp:post_date_gmt>{date}</wp:post_date_gmt>
{"".join(comments)}</item>
"""


def comment(
    cid,
    body,
    *,
    author="Reader",
    email="reader@example.org",
    url="",
    date="2013-01-06 10:00:00",
    date_gmt=None,
    parent="0",
    kind="",
    approved="1",
    user="0",
):
    return f"""<wp:comment><wp:comment_id>{cid}</wp:comment_id>
<wp:comment_author><![CDATA[{author}]]></wp:comment_author>
<wp:comment_author_email><![CDATA[{email}]]></wp:comment_author_email>
<wp:comment_author_url>{url}</wp:comment_author_url>
<wp:comment_author_IP>192.0.2.1</wp:comment_author_IP>
<wp:comment_date>{date}</wp:comment_date>
<wp:comment_date_gmt>{date if date_gmt is None else date_gmt}</wp:comment_date_gmt>
<wp:comment_content><![CDATA[{body}]]></wp:comment_content>
<wp:comment_approved>{approved}</wp:comment_approved><wp:comment_type>{kind}</wp:comment_type>
<wp:comment_parent>{parent}</wp:comment_parent><wp:comment_user_id>{user}</wp:comment_user_id>
</wp:comment>
"""


RICH = (
    "<h2>Setup</h2><p>Use <strong>bold</strong> and <a href='https://docs.example.org/'>the"
    " docs</a>.</p><table><tr><th>name</th><th>value</th></tr>"
    "<tr><td>alpha</td><td>1</td></tr></table><p>Thanks &amp; bye</p>"
)
ZERO = "0000-00-00 00:00:00"


def write_export(path, *items):
    path.write_text(HEAD + "".join(items) + TAIL, encoding="utf-8")
    return path


@pytest.fixture
def export(tmp_path):
    return write_export(
        tmp_path / "blog.xml",
        item(
            1,
            "https://old.example.org/?p=1",
            "Hello &amp;#8217;world&amp;#8217;",
            comment(11, RICH, author="Ann"),
            comment(
                12,
                "Owner's answer",
                author="owner",
                email="owner@example.org",
                parent="11",
                user="7",
                date="2013-01-07 10:00:00",
            ),
            comment(13, "Orphan reply", parent="999", date="2013-01-08 10:00:00"),
            comment(
                14,
                "[...] they wrote about it [...]",
                author="Blog &laquo; Post &#8217;s",
                url="https://other.example.net/post",
                kind="pingback",
                date=ZERO,
                date_gmt=ZERO,
            ),
        ),
        item(
            2,
            "https://old.example.org/?p=2",
            "Second",
            comment(21, "Zero GMT date", date="2013-02-01 09:30:00", date_gmt=ZERO),
            comment(22, "Held &amp;amp; kept", approved="0", author="Tom &amp;amp; Jerry"),
            comment("", "No id at all"),
        ),
        item(
            3,
            "https://old.example.org/?page_id=3",
            "About",
            comment(31, "On the page", author="Bea", user="55"),
        ),
    )


def one(column, **where):
    return db.session.scalar(select(column).filter_by(**where))


def test_a_small_export_with_nasty_cases(app, cli, export):
    add_site(app, url="https://old.example.org")
    result = cli("import", "wordpress", str(export), "--site", "blog")
    assert result.exit_code == 0, result.output
    # Plain permalinks stay apart: ?p=1, ?p=2 and ?page_id=3 are three threads, not one "/".
    assert result.output.splitlines()[-1] == (
        "imported 7 into 3 page(s): 6 comment(s), 1 pingback(s) (6 approved, 1 pending); "
        "0 were there already; 2 problem(s) reported above"
    )
    assert "item 1 (post 1), comment 3 (id 13): its parent 999 is not in the export" in (
        result.output
    )
    assert "item 2 (post 2), comment 3 (id ?): it has no comment_id: skipped" in result.output
    with app.app_context():
        uris = sorted(db.session.scalars(select(Thread.uri)))
        assert uris == ["/?p=1", "/?p=2", "/?page_id=3"]
        # Entities are decoded exactly once.
        assert one(Thread.title, uri="/?p=1") == "Hello ’world’"
        pingback = db.session.scalar(select(Comment).where(Comment.kind == "pingback"))
        assert pingback.source_title == "Blog « Post ’s"
        assert pingback.excerpt == "they wrote about it"
        # A zero date falls back to the local date, then to the post's date.
        assert pingback.created == datetime(2013, 1, 5, 10, 0)
        assert one(Comment.created, author="Reader", parent_id=None, text="Zero GMT date") == (
            datetime(2013, 2, 1, 9, 30)
        )
        held = db.session.scalar(select(Comment).where(Comment.status == "pending"))
        assert held.author == "Tom &amp; Jerry" and held.text == "Held &amp; kept"
        # The source is Markdown that keeps the formatting; the HTML is sanitised, not run-on.
        rich = db.session.scalar(select(Comment).where(Comment.author == "Ann"))
        assert "**Setup**" in rich.text and "**bold**" in rich.text
        assert "[the docs](https://docs.example.org/)" in rich.text
        assert "| name | value |" in rich.text and "| alpha | 1 |" in rich.text
        assert (
            "<strong>bold</strong>" in rich.html and 'href="https://docs.example.org/"' in rich.html
        )
        assert "namevalue" not in rich.html and "SetupUse" not in rich.html
        assert "alpha | 1" in rich.html and "Thanks &amp; bye" in rich.html
        assert unsafe_parts(rich.html) == []
        # The blog's own author keeps the badge; a registered reader does not get it.
        answer = db.session.scalar(select(Comment).where(Comment.author == "owner"))
        assert answer.by_owner is True and answer.parent_id == rich.id
        assert one(Comment.by_owner, author="Bea") is False
        assert one(Comment.parent_id, text="Orphan reply") is None
        # One line in the moderation log for the whole import.
        events = db.session.scalars(select(ModerationEvent)).all()
        assert [(e.actor, e.action, e.comment_id) for e in events] == [("cli", "import", None)]
        assert events[0].reason == (
            "7 comment(s) imported into blog from wordpress blog.xml (6 comment(s), 1 pingback(s))"
        )

    again = cli("import", "wordpress", str(export), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 7 were there already" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ModerationEvent)) == 1


def test_a_dry_run_counts_and_writes_nothing(app, cli, export):
    add_site(app, url="https://old.example.org")
    result = cli("import", "wordpress", str(export), "--site", "blog", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith(
        "would import 7 into 3 page(s): 6 comment(s), 1 pingback(s) (6 approved, 1 pending)"
    )
    assert "nothing was written (dry run)" in result.output
    with app.app_context():
        for model in (Comment, Thread, ModerationEvent):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_two_posts_in_one_thread_are_refused_unless_mapped_or_merged(app, cli, tmp_path):
    add_site(app, url="https://old.example.org")
    path = write_export(
        tmp_path / "clash.xml",
        item(1, "https://old.example.org/", "Front", comment(11, "On the front")),
        item(2, "https://old.example.org", "Home", comment(21, "On the home")),
        item(3, "https://old.example.org/?p=3", "Third", comment(31, "On the third")),
    )
    refused = cli("import", "wordpress", str(path), "--site", "blog")
    assert refused.exit_code == 1
    assert "Several posts would share one thread: / <- post 1 'Front'" in refused.output
    assert "post 2 'Home'" in refused.output and "--merge" in refused.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 0

    mapped = cli(
        "import",
        "wordpress",
        str(path),
        "--site",
        "blog",
        "--url-map",
        "https://old.example.org/=https://new.example.org/front/",
        "--url-map",
        "/?p=3=/2013/third/",
    )
    assert mapped.exit_code == 0, mapped.output
    with app.app_context():
        assert sorted(db.session.scalars(select(Thread.uri))) == [
            "/",
            "/2013/third/",
            "/front/",
        ]


def test_merge_joins_posts_and_a_map_file_moves_them(app, cli, tmp_path):
    add_site(app, url="https://old.example.org")
    path = write_export(
        tmp_path / "clash.xml",
        item(1, "https://old.example.org/a/", "A", comment(11, "On A")),
        item(2, "https://old.example.org/a/", "A again", comment(21, "On A again")),
        item(3, "https://old.example.org/old/b/", "B", comment(31, "On B")),
    )
    mapping = tmp_path / "map.csv"
    mapping.write_text("# old,new\n/old/,/new/\n", encoding="utf-8")
    merged = cli(
        "import",
        "wordpress",
        str(path),
        "--site",
        "blog",
        "--merge",
        "--url-map-file",
        str(mapping),
    )
    assert merged.exit_code == 0, merged.output
    assert "/old/=/new/ matched no post" not in merged.output
    with app.app_context():
        assert sorted(db.session.scalars(select(Thread.uri))) == ["/a/", "/new/b/"]
    typo = cli(
        "import", "wordpress", str(path), "--site", "blog", "--merge", "--url-map", "/olb/=/x/"
    )
    assert "warning: --url-map: /olb/=/x/ matched no post" in typo.output
    bad = cli("import", "wordpress", str(path), "--site", "blog", "--url-map", "nonsense")
    assert bad.exit_code == 1 and "is not FROM=TO" in bad.output


@pytest.mark.slow
def test_a_terminal_shows_progress_and_a_summary(tmp_path, export):
    import pty

    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMENTSVC_")}
    env["COMMENTSVC_INSTANCE_PATH"] = str(tmp_path / "instance")
    command = [sys.executable, "-m", "commentsvc"]
    subprocess.run([*command, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*command, "site", "add", "blog", "--url", "https://old.example.org"],
        env=env,
        check=True,
        capture_output=True,
    )
    primary, secondary = pty.openpty()
    try:
        result = subprocess.run(
            [*command, "import", "wordpress", str(export), "--site", "blog"],
            env={**env, "COLUMNS": "100", "TERM": "xterm"},
            stdout=subprocess.PIPE,
            stderr=secondary,
            text=True,
            timeout=60,
        )
        os.close(secondary)
        screen = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(primary)
    assert result.returncode == 0
    assert result.stdout.startswith("imported 7 into 3 page(s)")
    assert b"importing" in screen and b"100%" in screen


def test_a_body_that_cannot_be_converted_is_reported_and_skipped(app, cli, tmp_path):
    add_site(app, url="https://old.example.org")
    deep = "<blockquote>" * 2000 + "deep" + "</blockquote>" * 2000
    path = write_export(
        tmp_path / "deep.xml",
        item(1, "https://old.example.org/a/", "A", comment(11, "Fine"), comment(12, deep)),
        item(2, "https://old.example.org/b/", "B", comment(21, deep)),
    )
    result = cli("import", "wordpress", str(path), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert "item 1 (post 1), comment 2 (id 12): its body cannot be converted" in result.output
    assert "item 2 (post 2), comment 1 (id 21): its body cannot be converted" in result.output
    assert result.output.splitlines()[-1].startswith("imported 1 into 1 page(s)")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Thread)) == 1
