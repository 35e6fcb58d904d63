import json
import multiprocessing

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from commentsvc import create_app
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Comment
from commentsvc.models import Site
from commentsvc.models import Thread
from tests.conftest import ON_POSTGRES


def test_migrations_create_exactly_the_models(app_ctx):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite settings")
def test_sqlite_connections_are_tuned(app_ctx):
    session = db.session
    assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert session.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_write_transaction_rolls_back_on_error(app_ctx):
    with pytest.raises(RuntimeError), write_transaction() as session:
        session.add(Site(name="gone", url="https://gone.example"))
        session.flush()
        raise RuntimeError("boom")
    assert db.session.scalar(select(func.count()).select_from(Site)) == 0


PER_PROCESS = 40


def _write_comments(url: str, instance: str, worker: int) -> None:
    from commentsvc import comments
    from commentsvc import spam
    from commentsvc.models import utcnow
    from commentsvc.sites import get_site

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "x"})
    guard = spam.Guard(limiter=None, enabled=False, secret="x")
    with app.app_context():
        site = get_site("blog")
        for n in range(PER_PROCESS):
            data = comments.CommentInput(text=f"comment {worker}-{n}")
            comments.post_comment(
                site, "/post", data, address=f"w{worker}", now=utcnow(), guard=guard
            )
            # A read-then-write counter: one like per (worker, n) visitor.
            comments.like_page(site, "/post", f"visitor-{worker}-{n}", now=utcnow(), guard=guard)
        db.engine.dispose()


def test_four_processes_writing_at_once_lose_nothing(app, database_url, tmp_path):
    from commentsvc.sites import add_site

    with app.app_context():
        add_site("blog", "https://blog.example.org")
        db.engine.dispose()

    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_write_comments, args=(database_url, str(tmp_path / "i"), w))
        for w in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]

    with app.app_context():
        texts = db.session.scalars(select(Comment.text)).all()
        assert len(texts) == 4 * PER_PROCESS
        assert len(set(texts)) == 4 * PER_PROCESS
        assert db.session.scalar(select(Thread.likes)) == 4 * PER_PROCESS


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's writers queue on a file lock")
def test_a_writer_of_another_process_waits_its_turn_then_writes(app, app_ctx, monkeypatch):
    import fcntl
    import os
    import threading
    import time

    from sqlalchemy.exc import OperationalError

    from commentsvc import db as db_module

    # Another process's writer, as the kernel sees it: the same file locked through another
    # open file.
    lock_file = os.open(f"{db.engine.url.database}-writer", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock_file, fcntl.LOCK_EX)
    done = []

    def write():
        with app.app_context(), write_transaction() as session:
            session.add(Site(name="waited", url="https://waited.example"))
        done.append(True)

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.3)
    assert not done, "wrote while another process held the writers' turn"
    fcntl.flock(lock_file, fcntl.LOCK_UN)
    writer.join(timeout=10)
    assert done, "its turn never came"
    assert db.session.scalar(select(Site.name)) == "waited"

    # A turn that never comes ends as SQLite's busy timeout does: "database is locked".
    fcntl.flock(lock_file, fcntl.LOCK_EX)
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    try:
        with pytest.raises(OperationalError, match="database is locked"), write_transaction():
            pass
    finally:
        os.close(lock_file)
    with write_transaction() as session:  # and the next writer is not left locked out
        session.add(Site(name="after", url="https://after.example"))


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's writers queue on a file lock")
def test_a_writer_file_that_cannot_be_opened_leaves_the_queue_to_sqlite(app, app_ctx):
    import os

    path = f"{db.engine.url.database}-writer"
    if os.path.exists(path):
        os.remove(path)
    os.symlink("/nonexistent-directory/writer", path)  # what no open() can make or take
    try:
        with write_transaction() as session:
            session.add(Site(name="still", url="https://still.example"))
    finally:
        os.remove(path)
    assert db.session.scalar(select(Site.name)) == "still"


@pytest.mark.skipif(ON_POSTGRES, reason="a fresh database file per run")
def test_linkback_urls_are_normalised_by_migration(tmp_path):
    """Linkbacks stored before URLs had one spelling match the pings that come now."""
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    then = "2026-01-01 00:00:00"
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0003")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sites (id, name, url, created) VALUES (1, 'b', 'https://b.org', :t)"
                ),
                {"t": then},
            )
            conn.execute(
                text("INSERT INTO threads (id, site_id, uri, created) VALUES (1, 1, '/p', :t)"),
                {"t": then},
            )
            for n, source in enumerate(
                [
                    "HTTP://A.example.org:80/x#c",
                    "https://a.example.org/y",
                    "https://A.example.org/y?",
                ],
                start=1,
            ):
                conn.execute(
                    text(
                        "INSERT INTO comments (id, thread_id, kind, source_url, created) "
                        "VALUES (:id, 1, 'pingback', :source, :t)"
                    ),
                    {"id": n, "source": source, "t": then},
                )
            conn.execute(
                text(
                    "INSERT INTO mentions (id, key, source, target, created, updated) "
                    "VALUES (1, 'k', 'https://A.example.org/z#x', 'https://B.org/p?', :t, :t)"
                ),
                {"t": then},
            )
        upgrade(directory=directory, revision="0009")
        with db.engine.connect() as conn:
            sources = (
                conn.execute(text("SELECT source_url FROM comments ORDER BY id")).scalars().all()
            )
            mention = conn.execute(text("SELECT source, target FROM mentions")).one()
        db.engine.dispose()
    # The third spells the second: it stays, for the owner to merge, rather than collide.
    assert list(sources) == [
        "http://a.example.org/x",
        "https://a.example.org/y",
        "https://A.example.org/y?",
    ]
    assert tuple(mention) == ("https://a.example.org/z", "https://b.org/p")


def test_write_transaction_refuses_changes_made_before_it(app_ctx):
    from commentsvc.db import UnsavedChanges

    db.session.add(Site(name="stray", url="https://stray.example"))
    with pytest.raises(UnsavedChanges, match="Site"), write_transaction():
        pass
    db.session.rollback()
    db.session.add(Site(name="flushed", url="https://flushed.example"))
    db.session.flush()
    with pytest.raises(UnsavedChanges, match="flushed"), write_transaction():
        pass
    db.session.rollback()
    with write_transaction() as session:
        session.add(Site(name="kept", url="https://kept.example"))
        with pytest.raises(UnsavedChanges, match="inside another"), write_transaction():
            pass
    names = db.session.scalars(select(Site.name)).all()
    assert names == ["kept"]


@pytest.mark.skipif(ON_POSTGRES, reason="a fresh database file per run")
def test_bans_are_normalised_by_migration(tmp_path):
    """Bans written in another spelling before the rules compared normal forms match again."""
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0012")
        old = [
            ("email", "Troll@EXAMPLE.org"),
            ("domain", "https://www.Spam.example/x"),
            ("domain", "bücher.example"),
            ("address", "ABC123"),  # a hash: its spelling is the hash's own
            ("email", "   "),  # nothing a rule can match: left alone
        ]
        with db.engine.begin() as conn:
            for n, (kind, value) in enumerate(old, start=1):
                conn.execute(
                    text(
                        "INSERT INTO bans (id, kind, value, reason, created) "
                        "VALUES (:id, :kind, :value, '', '2026-01-01 00:00:00')"
                    ),
                    {"id": n, "kind": kind, "value": value},
                )
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            values = conn.execute(text("SELECT value FROM bans ORDER BY id")).scalars().all()
        db.engine.dispose()
    assert list(values) == [
        "troll@example.org",
        "spam.example",
        "xn--bcher-kva.example",
        "ABC123",
        "   ",
    ]


@pytest.mark.skipif(ON_POSTGRES, reason="a fresh database file per run")
def test_jobs_queued_by_an_older_release_lose_the_raw_client_address(tmp_path):
    """The README promises no raw IP is stored: Webmention jobs once named the client by it."""
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})
    payloads = [
        '{"mention": 1, "requested_by": "203.0.113.7"}',
        '{"mention": 2, "requested_by": "client 0123abcd"}',
        '{"mention": 3}',
        "not json",
    ]
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0012")
        with db.engine.begin() as conn:
            for n, payload in enumerate(payloads, start=1):
                conn.execute(
                    text(
                        "INSERT INTO jobs (id, kind, payload, status, attempts, run_after, created)"
                        " VALUES (:id, 'webmention', :p, 'queued', 0, :t, :t)"
                    ),
                    {"id": n, "p": payload, "t": "2026-01-01 00:00:00"},
                )
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT payload FROM jobs ORDER BY id")).scalars().all()
        db.engine.dispose()
    assert "203.0.113.7" not in " ".join(stored)
    assert json.loads(stored[0]) == {"mention": 1, "requested_by": ""}
    assert list(stored[1:]) == payloads[1:]


@pytest.mark.skipif(ON_POSTGRES, reason="a fresh database file per run")
def test_comments_imported_before_migration_0014_say_they_came_from_wordpress(tmp_path):
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0021")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sites (id, name, url, created) "
                    "VALUES (1, 'blog', 'https://b.example', '2026-01-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO threads (id, site_id, uri, created) "
                    "VALUES (1, 1, '/p/', '2026-01-01 00:00:00')"
                )
            )
            for n, reason in enumerate(("imported", "published", ""), start=1):
                conn.execute(
                    text(
                        "INSERT INTO comments (id, thread_id, reason, created) "
                        "VALUES (:id, 1, :reason, '2026-01-01 00:00:00')"
                    ),
                    {"id": n, "reason": reason},
                )
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            marks = conn.execute(text("SELECT imported_from FROM comments ORDER BY id")).scalars()
            marks = list(marks)
        db.engine.dispose()
    assert marks == ["wordpress", "", ""]


def test_a_site_the_request_read_before_its_write_is_read_again_under_the_lock(app, app_ctx):
    from commentsvc import sites
    from commentsvc.models import SiteOrigin

    sites.add_site("blog", "https://blog.example.org")
    site = sites.get_site("blog")
    assert [o.origin for o in site.origins] == ["https://blog.example.org"]  # read, and kept
    # Meanwhile another process adds an origin.
    with app.app_context(), write_transaction() as other:
        other.add(SiteOrigin(site_id=site.id, origin="https://added.example"))
    sites.update_site("blog", origins=["https://only.example"])
    db.session.expire_all()
    stored = db.session.scalars(select(SiteOrigin.origin)).all()
    assert stored == ["https://only.example"], "the list was replaced from a stale copy"


def _closed(connection) -> bool:
    try:
        connection.cursor().execute("SELECT 1")
    except Exception:  # noqa: BLE001 - sqlite3's ProgrammingError, psycopg's OperationalError
        return True
    return False


def test_the_read_lookup_keeps_one_connection_per_thread_and_lets_it_go(app, app_ctx):
    import gc
    import threading

    from commentsvc import comments
    from commentsvc import db as db_module
    from commentsvc import sites
    from commentsvc import spam
    from commentsvc.models import utcnow

    sites.add_site("blog", "https://blog.example.org", moderation="none")
    assert comments.read_state("blog", ["/post"]).threads == {}
    mine = db_module._readers.kept.connection
    # Reused, and it sees what is committed after it was opened (no snapshot held).
    guard = spam.Guard(limiter=None, enabled=False, secret="x")
    with app.app_context():
        data = comments.CommentInput(text="Hello.")
        comments.post_comment(
            sites.get_site("blog"), "/post", data, address="a", now=utcnow(), guard=guard
        )
    assert "/post" in comments.read_state("blog", ["/post"]).threads
    assert db_module._readers.kept.connection is mine
    # Another thread has its own, closed when that thread ends.
    theirs = []

    def read_in_a_thread():
        with app.app_context():
            comments.read_state("blog", ["/post"])
            theirs.append(db_module._readers.kept.connection)

    worker = threading.Thread(target=read_in_a_thread)
    worker.start()
    worker.join()
    del worker
    gc.collect()
    assert theirs[0] is not mine and _closed(theirs[0]) and not _closed(mine)
    # Disposing of the engine (a new pool) lets this thread's go at its next read.
    db.engine.dispose()
    assert "/post" in comments.read_state("blog", ["/post"]).threads
    assert db_module._readers.kept.connection is not mine and _closed(mine)


def test_a_connection_that_dies_before_the_request_ends_leaves_its_answer_alone(app):
    # The server restarted between a request's last query and the rollback that ends its read
    # (seen in CI as gunicorn's bare 500 while PostgreSQL restarted).
    from commentsvc import sites

    with app.app_context():
        sites.add_site("blog", "https://blog.example.org")
    killed = []

    @app.after_request
    def kill_the_connection(response):
        session = db.session
        if session.get_bind().dialect.name != "postgresql":
            session.scalar(select(func.count()).select_from(Site))  # a read transaction
            session.connection().connection.dbapi_connection.close()
        else:
            pid = session.scalar(text("SELECT pg_backend_pid()"))
            with db.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                while other.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                ):
                    pass
        killed.append(True)
        return response

    client = app.test_client()
    # And the next request (through Flask, not the answer cache) has a live connection.
    for url in ("/api/comments?site=blog&uri=/post", "/"):
        answer = client.get(url)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert killed == [True, True]
