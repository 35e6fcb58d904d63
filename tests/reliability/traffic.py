"""Client threads posting comments to a live server, keeping what was acknowledged."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter

import requests

ACKNOWLEDGED = (201, 202)


class Traffic:
    """Threads that post without pause; acked maps each acknowledged id to its text."""

    def __init__(self, url: str, threads: int = 4, forwarded: bool = False):
        self.url = url
        self.threads = threads
        self.forwarded = forwarded  # a new X-Forwarded-For each post (behind PROXY_COUNT=1)
        self.acked: dict[int, str] = {}
        self.statuses: Counter = Counter()
        self.retry_after: set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.counter = itertools.count(1)
        self.workers: list[threading.Thread] = []

    def start(self) -> Traffic:
        for n in range(self.threads):
            worker = threading.Thread(target=self._post_loop, args=(n,), daemon=True)
            worker.start()
            self.workers.append(worker)
        return self

    def _post_loop(self, thread: int) -> None:
        session = requests.Session()
        while not self.stopping.is_set():
            n = next(self.counter)
            text = f"post {n} from client {thread}"
            headers = {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}
            try:
                response = session.post(
                    self.url + "/api/comments",
                    json={"site": "blog", "uri": f"/post/{thread}", "text": text},
                    headers=headers if self.forwarded else {},
                    timeout=10,
                )
            except requests.RequestException:
                with self.lock:
                    self.statuses["no answer"] += 1
                session = requests.Session()
                time.sleep(0.05)
                continue
            with self.lock:
                self.statuses[response.status_code] += 1
                if response.status_code in ACKNOWLEDGED:
                    self.acked[response.json()["id"]] = text
                elif response.status_code == 503:
                    self.retry_after.add(response.headers.get("Retry-After", ""))
            if response.status_code not in ACKNOWLEDGED:
                time.sleep(0.05)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def wait_for(self, more: int, what: str, timeout: float = 60) -> None:
        """Wait until `more` posts beyond those acknowledged so far are acknowledged."""
        target = self.count() + more
        wait_until(lambda: self.count() >= target, f"{what}: {dict(self.statuses)}", timeout)

    def stop(self) -> None:
        self.stopping.set()
        for worker in self.workers:
            worker.join(timeout=30)


class Reads:
    """Threads that read a thread (now and then asking whether it changed) and the counts."""

    def __init__(self, url: str, threads: int = 2):
        self.url = url
        self.threads = threads
        self.statuses: Counter = Counter()
        self.answered_in_a_row = 0  # reads answered (200, 304) since the last one that was not
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.workers: list[threading.Thread] = []

    def start(self) -> Reads:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._read_loop, daemon=True)
            worker.start()
            self.workers.append(worker)
        return self

    def _read_loop(self) -> None:
        session = requests.Session()
        thread = self.url + "/api/comments?site=blog&uri=/post/0"
        counts = self.url + "/api/counts?site=blog&uri=/post/0&uri=/post/1"
        etag = ""
        for n in itertools.count():
            if self.stopping.is_set():
                return
            url, headers = (counts, {}) if n % 3 == 2 else (thread, {"If-None-Match": etag})
            try:
                response = session.get(url, headers=headers, timeout=10)
            except requests.RequestException:
                response = None
            status = response.status_code if response is not None else "no answer"
            with self.lock:
                self.statuses[status] += 1
                self.answered_in_a_row = self.answered_in_a_row + 1 if status in (200, 304) else 0
            if response is None:
                session = requests.Session()
            elif url == thread and response.status_code == 200:
                etag = response.headers["ETag"]
            time.sleep(0.01)

    def count(self, status: int) -> int:
        with self.lock:
            return self.statuses[status]

    def in_a_row(self) -> int:
        with self.lock:
            return self.answered_in_a_row

    def stop(self) -> None:
        self.stopping.set()
        for worker in self.workers:
            worker.join(timeout=30)


def wait_until(condition, what: str, timeout: float = 60) -> None:
    """Poll condition until true; fail naming what did not happen (a bound, not a measure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"did not happen within {timeout} s: {what}")
