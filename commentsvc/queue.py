"""Background work kept in the database: it survives restarts and any process may run it."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy import update

from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Job
from commentsvc.models import utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a job whose runner died is taken up again after this
MAX_ATTEMPTS = 6
HANDLERS: dict[str, Callable[[dict], None]] = {}


class Retry(Exception):
    """Raised by a handler when the job should run again later (a 5xx, a timeout)."""


def handler(kind: str):
    """Register the function that runs jobs of this kind."""

    def register(func):
        HANDLERS[kind] = func
        return func

    return register


def enqueue(kind: str, payload: dict, *, now: datetime | None = None) -> int:
    """Queue a job (inside the caller's transaction); return its id."""
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
    payload = json.loads(job.payload)
    try:
        HANDLERS[kind](payload)
    except Retry as exc:
        _finish(
            job_id,
            "queued" if attempts < MAX_ATTEMPTS else "failed",
            str(exc),
            run_after=now + timedelta(minutes=2**attempts),
        )
    except Exception as exc:  # noqa: BLE001 - one bad job must not stop the queue
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, kind)
        _finish(job_id, "failed", f"{type(exc).__name__}: {exc}")
    else:
        _finish(job_id, "done", "")
    return True


def run_pending(limit: int = 100, now: datetime | None = None) -> int:
    """Run due jobs until none is left (or limit); return how many ran."""
    count = 0
    while count < limit and run_one(now):
        count += 1
    return count


def _finish(job_id: int, status: str, error: str, run_after: datetime | None = None) -> None:
    values = {"status": status, "last_error": error[:2000], "locked_until": None}
    if run_after is not None:
        values["run_after"] = run_after
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
            except Exception:  # noqa: BLE001 - keep the loop alive; the error is logged
                log.exception("the background queue failed; trying again")
                ran = 0
            if not ran:
                stop.wait(interval)

    thread = threading.Thread(target=loop, name="commentsvc-queue", daemon=True)
    thread.stop = stop
    thread.start()
    return thread
