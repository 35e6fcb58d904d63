"""Background work kept in the database: it survives restarts and any process may run it."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from collections.abc import Iterable
from datetime import datetime
from datetime import timedelta

from flask import Flask
from flask import current_app
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Job
from commentsvc.models import utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a job whose runner died is taken up again after this
MAX_ATTEMPTS = 6
# Finished jobs are purged by the runner after these times (failed ones stay longer, to be seen
# and retried from the admin's Jobs page).
KEEP_DONE = timedelta(days=7)
KEEP_FAILED = timedelta(days=30)
PURGE_EVERY = timedelta(hours=1)

Handler = Callable[[dict], None]


class Retry(Exception):
    """Raised by a handler when the job should run again later (a 5xx, a timeout)."""


class Permanent(Exception):
    """Raised by a handler when running the job again cannot help (a refused recipient, a 4xx,
    a malformed payload): the job fails at once, with this reason."""


class UnknownKind(LookupError):
    """A job kind no handler is registered for."""


def handler(kind: str):
    """Mark a function as the handler of a job kind; create_app registers it (see register).

    Marking has no side effect: a handler runs only once it is registered where the app is
    built, so the web and worker processes know the same kinds.
    """

    def mark(func):
        func.job_kind = kind
        return func

    return mark


def register(app: Flask, handlers: Iterable[Handler]) -> None:
    """Register handlers (marked with @handler) on the app.

    :raise UnknownKind: for an unmarked function or a kind registered twice: at start-up.
    """
    registry = app.extensions.setdefault("queue_handlers", {})
    for func in handlers:
        kind = getattr(func, "job_kind", None)
        if not kind:
            raise UnknownKind(f"{func!r} is not a job handler (mark it with @queue.handler)")
        if kind in registry and registry[kind] is not func:
            raise UnknownKind(f"job kind {kind!r} has two handlers")
        registry[kind] = func


def _handlers() -> dict[str, Handler]:
    return current_app.extensions.get("queue_handlers", {})


def enqueue(kind: str, payload: dict, *, now: datetime | None = None) -> int:
    """Queue a job (inside the caller's transaction); return its id.

    :raise UnknownKind: for a kind no handler is registered for (a bug, said loudly).
    """
    if kind not in _handlers():
        raise UnknownKind(f"no handler is registered for job kind {kind!r}")
    job = Job(kind=kind, payload=json.dumps(payload), run_after=now or utcnow())
    db.session.add(job)
    db.session.flush()
    return job.id


def _due(now: datetime):
    return (
        select(Job)
        .where(Job.status == "queued", Job.run_after <= now)
        .where((Job.locked_until.is_(None)) | (Job.locked_until < now))
        .order_by(Job.run_after, Job.id)
        .limit(1)
    )


def claim(now: datetime) -> Job | None:
    """Take the next due job, leasing it so that no other runner takes it too."""
    # A plain read first: idle pollers must not take SQLite's write lock every second.
    if db.session.scalar(_due(now).with_only_columns(Job.id)) is None:
        db.session.rollback()
        return None
    with write_transaction() as session:
        query = _due(now)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job = session.scalar(query)
        if job is None:
            return None
        job.locked_until = now + LEASE
        job.attempts += 1
        return job


def run_one(now: datetime | None = None) -> bool:
    """Run the next due job; return False when there was none."""
    now = now or utcnow()
    job = claim(now)
    if job is None:
        return False
    job_id, kind, attempts = job.id, job.kind, job.attempts
    try:
        func = _handlers().get(kind)
        if func is None:
            raise Permanent(f"unknown job kind {kind!r}: no handler is registered for it")
        try:
            payload = json.loads(job.payload)
        except ValueError:
            raise Permanent("malformed payload: not JSON") from None
        if not isinstance(payload, dict):
            raise Permanent("malformed payload: not a JSON object")
        func(payload)
        _refuse_unsaved(db.session)
    except Retry as exc:
        db.session.rollback()
        final = attempts >= MAX_ATTEMPTS
        _finish(
            job_id,
            "failed" if final else "queued",
            f"{exc} (attempt {attempts} of {MAX_ATTEMPTS})" if not final else f"{exc} (gave up)",
            run_after=now + timedelta(minutes=2**attempts),
            now=now,
        )
    except Permanent as exc:
        db.session.rollback()
        log.warning("job %s (%s) failed: %s", job_id, kind, exc)
        _finish(job_id, "failed", str(exc), now=now)
    except Exception as exc:  # noqa: BLE001 - one bad job must not stop the queue
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, kind)
        _finish(job_id, "failed", f"{type(exc).__name__}: {exc}", now=now)
    else:
        _finish(job_id, "done", "", now=now)
    return True


def _refuse_unsaved(session) -> None:
    """Fail a job whose handler left changes it never wrote: finishing it would refuse them,
    leave the job locked and run it again (and mail again) after every lease."""
    pending = session.new or session.dirty or session.deleted
    if pending:
        names = ", ".join(sorted({type(o).__name__ for o in pending}))
        raise Permanent(f"the handler left unsaved changes ({names}): a bug, not retried")


def run_pending(limit: int = 100, now: datetime | None = None) -> int:
    """Run due jobs until none is left (or limit); return how many ran."""
    count = 0
    while count < limit and run_one(now):
        count += 1
    return count


def purge(now: datetime | None = None) -> int:
    """Delete done jobs older than KEEP_DONE and failed ones older than KEEP_FAILED."""
    now = now or utcnow()
    with write_transaction() as session:
        result = session.execute(
            delete(Job).where(
                ((Job.status == "done") & (Job.run_after < now - KEEP_DONE))
                | ((Job.status == "failed") & (Job.run_after < now - KEEP_FAILED))
            )
        )
        return result.rowcount or 0


_last_purge: list[datetime] = []


def purge_if_due(now: datetime | None = None) -> int:
    """Purge finished jobs at most once every PURGE_EVERY in this process (the runners call it)."""
    now = now or utcnow()
    if _last_purge and now - _last_purge[0] < PURGE_EVERY:
        return 0
    _last_purge[:] = [now]
    return purge(now)


def failed_jobs(limit: int = 200) -> list[Job]:
    """Return the failed jobs, the latest first."""
    query = select(Job).where(Job.status == "failed").order_by(Job.run_after.desc(), Job.id.desc())
    return list(db.session.scalars(query.limit(limit)))


def retry(job_id: int, now: datetime) -> bool:
    """Queue a failed job again, with a fresh count of attempts; return whether there was one."""
    with write_transaction() as session:
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "failed")
            .values(status="queued", attempts=0, run_after=now, locked_until=None)
        )
        return bool(result.rowcount)


def _finish(
    job_id: int, status: str, error: str, *, now: datetime, run_after: datetime | None = None
) -> None:
    # run_after of a finished job is when it finished: the purge and the Jobs page read it.
    values = {
        "status": status,
        "last_error": error[:2000],
        "locked_until": None,
        "run_after": run_after if status == "queued" and run_after else now,
    }
    with write_transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def start_background(app: Flask, interval: float = 1.0) -> threading.Thread:
    """Run the queue in a daemon thread of this process (the web process does by default)."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                with app.app_context():
                    ran = run_pending()
                    purge_if_due()
            except Exception:  # noqa: BLE001 - keep the loop alive; the error is logged
                log.exception("the background queue failed; trying again")
                ran = 0
            if not ran:
                stop.wait(interval)

    thread = threading.Thread(target=loop, name="commentsvc-queue", daemon=True)
    thread.stop = stop
    thread.start()
    return thread
