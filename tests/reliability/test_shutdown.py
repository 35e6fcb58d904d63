"""SIGTERM to `commentsvc serve`: requests in flight finish; queued and running jobs stay queued."""

import json
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from commentsvc import queue
from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Job
from commentsvc.models import utcnow
from tests.blogs import Blog
from tests.blogs import Page
from tests.conftest import add_site
from tests.reliability.traffic import wait_until

pytestmark = pytest.mark.slow


def post_raw(port: int, text: str, expect_continue: bool = False):
    """Return the socket of a POST (and, with expect_continue, the body still to send)."""
    body = json.dumps({"site": "blog", "uri": "/p", "text": text}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        b"POST /api/comments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n" % len(body)
    )
    if expect_continue:
        sock.sendall(head + b"Expect: 100-continue\r\n\r\n")
        # A worker has read the headers and waits for the body: the request is in flight.
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        return sock, body
    sock.sendall(head + b"\r\n" + body)
    return sock


def answer(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return data


def test_sigterm_lets_requests_in_flight_finish_and_keeps_queued_work(app, live_server):
    add_site(app, webhook_url="http://127.0.0.1:9/hook")  # a webhook job per comment
    server = live_server(workers=2, GUARD="off", QUEUE_IN_WEB="off")
    assert answer(post_raw(server.port, "before")).startswith(b"HTTP/1.1 201")
    sock, body = post_raw(server.port, "in flight", expect_continue=True)

    server.process.terminate()  # SIGTERM to the gunicorn master
    # The workers hold the listening socket until their last request is answered, so the sign
    # that shutdown has begun is in the log: a worker that had nothing in flight has exited.
    wait_until(lambda: "Worker exiting" in server.output(), "a worker exits on SIGTERM")
    sock.sendall(body)
    reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 201"), (reply[:300], server.output())
    assert server.process.wait(timeout=60) == 0

    with app.app_context():
        texts = " ".join(c.html for c in db.session.scalars(select(Comment)))
        assert "before" in texts and "in flight" in texts
        jobs = db.session.scalars(select(Job).where(Job.kind == "webhook")).all()
        assert [(j.status, j.attempts) for j in jobs] == [("queued", 0)] * 2


def test_a_job_running_when_the_server_dies_is_taken_up_again(app, live_server):
    started, release = threading.Event(), threading.Event()

    def slow_hook(handler):
        started.set()
        release.wait(60)
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    hook = Blog()
    hook.pages["/hook"] = Page(writer=slow_hook)
    try:
        add_site(app, webhook_url=hook.url + "/hook")
        server = live_server(workers=2, GUARD="off", FETCH_TIMEOUT=60)
        assert answer(post_raw(server.port, "first")).startswith(b"HTTP/1.1 201")
        assert started.wait(30), "the queue never ran the webhook job"
        server.kill()  # the worker running the job dies with it
        release.set()
        with app.app_context():
            [job] = db.session.scalars(select(Job).where(Job.kind == "webhook")).all()
            assert (job.status, job.attempts) == ("queued", 1)
            assert job.locked_until is not None
            # Once its lease runs out, any runner (a restarted server) takes it up again.
            later = utcnow() + queue.LEASE + timedelta(minutes=1)
            assert queue.run_pending(now=later) >= 1  # the page-title job may run too
            db.session.refresh(job)
            assert (job.status, job.attempts) == ("done", 2), job.last_error
        assert hook.hits("/hook") == 2
    finally:
        release.set()
        hook.close()
