"""Mail through a real SMTP server on 127.0.0.1 (aiosmtpd), and webhooks to a real HTTP server."""

import hashlib
import hmac
import json
import re
import unicodedata
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from commentsvc import queue
from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Job
from tests.blogs import Blog
from tests.conftest import add_site
from tests.conftest import reserve_port
from tests.mail import Inbox
from tests.mail import parts
from tests.mail import run_queue


def post(app, **body):
    response = app.test_client().post(
        "/api/comments", json={"site": "blog", "uri": "/post/1", "text": "Hello", **body}
    )
    assert response.status_code in (201, 202), response.get_json()
    return response.get_json()["id"]


def link(text: str, label: str) -> str:
    url = re.search(rf"{label}:\s+(\S+)", text).group(1)
    return urlsplit(url).path


def status(app, comment_id):
    with app.app_context():
        return db.session.get(Comment, comment_id).status


def test_the_owner_gets_mail_with_one_click_links(mail_app, inbox, clock):
    add_site(mail_app, moderation="all", owner_email="owner@example.org")
    comment = post(mail_app, author="Ann", email="ann@example.org", text="Nice <b>post</b> & more")
    assert inbox.messages == []  # nothing is sent while posting
    assert run_queue(mail_app) == 2  # the mail, and the fetch of the new thread's title
    [message] = inbox.messages
    assert message["To"] == "owner@example.org"
    assert message["From"] == "commentsvc@comments.example.org"
    assert (
        "[blog] New comment" in message["Subject"] and "held for moderation" in message["Subject"]
    )
    text, html = parts(message)
    assert "Nice <b>post</b> & more" in text
    assert "<b>post</b>" not in html and "Nice &lt;b&gt;post&lt;/b&gt; &amp; more" in html
    assert "https://comments.example.org/admin/mail/" in text

    client = mail_app.test_client()
    approve = link(text, "Approve")
    confirm = client.get(approve)
    assert confirm.status_code == 200 and b'<form method="post">' in confirm.data
    assert status(mail_app, comment) == "pending"  # a GET changes nothing
    assert client.post(approve).status_code == 200
    assert status(mail_app, comment) == "approved"
    assert client.post(approve).status_code == 403  # used
    assert client.get(link(text, "Spam")).status_code == 403  # the comment changed since
    forged = approve[:-1] + ("0" if approve[-1] != "0" else "1")
    assert client.get(forged).status_code == 403


def test_a_mail_link_expires(mail_app, inbox, clock):
    add_site(mail_app, moderation="all", owner_email="owner@example.org")
    comment = post(mail_app)
    run_queue(mail_app)
    approve = link(parts(inbox.messages[0])[0], "Approve")
    clock.advance(days=7, seconds=1)
    response = mail_app.test_client().post(approve)
    assert response.status_code == 403 and b"expired" in response.data
    assert status(mail_app, comment) == "pending"


def test_reply_notifications_and_unsubscribing(mail_app, inbox, clock):
    add_site(mail_app)
    first = post(mail_app, author="Ann", email="ann@example.org", notify=True, text="First")
    run_queue(mail_app)
    assert inbox.messages == []  # no owner address: no owner mail
    post(mail_app, author="Bo", email="bo@example.org", parent=first, text="A reply")
    run_queue(mail_app)
    [message] = inbox.messages
    assert message["To"] == "ann@example.org"
    assert "New reply to your comment" in message["Subject"]
    text, _html = parts(message)
    assert "A reply" in text and "https://blog.example.org/post/1#csvc-comment-" in text
    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    client = mail_app.test_client()
    assert client.get(urlsplit(unsubscribe).path).status_code == 200
    assert (
        client.post(urlsplit(unsubscribe).path, data={"List-Unsubscribe": "One-Click"}).status_code
        == 200
    )
    clock.advance(seconds=10)
    post(mail_app, author="Cy", email="cy@example.org", parent=first, text="Another reply")
    run_queue(mail_app)
    assert len(inbox.messages) == 1
    assert mail_app.test_client().get("/unsubscribe/1.forged").status_code == 404


def test_a_held_reply_notifies_once_it_is_approved(mail_app, inbox, clock):
    from commentsvc import moderation

    add_site(mail_app, moderation="first-time")
    with mail_app.app_context():
        first = post(mail_app, email="ann@example.org", notify=True, text="First")
        moderation.act([first], "approve", actor="admin:t", now=clock())
    reply = post(mail_app, email="bo@example.org", parent=first, text="Held reply")
    run_queue(mail_app)
    assert inbox.messages == []
    with mail_app.app_context():
        moderation.act([reply], "approve", actor="admin:t", now=clock())
    run_queue(mail_app)
    assert [m["To"] for m in inbox.messages] == ["ann@example.org"]
    # Approving it again, or after taking it back to held, mails nobody a second time.
    with mail_app.app_context():
        moderation.act([reply], "approve", actor="admin:t", now=clock())
        moderation.act([reply], "hold", actor="admin:t", now=clock())
        moderation.act([reply], "approve", actor="admin:t", now=clock())
    run_queue(mail_app)
    assert [m["To"] for m in inbox.messages] == ["ann@example.org"]


def test_with_the_mail_server_down_posting_works_and_mail_goes_out_later(make_app, clock):
    reserved = reserve_port()  # held, not listening: connections are refused, nobody takes it
    port = reserved.port
    app = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}", PUBLIC_URL="https://comments.example.org")
    app.extensions["clock"] = clock
    add_site(app, owner_email="owner@example.org")
    comment = post(app)  # nothing listens on the port: the post still succeeds at once
    assert status(app, comment) == "approved"
    run_queue(app)
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == "mail-owner"))
        assert (job.status, job.attempts) == ("queued", 1)
        assert "mail not sent" in job.last_error
    box = Inbox(port).start()
    try:
        assert run_queue(app, now=clock() + timedelta(minutes=5)) == 1
        assert [m["To"] for m in box.messages] == ["owner@example.org"]
    finally:
        box.stop()
        reserved.close()


def test_webhooks_are_signed_and_sent_for_new_approved_and_deleted(mail_app, clock):
    from commentsvc import moderation
    from commentsvc.notify import webhook_secret
    from commentsvc.sites import get_site

    hook = Blog()
    hook.page("/hook", "ok")
    try:
        add_site(mail_app, moderation="all", webhook_url=hook.url + "/hook")
        comment = post(mail_app, text="Hooked")
        with mail_app.app_context():
            moderation.act([comment], "approve", actor="admin:t", now=clock())
            moderation.act([comment], "approve", actor="admin:t", now=clock())  # no change: no call
            moderation.act([comment], "delete", actor="admin:t", now=clock())
            secret = webhook_secret(get_site("blog"))
        run_queue(mail_app)
        calls = [(h, b) for m, p, h, b in hook.requests if m == "POST"]
        events = [json.loads(body)["event"] for _h, body in calls]
        assert events == ["new", "approved", "deleted"]
        for headers, body in calls:
            expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Commentsvc-Signature"] == f"sha256={expected}"
        first = json.loads(calls[0][1])
        assert first["site"] == "blog" and first["comment"]["id"] == comment
        assert "email" not in json.dumps(first)
    finally:
        hook.close()


def test_webhooks_to_private_addresses_are_refused(mail_app, clock):
    add_site(mail_app, webhook_url="http://10.9.8.7/hook")
    post(mail_app)
    run_queue(mail_app)
    with mail_app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == "webhook"))
        # Refused for good (not retried as if the receiver were down), with the reason.
        assert (job.status, job.attempts) == (
            "failed",
            1,
        ) and "address is not allowed" in job.last_error


# --- links come from PUBLIC_URL only -------------------------------------------------------------


def all_links(message) -> list[str]:
    text, html = parts(message)
    found = re.findall(r"https?://[^\s\"'<>]+", text + html)
    found += re.findall(r"<(https?://[^>]+)>", message.get("List-Unsubscribe", ""))
    return found


def service_links(message) -> list[str]:
    """The links that point at the service itself (not the page commented on)."""
    return [url for url in all_links(message) if "blog.example.org" not in url]


@pytest.mark.parametrize(
    "headers,proxies",
    [({"Host": "evil.example"}, 0), ({"X-Forwarded-Host": "evil.example"}, 1)],
)
def test_links_in_mail_never_come_from_the_request(make_app, inbox, clock, headers, proxies):
    app = make_app(
        SMTP_URL=f"smtp://127.0.0.1:{inbox.port}",
        PUBLIC_URL="https://comments.example.org",
        PROXY_COUNT=proxies,
    )
    app.extensions["clock"] = clock
    add_site(app, moderation="all", owner_email="owner@example.org")
    client = app.test_client()
    body = {"site": "blog", "uri": "/post/1", "email": "ann@example.org", "notify": True}
    first = client.post("/api/comments", json={**body, "text": "First"}, headers=headers)
    assert first.status_code in (201, 202)
    with app.app_context():
        from commentsvc import moderation

        moderation.act([first.get_json()["id"]], "approve", actor="admin:t", now=clock())
    reply = {**body, "email": "bo@example.org", "parent": first.get_json()["id"], "text": "Re"}
    assert client.post("/api/comments", json=reply, headers=headers).status_code in (201, 202)
    run_queue(app)
    assert {m["To"] for m in inbox.messages} == {"owner@example.org"}
    with app.app_context():
        from commentsvc import moderation

        moderation.act([2], "approve", actor="admin:t", now=clock())
    run_queue(app)
    assert {m["To"] for m in inbox.messages} == {"owner@example.org", "ann@example.org"}
    for message in inbox.messages:
        links = service_links(message)
        assert links, message
        for url in links:
            assert url.startswith("https://comments.example.org/"), url
        assert "evil.example" not in message.as_string()


def test_without_public_url_no_mail_is_sent_and_jobs_say_why(make_app, inbox, clock, caplog):
    app = make_app(SMTP_URL=f"smtp://127.0.0.1:{inbox.port}")
    assert "COMMENTSVC_PUBLIC_URL" in caplog.text  # said once, at start-up
    app.extensions["clock"] = clock
    add_site(app, owner_email="owner@example.org")
    post(app)  # posting still works
    run_queue(app)
    assert inbox.messages == []
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == "mail-owner"))
        assert job.status == "failed" and "COMMENTSVC_PUBLIC_URL" in job.last_error
        from commentsvc.admins import add_admin

        add_admin("alice", "a long enough password")
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post(
        "/admin/login",
        data={"csrf": token, "username": "alice", "password": "a long enough password"},
    )
    assert "COMMENTSVC_PUBLIC_URL" in client.get("/admin/").get_data(as_text=True)


def test_notify_reads_no_request():
    from pathlib import Path

    import commentsvc.notify

    source = Path(commentsvc.notify.__file__).read_text()
    assert not re.search(r"import request\b|[^.\w]request\.\w|has_request_context", source)
    assert "url_for" not in source and "_external" not in source


# --- headers are made safe -------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Line\u2028break",
        "Para\u2029graph",
        "CR\r\nBcc: x@y",
        "Bell\x07Tab\tEsc\x1b",
        "RTL\u202eoverride",
        "Next\x85line",
    ],
)
def test_a_title_with_line_separators_still_mails(mail_app, inbox, clock, title):
    from commentsvc.models import Thread

    add_site(mail_app, owner_email="owner@example.org", name="blog")
    post(mail_app)
    with mail_app.app_context():
        db.session.scalar(select(Thread)).title = title + " " + "long " * 60
        db.session.commit()
    run_queue(mail_app)
    with mail_app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == "mail-owner"))
        assert job.status == "done", job.last_error
    [message] = inbox.messages
    subject = message["Subject"]
    assert "Bcc" not in message or message["Bcc"] is None
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in subject)
    assert len(subject) <= 200


def test_a_failing_job_records_why(mail_app, clock):
    add_site(mail_app, webhook_url="http://127.0.0.1:9/hook")
    with mail_app.app_context():
        job_id = queue.enqueue("webhook", {"no": "comment"})
        db.session.commit()
    run_queue(mail_app)
    with mail_app.app_context():
        job = db.session.get(Job, job_id)
        assert job.status == "failed" and job.attempts == 1
        assert "malformed payload" in job.last_error


# --- one recipient per reader ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "a@example.org,b@example.org",
        "a,b@example.org",
        "a@example.org,b",
        "a@example.org, b@example.org",
        "a@example.org;b@example.org",
        "Ann <a@example.org>",
        '"a,b"@example.org',
        "a@example.org\nBcc: b@example.org",
        "a@",
        "@example.org",
        "a@@example.org",
        "a@example..org",
        "a@-example.org",
    ],
)
def test_a_readers_email_is_exactly_one_address(client, site, value):
    response = client.post(
        "/api/comments", json={"site": "blog", "uri": "/post/1", "text": "Hi", "email": value}
    )
    assert response.status_code == 400, value
    error = response.get_json()["error"]
    assert (error["field"], error["code"]) == ("email", "invalid")


def test_a_readers_email_is_normalised(app, client, site):
    response = client.post(
        "/api/comments",
        json={"site": "blog", "uri": "/post/1", "text": "Hi", "email": "Ann@Example.ORG"},
    )
    assert response.status_code == 201
    with app.app_context():
        assert db.session.get(Comment, response.get_json()["id"]).email == "ann@example.org"


# --- mail links are used up by any change ------------------------------------------------------


def test_a_mail_link_is_used_up_when_the_status_comes_back(mail_app, inbox, clock):
    from commentsvc import moderation

    add_site(mail_app, moderation="all", owner_email="owner@example.org")
    comment = post(mail_app)
    run_queue(mail_app)
    text = parts(inbox.messages[0])[0]
    approve, spam = link(text, "Approve"), link(text, "Spam")
    client = mail_app.test_client()
    assert client.post(approve).status_code == 200
    assert status(mail_app, comment) == "approved"
    with mail_app.app_context():  # the owner holds it again in the moderation pages
        moderation.act([comment], "hold", actor="admin:alice", now=clock())
    assert status(mail_app, comment) == "pending"
    assert client.get(approve).status_code == 403
    assert client.post(approve).status_code == 403
    assert client.post(spam).status_code == 403
    assert status(mail_app, comment) == "pending"


# --- no raw client address is kept -----------------------------------------------------------


def linking_page(target: str, title: str) -> str:
    return (
        f"<html><head><title>{title}</title></head><body><article class='h-entry'>"
        f"<p class='e-content'>See <a class='u-in-reply-to' href='{target}'>this</a>.</p>"
        "</article></body></html>"
    )


def test_no_table_keeps_a_raw_client_address(make_app, inbox, clock):
    import xmlrpc.client

    from sqlalchemy import select as select_all

    address = "203.0.113.77"
    ours, theirs = Blog(), Blog()
    try:
        ours.page("/post/1", "<title>Our post</title><p>Hello.</p>")
        target = ours.url + "/post/1"
        pinging = theirs.page("/ping", linking_page(target, "A ping"))
        mentioning = theirs.page("/mention", linking_page(target, "A mention"))
        app = make_app(
            SMTP_URL=f"smtp://127.0.0.1:{inbox.port}", PUBLIC_URL="https://comments.example.org"
        )
        app.extensions["clock"] = clock
        add_site(app, url=ours.url, owner_email="owner@example.org")
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        body = {"site": "blog", "uri": "/post/1", "text": "Hi", "email": "ann@example.org"}
        first = client.post("/api/comments", json={**body, "notify": True}).get_json()["id"]
        reply = {**body, "email": "bo@example.org", "parent": first, "text": "A reply"}
        assert client.post("/api/comments", json=reply).status_code == 201
        assert client.post(f"/api/comments/{first}/like").status_code == 200
        ping = xmlrpc.client.dumps((pinging, target), "pingback.ping")
        answer = client.post("/xmlrpc", data=ping, content_type="text/xml")
        assert "registered" in answer.get_data(as_text=True)
        mention = client.post("/webmention", data={"source": mentioning, "target": target})
        assert mention.status_code == 201
        run_queue(app)
        assert len(inbox.messages) >= 2  # the owner's and the reader's mail went out
        with app.app_context():
            kinds = {job.kind for job in db.session.scalars(select(Job))}
            assert {"mail-owner", "mail-reply", "webmention"} <= kinds
            for table in db.metadata.sorted_tables:
                for row in db.session.execute(select_all(table)):
                    assert address not in repr(tuple(row)), (table.name, row)
        for _method, _path, headers, _body in theirs.requests:
            assert address not in repr(headers)
    finally:
        ours.close()
        theirs.close()
