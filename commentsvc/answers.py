"""Finished answers (serialised JSON and its gzip) kept by a key that carries the versions
they were built from: in process memory, bounded, and in Redis when one is configured."""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

GZIP_MIN_BYTES = 500
REDIS_TTL = 3600


class MemoryCache:
    """A least-recently-used map of bytes, bounded by the total size of its values."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """Return the value kept for key, or None."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        """Keep value for key, forgetting the least recently used values beyond the bound."""
        if len(value) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._items[key] = value
            self.size += len(value)
            while self.size > self.max_bytes:
                _key, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)


class Answers:
    """Serialised answers by key: memory first, then Redis (shared by workers and hosts)."""

    def __init__(self, namespace: str, max_bytes: int, redis: Any = None):
        self.namespace = namespace
        self.memory = MemoryCache(max_bytes)
        self.redis = redis

    def key(self, *parts: Any) -> str:
        """Return a short key for the parts (versions, the request's options) of an answer."""
        text = "\x00".join(str(p) for p in (self.namespace, *parts))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def body(self, key: str, build: Callable[[], bytes]) -> bytes:
        """Return the answer kept for key, building (and keeping) it when nobody has."""
        body = self.memory.get(key)
        if body is not None:
            return body
        body = self._redis_get(key)
        if body is None:
            body = build()
            self._redis_set(key, body)
        self.memory.set(key, body)
        return body

    def gzipped(self, key: str, body: bytes) -> bytes | None:
        """Return the answer gzipped (made once per process), or None when too small."""
        if len(body) < GZIP_MIN_BYTES:
            return None
        gz_key = key + ":gzip"
        packed = self.memory.get(gz_key)
        if packed is None:
            packed = gzip.compress(body, compresslevel=6, mtime=0)
            self.memory.set(gz_key, packed)
        return packed

    def _redis_get(self, key: str) -> bytes | None:
        if self.redis is None:
            return None
        try:
            return self.redis.get("commentsvc:answer:" + key)
        except Exception as error:  # noqa: BLE001 - a cache that fails is a cache miss
            log.warning("answer cache: Redis read failed: %s", error)
            return None

    def _redis_set(self, key: str, body: bytes) -> None:
        if self.redis is None:
            return
        try:
            self.redis.set("commentsvc:answer:" + key, body, ex=REDIS_TTL)
        except Exception as error:  # noqa: BLE001 - a cache that fails is a cache miss
            log.warning("answer cache: Redis write failed: %s", error)


def init_answers(app, version: str) -> None:
    """Give the app its answer cache; the namespace changes with the code and the secret."""
    secret_tag = hashlib.sha256(app.config["SECRET_KEY"].encode()).hexdigest()[:12]
    redis = None
    if app.config["REDIS_URL"]:
        import redis as redis_client

        redis = redis_client.Redis.from_url(
            app.config["REDIS_URL"], socket_timeout=0.5, socket_connect_timeout=0.5
        )
    app.extensions["answers"] = Answers(
        f"{version}:{secret_tag}", app.config["ANSWER_CACHE_BYTES"], redis
    )
