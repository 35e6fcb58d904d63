"""The database: one Flask-SQLAlchemy object, SQLite tuning, and write transactions."""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# Stable constraint names, so that migrations can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000

_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar("immediate", default=False)
_single: contextvars.ContextVar[bool] = contextvars.ContextVar("single", default=False)

# session.info keys: inside write_transaction's block; rows flushed outside one, not committed.
_WRITING = "commentsvc.writing"
_FLUSHED_OUTSIDE = "commentsvc.flushed_outside"


class UnsavedChanges(RuntimeError):
    """A write transaction began while the session held changes made outside one (a bug)."""


def init_db(app: Flask) -> None:
    """Bind the database and its migrations to the app, and tune SQLite engines."""
    db.init_app(app)
    # Runs before Flask-SQLAlchemy's own teardown (teardowns run last registered first).
    app.teardown_appcontext(_end_session)
    Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine)
    if not event.contains(Session, "after_flush", _note_flush):
        event.listen(Session, "after_flush", _note_flush)
        event.listen(Session, "after_commit", _forget_flush)
        event.listen(Session, "after_rollback", _forget_flush)


def _end_session(_error: BaseException | None) -> None:
    """End the request's session, even when its connection died under it: the server restarted
    between the request's last query and this rollback (which SQLAlchemy then raises). The
    answer is already made; failing here would turn it into the server's bare 500."""
    try:
        db.session.remove()
    except DBAPIError as error:
        log.warning("database connection lost at the end of a request: %s", error)
        db.session().invalidate()  # no rollback on a dead connection; back to the pool as dead
        db.session.remove()


def _note_flush(session: Session, _context) -> None:
    if not session.info.get(_WRITING):
        session.info[_FLUSHED_OUTSIDE] = True


def _forget_flush(session: Session) -> None:
    session.info.pop(_FLUSHED_OUTSIDE, None)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Hand transaction control to SQLAlchemy's "begin" event below; pysqlite's own
        # implicit BEGIN is always DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # A deferred transaction that reads and then writes cannot wait for the lock: SQLite
        # answers "database is locked" at once. Writers take the lock up front and queue
        # behind busy_timeout instead; readers stay deferred and never block anyone.
        if _single.get():
            return  # one SELECT on its own (single_read): nothing to hold a snapshot for
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")


@contextmanager
def write_transaction(
    session: Session | None = None, *, keep_loaded: bool = False
) -> Iterator[Session]:
    """Run the block as one write transaction (BEGIN IMMEDIATE on SQLite), then commit.

    keep_loaded: the objects keep, after the commit, the values read and written under the
    lock (what was committed), instead of being read again when the caller answers with them.

    :raise UnsavedChanges: when the session holds changes made before the block (added,
        changed or deleted objects, or rows flushed outside a write transaction): committing
        them here would save what nobody meant to save in this transaction.
    """
    session = session or db.session()
    if session.info.get(_WRITING):
        raise UnsavedChanges("write_transaction inside another one: use the outer session")
    pending = session.new or session.dirty or session.deleted
    if pending or session.info.get(_FLUSHED_OUTSIDE):
        described = ", ".join(sorted({type(o).__name__ for o in pending})) or "flushed rows"
        raise UnsavedChanges(f"changes made outside a write transaction: {described}")
    if session.in_transaction():
        # A read snapshot from earlier in the request cannot be upgraded safely; end it.
        _end_read(session)
    with writer_turn(session.get_bind()):
        token = _immediate.set(True)
        try:
            session.connection()
        finally:
            _immediate.reset(token)
        session.info[_WRITING] = True
        expire = session.expire_on_commit
        try:
            yield session
            session.expire_on_commit = expire and not keep_loaded
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.expire_on_commit = expire
            session.info.pop(_WRITING, None)


def writing(session: Session | None = None) -> bool:
    """Return whether the session is inside write_transaction's block."""
    return bool((session or db.session()).info.get(_WRITING))


def _end_read(session: Session) -> None:
    """End the session's read transaction (it holds no changes): what it loaded is read again
    when next used, but for the rows of classes marked `kept_through_request` (a site, the
    signed-in identity), taken as the request found them at its start: reloading them under the
    write lock cost a query on every write for nothing the request had not already used."""
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
    for instance in list(session.identity_map.values()):
        if not getattr(instance, "kept_through_request", False):
            session.expire(instance)


_writers: dict[str, threading.RLock] = {}
_turns = threading.local()
# A writer of another process waiting for the file lock looks again this often (seconds): SQLite's
# own busy handler sleeps up to 100 ms between looks, most of a write's turn wasted.
_TURN_POLL = (0.0001, 0.0002, 0.0005)


@contextmanager
def writer_turn(engine: Engine) -> Iterator[None]:
    """Let one writer at a time, of every process on this machine, write to a SQLite database
    file (nothing elsewhere).

    SQLite has one write lock; a writer that finds it taken sleeps in steps of up to 100 ms
    (its busy handler), so the threads of several workers queueing there wait far longer than
    the writes take. Queued here, a thread's turn comes as soon as the one before has
    committed: behind a lock among this process's threads, then behind an flock on a file
    beside the database among processes (gunicorn's workers, the CLI, a second `serve`). The
    wait is bounded as SQLite's is; a writer that does not come through here (a migration)
    still meets SQLite's own lock.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    url = str(engine.url)
    lock = _writers.setdefault(url, threading.RLock())
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    if not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
        _locked(engine)
    # The thread's turns by database: a turn taken inside its own turn holds the file already.
    depths = _turns.__dict__.setdefault("depths", {})
    depth = depths.get(url, 0)
    locked_file = None
    try:
        if depth == 0:
            locked_file = _lock_writer_file(engine, deadline)
        depths[url] = depth + 1
        yield
    finally:
        depths[url] = depth
        if locked_file is not None:
            os.close(locked_file)  # which ends the flock
        lock.release()


def _lock_writer_file(engine: Engine, deadline: float) -> int | None:
    """Open and flock the database's writer file; return the open file (None for a database in
    memory). Closing it ends the turn: opened per turn, nothing is held between writes, and a
    worker that dies lets the next in at once."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    try:
        # Read-only is enough to flock, so a file another user made (the CLI run as root, say)
        # still serves; where it cannot be had at all, SQLite's own lock is the queue.
        descriptor = os.open(f"{database}-writer", os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        for pause in itertools.chain(_TURN_POLL, itertools.repeat(_TURN_POLL[-1])):
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                if time.monotonic() > deadline:
                    _locked(engine)
                time.sleep(pause)
    except BaseException:
        os.close(descriptor)
        raise
    return None  # not reached: the loop above returns or raises


def _locked(engine: Engine) -> None:
    error = engine.dialect.loaded_dbapi.OperationalError("database is locked")
    raise OperationalError("BEGIN IMMEDIATE", None, error)


@contextmanager
def single_read() -> Iterator:
    """Open a connection, outside the ORM session, for one read statement (no BEGIN on SQLite)."""
    token = _single.set(True)
    try:
        with db.engine.connect() as connection:
            yield connection
    finally:
        _single.reset(token)


def fast_read(statement: Any, params: dict[str, Any]) -> list[tuple]:
    """Run one read statement on this thread's own connection; return its rows as tuples.

    For the hot path's one lookup (a 304 is answered after it): SQLAlchemy's Connection and
    result objects cost five times what the database does for an indexed SELECT, and a pool
    checkout half of it again. The statement is compiled once per dialect; it must have no
    expanding parameters. It runs outside any transaction (SQLite's autocommit; PostgreSQL's
    autocommit, one round trip), so it sees what is committed when it runs. Database errors
    come out as SQLAlchemy's, as from any other query; a connection found closed is opened
    again once. An engine someone listens to (query counters, tracing) gets the statement
    through SQLAlchemy, so that they see it.
    """
    engine = db.engine
    if engine.dispatch.before_cursor_execute:
        with single_read() as connection:
            return [tuple(row) for row in connection.execute(statement, params)]
    # By dialect, not by engine: the many apps of a test run do not each keep one.
    kind = (statement, engine.dialect.name, engine.driver)
    compiled = _compiled.get(kind)
    if compiled is None:
        done = statement.compile(dialect=engine.dialect)
        compiled = _compiled[kind] = (done.string, done.positiontup, done.params)
    sql, positions, defaults = compiled
    values = {**defaults, **params}
    arguments = [values[name] for name in positions] if positions else values
    for attempt in (1, 2):
        connection = _reader(engine, sql, arguments)
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, arguments)
                return cursor.fetchall()
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as error:
            gone = engine.dialect.is_disconnect(error, connection, None)
            _forget_reader()
            if gone and attempt == 1:
                continue  # the server restarted, or dropped an idle connection: once more
            raise DBAPIError.instance(
                sql,
                arguments,
                error,
                engine.dialect.loaded_dbapi.Error,
                connection_invalidated=gone,
                dialect=engine.dialect,
            ) from error
    raise AssertionError("not reached")


# Each thread's own connection for fast_read. One per thread at most: another engine's (a
# test's next app) is closed, as is one older than its engine's last dispose() (which gives the
# engine a new pool); so is the thread's when the thread ends, and every one at exit.
_readers = threading.local()


class _Reader:
    def __init__(self, engine: Engine, pool: Any, connection: Any):
        self.engine = engine
        self.pool = pool
        self.pid = os.getpid()
        self.connection = connection
        self.close = weakref.finalize(self, _close_reader, connection, self.pid)

    def serves(self, engine: Engine) -> bool:
        return self.engine is engine and self.pool is engine.pool and self.pid == os.getpid()


def _close_reader(connection: Any, pid: int) -> None:
    if os.getpid() != pid:
        return  # a parent process's connection, inherited by a fork: the parent's to close
    with contextlib.suppress(Exception):
        connection.close()


def _reader(engine: Engine, sql: str, arguments: Any) -> Any:
    kept = getattr(_readers, "kept", None)
    if kept is not None and kept.serves(engine):
        return kept.connection
    _forget_reader()
    pool = engine.pool  # taken first: a dispose() meanwhile leaves this connection behind
    try:
        # Opened through the pool, so that the engine's connect hooks (SQLite's pragmas) run,
        # then taken out of it for good.
        pooled = engine.raw_connection()
        pooled.detach()
        connection = pooled.dbapi_connection
        if engine.dialect.name == "postgresql":
            try:
                connection.autocommit = True
            except BaseException:
                _close_reader(connection, os.getpid())  # ours alone now: nobody else closes it
                raise
    except engine.dialect.loaded_dbapi.Error as error:
        # The pool hands the driver's own error out: wrapped, a database that cannot be
        # reached is the 503 'unavailable' it is from any other query, not a 500.
        raise DBAPIError.instance(
            sql, arguments, error, engine.dialect.loaded_dbapi.Error, dialect=engine.dialect
        ) from error
    _readers.kept = _Reader(engine, pool, connection)
    return connection


def _forget_reader() -> None:
    kept = getattr(_readers, "kept", None)
    _readers.kept = None
    if kept is not None:
        kept.close()


_compiled: dict[tuple[Any, str, str], tuple[str, Any, dict[str, Any]]] = {}


@contextmanager
def engine_write(engine: Engine) -> Iterator:
    """Open a connection in one write transaction (BEGIN IMMEDIATE on SQLite), then commit."""
    with writer_turn(engine), engine.connect() as connection:
        token = _immediate.set(True)
        try:
            transaction = connection.begin()
        finally:
            _immediate.reset(token)
        with transaction:
            yield connection


def insert_ignore(session: Session, model: type, **values) -> bool:
    """Insert a row unless it collides with a unique key; return whether it was inserted."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(model).values(**values).on_conflict_do_nothing()
    return session.execute(statement.returning(model.id)).first() is not None


def ping() -> bool:
    """Return True when the database answers a trivial query."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:  # noqa: BLE001 - any failure means "not healthy", reported as 503
        db.session.remove()
        return False
    return True
