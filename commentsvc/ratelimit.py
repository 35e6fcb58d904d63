"""Rate-limit counters shared by every worker: in Redis when configured, else in the database."""

from __future__ import annotations

import hashlib
import random
import re
import time

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

    def __init__(self, engine: Engine, **options):
        super().__init__(None, **options)
        self.engine = engine

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
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
                {"key": key, "now": time.time()},
            ).scalar()
        return count or 0

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            expires = conn.execute(
                text("SELECT expires_at FROM rate_counters WHERE key = :key"), {"key": key}
            ).scalar()
        return expires if expires and expires > time.time() else time.time()

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
    """Fixed-window limits over one shared storage; hit() answers the seconds to wait, or 0."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)

    def hit(self, limit: str | RateLimitItem, *keys: str) -> int:
        """Count one hit; return 0 when allowed, else the seconds until the window resets."""
        item = parse(limit) if isinstance(limit, str) else limit
        keys = tuple(_storable(key) for key in keys)
        if self.strategy.hit(item, *keys):
            return 0
        reset_at, _remaining = self.strategy.get_window_stats(item, *keys)
        return max(1, int(reset_at - time.time() + 0.999))

    def wait(self, limit: str | RateLimitItem, *keys: str) -> int:
        """Return the seconds until the limit allows a hit again (0: now), counting none."""
        item = parse(limit) if isinstance(limit, str) else limit
        keys = tuple(_storable(key) for key in keys)
        if self.strategy.test(item, *keys):
            return 0
        reset_at, _remaining = self.strategy.get_window_stats(item, *keys)
        return max(1, int(reset_at - time.time() + 0.999))

    def count(self, limit: str | RateLimitItem, *keys: str) -> int:
        """Return the hits the window holds now."""
        item = parse(limit) if isinstance(limit, str) else limit
        return self.storage.get(item.key_for(*(_storable(key) for key in keys)))

    def clear(self, limit: str | RateLimitItem, *keys: str) -> None:
        """Forget the window's hits."""
        item = parse(limit) if isinstance(limit, str) else limit
        self.storage.clear(item.key_for(*(_storable(key) for key in keys)))

    def seen(self, limit: str | RateLimitItem, *keys: str) -> bool:
        """Return True when the window holds at least one hit (without counting one)."""
        item = parse(limit) if isinstance(limit, str) else limit
        return self.storage.get(item.key_for(*(_storable(key) for key in keys))) > 0


_PLAIN_KEY = re.compile(r"^[\x21-\x7e]{0,80}$", re.ASCII)


def _storable(key: str) -> str:
    # Keys may come from a stranger (a user name): NUL, controls or length would make the
    # storage refuse them (PostgreSQL text, the key column's 255), so such keys are hashed.
    if _PLAIN_KEY.match(key):
        return key
    return "h-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def init_limiter(app: Flask) -> None:
    """Give the app its limiter: Redis when COMMENTSVC_REDIS_URL is set, else the database."""
    url = app.config["REDIS_URL"]
    if url:
        storage = storage_from_string(url)
    else:
        with app.app_context():
            storage = SQLStorage(db.engine)
    app.extensions["limiter"] = Limiter(storage)
