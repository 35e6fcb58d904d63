"""Replies from the fediverse: linked posts, fetched by the queue from a stand-in server."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from commentsvc import queue
from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import FediversePost
from commentsvc.models import FediverseServer
from tests.conftest import Api
from tests.conftest import add_site
from tests.fediverse import Mastodon


@pytest.fixture
def fedi():
    server = Mastodon()
    yield server
    server.close()


@pytest.fixture
def blog(app, fedi):
    return add_site(app, fediverse_accounts=f"@me@{fedi.host}")


def run_queue(app, clock):
    with app.app_context():
        return queue.run_pending(now=clock.now)


def walk(items):
    for item in items:
        yield item
        yield from walk(item["replies"])


def link(cli, post, uri="/post/1"):
    result = cli("fediverse", "link", "blog", uri, post["url"])
    assert result.exit_code == 0, result.output
    return result


def test_replies_appear_nested_after_one_queue_run(app, client, cli, clock, fedi, blog):
    post = fedi.post(reblogs_count=3, favourites_count=7)
    first = fedi.reply(
        post,
        "alice",
        '<p><span class="h-card"><a href="http://x/@me" class="u-url mention">@<span>me</span>'
        '</a></span> Nice! <a href="http://x/tags/blog" class="mention hashtag" rel="tag">'
        '#<span>blog</span></a> :blobcat: <img class="emoji" alt=":wave:" src="http://x/e.png">'
        "<script>alert(1)</script></p>",
        account=fedi.account("alice", '<script>alert("name")</script> Alice :star:'),
    )
    fedi.reply(first, "bob", "<p>Agreed.</p>")
    fedi.reply(post, "me", "<p>Thanks all</p>")
    link(cli, post)

    assert run_queue(app, clock) >= 1
    thread = Api(client).thread()
    replies = list(walk(thread["comments"]))
    assert [r["handle"] for r in replies] == [
        f"@alice@{fedi.host}",
        f"@bob@{fedi.host}",
        f"@me@{fedi.host}",
    ]
    alice = thread["comments"][0]
    assert alice["kind"] == "fediverse"
    assert alice["replies"][0]["author"] == "Bob"
    assert alice["source"]["url"] == first["url"]
    assert alice["website"] == f"{fedi.url}/@alice"
    assert alice["author"] == '<script>alert("name")</script> Alice :star:'  # text, never markup
    assert "<script" not in alice["html"] and "alert" not in alice["html"]
    assert 'href="http://x/@me"' in alice["html"] and 'href="http://x/tags/blog"' in alice["html"]
    assert ":blobcat:" in alice["html"] and ":wave:" in alice["html"]
    assert "<img" not in alice["html"]
    # The avatar is the service's own address, never the fediverse server's.
    assert alice["avatar"].startswith("http://localhost/api/photo/")
    assert thread["comments"][1]["owner"] is True
    assert thread["count"] == 3
    listed = cli("fediverse", "list", "blog").output
    assert f"/post/1\t{post['url']}\tok\tboosts=3\tfavourites=7" in listed
    assert thread["fediverse"] == {
        "posts": [
            {"url": post["url"], "account": f"@me@{fedi.host}", "boosts": 3, "favourites": 7}
        ],
        "boosts": 3,
        "favourites": 7,
    }


def test_deleted_upstream_is_gone_after_the_next_run_and_edits_update(
    app, client, cli, clock, fedi, blog
):
    post = fedi.post()
    keep = fedi.reply(post, "alice", "<p>First version</p>")
    gone = fedi.reply(post, "bob", "<p>I will delete this</p>")
    link(cli, post)
    run_queue(app, clock)
    api = Api(client)
    assert len(api.thread()["comments"]) == 2

    fedi.delete(gone)
    fedi.edit(keep, "<p>Second version</p>")
    clock.advance(minutes=16)
    run_queue(app, clock)
    comments = api.thread()["comments"]
    assert [c["handle"] for c in comments] == [f"@alice@{fedi.host}"]
    assert "Second version" in comments[0]["html"] and comments[0]["modified"]


def test_unchanged_answers_are_asked_conditionally(app, client, cli, clock, fedi, blog):
    post = fedi.post()
    fedi.reply(post, "alice", "<p>Hi</p>")
    link(cli, post)
    run_queue(app, clock)
    version = Api(client).client.get("/api/comments?site=blog&uri=/post/1").headers["ETag"]
    clock.advance(minutes=16)
    run_queue(app, clock)
    context_asks = [h for p, h in fedi.requests if p.endswith("/context")]
    assert len(context_asks) == 2 and context_asks[1].get("If-None-Match")
    # Nothing changed: the thread's answer (and its ETag) stays.
    assert client.get("/api/comments?site=blog&uri=/post/1").headers["ETag"] == version


def test_refresh_slows_as_the_post_ages():
    from datetime import timedelta

    from commentsvc.fediverse import refresh_interval

    assert refresh_interval(timedelta(hours=2)) == timedelta(minutes=15)
    assert refresh_interval(timedelta(days=3)) == timedelta(hours=1)
    assert refresh_interval(timedelta(days=100)) == timedelta(days=1)
    assert refresh_interval(timedelta(days=1000)) == timedelta(days=7)


@pytest.mark.parametrize("mode", ["500", "html", "slow"])
def test_failing_server_backs_off_and_nothing_breaks(
    make_app, client, cli, clock, fedi, blog, mode, app
):
    post = fedi.post()
    fedi.reply(post, "alice", "<p>Hi</p>")
    fedi.mode, fedi.slow_seconds = mode, 2.5
    app.extensions["fetcher"].deadline = 1
    link(cli, post)
    run_queue(app, clock)
    assert Api(client).thread()["comments"] == []
    with app.app_context():
        server = db.session.get(FediverseServer, fedi.url)
        assert server.failures == 1 and server.retry_after > clock.now
        stored = db.session.scalar(select(FediversePost))
        assert stored.state == "failed" and stored.next_fetch >= server.retry_after
    asked = len(fedi.requests)
    clock.advance(minutes=1)
    run_queue(app, clock)
    assert len(fedi.requests) == asked  # backing off: not asked again yet
    fedi.mode = "ok"
    clock.advance(minutes=10)
    run_queue(app, clock)
    assert len(Api(client).thread()["comments"]) == 1


def test_huge_thread_is_bounded(app, client, cli, clock, fedi, blog):
    from commentsvc.fediverse import MAX_REPLIES

    post = fedi.post()
    parent = post
    for number in range(MAX_REPLIES + 50):
        # A chain deeper than any thread shows, then a fan of replies.
        parent = fedi.reply(parent if number < 60 else post, "alice", f"<p>{number}</p>")
    link(cli, post)
    run_queue(app, clock)
    with app.app_context():
        stored = db.session.scalars(select(Comment).where(Comment.kind == "fediverse")).all()
        assert 0 < len(stored) <= MAX_REPLIES


def test_posts_of_other_accounts_are_refused(app, client, cli, clock, fedi, blog):
    stranger = fedi.post("mallory")
    fedi.reply(stranger, "alice", "<p>Spam</p>")
    link(cli, stranger)
    run_queue(app, clock)
    assert Api(client).thread()["comments"] == []
    with app.app_context():
        assert db.session.scalar(select(FediversePost)).state == "refused"
    result = cli("fediverse", "link", "blog", "/post/1", "https://elsewhere.example/@me/1")
    assert result.exit_code == 1 and "not the server" in result.output


def test_moderation_applies(app, client, cli, clock, fedi, blog):
    from commentsvc import moderation
    from commentsvc.sites import update_site

    with app.app_context():
        update_site("blog", moderation="first-time")
        moderation.add_ban("handle", f"@troll@{fedi.host}", actor="t", now=clock.now)
    post = fedi.post()
    fedi.reply(post, "alice", "<p>Hello</p>")
    fedi.reply(post, "troll", "<p>Buy now</p>")
    link(cli, post)
    run_queue(app, clock)
    with app.app_context():
        found = {c.handle: c for c in db.session.scalars(select(Comment))}
        assert found[f"alice@{fedi.host}"].status == "pending"
        assert found[f"troll@{fedi.host}"].status == "spam"
        assert found[f"troll@{fedi.host}"].reason == f"ban: handle troll@{fedi.host}"
        from commentsvc.fediverse import ban_server

        assert ban_server(found[f"alice@{fedi.host}"].id, actor="t", now=clock.now) == 1
        assert db.session.get(Comment, found[f"alice@{fedi.host}"].id).status == "spam"


def test_reply_also_sent_by_webmention_shows_once(app, client, cli, clock, fedi, blog, theirs):
    post = fedi.post()
    early = fedi.reply(post, "alice", "<p>Sent both ways</p>")
    late = fedi.reply(post, "bob", "<p>Fetched first</p>")

    def bridgy_copy(reply):
        # Bridgy's copy of a reply: an h-entry whose u-url is the original status.
        return theirs.page(
            f"/comment/mastodon/@me/{post['id']}/{reply['id']}",
            f'<article class="h-entry"><span class="u-uid">tag:x</span>'
            f'<a class="u-url p-name" href="{reply["url"]}">reply</a>'
            f'<div class="h-card p-author"><a class="u-url p-name" href="{fedi.url}/@x">X</a></div>'
            f'<div class="e-content">{reply["content"]}</div>'
            f'<a class="u-in-reply-to" href="https://blog.example.org/post/1">post</a></article>',
        )

    def webmention(source):
        response = client.post(
            "/webmention", data={"source": source, "target": "https://blog.example.org/post/1"}
        )
        assert response.status_code in (201, 202), response.get_data()
        run_queue(app, clock)

    # First by Webmention, then from the fediverse ...
    webmention(bridgy_copy(early))
    # ... and the other from the fediverse first, then by Webmention (and by the original URL).
    link(cli, post)
    run_queue(app, clock)
    webmention(bridgy_copy(late))
    thread = Api(client).thread()
    assert sorted(c["handle"] for c in thread["comments"]) == sorted(
        [f"@alice@{fedi.host}", f"@bob@{fedi.host}"]
    )
    assert thread["count"] == 2


def test_widget_and_page_link_posts_of_the_sites_accounts_only(app, client, cli, clock, fedi, ours):
    from commentsvc.sites import update_site

    with app.app_context():
        update_site("blog", fediverse_accounts=f"me@{fedi.host}")
    declared = fedi.post()
    fedi.reply(declared, "alice", "<p>From the page's link</p>")
    ours.page(
        "/post/2",
        f'<title>Two</title><a class="u-syndication" href="{declared["url"]}">Mastodon</a>'
        '<link rel="alternate" href="https://elsewhere.example/@me/5">',
    )
    widget = fedi.post()
    fedi.reply(widget, "bob", "<p>From the script tag</p>")
    headers = {"Origin": ours.url}
    query = {"site": "blog", "uri": "/post/1", "fediverse": [widget["url"], "javascript:x"]}
    assert client.get("/api/comments", query_string=query, headers=headers).status_code == 200
    # A page of another origin links nothing.
    query["uri"] = "/post/3"
    client.get("/api/comments", query_string=query, headers={"Origin": "https://evil.example"})
    with app.app_context():  # a new thread (its first comment): its page is read in the queue
        from commentsvc.comments import get_or_create_thread
        from commentsvc.db import write_transaction
        from commentsvc.sites import get_site

        with write_transaction():
            get_or_create_thread(get_site("blog"), "/post/2", now=clock.now)
    clock.advance(seconds=5)  # the title jobs were queued by the real clock
    run_queue(app, clock)
    api = Api(client)
    assert [c["handle"] for c in api.thread("/post/1")["comments"]] == [f"@bob@{fedi.host}"]
    assert [c["handle"] for c in api.thread("/post/2")["comments"]] == [f"@alice@{fedi.host}"]
    assert api.thread("/post/3")["comments"] == []
    with app.app_context():
        assert len(db.session.scalars(select(FediversePost)).all()) == 2


def test_accounts_setting_is_validated(cli, app, site):
    result = cli("site", "set", "blog", "--fediverse-accounts", "not a handle")
    assert result.exit_code == 1 and "not a fediverse handle" in result.output
    result = cli("site", "set", "blog", "--fediverse-accounts", "@Me@Mastodon.Social,@you@x.org")
    assert result.exit_code == 0, result.output
    assert "fediverse=@me@mastodon.social,@you@x.org" in result.output


def test_admin_links_posts_shows_sources_and_bans_a_server(app, client, clock, fedi, blog):
    from commentsvc.admins import add_admin
    from tests.test_admin import PASSWORD
    from tests.test_admin import AdminActions

    with app.app_context():
        add_admin("alice", PASSWORD)
    admin = AdminActions(app.test_client())
    admin.login()
    response = admin.post(
        "/admin/sites/blog",
        url="https://blog.example.org",
        moderation="all",
        link_limit="2",
        edit_window="900",
        linkbacks="on",
        fediverse_accounts=f"@me@{fedi.host}",
    )
    assert response.status_code == 302
    post = fedi.post()
    fedi.reply(post, "spammer", "<p>Cheap pills</p>")
    response = admin.post("/admin/sites/blog/fediverse", uri="/post/1", post_url=post["url"])
    assert response.status_code == 302
    refused = admin.post(
        "/admin/sites/blog/fediverse", uri="/post/1", post_url="https://x.example/@me/1"
    )
    assert refused.status_code == 400
    run_queue(app, clock)
    assert post["url"] in admin.page("/admin/sites/blog")
    queue_page = admin.page("/admin/")
    assert f"@spammer@{fedi.host}" in queue_page and "Cheap pills" in queue_page
    with app.app_context():
        held = db.session.scalar(select(Comment).where(Comment.kind == "fediverse"))
        assert held.status == "pending" and held.reason == "policy: every comment is held"
    assert admin.post(f"/admin/comments/{held.id}/ban-server").status_code == 302
    with app.app_context():
        assert db.session.get(Comment, held.id).status == "spam"
    assert "127.0.0.1" in admin.page("/admin/bans")


def test_hostile_answers_store_nothing_harmful(app, client, cli, clock, fedi, blog):
    post = fedi.post()
    fedi.reply(post, "alice", "<p>a\x00b</p>", url=f"{fedi.url}/@alice/9\x00")
    fedi.reply(post, "x", "<p>hi</p>", account={**fedi.account("x"), "acct": "ev\x00il"})
    fedi.reply(post, "carol", "<p>fine</p>", visibility="direct")
    fedi.post("dave", {"not": "html"}, created_at="9999-99-99", in_reply_to_id=7)
    link(cli, post)
    run_queue(app, clock)
    [only] = Api(client).thread()["comments"]
    assert only["handle"] == f"@alice@{fedi.host}" and "\x00" not in only["html"]

    # JSON nested past any parser's depth: the server is failing, nothing else happens.
    answer = fedi.answer
    fedi.answer = lambda path: (200, b"[" * 100_000 + b"]" * 100_000, "application/json")
    clock.advance(minutes=16)
    run_queue(app, clock)
    with app.app_context():
        assert db.session.get(FediverseServer, fedi.url).failures == 1
    fedi.answer = answer


def test_an_account_taken_off_the_list_takes_its_posts_replies(app, client, cli, clock, fedi, blog):
    from commentsvc.sites import update_site

    post = fedi.post()
    fedi.reply(post, "alice", "<p>Hi</p>")
    link(cli, post)
    run_queue(app, clock)
    assert len(Api(client).thread()["comments"]) == 1
    with app.app_context():
        update_site("blog", fediverse_accounts="@someone@else.example")
    clock.advance(minutes=16)
    run_queue(app, clock)
    thread = Api(client).thread()
    assert thread["comments"] == [] and thread["fediverse"]["posts"] == []


def test_an_export_with_fediverse_replies_restores(app, client, cli, clock, fedi, blog, tmp_path):
    post = fedi.post()
    fedi.reply(post, "alice", "<p>Kept</p>")
    link(cli, post)
    run_queue(app, clock)
    exported = cli("export", "--site", "blog").output
    (tmp_path / "blog.json").write_text(exported, encoding="utf-8")
    from tests.test_exports import empty

    empty(app)
    restored = cli("import", "commentsvc", str(tmp_path / "blog.json"))
    assert restored.exit_code == 0, restored.output
    [reply] = Api(client).thread()["comments"]
    assert reply["handle"] == f"@alice@{fedi.host}" and reply["kind"] == "fediverse"


def test_a_restore_links_the_posts_again_and_each_reply_stays_one(
    app, client, cli, clock, fedi, blog, tmp_path
):
    import json

    from tests.test_exports import empty

    post = fedi.post()
    fedi.reply(post, "alice", "<p>Before the move</p>")
    link(cli, post)
    run_queue(app, clock)
    exported = cli("export", "--site", "blog")
    assert exported.exit_code == 0, exported.output
    (thread,) = json.loads(exported.output)["sites"][0]["threads"]
    assert [p["url"] for p in thread["fediverse_posts"]] == [post["url"]]
    (tmp_path / "blog.json").write_text(exported.output)

    empty(app)  # the blog moves to a new server
    fedi.reply(post, "bob", "<p>While the blog moved</p>")
    restored = cli("import", "commentsvc", str(tmp_path / "blog.json"))
    assert restored.exit_code == 0 and "warning" not in restored.output, restored.output
    clock.advance(seconds=1)
    run_queue(app, clock)
    replies = list(walk(Api(client).thread()["comments"]))
    assert sorted(r["handle"] for r in replies) == [f"@alice@{fedi.host}", f"@bob@{fedi.host}"]
    with app.app_context():
        (linked,) = db.session.scalars(select(FediversePost)).all()
        assert linked.state == "ok" and linked.url == post["url"]
        owners = db.session.scalars(select(Comment.fediverse_post_id)).all()
        assert owners == [linked.id, linked.id]
