"""Webmention (W3C Recommendation): receive, verify in the background, update, delete."""

import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from commentsvc import queue
from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Job
from commentsvc.models import Mention
from commentsvc.models import utcnow
from tests.blogs import typed_answer


def reply_page(target: str, title: str = "A reply", author: str = "Bea") -> str:
    return f"""<html><head><title>{title}</title></head><body>
<article class="h-entry"><h1 class="p-name">{title}</h1>
<span class="p-author h-card"><img class="u-photo" src="/me.png"><a class="u-url p-name" href="https://bea.example.org">{author}</a></span>
<div class="e-content"><p>Replying to <a class="u-in-reply-to" href="{target}">your post</a>: yes!</p></div>
</article></body></html>"""


def like_page(target: str) -> str:
    return (
        f'<div class="h-entry"><a class="u-like-of" href="{target}">liked</a>'
        '<a class="p-author h-card" href="https://cy.example.org">Cy</a></div>'
    )


def send(client, source, target):
    return client.post("/webmention", data={"source": source, "target": target})


def run_queue(app, now=None):
    with app.app_context():
        return queue.run_pending(now=now)


def status(client, response):
    location = response.headers["Location"]
    return client.get(location, headers={"Accept": "application/json"}).get_json()


def thread(client):
    return client.get("/api/comments?site=blog&uri=/post/1").get_json()


def test_create_verify_update_and_delete_by_410(app, client, ours, theirs):
    target = ours.url + "/post/1"
    source = theirs.page("/reply", reply_page(target))
    response = send(client, source, target)
    assert response.status_code == 201
    assert response.headers["Location"].startswith("/webmention/")  # no PUBLIC_URL: relative
    assert status(client, response)["status"] == "pending"

    assert run_queue(app) == 3  # the mention, then the new thread's title and Bea's photo
    assert status(client, response)["status"] == "verified"
    [mention] = thread(client)["comments"]
    assert mention["kind"] == "webmention"
    assert mention["source"] == {
        "url": source,
        "title": "A reply",
        "excerpt": "Replying to your post: yes!",
        "type": "reply",
    }
    assert mention["author"] == "Bea"
    assert mention["website"] == "https://bea.example.org"
    # The photo is the service's own copy (the identicon until it is fetched), never theirs.
    assert mention["avatar"].startswith("http://localhost/api/photo/")

    # Re-sending after the source changed updates the one record.
    theirs.page("/reply", reply_page(target, title="A better reply"))
    again = send(client, source, target)
    assert again.headers["Location"] == response.headers["Location"]
    run_queue(app)
    [mention] = thread(client)["comments"]
    assert mention["source"]["title"] == "A better reply"
    with app.app_context():
        assert len(db.session.scalars(select(Comment)).all()) == 1

    theirs.page("/reply", "gone", status=410)
    send(client, source, target)
    run_queue(app)
    assert thread(client)["comments"] == []
    report = status(client, response)
    assert report["status"] == "deleted" and "410" in report["reason"]


def test_a_source_that_no_longer_links_removes_the_mention(app, client, ours, theirs):
    target = ours.url + "/post/1"
    source = theirs.page("/reply", reply_page(target))
    response = send(client, source, target)
    run_queue(app)
    assert thread(client)["count"] == 1
    theirs.page("/reply", "<p>I changed my mind about https://nothing.example.org</p>")
    send(client, source, target)
    run_queue(app)
    assert thread(client)["count"] == 0
    report = status(client, response)
    assert report == {
        **report,
        "status": "deleted",
        "reason": "The source no longer links to the target.",
    }


def test_a_5xx_keeps_the_mention_and_tries_again_later(app, client, ours, theirs):
    target = ours.url + "/post/1"
    source = theirs.page("/reply", reply_page(target))
    response = send(client, source, target)
    run_queue(app)
    theirs.page("/reply", "down", status=503)
    send(client, source, target)
    run_queue(app)
    assert thread(client)["count"] == 1  # kept
    assert status(client, response)["status"] == "pending"
    with app.app_context():
        job = db.session.scalars(select(Job).order_by(Job.id.desc())).first()
        assert (job.status, job.attempts) == ("queued", 1)
        assert job.run_after > utcnow() + timedelta(minutes=1)
    assert run_queue(app) == 0  # not due yet
    theirs.page("/reply", reply_page(target, title="Back up"))
    assert run_queue(app, now=utcnow() + timedelta(minutes=5)) == 1
    assert status(client, response)["status"] == "verified"
    assert thread(client)["comments"][0]["source"]["title"] == "Back up"


def test_a_mention_without_a_link_is_rejected_with_its_reason(app, client, ours, theirs):
    target = ours.url + "/post/1"
    source = theirs.page(
        "/text", f"<p>I mention {target} only as text, and &lt;a href='{target}'&gt;.</p>"
    )
    response = send(client, source, target)
    run_queue(app)
    report = status(client, response)
    assert report["status"] == "rejected"
    assert report["reason"] == "The source does not link to the target."
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "rejected" in page and "does not link" in page
    assert thread(client)["comments"] == []


def test_likes_count_toward_the_page_and_images_count_as_links(app, client, ours, theirs):
    target = ours.url + "/post/1"
    like = theirs.page(
        "/like",
        f'<div class="h-entry"><a class="u-like-of" href="{target}">liked</a>'
        '<a class="p-author h-card" href="https://cy.example.org">Cy</a></div>',
    )
    image = theirs.page("/image", f'<p>Look: <img src="{target}"></p>')
    send(client, like, target)
    send(client, image, target)
    run_queue(app)
    data = thread(client)
    assert data["likes"] == 1
    assert data["count"] == 1  # the image mention; the like is not a comment
    kinds = sorted(c["source"]["type"] for c in data["comments"])
    assert kinds == ["like", "mention"]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"target": "x"}, "source"),
        ({"source": "https://a.example.org/x"}, "target"),
        ({"source": "ftp://a.example.org/x", "target": "{ours}/post/1"}, "source"),
        ({"source": "https://a.example.org/x", "target": "gopher://b.example.org/"}, "target"),
        ({"source": "{ours}/post/1", "target": "{ours}/post/1"}, "target"),
        (
            {"source": "https://a.example.org/x", "target": "https://not-ours.example.org/p"},
            "target",
        ),
    ],
)
def test_bad_requests_get_400_at_once(app, client, ours, form, field):
    form = {k: v.format(ours=ours.url) for k, v in form.items()}
    response = client.post("/webmention", data=form)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field
    with app.app_context():
        assert db.session.scalars(select(Job)).all() == []


def test_webmention_takes_forms_only(client, ours):
    response = client.post("/webmention", json={"source": "a", "target": "b"})
    assert response.status_code == 415


def test_the_web_process_verifies_in_the_background(live_server, ours, theirs):
    service = live_server(GUARD="off")
    target = ours.url + "/post/1"
    source = theirs.page("/reply", reply_page(target))
    response = requests.post(
        service.url + "/webmention", data={"source": source, "target": target}, timeout=10
    )
    assert response.status_code == 201
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        report = requests.get(
            service.url + response.headers["Location"],
            headers={"Accept": "application/json"},
            timeout=10,
        ).json()
        if report["status"] != "pending":
            break
        time.sleep(0.3)
    assert report["status"] == "verified", service.output()


def test_the_worker_command_runs_queued_jobs(app, client, cli, ours, theirs):
    target = ours.url + "/post/1"
    send(client, theirs.page("/reply", reply_page(target)), target)
    result = cli("worker", "--once")
    assert result.exit_code == 0, result.output
    assert "ran 3 job(s)" in result.output  # the mention, the thread's title, Bea's photo
    assert thread(client)["count"] == 1


# --- hardening: charsets, identity, moderation of changes, own pages, error codes ---------------


def test_odd_charsets_verify_and_a_bad_content_length_is_rejected(app, client, ours, theirs):
    from tests.blogs import Page

    target = ours.url + "/post/1"
    page = reply_page(target).encode()
    theirs.pages["/rot13"] = Page(writer=typed_answer("text/html; charset=rot13", page))
    theirs.pages["/base64"] = Page(
        writer=typed_answer("text/html", b'<meta charset="base64">' + page)
    )
    theirs.pages["/length"] = Page(writer=typed_answer("text/html", page, content_length="\u00b2"))
    answers = {
        path: send(client, theirs.url + path, target) for path in ("/rot13", "/base64", "/length")
    }
    run_queue(app)
    reports = {path: status(client, response) for path, response in answers.items()}
    assert reports["/rot13"]["status"] == "verified"
    assert reports["/base64"]["status"] == "verified"
    # Used to stay pending for ever: the job failed on a ValueError.
    assert reports["/length"]["status"] == "rejected"
    assert "Content-Length" in reports["/length"]["reason"]


def test_spellings_of_one_source_are_one_mention(app, client, ours, theirs):
    target = ours.url + "/post/1"
    source = theirs.page("/like", like_page(target))
    host = source.replace("http://127.0.0.1", "HTTP://127.0.0.1")
    spellings = [source, source + "#x", source + "?", host, source.replace("/like", "/like#a")]
    for spelling in spellings:
        assert send(client, spelling, target + "#comments").status_code == 201
    run_queue(app)
    data = thread(client)
    assert data["likes"] == 1
    with app.app_context():
        rows = db.session.scalars(select(Comment)).all()
        mentions = db.session.scalars(select(Mention)).all()
    assert [c.source_url for c in rows] == [source]
    assert [(m.source, m.target) for m in mentions] == [(source, target)]


def test_changed_content_is_moderated_again(app, client, ours, theirs):
    from commentsvc.sites import update_site

    with app.app_context():
        update_site("blog", moderation_words="casino")
    target = ours.url + "/post/1"
    source = theirs.page("/reply", reply_page(target))
    send(client, source, target)
    run_queue(app)
    [mention] = thread(client)["comments"]
    assert mention["source"]["title"] == "A reply"

    theirs.page("/reply", reply_page(target, title="Best casino bonus"))
    response = send(client, source, target)
    run_queue(app)
    assert thread(client)["comments"] == []  # held again, not published unseen
    with app.app_context():
        [comment] = db.session.scalars(select(Comment)).all()
        assert comment.status == "pending"
        assert comment.reason.startswith("changed by its source")
        assert "casino" in comment.reason
    assert status(client, response)["status"] == "verified"


def test_the_services_own_pages_are_no_source(make_app, ours):
    app = make_app(PUBLIC_URL="https://comments.example.org")  # ours made the site 'blog'
    client = app.test_client()
    target = ours.url + "/post/1"
    for source in (
        "https://comments.example.org/t/blog?uri=/post/1",
        "https://COMMENTS.example.org./api/comments.html?site=blog&uri=/post/1",
        "http://localhost/t/blog?uri=/post/1",  # the request's own host
    ):
        response = send(client, source, target)
        assert response.status_code == 400, source
        assert response.get_json()["error"] == {
            "code": "source_not_allowed",
            "field": "source",
            "message": response.get_json()["error"]["message"],
        }


def test_a_banned_source_is_forbidden_not_rate_limited(app, client, ours, theirs):
    from commentsvc.db import write_transaction
    from commentsvc.models import Ban

    with app.app_context(), write_transaction() as session:
        session.add(Ban(kind="domain", value="127.0.0.1"))
    response = send(
        client, theirs.page("/reply", reply_page(ours.url + "/post/1")), ours.url + "/post/1"
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "Retry-After" not in response.headers


def test_a_flood_is_rate_limited_with_retry_after(make_app, ours, theirs):
    from commentsvc.linkbacks.receive import CLIENT_LIMITS

    app = make_app(GUARD=True)  # ours made the site 'blog'
    client = app.test_client()
    target = ours.url + "/post/1"
    per_minute = int(CLIENT_LIMITS[0].split()[0])
    # Twice the limit and one more: whatever minute boundary falls between them, one window
    # holds more than the limit (the limiter's windows follow the real clock).
    answers = [send(client, theirs.url + f"/r{n}", target) for n in range(2 * per_minute + 1)]
    limited = [a for a in answers if a.status_code != 201]
    assert limited and {a.status_code for a in limited} == {429}
    assert limited[0].get_json()["error"]["code"] == "rate_limited"
    assert int(limited[0].headers["Retry-After"]) > 0


def test_store_and_import_cap_what_a_linkback_holds(app, ours):
    """One pingback stored 1 MB: every stored field of a linkback has a cap, on every path."""
    from commentsvc.importers import Record
    from commentsvc.importers import import_records
    from commentsvc.linkbacks import verify
    from commentsvc.linkbacks.jobs import app_context
    from commentsvc.linkbacks.receive import resolve_target
    from commentsvc.linkbacks.receive import store
    from commentsvc.models import Site

    huge = "word " * 200_000
    found = verify.Found(
        title=huge,
        excerpt="[…] " + huge + " […]",
        author=huge,
        author_url="https://a.example.org/" + "x" * 5000,
        author_photo="javascript:alert(1)",
    )
    with app.test_request_context():
        target = resolve_target(ours.url + "/post/1")
        comment = store(
            target, "https://a.example.org/p", found, kind="webmention", ctx=app_context()
        )
        assert len(comment.source_title) <= verify.MAX_TITLE
        assert len(comment.author) <= verify.MAX_AUTHOR
        assert (
            len(comment.excerpt) <= verify.MAX_EXCERPT and len(comment.text) <= verify.MAX_EXCERPT
        )
        assert comment.excerpt.startswith("word") and comment.excerpt.endswith("word")
        assert comment.website == "" and comment.author_photo == ""

        site = db.session.scalar(select(Site))
        record = Record(
            key="1",
            uri="/post/2",
            title="A post",
            kind="pingback",
            status="approved",
            author=huge,
            email="",
            website="HTTP://Other.example.org/entry#x",
            address="",
            created=utcnow(),
            body="[...] " + huge + " [...]",
        )
        import_records(site, [record], secret="s", now=utcnow())
        imported = db.session.scalar(select(Comment).where(Comment.kind == "pingback"))
        assert imported.source_url == "http://other.example.org/entry"
        assert len(imported.source_title) <= verify.MAX_TITLE
        assert len(imported.excerpt) <= verify.MAX_EXCERPT
        assert not imported.excerpt.startswith("[") and not imported.excerpt.endswith("]")
        assert len(imported.text) <= verify.MAX_EXCERPT


def test_a_source_that_redirects_to_the_service_is_refused(make_app, ours, theirs):
    """The service never fetches itself as a source, not even at the end of a redirect."""
    from tests.blogs import Page

    app = make_app(PUBLIC_URL=ours.url)  # as if the service ran where our blog is
    client = app.test_client()
    target = ours.url + "/post/1"
    theirs.pages["/hop"] = Page(status=302, headers={"Location": ours.url + "/post/1#x"})
    response = send(client, theirs.url + "/hop", target)
    assert response.status_code == 201
    run_queue(app)
    report = status(client, response)
    assert report["status"] == "rejected" and "this comment service" in report["reason"]
    assert ours.hits("/post/1") == 0


def test_controls_in_source_or_target_are_400(client, site):
    target = "https://blog.example.org/post/1"
    for source, to in [
        ("https://a.example/\x00", target),
        ("https://a.example/x", target + "\x00"),
        ("https://a.example/\x1b[31m", target),
        ("https://a.example/x", target + "\u202e"),
    ]:
        response = client.post("/webmention", data={"source": source, "target": to})
        assert response.status_code == 400, (source, to)
        assert response.get_json()["error"]["field"] == ("source" if to == target else "target")
