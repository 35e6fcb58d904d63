"""Fixtures: an app on a real database per test (SQLite file, or PostgreSQL when asked)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine
from sqlalchemy import text

from commentsvc import create_app
from commentsvc import database_url as normal_url
from commentsvc.db import db

# Fixtures kept in helper modules, offered to every test file.
pytest_plugins = ("tests.mail",)

ROOT_DIR = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("COMMENTSVC_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("COMMENTSVC_TEST_REDIS_URL", "")
ON_POSTGRES = bool(PG_URL)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Keep the developer's own COMMENTSVC_* settings out of the tests."""
    for key in list(os.environ):
        if key.startswith("COMMENTSVC_") and not key.startswith("COMMENTSVC_TEST_"):
            monkeypatch.delenv(key)


def _migrate(url: str, instance: Path) -> None:
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "x"})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> str:
    """Return a database URL migrated from empty once per run (a template file on SQLite)."""
    instance = tmp_path_factory.mktemp("template-instance")
    if ON_POSTGRES:
        engine = create_engine(normal_url(PG_URL))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(PG_URL, instance)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "comments.db"
    _migrate(f"sqlite:///{path}", instance)
    return f"sqlite:///{path}"


@pytest.fixture
def database_url(migrated_database, tmp_path) -> str:
    """Return a fresh, migrated database for this test."""
    if ON_POSTGRES:
        engine = create_engine(normal_url(PG_URL))
        with engine.begin() as conn:
            tables = (
                conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
                .scalars()
                .all()
            )
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return PG_URL
    path = tmp_path / "comments.db"
    shutil.copyfile(migrated_database.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def make_app(database_url, tmp_path):
    """Return a factory for apps on this test's database, with settings overridden."""
    apps = []

    def factory(**overrides):
        settings = {
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
            "TESTING": True,
            "GUARD": False,
            "FETCH_ALLOW_PRIVATE": True,
        }
        settings.update(overrides)
        app = create_app(settings)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    """Return a function that runs `commentsvc ARGS` against this test's app."""
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from commentsvc.cli import main

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(
            main, list(args), obj=ScriptInfo(create_app=lambda: app), input=input
        )

    return invoke


@pytest.fixture
def app_ctx(app) -> Iterator[None]:
    with app.app_context():
        yield


ORIGIN = "https://blog.example.org"


class Clock:
    """A clock the test moves by hand; the app reads it through app.extensions["clock"]."""

    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, **delta):
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture
def clock(app):
    from commentsvc.models import utcnow

    clock = Clock(utcnow().replace(microsecond=0))
    app.extensions["clock"] = clock
    return clock


def add_site(app, name="blog", url=ORIGIN, **settings):
    from commentsvc.sites import add_site as add

    # New sites default to first-time moderation; tests that post expect publishing unless
    # they name a policy.
    settings.setdefault("moderation", "none")
    with app.app_context():
        site = add(name, url, **settings)
        return site.name


@pytest.fixture
def site(app):
    """The site 'blog' at https://blog.example.org, publishing without moderation."""
    return add_site(app)


class Api:
    """Repeated HTTP steps against the comments API."""

    def __init__(self, client):
        self.client = client

    def post(self, expect=None, headers=None, **overrides):
        body = {"site": "blog", "uri": "/post/1", "text": "A comment."}
        body.update(overrides)
        body = {k: v for k, v in body.items() if v is not ...}
        response = self.client.post("/api/comments", json=body, headers=headers or {})
        if expect is not None:
            assert response.status_code == expect, response.get_json()
        return response

    def thread(self, uri="/post/1", site="blog", **params):
        query = {"site": site, "uri": uri, **params}
        response = self.client.get("/api/comments", query_string=query)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def ids(self, uri="/post/1", **params):
        """Return every comment id of the thread, depth first."""

        def walk(items):
            for item in items:
                yield item["id"]
                yield from walk(item["replies"])

        return list(walk(self.thread(uri, **params)["comments"]))


@pytest.fixture
def api(client, site):
    return Api(client)


def free_port() -> int:
    """Return a port that was free a moment ago (racy: prefer port 0, or reserve_port())."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PortReservation:
    """A port of 127.0.0.1 held by a bound, non-listening SO_REUSEADDR socket.

    Connections to it are refused (nothing listens), no other program can take it, and a server
    that binds with SO_REUSEADDR (gunicorn, asyncio/aiosmtpd, socketserver with
    allow_reuse_address) can still listen on it: for servers that cannot bind port 0 and report
    back, or that must come back on the same port after a stop.
    """

    def __init__(self):
        import socket

        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> PortReservation:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def reserve_port() -> PortReservation:
    return PortReservation()


class LiveServer:
    """`commentsvc serve` in a child process (its own process group), on a reserved port.

    serve cannot bind port 0, so the port is reserved (see PortReservation) for the server's
    whole life: a restart after stop() or kill() comes back on the same URL. Should the bind
    fail all the same, the server is started again on another port.
    """

    def __init__(self, database_url: str, instance: Path, workers: int = 2, **settings):
        self.workers = workers
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COMMENTSVC_")}
        self.env.update(
            COMMENTSVC_DATABASE_URL=database_url,
            COMMENTSVC_INSTANCE_PATH=str(instance),
            COMMENTSVC_SECRET_KEY="test-secret-key",
            COMMENTSVC_FETCH_ALLOW_PRIVATE="on",
        )
        self.env.update({f"COMMENTSVC_{k}": str(v) for k, v in settings.items()})
        self.logs_dir = instance.parent
        self.log = None
        self.reservation = None
        for attempt in range(3):
            self.reservation = reserve_port()
            self.port = self.reservation.port
            self.url = f"http://127.0.0.1:{self.port}"
            try:
                self.start()
                return
            except RuntimeError:
                self.reservation.close()
                if attempt == 2 or "Address already in use" not in self.output():
                    raise

    def start(self) -> None:
        """Start (or start again, after stop() or kill()) and wait until /healthz answers."""
        import subprocess
        import sys

        if self.log is not None and not self.log.closed:
            self.log.close()
        self.log = open(self.logs_dir / f"server-{self.port}.log", "a+")  # noqa: SIM115
        command = [
            sys.executable,
            "-m",
            "commentsvc",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        self.process = subprocess.Popen(
            command,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait()

    def _wait(self) -> None:
        import time
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server stopped: {self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within 60 s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def kill(self) -> None:
        """kill -9 the server and its workers at once, as a crash or the OOM killer would."""
        import signal

        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self, close: bool = True) -> None:
        """SIGTERM (graceful) and wait; close=False keeps the port for a start() again."""
        import signal

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except Exception:
                self.process.kill()
                self.process.wait(timeout=20)
        try:  # workers orphaned by a killed master must not outlive the test
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if close:
            self.log.close()
            self.reservation.close()


@pytest.fixture
def live_server(database_url, tmp_path):
    """Start servers on this test's database: live_server(workers=4, GUARD="off", ...)."""
    servers = []

    def start(workers: int = 2, **settings) -> LiveServer:
        server = LiveServer(database_url, tmp_path / "live-instance", workers, **settings)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def ours(app):
    """Our own blog, registered as the site 'blog', with a post at /post/1."""
    from tests.blogs import Blog

    blog = Blog()
    blog.page("/post/1", "<title>Our post</title><p>Hello.</p>")
    add_site(app, url=blog.url)
    yield blog
    blog.close()


@pytest.fixture
def theirs():
    """Another blog, whose pages link to ours."""
    from tests.blogs import Blog

    blog = Blog()
    yield blog
    blog.close()
