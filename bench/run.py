"""Load benchmark: serve commentsvc with gunicorn on 127.0.0.1 and measure it.

    make bench                      # or: .venv/bin/python -m bench.run --seconds 10 --workers 4

Uses a fresh SQLite database in a temporary instance folder (or COMMENTSVC_DATABASE_URL when set),
seeds a thread of 200 comments, then runs each scenario for a fixed time with a fixed number of
concurrent clients and prints requests per second and latency percentiles. Bounded in time and
count; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workers: int) -> tuple[subprocess.Popen, str, Path]:
    instance = Path(tempfile.mkdtemp(prefix="commentsvc-bench-"))
    port = free_port()
    env = {**os.environ, "COMMENTSVC_INSTANCE_PATH": str(instance), "COMMENTSVC_GUARD": "off"}
    subprocess.run(
        [sys.executable, "-m", "commentsvc", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "commentsvc",
            "site",
            "add",
            "bench",
            "--url",
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "commentsvc",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return server, url, instance
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def run(name: str, seconds: float, clients: int, request: Callable[[requests.Session, int], int]):
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        nonlocal errors
        session = requests.Session()
        count = 0
        while time.monotonic() < deadline and count < 1_000_000:
            started = time.perf_counter()
            status = request(session, number * 1_000_000 + count)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors += status >= 400
            count += 1
        session.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    quantile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(
        f"{name:<28} {len(latencies) / seconds:>9.0f} req/s   p50 {quantile(0.5):6.1f} ms   "
        f"p95 {quantile(0.95):6.1f} ms   p99 {quantile(0.99):6.1f} ms   errors {errors}"
    )
    return statistics.mean(latencies) if latencies else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    server, url, _instance = start_server(args.workers)
    try:
        with requests.Session() as seed:
            for n in range(200):
                seed.post(
                    url + "/api/comments",
                    json={"site": "bench", "uri": "/big", "text": f"seed {n}"},
                )
        uris = [f"/post/{n}" for n in range(50)]
        print(
            f"commentsvc {args.workers} workers, {args.clients} clients, {args.seconds:.0f} s each "
            f"({os.environ.get('COMMENTSVC_DATABASE_URL', 'SQLite')})"
        )
        run(
            "GET thread (200 comments)",
            args.seconds,
            args.clients,
            lambda s, n: (
                s.get(url + "/api/comments", params={"site": "bench", "uri": "/big"}).status_code
            ),
        )
        run(
            "GET counts (50 pages)",
            args.seconds,
            args.clients,
            lambda s, n: (
                s.get(url + "/api/counts", params={"site": "bench", "uri": uris}).status_code
            ),
        )
        run(
            "POST comment",
            args.seconds,
            args.clients,
            lambda s, n: (
                s.post(
                    url + "/api/comments",
                    json={"site": "bench", "uri": f"/post/{n % 50}", "text": f"c {n}"},
                ).status_code
            ),
        )
        run(
            "POST like",
            args.seconds,
            args.clients,
            lambda s, n: (
                s.post(url + "/api/likes", json={"site": "bench", "uri": "/big"}).status_code
            ),
        )
        run(
            "GET embed.js",
            args.seconds,
            args.clients,
            lambda s, n: s.get(url + "/embed.js", headers={"Accept-Encoding": "gzip"}).status_code,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
