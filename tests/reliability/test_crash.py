"""kill -9 of `commentsvc serve` (master and workers) in a stream of posts loses nothing acked."""

import pytest
from sqlalchemy import select
from sqlalchemy import text

from commentsvc.db import db
from commentsvc.models import Comment
from tests.conftest import ON_POSTGRES
from tests.conftest import add_site
from tests.reliability.traffic import Traffic

pytestmark = pytest.mark.slow


def check_postgres_indexes() -> None:
    """Every B-tree index of the schema passes amcheck's bt_index_check (raises if not)."""
    db.session.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
    checked = db.session.execute(
        text(
            "SELECT bt_index_check(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam "
            "WHERE am.amname = 'btree' AND c.relnamespace = 'public'::regnamespace"
        )
    ).all()
    db.session.commit()
    assert checked


def test_kill_9_in_a_stream_of_posts_loses_nothing_acknowledged(app, live_server):
    add_site(app)
    server = live_server(workers=3, GUARD="off")
    traffic = Traffic(server.url, threads=6).start()
    try:
        traffic.wait_for(40, "posts acknowledged before the crash")
        server.kill()  # SIGKILL to the whole process group, mid-stream
    finally:
        traffic.stop()
    acked = dict(traffic.acked)
    assert 500 not in traffic.statuses, traffic.statuses

    server.start()  # the same database, after the crash
    with app.app_context():
        if ON_POSTGRES:
            check_postgres_indexes()
        else:
            assert db.session.execute(text("PRAGMA integrity_check")).scalars().all() == ["ok"]
        stored = dict(db.session.execute(select(Comment.id, Comment.html)).all())
    lost = {i: t for i, t in acked.items() if i not in stored or t not in stored[i]}
    assert lost == {}, f"{len(lost)} of {len(acked)} acknowledged posts are gone"
    print(f"kill -9: {len(acked)} acknowledged, 0 lost, {dict(traffic.statuses)}")

    after = Traffic(server.url, threads=1).start()
    try:
        after.wait_for(3, "posts after the restart")
    finally:
        after.stop()
