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
from commentsvc.models import utcnow


def reply_page(target: str, title: str = "A reply", author: str = "Bea") -> str:
    return f"""<html><head><title>{title}</title></head><body>
<article class="h-entry"><h1 class="p-name">{title}</h1>
<span class="p-author h-card"><img class="u-photo" src="/me.png"><a class="u-url p-name" href="https://bea.example.org">{author}</a></span>
<div class="e-content"><p>Replying to <a class="u-in-reply-to" href="{target}">your post</a>: yes!</p></div>
</article></body></html>"""


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
    assert response.headers["Location"].startswith("http://localhost/webmention/")
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
            response.headers["Location"], headers={"Accept": "application/json"}, timeout=10
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
