"""PostgreSQL restarted and Redis stopped while the service runs: posting goes on, nothing lost."""

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from commentsvc import create_app
from commentsvc.db import db
from commentsvc.models import Comment
from tests.conftest import LiveServer
from tests.conftest import add_site
from tests.reliability.traffic import Reads
from tests.reliability.traffic import Traffic
from tests.reliability.traffic import wait_until

pytestmark = pytest.mark.slow


def test_postgres_restarted_while_serving_answers_503_then_goes_on(private_postgres, tmp_path):
    app = create_app(
        {
            "DATABASE_URL": private_postgres.url,
            "INSTANCE_PATH": str(tmp_path / "i"),
            "SECRET_KEY": "x",
        }
    )
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
    add_site(app)
    with app.app_context():
        db.engine.dispose()  # no connection of ours left to die with the server
    server = LiveServer(private_postgres.url, tmp_path / "instance", workers=2, GUARD="off")
    traffic = Traffic(server.url, threads=4).start()
    reads = Reads(server.url).start()
    try:
        traffic.wait_for(20, "posts before the restart")
        # Every connection dies with it: the pool's, and each thread's own for the lookup that
        # answers a read (db.fast_read).
        private_postgres.stop("fast")
        down, reads_down = traffic.statuses[503], reads.count(503)
        wait_until(lambda: traffic.statuses[503] >= down + 5, "503 while PostgreSQL is down")
        wait_until(lambda: reads.count(503) >= reads_down + 5, "reads' 503 while it is down")
        private_postgres.start()
        traffic.wait_for(20, "posts after PostgreSQL is back")
        # Every worker thread answers again (one kept a dead connection: a 503 now and then).
        wait_until(
            lambda: reads.in_a_row() >= 60,
            f"60 reads in a row answered after PostgreSQL is back: {dict(reads.statuses)}",
        )
    finally:
        reads.stop()
        traffic.stop()
        server.stop()
    assert 500 not in traffic.statuses, traffic.statuses
    assert set(reads.statuses) <= {200, 304, 503}, reads.statuses
    assert traffic.retry_after == {"5"}
    with app.app_context():
        stored = dict(db.session.execute(select(Comment.id, Comment.html)).all())
    with app.app_context():
        db.engine.dispose()
    lost = {i: t for i, t in traffic.acked.items() if i not in stored or t not in stored[i]}
    assert lost == {}, f"{len(lost)} of {len(traffic.acked)} acknowledged posts are gone"
    print(
        f"PostgreSQL restart: {len(traffic.acked)} acknowledged, 0 lost, {dict(traffic.statuses)}"
    )


def test_redis_stopped_while_serving_posting_goes_on(app, live_server, private_redis):
    add_site(app)
    # The guard on: every post counts against the limits, in Redis while it answers.
    server = live_server(workers=2, REDIS_URL=private_redis.url, PROXY_COUNT=1)
    traffic = Traffic(server.url, threads=3, forwarded=True).start()
    try:
        traffic.wait_for(10, "posts with Redis up")
        private_redis.stop()
        traffic.wait_for(10, "posts with Redis down")
        private_redis.start()
        traffic.wait_for(5, "posts with Redis back")
    finally:
        traffic.stop()
    assert 500 not in traffic.statuses, traffic.statuses
    with app.app_context():
        stored = set(db.session.scalars(select(Comment.id)))
    assert set(traffic.acked) <= stored
    print(f"Redis stopped: {len(traffic.acked)} acknowledged, 0 lost, {dict(traffic.statuses)}")


def test_without_redis_the_limits_still_hold_through_the_database(make_app, private_redis):
    app = make_app(GUARD=True, REDIS_URL=private_redis.url)
    add_site(app)
    client = app.test_client()
    address = {"REMOTE_ADDR": "192.0.2.80"}
    body = {"site": "blog", "uri": "/p", "text": "one"}
    assert client.post("/api/comments", json=body, environ_base=address).status_code == 202
    private_redis.stop()
    # Fail safe, not open: the flood window is counted again in the database.
    body["text"] = "two"
    assert client.post("/api/comments", json=body, environ_base=address).status_code == 202
    body["text"] = "three"
    refused = client.post("/api/comments", json=body, environ_base=address)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
