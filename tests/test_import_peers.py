"""Importing from the peers: Disqus, Remark42 and Commento from files written here to each
format's documented shape, with the nasty cases; Isso from a database a real Isso wrote."""

import gzip
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Thread
from tests.conftest import add_site
from tests.conftest import free_port
from tests.safety import unsafe_parts

ROOT = Path(__file__).resolve().parent.parent
ISSO_VENV = ROOT / "bench" / ".venv-isso"


def counts(app, column):
    with app.app_context():
        return dict(db.session.execute(select(column, func.count()).group_by(column)).all())


def comment_by(app, **where):
    with app.app_context():
        found = db.session.scalar(select(Comment).filter_by(**where))
        db.session.expunge_all()
        return found


def check_threads(app):
    """Every reply hangs under a parent in its own thread, and every body is clean."""
    with app.app_context():
        for comment in db.session.scalars(select(Comment)):
            assert unsafe_parts(comment.html) == []
            if comment.parent_id is not None:
                parent = db.session.get(Comment, comment.parent_id)
                assert parent.thread_id == comment.thread_id
                assert comment.root_id == (parent.root_id or parent.id)


# --- Disqus --------------------------------------------------------------------------------

DISQUS = """<?xml version="1.0" encoding="ISO-8859-1"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <category dsq:id="1"><forum>blog</forum><title>General</title><isDefault>true</isDefault></category>
 <thread dsq:id="100"><id/><forum>blog</forum><category dsq:id="1"/>
  <link>https://old.example.org/posts/a/</link><title>Post A &amp; more</title><message/>
  <createdAt>2015-01-01T10:00:00Z</createdAt><isClosed>false</isClosed><isDeleted>false</isDeleted>
 </thread>
 <thread dsq:id="200"><id/><forum>blog</forum><link>https://old.example.org/gone/</link>
  <title>Gone</title><isDeleted>true</isDeleted></thread>
 <post dsq:id="1001"><id/>
  <message><![CDATA[<p>Hello <b>there</b> &amp; <script>alert(1)</script>&lt;i&gt;</p>]]></message>
  <createdAt>2015-01-02T10:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam>
  <author><email>j\xfcrgen@example.org</email><name>J\xfcrgen \xd6</name>
  <isAnonymous>false</isAnonymous><username>jurgen</username></author>
  <ipAddress>192.0.2.10</ipAddress><thread dsq:id="100"/></post>
 <post dsq:id="1002"><message><![CDATA[<p>A reply</p>]]></message>
  <createdAt>2015-01-03T10:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam>
  <author><name>Bo</name><isAnonymous>true</isAnonymous></author>
  <thread dsq:id="100"/><parent dsq:id="1001"/></post>
 <post dsq:id="1003"><message>Orphan</message><createdAt>2015-01-04T10:00:00Z</createdAt>
  <isDeleted>false</isDeleted><isSpam>false</isSpam><author><name>Cy</name></author>
  <thread dsq:id="100"/><parent dsq:id="999"/></post>
 <post dsq:id="1004"><message>Buy pills</message><createdAt>2015-01-05T10:00:00Z</createdAt>
  <isDeleted>false</isDeleted><isSpam>true</isSpam><author><name>Spammer</name></author>
  <thread dsq:id="100"/></post>
 <post dsq:id="1005"><message>I regret this</message><createdAt>2015-01-06T10:00:00Z</createdAt>
  <isDeleted>true</isDeleted><isSpam>false</isSpam><author><name>Di</name></author>
  <thread dsq:id="100"/></post>
 <post dsq:id="1001"><message>Same id again</message><createdAt>2015-01-07T10:00:00Z</createdAt>
  <isDeleted>false</isDeleted><isSpam>false</isSpam><thread dsq:id="100"/></post>
 <post dsq:id="1006"><message>In a deleted thread</message>
  <createdAt>2015-01-07T10:00:00Z</createdAt><thread dsq:id="200"/></post>
 <post><message>No id</message><createdAt>2015-01-07T10:00:00Z</createdAt>
  <thread dsq:id="100"/></post>
 <post dsq:id="1007"><message>Bad date</message><createdAt>2015-13-45</createdAt>
  <thread dsq:id="100"/></post>
</disqus>
"""


@pytest.fixture
def disqus_file(tmp_path):
    path = tmp_path / "disqus.xml"
    path.write_bytes(DISQUS.encode("latin-1"))
    return path


def test_a_disqus_export_with_nasty_cases(app, cli, client, disqus_file):
    add_site(app, url="https://old.example.org")
    result = cli("import", "disqus", str(disqus_file), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 5 into 1 page(s): 5 comment(s) (3 approved, 1 deleted, 1 spam); "
        "0 were there already; 5 problem(s) reported above"
    )
    for message in (
        "post 6 (id 1001): id 1001 appears twice: skipped",
        "post 7 (id 1006): its thread 200 was deleted: skipped",
        "post 8 (id ?): it has no dsq:id: skipped",
        "post 9 (id 1007): it has no readable createdAt: skipped",
        "post 3 (id 1003): its parent 999 is not in the export: imported as a top-level comment",
    ):
        assert message in result.output
    first = comment_by(app, author="Jürgen Ö")
    assert first.email == "jürgen@example.org" and first.imported_from == "disqus"
    assert "<script>" not in first.html and "<strong>there</strong>" in first.html
    assert len(first.remote_hash) == 32
    assert comment_by(app, author="Bo").parent_id == first.id
    assert comment_by(app, author="Cy").parent_id is None
    assert comment_by(app, author="Spammer").status == "spam"
    deleted = comment_by(app, status="deleted")
    assert deleted.text == "" and deleted.html == ""
    with app.app_context():
        assert db.session.scalar(select(Thread.title)) == "Post A & more"
    check_threads(app)
    thread = client.get("/api/comments", query_string={"site": "blog", "uri": "/posts/a/"})
    assert thread.get_json()["count"] == 3

    again = cli("import", "disqus", str(disqus_file), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 5 were there already" in again.output
    assert sum(counts(app, Comment.status).values()) == 5


def test_a_gzipped_disqus_export_and_a_url_map(app, cli, tmp_path, disqus_file):
    add_site(app, url="https://new.example.org")
    packed = tmp_path / "disqus.xml.gz"
    packed.write_bytes(gzip.compress(disqus_file.read_bytes()))
    result = cli("import", "disqus", str(packed), "--site", "blog", "--url-map", "/posts/=/blog/")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalars(select(Thread.uri)).all() == ["/blog/a/"]


def test_hostile_files_get_clear_errors(app, cli, tmp_path):
    add_site(app)
    cases = {
        "disqus": (b"<rss/>", "is not a Disqus export"),
        "remark42": (b'{"no": "version"}\n', "is not a Remark42 backup"),
        "commento": (b"[" * 100_000, "is nested too deep"),
        "isso": (b"not a database at all", "is not an SQLite database"),
        "commentsvc": (b'{"format": "other"}', "is not a commentsvc export"),
    }
    for kind, (body, message) in cases.items():
        path = tmp_path / f"bad-{kind}"
        path.write_bytes(body)
        result = cli("import", kind, str(path), "--site", "blog")
        assert result.exit_code == 1 and message in result.output, (kind, result.output)
        assert "Traceback" not in result.output
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><disqus>&a;</disqus>')
    assert "refused" in cli("import", "disqus", str(bomb), "--site", "blog").output
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    assert "broken gzip" in cli("import", "remark42", str(broken), "--site", "blog").output
    fake = tmp_path / "fake.db"
    fake.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    assert "cannot be read as an Isso database" in (
        cli("import", "isso", str(fake), "--site", "blog").output
    )
    assert counts(app, Comment.kind) == {}


def test_an_oversized_file_is_refused_before_parsing(tmp_path):
    from commentsvc.errors import ValidationError
    from commentsvc.importers import commento

    path = tmp_path / "big.json"
    path.write_bytes(b" " * 2048)
    with pytest.raises(ValidationError, match="larger than"):
        commento.parse(path, max_bytes=1024)


# --- Remark42 ------------------------------------------------------------------------------


def remark(cid, text, *, pid="", url="https://old.example.org/posts/r/", **extra):
    user = {"name": "Ann", "id": "github_1", "picture": "", "ip": "5f3c0a9b", "admin": False}
    user.update(extra.pop("user", {}))
    item = {
        "id": cid,
        "pid": pid,
        "text": text,
        "user": user,
        "locator": {"site": "remark", "url": url},
        "score": 0,
        "vote": 0,
        "time": "2019-06-01T10:00:00.123456789Z",
        "title": "Post R",
    }
    item.update(extra)
    return json.dumps(item, ensure_ascii=False).encode()


@pytest.fixture
def remark_file(tmp_path):
    meta = {"version": 1, "users": [], "posts": [{"url": "https://old.example.org/posts/r/"}]}
    lines = [
        json.dumps(meta).encode(),
        remark(
            "c1",
            "<p><strong>hi</strong> &amp; bye</p>",
            orig="**hi** & bye <script>x</script>",
            score=3,
        ),
        remark(
            "c2",
            "<p>reply</p>",
            pid="c1",
            time="2019-06-02T10:00:00Z",
            user={"name": "Bob", "admin": True},
            edit={"time": "2019-06-02T11:00:00Z", "summary": ""},
        ),
        remark("c3", "<p>orphan</p>", pid="nope", time="2019-06-03T10:00:00Z"),
        remark("c4", "", delete=True, time="2019-06-04T10:00:00Z", user={"name": "deleted"}),
        remark("c1", "<p>again</p>", time="2019-06-05T10:00:00Z"),
        b"{not json",
        remark("c5", "<p>latin</p>", time="2019-06-06T10:00:00Z").replace(
            b"Ann", "J\xf6rg".encode("latin-1")
        ),
        b"",
        b'{"id": "c6", "locator": {"url": "/posts/r/"}, "time": "yesterday"}',
        remark("c7", "<p>nul</p>", url="https://old.example.org/a\u0000b/"),
        remark("c8", "<p>long</p>", url="https://old.example.org/" + "x" * 2000),
    ]
    path = tmp_path / "remark.backup"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_a_remark42_backup_with_nasty_cases(app, cli, remark_file):
    add_site(app, url="https://old.example.org")
    result = cli("import", "remark42", str(remark_file), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 5 into 1 page(s): 5 comment(s) (4 approved, 1 deleted); "
        "0 were there already; 7 problem(s) reported above"
    )
    for message in (
        "line 6 (id c1): id c1 appears twice: skipped",
        "line 7: it is not JSON",
        "line 8: it is not UTF-8: its bad bytes became U+FFFD",
        "line 10 (id c6): it has no readable time: skipped",
        "line 4 (id c3): its parent nope is not in the export",
        "line 11 (id c7): its page address is too long or has controls: skipped",
        "line 12 (id c8): its page address is too long or has controls: skipped",
    ):
        assert message in result.output
    first = comment_by(app, text="**hi** & bye <script>x</script>")
    assert first.likes == 3 and first.imported_from == "remark42"
    assert "<strong>hi</strong>" in first.html and "<script>" not in first.html
    reply = comment_by(app, author="Bob")
    assert reply.parent_id == first.id and reply.by_owner is True and reply.modified is not None
    assert comment_by(app, author="J\ufffdrg").text == "latin"
    assert comment_by(app, status="deleted").author == ""
    check_threads(app)
    again = cli("import", "remark42", str(remark_file), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 5 were there already" in again.output


# --- Commento ------------------------------------------------------------------------------


def commento(hex_, markdown, *, parent="root", state="approved", who="c0ffee", **extra):
    item = {
        "commentHex": hex_,
        "domain": "old.example.org",
        "url": "/posts/c/",
        "commenterHex": who,
        "markdown": markdown,
        "html": "",
        "parentHex": parent,
        "score": 0,
        "state": state,
        "creationDate": "2021-03-17T12:09:47.722181Z",
        "direction": 0,
        "deleted": False,
    }
    item.update(extra)
    return item


@pytest.fixture
def commento_file(tmp_path):
    data = {
        "version": 1,
        "comments": [
            commento("a1", "Hello *there* &amp; <b>bold</b>", score=2),
            commento(
                "a2", "A reply", parent="a1", who="anonymous", creationDate="2021-03-18T00:00:00Z"
            ),
            commento("a3", "Held", state="unapproved", creationDate="2021-03-19T00:00:00Z"),
            commento("a4", "Flagged", state="flagged", creationDate="2021-03-20T00:00:00Z"),
            commento("a5", "", deleted=True, creationDate="2021-03-21T00:00:00Z"),
            commento("a6", "Orphan", parent="ffff", creationDate="2021-03-22T00:00:00Z"),
            commento(
                "a7", "", html="<p>Only <em>HTML</em></p>", creationDate="2021-03-23T00:00:00Z"
            ),
            commento("a1", "Duplicate", creationDate="2021-03-24T00:00:00Z"),
            "not an object",
            commento("a8", "No date", creationDate=None),
        ],
        "commenters": [
            {
                "commenterHex": "c0ffee",
                "email": "Mod@Example.org",
                "name": "Mo \u0000D\u202e",
                "link": "https://mo.example.org",
                "photo": "",
                "provider": "commento",
                "joinDate": "2021-03-01T00:00:00Z",
                "isModerator": True,
            }
        ],
    }
    path = tmp_path / "commento.json"
    path.write_text(json.dumps(data))
    return path


def test_a_commento_export_with_nasty_cases(app, cli, commento_file):
    add_site(app, url="https://old.example.org")
    result = cli("import", "commento", str(commento_file), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 7 into 1 page(s): 7 comment(s) (4 approved, 1 deleted, 1 pending, 1 spam); "
        "0 were there already; 4 problem(s) reported above"
    )
    for message in (
        "comment 8 (commentHex a1): id a1 appears twice: skipped",
        "comment 9 (commentHex ?): it is not a comment with a commentHex: skipped",
        "comment 10 (commentHex a8): it has no readable creationDate: skipped",
        "comment 6 (commentHex a6): its parent ffff is not in the export",
    ):
        assert message in result.output
    first = comment_by(app, text="Hello *there* &amp; <b>bold</b>")
    assert first.author == "Mo D" and first.email == "mod@example.org"
    assert first.website == "https://mo.example.org" and first.by_owner is True
    assert first.likes == 2 and "<b>" not in first.html and "<em>there</em>" in first.html
    assert comment_by(app, text="A reply").author == "Anonymous"
    assert comment_by(app, text="A reply").parent_id == first.id
    assert comment_by(app, text="Only *HTML*").html == "<p>Only <em>HTML</em></p>"
    check_threads(app)
    dry = cli("import", "commento", str(commento_file), "--site", "blog", "--dry-run")
    assert "would import 0" in dry.output
    again = cli("import", "commento", str(commento_file), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 7 were there already" in again.output


def test_a_dry_run_of_a_peer_counts_per_status_and_writes_nothing(app, cli, commento_file):
    add_site(app, url="https://old.example.org")
    result = cli("import", "commento", str(commento_file), "--site", "blog", "--dry-run")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1].startswith(
        "would import 7 into 1 page(s): 7 comment(s) (4 approved, 1 deleted, 1 pending, 1 spam)"
    )
    assert counts(app, Comment.kind) == {}


# --- Comentario (version 3) -----------------------------------------------------------------

MOD = "6f0c2a5e-0000-4000-8000-00000000000a"
ANON = "00000000-0000-0000-0000-000000000000"
PAGE_A = "9a000000-0000-4000-8000-0000000000a1"
PAGE_B = "9a000000-0000-4000-8000-0000000000b2"


def comentario(id_, markdown, *, page=PAGE_A, parent=None, who=MOD, day=17, **flags):
    item = {
        "id": f"c0000000-0000-4000-8000-0000000000{id_}",
        "parentId": parent and f"c0000000-0000-4000-8000-0000000000{parent}",
        "pageId": page,
        "markdown": markdown,
        "html": "",
        "score": 0,
        "isSticky": False,
        "isApproved": True,
        "isPending": False,
        "isDeleted": False,
        "createdTime": f"2024-03-{day}T12:09:47.722181123Z",
        "userCreated": who,
        "authorName": "",
    }
    item.update(flags)
    return item


@pytest.fixture
def comentario_file(tmp_path):
    data = {
        "version": 3,
        "pages": [
            {"id": PAGE_A, "domainId": "d", "path": "/posts/a/", "title": "A", "isReadonly": False},
            {"id": PAGE_B, "domainId": "d", "path": "/posts/b/", "title": "B", "isReadonly": False},
        ],
        "comments": [
            comentario("01", "Hello *there* &amp; <b>bold</b>", score=3),
            comentario("02", "A reply", parent="01", who=ANON, authorName="Guest &lt;3", day=18),
            comentario("03", "Deeper", parent="02", day=19, editedTime="2024-03-20T00:00:00Z"),
            comentario("04", "Held", page=PAGE_B, isApproved=False, isPending=True, day=20),
            comentario("05", "Rejected", page=PAGE_B, isApproved=False, day=21),
            comentario("06", "", isDeleted=True, html="", day=22),
            comentario("07", "Orphan", parent="ff", day=23),
            comentario("08", "Ghost", who="6f0c2a5e-0000-4000-8000-0000000000ff", day=24),
            comentario("01", "Duplicate", day=25),
            comentario("09", "Nowhere", page="9a000000-0000-4000-8000-0000000000ff", day=26),
            "not an object",
            comentario("10", "No date", createdTime=None),
        ],
        "commenters": [
            {
                "id": MOD,
                "email": "Mod@Example.org",
                "name": "Mo <i>D</i> \u202e",
                "websiteUrl": "https://mo.example.org",
                "isModerator": True,
                "isCommenter": True,
            }
        ],
    }
    path = tmp_path / "comentario-export.json.gz"
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    return path


def test_a_comentario_export_with_nasty_cases(app, cli, comentario_file):
    add_site(app, url="https://old.example.org")
    result = cli("import", "commento", str(comentario_file), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 8 into 2 page(s): 8 comment(s) (5 approved, 1 deleted, 1 pending, 1 spam); "
        "0 were there already; 6 problem(s) reported above"
    )
    for message in (
        "comment 9 (id c0000000-0000-4000-8000-000000000001): id c0000000-0000-4000-8000-000000000001 appears twice: skipped",
        "comment 10 (id c0000000-0000-4000-8000-000000000009): its page is not in the export: skipped",
        "comment 11 (id ?): it is not a comment with an id: skipped",
        "comment 12 (id c0000000-0000-4000-8000-000000000010): it has no readable createdTime: skipped",
        "comment 7 (id c0000000-0000-4000-8000-000000000007): its parent c0000000-0000-4000-8000-0000000000ff is not in the export",
        "comment 8 (id c0000000-0000-4000-8000-000000000008): its commenter 6f0c2a5e-0000-4000-8000-0000000000ff is not in the export: anonymous",
    ):
        assert message in result.output
    first = comment_by(app, text="Hello *there* &amp; <b>bold</b>")
    assert first.author == "Mo <i>D</i>" and first.email == "mod@example.org"
    assert first.website == "https://mo.example.org" and first.by_owner is True
    assert first.likes == 3 and "<b>" not in first.html and "<em>there</em>" in first.html
    reply = comment_by(app, text="A reply")
    assert reply.author == "Guest &lt;3" and reply.parent_id == first.id and not reply.by_owner
    assert comment_by(app, text="Deeper").parent_id == reply.id
    assert comment_by(app, text="Ghost").author == "Anonymous"
    assert comment_by(app, text="Held").status == "pending"
    assert comment_by(app, text="Rejected").status == "spam"
    with app.app_context():
        assert set(db.session.scalars(select(Thread.uri))) == {"/posts/a/", "/posts/b/"}
    check_threads(app)
    dry = cli("import", "commento", str(comentario_file), "--site", "blog", "--dry-run")
    assert "would import 0" in dry.output
    again = cli("import", "commento", str(comentario_file), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 8 were there already" in again.output


def test_a_comentario_export_under_a_url_map(app, cli, comentario_file):
    add_site(app, url="https://new.example.org")
    result = cli(
        "import",
        "commento",
        str(comentario_file),
        "--site",
        "blog",
        "--dry-run",
        "--url-map",
        "/posts/=/blog/",
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("would import 8 into 2 page(s)")
    assert counts(app, Comment.kind) == {}
    mapped = cli(
        "import", "commento", str(comentario_file), "--site", "blog", "--url-map", "/posts/=/blog/"
    )
    assert mapped.exit_code == 0, mapped.output
    with app.app_context():
        assert set(db.session.scalars(select(Thread.uri))) == {"/blog/a/", "/blog/b/"}


# --- Isso, run for real --------------------------------------------------------------------


class Isso:
    """Isso 0.14 from bench/.venv-isso (make test installs it), serving on 127.0.0.1."""

    def __init__(self, folder: Path, *, moderation: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / f"isso-{self.port}.cfg"
        config.write_text(
            f"[general]\ndbpath = {folder / 'comments.db'}\nhost = {self.url}/\n"
            f"[moderation]\nenabled = {'true' if moderation else 'false'}\n"
            f"[guard]\nenabled = false\n[server]\nlisten = {self.url}/\n"
            "trusted-proxies = 127.0.0.1\n"
        )
        self.log = (folder / f"isso-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [str(ISSO_VENV / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "isso.run"],
            env={**os.environ, "ISSO_SETTINGS": str(config)},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/info", timeout=5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        pytest.fail("Isso did not start")

    def post(self, uri, text, **fields):
        answer = requests.post(
            f"{self.url}/new",
            params={"uri": uri},
            json={"text": text, "title": f"Title of {uri}", **fields},
            timeout=10,
        )
        assert answer.status_code in (201, 202), answer.text
        return answer.json()["id"], answer.cookies

    def like(self, comment_id, voter):
        answer = requests.post(
            f"{self.url}/id/{comment_id}/like", headers={"X-Forwarded-For": voter}, timeout=10
        )
        assert answer.ok, answer.text

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)
        self.log.close()


needs_isso = pytest.mark.skipif(
    not all((ISSO_VENV / "bin" / name).exists() for name in ("isso", "gunicorn")),
    reason="Isso 0.14 is not installed in bench/.venv-isso (make test installs it with pip; "
    "it could not here)",
)


@needs_isso
def test_a_database_written_by_isso_imports_whole(app, cli, client, tmp_path):
    folder = tmp_path / "isso"
    folder.mkdir()
    isso = Isso(folder, moderation=False)
    try:
        first, cookies = isso.post(
            "/posts/a/",
            "Hello **world** <script>alert(1)</script>",
            author="Ann",
            email="ann@example.org",
            website="https://ann.example.org",
            notification=1,
        )
        reply, _ = isso.post("/posts/a/", "A reply", author="Bob", parent=first)
        isso.post("/posts/a/", "Deeper", author="Cy", parent=reply)
        doomed, doomed_cookies = isso.post("/posts/b/", "Regretted", author="Di")
        isso.post("/posts/b/", "Reply to the regretted one", parent=doomed)
        for voter in ("10.0.1.1", "10.0.2.1", "10.0.3.1"):
            isso.like(first, voter)
        # Deleting a comment with replies keeps it as a placeholder (mode 4).
        gone = requests.delete(f"{isso.url}/id/{doomed}", cookies=doomed_cookies, timeout=10)
        assert gone.ok, gone.text
    finally:
        isso.stop()
    isso = Isso(folder, moderation=True)
    try:
        isso.post("/posts/b/", "Waiting for the owner", author="Ed")
    finally:
        isso.stop()

    add_site(app)
    database = folder / "comments.db"
    result = cli("import", "isso", str(database), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 6 into 2 page(s): 6 comment(s) (4 approved, 1 deleted, 1 pending); "
        "0 were there already"
    )
    ann = comment_by(app, author="Ann")
    assert ann.text == "Hello **world** <script>alert(1)</script>"
    assert "<strong>world</strong>" in ann.html and "<script>" not in ann.html
    assert ann.likes == 3 and ann.notify is True and ann.email == "ann@example.org"
    assert ann.website == "https://ann.example.org" and ann.imported_from == "isso"
    assert comment_by(app, author="Bob").parent_id == ann.id
    deeper = comment_by(app, author="Cy")
    # Isso itself hangs a reply to a reply under the top-level comment (one level deep).
    assert deeper.parent_id == ann.id and deeper.root_id == ann.id
    assert comment_by(app, author="Ed").status == "pending"
    with app.app_context():
        assert db.session.scalar(select(Thread.title).where(Thread.uri == "/posts/a/")) == (
            "Title of /posts/a/"
        )
    check_threads(app)
    thread = client.get("/api/comments", query_string={"site": "blog", "uri": "/posts/b/"})
    placeholder = thread.get_json()["comments"][0]
    assert placeholder["replies"] and placeholder["html"] == ""

    again = cli("import", "isso", str(database), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 6 were there already" in again.output


# --- any JSON in the peers' fields: imported or reported, never a traceback -----------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["root", "a1", "/p/", "2021-03-17T12:09:47Z", "approved", "x" * 3000]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
COMMENTO_KEYS = ("domain", "commenterHex", "markdown", "html", "parentHex", "score", "state")
COMMENTO_KEYS += ("deleted", "name", "email", "link", "isModerator")
REMARK_KEYS = ("pid", "text", "orig", "user", "score", "edit", "delete")
VALID_TIME = st.just("2021-03-17T12:09:47.123456789Z") | JSON_VALUES


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "commentHex": st.sampled_from(["a1", "a2", "a3"]),
                "url": st.just("/p/") | JSON_VALUES,
                "creationDate": VALID_TIME,
            },
            optional=dict.fromkeys(COMMENTO_KEYS, JSON_VALUES),
        )
        | JSON_VALUES,
        max_size=4,
    ),
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(["a1", "a2", "a3"]) | JSON_VALUES,
                "locator": st.just({"url": "https://x.example/p/"}) | JSON_VALUES,
                "time": VALID_TIME,
            },
            optional=dict.fromkeys(REMARK_KEYS, JSON_VALUES),
        ),
        max_size=4,
    ),
)
def test_peer_files_with_any_values_import_or_report(app, tmp_path, commento_items, remark_items):
    from datetime import datetime

    from commentsvc import importers
    from commentsvc.importers import commento as commento_format
    from commentsvc.importers import remark42 as remark_format
    from commentsvc.sites import add_site as add

    with app.app_context():
        site = importers.select(importers.Site).where(importers.Site.name == "fuzz")
        site = db.session.scalar(site) or add("fuzz", "https://fuzz.example.org")
        commento_path = tmp_path / "fuzz-commento.json"
        commento_path.write_text(
            json.dumps({"version": 1, "comments": commento_items, "commenters": commento_items})
        )
        remark_path = tmp_path / "fuzz-remark.jsonl"
        lines = [json.dumps({"version": 1})] + [json.dumps(item) for item in remark_items]
        remark_path.write_text("\n".join(lines))
        for parser, path in ((commento_format, commento_path), (remark_format, remark_path)):
            records, _problems = parser.parse(path)
            importers.import_records(
                site, records, secret="s", now=datetime(2026, 1, 1), merge=True, dry_run=True
            )


COMENTARIO_KEYS = ("parentId", "markdown", "html", "score", "isApproved", "isPending")
COMENTARIO_KEYS += ("isDeleted", "userCreated", "authorName", "editedTime", "url")


@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(["a1", "a2", "a3"]) | JSON_VALUES,
                "pageId": st.just("p") | JSON_VALUES,
                "createdTime": VALID_TIME,
            },
            optional=dict.fromkeys(COMENTARIO_KEYS, JSON_VALUES | st.just("http://[")),
        )
        | JSON_VALUES,
        max_size=4,
    ),
    st.lists(st.just({"id": "p", "path": "/p/"}) | JSON_VALUES, max_size=2),
    st.lists(st.dictionaries(st.sampled_from(["id", "name", "email"]), JSON_VALUES), max_size=2),
)
def test_comentario_files_with_any_values_import_or_report(
    app, tmp_path, comments_, pages, commenters
):
    from datetime import datetime

    from commentsvc import importers
    from commentsvc.importers import commento as commento_format
    from commentsvc.sites import add_site as add

    with app.app_context():
        site = importers.select(importers.Site).where(importers.Site.name == "fuzz")
        site = db.session.scalar(site) or add("fuzz", "https://fuzz.example.org")
        path = tmp_path / "fuzz-comentario.json"
        data = {"version": 3, "pages": pages, "comments": comments_, "commenters": commenters}
        path.write_text(json.dumps(data))
        records, _problems = commento_format.parse(path)
        importers.import_records(
            site, records, secret="s", now=datetime(2026, 1, 1), merge=True, dry_run=True
        )


def test_a_commenters_website_is_read_as_commento_writes_it():
    from commentsvc.importers.commento import _website

    assert _website({"link": "https://mo.example.org"}) == "https://mo.example.org"
    assert _website({"link": "undefined"}) == ""  # Commento's word for "none"
    assert _website({"websiteUrl": "https://mo.example.org"}) == "https://mo.example.org"
    assert _website({"link": 7}) == ""
