"""Atom feeds of a site and of a thread: parsed with feedparser and an XML parser."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own answers, not a stranger's
from datetime import timedelta

import feedparser
import pytest

from commentsvc import comments
from commentsvc import feeds
from commentsvc import sites
from commentsvc import spam
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Comment
from commentsvc.sanitize import render_markdown
from tests.conftest import ORIGIN
from tests.conftest import add_site
from tests.safety import XSS_DIR
from tests.safety import unsafe_parts
from tests.safety import xss_vectors

ATOM = "{http://www.w3.org/2005/Atom}"
GUARD = spam.Guard(limiter=None, enabled=False, secret="test-secret-key")


def post(app, text, *, parent=None, uri="/post/1", now, author=None, website=""):
    with app.app_context():
        comment, _token = comments.post_comment(
            sites.get_site("blog"),
            uri,
            comments.CommentInput(
                text=text, parent=parent, author=author or text[:20], website=website
            ),
            address=f"addr-{text}",
            now=now,
            guard=GUARD,
        )
        return comment.id


def linkback(app, *, uri="/post/1", now):
    with app.app_context(), write_transaction() as session:
        thread = comments.get_or_create_thread(sites.get_site("blog"), uri, now=now)
        comment = Comment(
            thread_id=thread.id,
            kind="pingback",
            status="approved",
            author="",
            source_url="https://other.example/post",
            source_title="Their <post>",
            excerpt="they wrote <b>about</b> us",
            created=now,
        )
        session.add(comment)
        session.flush()
        comments.touch_thread(session, thread.id)
        return comment.id


def set_status(app, comment_id, status, now):
    with app.app_context(), write_transaction() as session:
        comments.set_status(
            session.get(Comment, comment_id), status, actor="test", reason="", now=now
        )


def feed(client, expect=200, **query):
    response = client.get("/feed.atom", query_string={"site": "blog", **query})
    assert response.status_code == expect, response.get_data(as_text=True)[:500]
    return response


def parsed(response):
    assert response.mimetype == "application/atom+xml"
    result = feedparser.parse(response.get_data())
    assert not result.bozo, result.bozo_exception
    assert result.version == "atom10"
    return result


def entry_id(entry) -> int:
    return int(entry.id.rsplit(":", 1)[1])


@pytest.fixture
def thread(app, site, clock):
    """A thread with published, held, spam, deleted and hidden comments, and a pingback."""
    start = clock.now - timedelta(hours=1)
    ids = {}
    ids["first"] = post(app, "First comment", now=start)
    ids["reply"] = post(app, "A reply", parent=ids["first"], now=start + timedelta(minutes=1))
    ids["pingback"] = linkback(app, now=start + timedelta(minutes=2))
    ids["held"] = post(app, "Held comment", now=start + timedelta(minutes=3))
    ids["spam"] = post(app, "Spam comment", now=start + timedelta(minutes=4))
    ids["deleted"] = post(app, "Deleted comment", now=start + timedelta(minutes=5))
    ids["under_held"] = post(
        app, "Reply under held", parent=ids["held"], now=start + timedelta(minutes=6)
    )
    ids["other"] = post(app, "Other page", uri="/post/2", now=start + timedelta(minutes=7))
    set_status(app, ids["held"], "pending", start)
    set_status(app, ids["spam"], "spam", start)
    set_status(app, ids["deleted"], "deleted", start)
    return ids


def test_the_thread_feed_lists_exactly_the_published_items(client, thread, app):
    result = parsed(feed(client, uri="/post/1"))
    got = [entry_id(e) for e in result.entries]
    # Newest first; held, spam, deleted and a reply under a held comment are not there.
    assert got == [thread["pingback"], thread["reply"], thread["first"]]
    assert result.feed.id.startswith("tag:blog.example.org,")
    assert result.feed.link == f"{ORIGIN}/post/1"
    with app.app_context():
        for entry in result.entries:
            comment = db.session.get(Comment, entry_id(entry))
            # The widget renders each comment with the id csvc-comment-ID.
            assert entry.link == f"{ORIGIN}/post/1#csvc-comment-{comment.id}"
            assert entry.published_parsed[:6] == comment.created.timetuple()[:6]
            assert entry.updated_parsed[:6] == comment.created.timetuple()[:6]
    by_id = {entry_id(e): e for e in result.entries}
    assert by_id[thread["first"]].author == "First comment"
    assert "First comment" in by_id[thread["first"]].content[0].value
    pingback = by_id[thread["pingback"]]
    assert pingback.title == "Pingback from Their <post>"
    assert "<b>" not in pingback.content[0].value  # a linkback's excerpt is text, escaped
    assert 'href="https://other.example/post"' in pingback.content[0].value


def test_the_site_feed_lists_every_thread_published_items(client, thread):
    result = parsed(feed(client))
    got = [entry_id(e) for e in result.entries]
    assert got == [thread["other"], thread["pingback"], thread["reply"], thread["first"]]
    other = next(e for e in result.entries if entry_id(e) == thread["other"])
    assert other.link == f"{ORIGIN}/post/2#csvc-comment-{thread['other']}"
    # Ids are permanent and the same in both feeds.
    one = {e.id for e in parsed(feed(client, uri="/post/1")).entries}
    assert one <= {e.id for e in result.entries}


def test_a_feed_answers_304_to_its_own_etag_until_something_changes(client, thread, app, clock):
    for query in ({"uri": "/post/1"}, {}):
        first = feed(client, **query)
        etag = first.headers["ETag"]
        again = client.get(
            "/feed.atom", query_string={"site": "blog", **query}, headers={"If-None-Match": etag}
        )
        assert again.status_code == 304
        assert again.get_data() == b""
    before = {
        "site": feed(client).headers["ETag"],
        "thread": feed(client, uri="/post/1").headers["ETag"],
    }

    # A held comment approved changes both feeds; a comment on another page only the site's.
    set_status(app, thread["held"], "approved", clock.now)
    thread_etag = feed(client, uri="/post/1").headers["ETag"]
    site_etag = feed(client).headers["ETag"]
    assert thread_etag != before["thread"] and site_etag != before["site"]
    post(app, "Yet another page", uri="/post/3", now=clock.now)
    assert feed(client, uri="/post/1").headers["ETag"] == thread_etag
    assert feed(client).headers["ETag"] != site_etag
    ids = [entry_id(e) for e in parsed(feed(client, uri="/post/1")).entries]
    assert thread["held"] in ids and thread["under_held"] in ids


def test_a_feed_is_bounded(client, site, app, clock):
    with app.app_context(), write_transaction() as session:
        made = comments.get_or_create_thread(sites.get_site("blog"), "/many", now=clock.now)
        for n in range(70):
            session.add(
                Comment(
                    thread_id=made.id,
                    status="approved",
                    text="x",
                    html="<p>x</p>",
                    created=clock.now + timedelta(seconds=n),
                )
            )
    result = parsed(feed(client, uri="/many"))
    assert len(result.entries) == 50
    assert result.entries[0].author == "Anonymous"


def test_a_thread_without_comments_has_an_empty_feed(client, site):
    result = parsed(feed(client, uri="/nothing/yet"))
    assert result.entries == []
    assert result.feed.title == "Comments on /nothing/yet"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"site": ""}, "site"),
        ({"site": "nosuch"}, "site"),
        ({"site": "blog\x00"}, "site"),
        ({"site": "blog", "uri": "no-slash"}, "uri"),
        ({"site": "blog", "uri": "/a\x00"}, "uri"),
    ],
)
def test_bad_queries_are_400_naming_the_field(client, site, query, field):
    response = client.get("/feed.atom", query_string=query)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_feed_links_come_from_public_url_never_from_the_request(make_app, clock):
    app = make_app(PUBLIC_URL="https://comments.example.org")
    add_site(app)
    client = app.test_client()
    response = client.get(
        "/feed.atom",
        query_string={"site": "blog", "uri": "/post/1"},
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    result = parsed(response)
    assert "evil" not in response.get_data(as_text=True)
    [self_link] = [link for link in result.feed.links if link.rel == "self"]
    assert self_link.href == "https://comments.example.org/feed.atom?site=blog&uri=%2Fpost%2F1"


COMPACT = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "]]><script>alert(1)</script>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "[x](javascript:alert(1))",
    "<a href='javascript:alert(1)'>x</a>",
    "\x0b\x0c control \ufffe characters \ud7ff",
]


def _vectors() -> list[str]:
    if not XSS_DIR.exists():
        return COMPACT
    everything = xss_vectors()
    step = max(1, len(everything) // 200)
    return COMPACT + everything[::step]


def test_hostile_content_is_escaped_in_feeds(app, site, clock):
    vectors = _vectors()
    # Stored as a post stores them (rendered and sanitised once), in one transaction: fast.
    with app.app_context(), write_transaction() as session:
        site_row = sites.get_site("blog")
        threads = {}
        for n, vector in enumerate(vectors):
            text = vector.replace("\x00", "") or "x"
            uri = f"/xss/{n // 50}"
            if uri not in threads:
                threads[uri] = comments.get_or_create_thread(site_row, uri, now=clock.now)
            session.add(
                Comment(
                    thread_id=threads[uri].id,
                    status="approved",
                    author=text[:100],
                    text=text,
                    html=render_markdown(text),
                    created=clock.now + timedelta(seconds=n),
                )
            )
    client = app.test_client()
    for page in range(len(vectors) // 50 + 1):
        response = feed(client, uri=f"/xss/{page}")
        parsed(response)
        root = ET.fromstring(response.get_data())  # noqa: S314 - our own answer
        entries = root.findall(f"{ATOM}entry")
        assert entries
        for entry in entries:
            # Element text is what a feed reader decodes: HTML content is the sanitised HTML.
            assert unsafe_parts(entry.find(f"{ATOM}content").text) == []
            # Names and titles are text: whatever markup they hold stays text (no child elements).
            assert list(entry.find(f"{ATOM}author/{ATOM}name")) == []
            assert list(entry.find(f"{ATOM}title")) == []
    with app.app_context():
        authors = dict(db.session.execute(db.select(Comment.id, Comment.author)).all())
    # Round trip: an author's name arrives in the feed as exactly the text stored.
    root = ET.fromstring(feed(client, uri="/xss/0").get_data())  # noqa: S314
    for entry in root.findall(f"{ATOM}entry"):
        comment_id = int(entry.find(f"{ATOM}id").text.rsplit(":", 1)[1])
        name = entry.find(f"{ATOM}author/{ATOM}name").text
        assert name == (feeds._xml(authors[comment_id]) or "Anonymous")
