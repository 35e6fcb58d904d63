"""Rate-limit counters shared by every worker: in Redis when configured, else in the database.

When Redis is configured but does not answer, the limits fall back to the database counters (the
same ones used without Redis) and Redis is tried again after REDIS_RETRY_SECONDS: limits stay
enforced (fail safe, never open), posting goes on, and a warning is logged once per outage.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
from collections.abc import Callable
from datetime import UTC

from flask import Flask
from limits import RateLimitItem
from limits import parse
from limits.storage import Storage
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from commentsvc.db import db
from commentsvc.db import engine_write

log = logging.getLogger(__name__)

REDIS_RETRY_SECONDS = 30  # after a Redis failure, the database counts this long, then Redis again
REDIS_TIMEOUT_SECONDS = 2  # connecting to, or waiting on, Redis: a hung Redis costs this much

_UPSERT = text(
    "INSERT INTO rate_counters (key, count, expires_at) VALUES (:key, :amount, :expires) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN rate_counters.expires_at <= :now THEN :amount "
    "ELSE rate_counters.count + :amount END, "
    "expires_at = CASE WHEN rate_counters.expires_at <= :now THEN :expires "
    "ELSE rate_counters.expires_at END "
    "RETURNING count"
)


class SQLStorage(Storage):
    """A `limits` storage in the rate_counters table: one atomic upsert per hit."""

    STORAGE_SCHEME = ["commentsvc-sql"]

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time, **options):
        super().__init__(None, **options)
        self.engine = engine
        self.now = clock  # seconds since the epoch; the app's clock, so tests can move it

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.now()
        with engine_write(self.engine) as conn:
            count = conn.execute(
                _UPSERT, {"key": key, "amount": amount, "expires": now + expiry, "now": now}
            ).scalar_one()
            if random.random() < 0.01:  # now and then, forget windows long gone
                conn.execute(
                    text("DELETE FROM rate_counters WHERE expires_at < :t"), {"t": now - 3600}
                )
        return count

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            count = conn.execute(
                text("SELECT count FROM rate_counters WHERE key = :key AND expires_at > :now"),
                {"key": key, "now": self.now()},
            ).scalar()
        return count or 0

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            expires = conn.execute(
                text("SELECT expires_at FROM rate_counters WHERE key = :key"), {"key": key}
            ).scalar()
        return expires if expires and expires > self.now() else self.now()

    def check(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def reset(self) -> int | None:
        with engine_write(self.engine) as conn:
            return conn.execute(text("DELETE FROM rate_counters")).rowcount

    def clear(self, key: str) -> None:
        with engine_write(self.engine) as conn:
            conn.execute(text("DELETE FROM rate_counters WHERE key = :key"), {"key": key})


class Limiter:
    """Fixed-window limits over one shared storage; hit() answers the seconds to wait, or 0.

    With a fallback storage, a failing primary (Redis down) hands the counting to the fallback
    (the database) for REDIS_RETRY_SECONDS instead of failing the request.
    """

    def __init__(
        self,
        storage: Storage,
        fallback: Storage | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.storage = storage
        self.fallback = fallback
        self.monotonic = monotonic
        self.strategy = FixedWindowRateLimiter(storage)
        self._fallback_strategy = FixedWindowRateLimiter(fallback) if fallback else None
        self._primary_down_until = 0.0

    def hit(self, limit: str | RateLimitItem, *keys: str) -> int:
        """Count one hit; return 0 when allowed, else the seconds until the window resets."""
        item = parse(limit) if isinstance(limit, str) else limit
        keys = tuple(_storable(key) for key in keys)
        return self._with_storage(lambda strategy: self._hit(strategy, item, keys))

    def wait(self, limit: str | RateLimitItem, *keys: str) -> int:
        """Return the seconds until the limit allows a hit again (0: now), counting none."""
        item = parse(limit) if isinstance(limit, str) else limit
        keys = tuple(_storable(key) for key in keys)
        return self._with_storage(lambda strategy: self._wait(strategy, item, keys))

    def count(self, limit: str | RateLimitItem, *keys: str) -> int:
        """Return the hits the window holds now."""
        item = parse(limit) if isinstance(limit, str) else limit
        key = item.key_for(*(_storable(k) for k in keys))
        return self._with_storage(lambda strategy: strategy.storage.get(key))

    def clear(self, limit: str | RateLimitItem, *keys: str) -> None:
        """Forget the window's hits."""
        item = parse(limit) if isinstance(limit, str) else limit
        key = item.key_for(*(_storable(k) for k in keys))
        self._with_storage(lambda strategy: strategy.storage.clear(key))

    def seen(self, limit: str | RateLimitItem, *keys: str) -> bool:
        """Return True when the window holds at least one hit (without counting one)."""
        item = parse(limit) if isinstance(limit, str) else limit
        return self._with_storage(
            lambda strategy: strategy.storage.get(item.key_for(*(_storable(k) for k in keys))) > 0
        )

    @staticmethod
    def _hit(strategy: FixedWindowRateLimiter, item: RateLimitItem, keys) -> int:
        return 0 if strategy.hit(item, *keys) else Limiter._seconds_left(strategy, item, keys)

    @staticmethod
    def _wait(strategy: FixedWindowRateLimiter, item: RateLimitItem, keys) -> int:
        return 0 if strategy.test(item, *keys) else Limiter._seconds_left(strategy, item, keys)

    @staticmethod
    def _seconds_left(strategy: FixedWindowRateLimiter, item: RateLimitItem, keys) -> int:
        reset_at, _remaining = strategy.get_window_stats(item, *keys)
        now = getattr(strategy.storage, "now", time.time)()
        return max(1, int(reset_at - now + 0.999))

    def _with_storage(self, work):
        if self._fallback_strategy is None:
            return work(self.strategy)
        if self.monotonic() >= self._primary_down_until:
            try:
                result = work(self.strategy)
            except self.storage.base_exceptions as exc:
                if self._primary_down_until == 0.0:
                    log.warning(
                        "rate limits: %s failed (%s); counting in the database for now",
                        type(self.storage).__name__,
                        exc,
                    )
                self._primary_down_until = self.monotonic() + REDIS_RETRY_SECONDS
            else:
                if self._primary_down_until:
                    log.warning("rate limits: %s is back", type(self.storage).__name__)
                self._primary_down_until = 0.0
                return result
        return work(self._fallback_strategy)


_PLAIN_KEY = re.compile(r"^[\x21-\x7e]{0,80}$", re.ASCII)


def _storable(key: str) -> str:
    # Keys may come from a stranger (a user name): NUL, controls or length would make the
    # storage refuse them (PostgreSQL text, the key column's 255), so such keys are hashed.
    if _PLAIN_KEY.match(key):
        return key
    return "h-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def init_limiter(app: Flask) -> None:
    """Give the app its limiter: Redis when COMMENTSVC_REDIS_URL is set, else the database.

    Counters in the database read the app's clock (app.extensions["clock"]), as the rest of the
    domain does; with Redis, the database is the fallback while Redis does not answer.
    """

    def now() -> float:
        return app.extensions["clock"]().replace(tzinfo=UTC).timestamp()

    with app.app_context():
        database = SQLStorage(db.engine, clock=now)
    url = app.config["REDIS_URL"]
    if url:
        redis = storage_from_string(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        app.extensions["limiter"] = Limiter(redis, fallback=database)
    else:
        app.extensions["limiter"] = Limiter(database)
