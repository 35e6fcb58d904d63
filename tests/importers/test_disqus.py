"""Importing a Disqus export (commentsvc.importers.disqus): a file written here to the
format's documented shape, with the nasty cases."""

import pytest
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Thread
from tests.conftest import add_site
from tests.importers.imports import check_threads
from tests.importers.imports import comment_by
from tests.importers.imports import counts
from tests.importers.imports import export_file

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
    return export_file(tmp_path, "disqus.xml", DISQUS.encode("latin-1"))


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
    packed = export_file(tmp_path, "disqus.xml.gz", disqus_file.read_bytes(), packed=True)
    result = cli("import", "disqus", str(packed), "--site", "blog", "--url-map", "/posts/=/blog/")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalars(select(Thread.uri)).all() == ["/blog/a/"]
