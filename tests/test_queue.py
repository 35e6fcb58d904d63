"""The job queue: registration, permanent and transient failures, the Jobs page, purging."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from commentsvc import queue
from commentsvc.admins import add_admin
from commentsvc.db import db
from commentsvc.models import Job
from tests.blogs import Blog
from tests.conftest import add_site
from tests.mail import Inbox
from tests.mail import run_queue
from tests.test_notify import post

PASSWORD = "a long enough password"


def jobs(app, kind=None):
    with app.app_context():
        query = select(Job).order_by(Job.id)
        if kind:
            query = query.where(Job.kind == kind)
        found = db.session.scalars(query).all()
        db.session.expunge_all()
        return found


def enqueue(app, kind, payload, now=None):
    with app.app_context():
        job_id = queue.enqueue(kind, payload, now=now)
        db.session.commit()
        return job_id


# --- registration --------------------------------------------------------------------------------


def test_handlers_are_registered_where_the_app_is_built(app):
    registered = app.extensions["queue_handlers"]
    assert {"mail-owner", "mail-reply", "webhook", "webmention"} <= set(registered)
    with pytest.raises(queue.UnknownKind):
        queue.register(app, [lambda payload: None])  # not marked: refused at start-up

    @queue.handler("webhook")
    def another(payload):
        pass

    with pytest.raises(queue.UnknownKind):
        queue.register(app, [another])  # a kind with two handlers


def test_marking_a_handler_registers_nothing_by_itself(app):
    @queue.handler("never-registered")
    def orphan(payload):
        pass

    assert "never-registered" not in app.extensions["queue_handlers"]
    with app.app_context(), pytest.raises(queue.UnknownKind):
        queue.enqueue("never-registered", {})


def test_a_handler_that_leaves_unsaved_changes_fails_once_and_is_not_run_again(app, clock):
    from commentsvc.models import Ban

    runs = []

    @queue.handler("sloppy")
    def sloppy(payload):
        runs.append(payload)
        db.session.add(Ban(kind="address", value="x", reason=""))  # never written

    queue.register(app, [sloppy])
    enqueue(app, "sloppy", {"n": 1}, now=clock())
    with app.app_context():
        assert queue.run_pending(now=clock()) == 1
        assert queue.run_pending(now=clock() + timedelta(hours=2)) == 0
    [job] = jobs(app, "sloppy")
    assert job.status == "failed" and "unsaved changes (Ban)" in job.last_error
    assert runs == [{"n": 1}]
    with app.app_context():
        assert db.session.scalar(select(Ban.id)) is None


def test_a_job_of_an_unknown_kind_fails_with_a_clear_error(app, clock):
    with app.app_context():
        db.session.add(Job(kind="gone-kind", payload="{}", run_after=clock()))
        db.session.commit()
    assert run_queue(app, now=clock()) == 1
    [job] = jobs(app)
    assert job.status == "failed" and "unknown job kind 'gone-kind'" in job.last_error


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", '{"comment": "1"}', "{}"])
def test_a_malformed_payload_fails_at_once(app, clock, payload):
    add_site(app, webhook_url="http://127.0.0.1:9/hook")
    with app.app_context():
        db.session.add(Job(kind="webhook", payload=payload, run_after=clock()))
        db.session.commit()
    run_queue(app, now=clock())
    [job] = jobs(app)
    assert (job.status, job.attempts) == ("failed", 1)
    assert "malformed payload" in job.last_error


# --- permanent and transient failures --------------------------------------------------------


def test_a_webhook_answering_4xx_fails_at_once_and_5xx_is_retried(make_app, clock):
    hook = Blog()
    hook.page("/busy", "busy", status=503)
    try:
        app = make_app()
        app.extensions["clock"] = clock
        add_site(app, name="gone", url="https://gone.example.org", webhook_url=hook.url + "/gone")
        add_site(app, name="busy", url="https://busy.example.org", webhook_url=hook.url + "/busy")
        for site in ("gone", "busy"):
            response = app.test_client().post(
                "/api/comments", json={"site": site, "uri": "/p", "text": "Hi"}
            )
            assert response.status_code == 201
        run_queue(app, now=clock())
        gone, busy = jobs(app, "webhook")
        assert (gone.status, gone.attempts) == ("failed", 1)
        assert "webhook refused: answered 404" in gone.last_error
        assert (busy.status, busy.attempts) == ("queued", 1)
        assert "503" in busy.last_error
        later = clock()
        for _ in range(queue.MAX_ATTEMPTS):
            later += timedelta(days=1)
            run_queue(app, now=later)
        gone, busy = jobs(app, "webhook")
        assert (busy.status, busy.attempts) == ("failed", queue.MAX_ATTEMPTS)
        assert gone.attempts == 1  # never tried again
    finally:
        hook.close()


class RefusingInbox(Inbox):
    """An SMTP server that has no such user."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        return "550 5.1.1 no such user here"


def test_a_refused_recipient_fails_at_once_with_the_reason(make_app, clock):
    box = RefusingInbox().start()
    try:
        app = make_app(
            SMTP_URL=f"smtp://127.0.0.1:{box.port}", PUBLIC_URL="https://comments.example.org"
        )
        app.extensions["clock"] = clock
        add_site(app, owner_email="nobody@example.org")
        post(app)
        run_queue(app, now=clock())
        [job] = jobs(app, "mail-owner")
        assert (job.status, job.attempts) == ("failed", 1)
        assert "mail refused" in job.last_error and "no such user" in job.last_error
    finally:
        box.stop()


# --- the Jobs page -------------------------------------------------------------------------------


def login(app):
    with app.app_context():
        add_admin("alice", PASSWORD)
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/admin/login", data={"csrf": token, "username": "alice", "password": PASSWORD})
    return client


def test_failed_jobs_are_listed_and_can_be_retried_with_csrf(app, clock):
    with app.app_context():
        db.session.add(Job(kind="gone-kind", payload="{}", run_after=clock()))
        db.session.commit()
    run_queue(app, now=clock())
    client = login(app)
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "gone-kind" in page and "unknown job kind" in page
    [job] = jobs(app)
    assert client.post(f"/admin/jobs/{job.id}/retry").status_code == 403  # no CSRF token
    assert jobs(app)[0].status == "failed"
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    response = client.post(f"/admin/jobs/{job.id}/retry", data={"csrf": token})
    assert response.status_code == 302
    [job] = jobs(app)
    assert (job.status, job.attempts) == ("queued", 0)
    assert "gone-kind" not in client.get("/admin/jobs").get_data(as_text=True)


# --- purging -------------------------------------------------------------------------------------


def test_finished_jobs_are_purged_after_their_time(app, clock):
    add_site(app, webhook_url="http://127.0.0.1:9/hook")
    now = clock()
    with app.app_context():
        for status, age in [
            ("done", timedelta(days=6)),
            ("done", timedelta(days=8)),
            ("failed", timedelta(days=29)),
            ("failed", timedelta(days=31)),
            ("queued", timedelta(days=90)),
        ]:
            db.session.add(Job(kind="webhook", status=status, run_after=now - age))
        db.session.commit()
        assert queue.purge(now) == 2
    left = sorted((job.status, (now - job.run_after).days) for job in jobs(app))
    assert left == [("done", 6), ("failed", 29), ("queued", 90)]


def test_the_runner_purges_at_most_once_an_hour(app, clock):
    queue._last_purge.clear()
    now = clock()
    with app.app_context():
        db.session.add(Job(kind="webhook", status="done", run_after=now - timedelta(days=8)))
        db.session.commit()
        assert queue.purge_if_due(now) == 1
        db.session.add(Job(kind="webhook", status="done", run_after=now - timedelta(days=8)))
        db.session.commit()
        assert queue.purge_if_due(now + timedelta(minutes=30)) == 0
        assert queue.purge_if_due(now + timedelta(hours=1)) == 1
