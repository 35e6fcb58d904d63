"""Load benchmark: commentsvc (SQLite, and PostgreSQL when given), Isso 0.14 and a constant-body
Flask app, all under gunicorn with the same workers, driven in turn on 127.0.0.1.

    make bench                                   # 5 s per case, 2 workers, 8 connections
    .venv/bin/python -m bench.run --seconds 10 --postgres postgresql+psycopg://.../db
    .venv/bin/python -m bench.run --postgres ''          # SQLite only
    .venv/bin/python -m bench.run --no-isso      # without installing Isso
    .venv/bin/python -m bench.run --no-isso --postgres '' --big 0 --cases post,counts

commentsvc runs on SQLite and on the PostgreSQL at 127.0.0.1:5432 (database commentsvc_bench,
created if missing, its schema dropped at each run; left out with a note when no server answers).
Each service is seeded through its own API with the same thread: 200 comments of which 100 are
replies. commentsvc also gets a thread of 10,000 comments (its first page is measured) and 20
pages for the counts. The load comes from wrk (Debian's `wrk` package) when it is installed, else
from a small Python client (slower: it is then the client that limits the numbers). Each case
is driven in 3 runs (--runs) and the median run kept; a run in which one worker took every
connection (gunicorn's workers race to accept them) is driven again. Isso 0.14 is installed by
pip into bench/.venv-isso the first time. The table (requests/s, p50, p99, ratios to the
constant-body app and to Isso, the workers' resident memory) is printed and written as JSON
under bench/results/. Nothing leaves 127.0.0.1 but pip's download of Isso.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ISSO_VENV = HERE / ".venv-isso"
RESULTS = HERE / "results"
THREAD, BIG, POSTS = "/thread", "/big", "/posts"
COUNT_URIS = [f"/p/{n}" for n in range(20)]
CASES = {
    "thread": "GET thread (200 comments)",
    "thread_304": "GET thread, If-None-Match (304)",
    "big_page": "GET first page (50) of a 10,000-comment thread",
    "counts": "GET counts (20 uris)",
    "post": "POST comment",
    "embed": "GET embed.js (gzip)",
    "thread_html": "GET thread as HTML (/api/comments.html)",
    "feed": "GET thread's Atom feed (/feed.atom)",
}
# Read routes measured when the service has them (other branches add them).
OPTIONAL_READS = {
    "thread_html": f"/api/comments.html?site=bench&uri={THREAD}",
    "feed": f"/feed.atom?site=bench&uri={THREAD}",
}
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/commentsvc_bench"
TEXT = (
    "A comment of a usual length: a sentence or two about the post, with *a little* Markdown, "
    "and a [link](https://example.org/) now and then, so that the thread weighs what threads do."
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server stopped")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{url}: the server did not start")


def workers_of(master: int) -> list[Path]:
    """Return the /proc folders of a gunicorn master's children (its workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(master):
            found.append(stat.parent)
    return sorted(found)


def worker_memory(master: int) -> float:
    """Return the resident memory of a gunicorn master's workers, in MB."""
    total = 0
    for worker in workers_of(master):
        try:
            status = (worker / "status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(found.group(1)) if found else 0
    return round(total / 1024, 1)


def connections_per_worker(master: int, port: int) -> list[int]:
    """Return how many established connections to port each worker of a master holds."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                established.add(f"socket:[{fields[9]}]")
    counts = []
    for worker in workers_of(master):
        held = 0
        try:
            descriptors = list((worker / "fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                held += os.readlink(descriptor) in established
            except OSError:
                continue
        counts.append(held)
    return counts


# --- services -------------------------------------------------------------------------------------


class Service:
    name = ""
    url = ""
    process: subprocess.Popen

    log = None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.log:
            self.log.close()
            print(f"{self.name}: server log in {self.log.name}", file=sys.stderr)

    def memory(self) -> float:
        return worker_memory(self.process.pid)

    def spread(self) -> list[int]:
        """Return how many of the load's connections each worker holds."""
        return connections_per_worker(self.process.pid, int(self.url.rsplit(":", 1)[1]))


class Commentsvc(Service):
    def __init__(self, name: str, workers: int, database_url: str = ""):
        self.name = name
        self.instance = Path(tempfile.mkdtemp(prefix="commentsvc-bench-"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMMENTSVC_")} | {
            "COMMENTSVC_INSTANCE_PATH": str(self.instance),
            "COMMENTSVC_GUARD": "off",
        }
        if database_url:
            env["COMMENTSVC_DATABASE_URL"] = database_url
            _empty_postgres(database_url)
        command = [sys.executable, "-m", "commentsvc"]
        subprocess.run([*command, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            # Every comment published at once, as in Isso's configuration below (the default,
            # first-time, would hold every comment of the run: an empty thread measured).
            [*command, "site", "add", "bench", "--url", self.url, "--moderation", "none"],
            env=env,
            check=True,
            capture_output=True,
        )
        # The server's log stays in its instance folder, to read when a run goes wrong.
        self.log = open(self.instance / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self.url + "/healthz", self.process)

    def post(self, session, uri: str, text: str, parent=None) -> int:
        body = {"site": "bench", "uri": uri, "text": text, "author": "Reader", "parent": parent}
        answer = session.post(self.url + "/api/comments", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()["id"]

    def requests(self) -> dict[str, dict]:
        thread = f"{self.url}/api/comments?site=bench&uri={THREAD}"
        etag = requests.get(thread, timeout=30).headers["ETag"]
        counts = f"{self.url}/api/counts?site=bench&" + "&".join(f"uri={u}" for u in COUNT_URIS)
        return {
            "thread": {"url": thread},
            "thread_304": {"url": thread, "headers": {"If-None-Match": etag}},
            "big_page": {"url": f"{self.url}/api/comments?site=bench&uri={BIG}&limit=50"},
            "counts": {"url": counts},
            "post": {
                "url": self.url + "/api/comments",
                "method": "POST",
                "body": f'{{"site":"bench","uri":"{POSTS}","text":"post %d"}}',
            },
            "embed": {"url": self.url + "/embed.js", "headers": {"Accept-Encoding": "gzip"}},
        } | {
            case: {"url": self.url + path, "headers": {"Accept-Encoding": "gzip"}}
            for case, path in OPTIONAL_READS.items()
            if requests.get(self.url + path, timeout=30).status_code == 200
        }

    def stored(self, uri: str) -> int:
        answer = requests.get(f"{self.url}/api/counts?site=bench&uri={uri}", timeout=30)
        return answer.json()["counts"][uri]


def postgres_ready(url: str) -> str:
    """Return why the PostgreSQL at url cannot be used (creating its database if missing)."""
    from sqlalchemy import create_engine
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            ).first()
            if not found:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    except SQLAlchemyError as error:
        return str(error).splitlines()[0]
    finally:
        server.dispose()
    return ""


def _empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy import text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


class Isso(Service):
    name = "Isso 0.14"

    def __init__(self, workers: int):
        if not (ISSO_VENV / "bin" / "gunicorn").exists():
            subprocess.run([sys.executable, "-m", "venv", str(ISSO_VENV)], check=True)
            subprocess.run(
                [str(ISSO_VENV / "bin" / "pip"), "install", "-q", "isso==0.14.*", "gunicorn"],
                check=True,
            )
        folder = Path(tempfile.mkdtemp(prefix="isso-bench-"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = folder / "isso.cfg"
        config.write_text(
            f"[general]\ndbpath = {folder / 'comments.db'}\nhost = {self.url}/\n"
            f"[moderation]\nenabled = false\n[guard]\nenabled = false\n"
            f"[server]\nlisten = {self.url}/\n"
        )
        self.process = subprocess.Popen(
            [
                str(ISSO_VENV / "bin" / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "isso.run",
            ],
            env={**os.environ, "ISSO_SETTINGS": str(config)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.url + "/info", self.process)

    def post(self, session, uri: str, text: str, parent=None) -> int:
        body = {"text": text, "author": "Reader", "parent": parent, "title": "A post"}
        answer = session.post(f"{self.url}/new?uri={uri}", json=body, timeout=30)
        # Isso sets an edit cookie per comment: kept, they grow the headers past its limit.
        session.cookies.clear()
        answer.raise_for_status()
        return answer.json()["id"]

    def requests(self) -> dict[str, dict]:
        return {
            "thread": {"url": f"{self.url}/?uri={THREAD}"},
            "counts": {
                "url": f"{self.url}/count",
                "method": "POST",
                "body": json.dumps(COUNT_URIS),
            },
            "post": {
                "url": f"{self.url}/new?uri={POSTS}",
                "method": "POST",
                "body": '{"text":"post %d","title":"A post"}',
            },
            "embed": {"url": self.url + "/js/embed.min.js", "headers": {"Accept-Encoding": "gzip"}},
        }

    def stored(self, uri: str) -> int:
        return requests.post(f"{self.url}/count", json=[uri], timeout=30).json()[0]


class Constant(Service):
    name = "constant-body Flask app"

    def __init__(self, workers: int, body: bytes):
        folder = Path(tempfile.mkdtemp(prefix="constant-bench-"))
        (folder / "body.json").write_bytes(body)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.constant",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--body",
                str(folder / "body.json"),
            ],
            cwd=HERE.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.url + "/", self.process)

    def requests(self) -> dict[str, dict]:
        return {"thread": {"url": self.url + "/"}}


def seed(service, big: int) -> None:
    """Post the same threads to a service through its own API."""
    rng = random.Random(7)
    with requests.Session() as session:
        roots = [service.post(session, THREAD, f"{TEXT} ({n})") for n in range(100)]
        for n in range(100):
            service.post(session, THREAD, f"{TEXT} (reply {n})", parent=rng.choice(roots))
        for n, uri in enumerate(COUNT_URIS):
            for k in range(n % 3 + 1):
                service.post(session, uri, f"On {uri}, {k}.")
    if big:
        local = threading.local()

        def one(n: int) -> None:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            service.post(local.session, BIG, f"{TEXT} (big {n})")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(big)))


# --- load ---------------------------------------------------------------------------------------

# Each run seeds Lua's generator afresh: a run that posted the same texts as the one before
# would measure the duplicate check's 409s.
_WRK_SCRIPT = """
math.randomseed(%d)
local counter = 0
local method, body_format = "%s", %s
local headers = {%s}
request = function()
  counter = counter + 1
  local body = nil
  if body_format then
    body = string.format(body_format, counter * 1000 + math.random(0, 999) + (id or 0) * 100000000)
  end
  return wrk.format(method, nil, headers, body)
end
setup = function(thread)
  thread:set("id", math.random(1, 9999))
end
"""


def drive(request: dict, seconds: float, connections: int) -> dict:
    """Load one request for a while; return requests/s, p50 and p99 (ms) and the errors."""
    if shutil.which("wrk"):
        return _wrk(request, seconds, connections)
    return _python_client(request, seconds, connections)


def _wrk(request: dict, seconds: float, connections: int) -> dict:
    headers = dict(request.get("headers", {}))
    body = request.get("body")
    if body is not None:
        headers["Content-Type"] = "application/json"
    lua_headers = ", ".join(f'["{k}"] = {json.dumps(v)}' for k, v in headers.items())
    script = _WRK_SCRIPT % (
        random.randrange(2**31),
        request.get("method", "GET"),
        json.dumps(body) if body is not None else "nil",
        lua_headers,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    threads = min(2, connections)
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            handle.name,
            request["url"],
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(handle.name).unlink()

    def millis(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not found:
            return 0.0
        value, unit = float(found.group(1)), found.group(2)
        return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 2)

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": round(float(rate.group(1)) if rate else 0.0),
        "p50": millis("50"),
        "p99": millis("99"),
        "requests": int(total.group(1)) if total else 0,
        "errors": int(errors.group(1)) if errors else 0,
    }


def _python_client(request: dict, seconds: float, connections: int) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    run = random.randrange(10**6) * 10**9  # the texts posted differ from one run to the next

    def client(number: int) -> None:
        nonlocal errors
        session = requests.Session()
        count = 0
        while time.monotonic() < deadline:
            body = request.get("body")
            data = (body % (run + number * 1_000_000 + count)).encode() if body else None
            headers = dict(request.get("headers", {}))
            if data:
                headers["Content-Type"] = "application/json"
            started = time.perf_counter()
            status = session.request(
                request.get("method", "GET"), request["url"], data=data, headers=headers
            ).status_code
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors += status >= 400
            count += 1
        session.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()

    def quantile(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)

    return {
        "rps": round(len(latencies) / seconds),
        "p50": quantile(0.5) if latencies else 0.0,
        "p99": quantile(0.99) if latencies else 0.0,
        "requests": len(latencies),
        "errors": errors,
    }


def balanced_run(service, request: dict, seconds: float, connections: int, log) -> dict:
    """Drive one run in which every worker holds some of the connections.

    gunicorn's workers race to accept, and with a few keep-alive connections opened at once one
    worker sometimes takes them all: the run then measures one worker of two. Such a run is
    driven again (up to 5 times; the last is kept, with its spread, if none shares). Its
    requests and errors count every try's (each try's posts are stored)."""
    requests_made = errors = 0
    for _ in range(5):
        with ThreadPoolExecutor(1) as pool:
            # Looked at a second in, once wrk's connections are all open.
            spread = pool.submit(lambda: time.sleep(min(1.0, seconds / 2)) or service.spread())
            result = drive(request, seconds, connections)
            seen = result["spread"] = spread.result()
        requests_made += result["requests"]
        errors += result["errors"]
        if len(seen) < 2 or connections < len(seen) or min(seen) > 0:
            break
        log(f"    {service.name}: connections per worker {seen}; driven again")
    return result | {"requests": requests_made, "errors": errors}


def measure(service, load: argparse.Namespace, log: Callable[[str], None], only: set[str]) -> dict:
    """Drive every case the service has (those in only, when given) in runs runs, keeping the
    median run's figures; check that no POST was lost."""
    results = {"memory_mb": 0.0, "cases": {}}
    for case, request in service.requests().items():
        if only and case not in only and not service.name.startswith("constant"):
            continue
        before = service.stored(POSTS) if case == "post" else 0
        done = [
            balanced_run(service, request, load.seconds, load.connections, log)
            for _ in range(load.runs)
        ]
        result = sorted(done, key=lambda run: run["rps"])[len(done) // 2] | {
            "runs": [run["rps"] for run in done],
            "requests": sum(run["requests"] for run in done),
            "errors": sum(run["errors"] for run in done),
        }
        if case == "post":
            time.sleep(0.5)
            stored = service.stored(POSTS) - before
            result["stored"] = stored
            result["lost"] = max(0, result["requests"] - result["errors"] - stored)
        results["cases"][case] = result
        log(f"  {service.name}: {CASES[case]}: {result}")
    results["memory_mb"] = service.memory()
    return results


def table(results: dict) -> str:
    """Return the results as a Markdown table with the ratios to the ceiling and to Isso."""
    ceiling = results.get("constant-body Flask app", {}).get("cases", {}).get("thread", {})
    isso = results.get("Isso 0.14", {}).get("cases", {})
    lines = [
        "| service | what | requests/s | p50 ms | p99 ms | vs constant app | vs Isso |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, found in results.items():
        for case, result in found["cases"].items():
            what = (
                "GET constant body (same bytes as the thread)"
                if name.startswith("constant")
                else CASES[case]
            )
            vs_ceiling = (
                f"{result['rps'] / ceiling['rps']:.0%}"
                if ceiling.get("rps") and not name.startswith("constant")
                else ""
            )
            vs_isso = (
                f"{result['rps'] / isso[case]['rps']:.1f}x"
                if case in isso
                and isso[case].get("rps")
                and name not in ("Isso 0.14", "constant-body Flask app")
                else ""
            )
            extra = f" ({result['lost']} lost)" if "lost" in result else ""
            extra += f" ({result['errors']:,} errors)" if result.get("errors") else ""
            lines.append(
                f"| {name} | {what}{extra} | {result['rps']:,} | {result['p50']} | "
                f"{result['p99']} | {vs_ceiling} | {vs_isso} |"
            )
        lines.append(f"| {name} | workers' resident memory | {found['memory_mb']} MB | | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3, help="runs per case; the median is kept")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("COMMENTSVC_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL database to benchmark on too, created if missing; its schema is "
        f"DROPPED (default {DEFAULT_POSTGRES}; --postgres '' leaves PostgreSQL out)",
    )
    parser.add_argument("--big", type=int, default=10_000, help="comments in the big thread")
    parser.add_argument("--isso", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--cases", default="", help=f"only these cases, comma-separated: {', '.join(CASES)}"
    )
    args = parser.parse_args()
    only = set(filter(None, args.cases.split(",")))
    if only - set(CASES):
        parser.error(f"--cases: unknown {', '.join(sorted(only - set(CASES)))}")
    CASES["big_page"] = f"GET first page (50) of a {args.big:,}-comment thread"
    # Stopped from outside, still stop the servers started (the finally clauses below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    driver = "wrk" if shutil.which("wrk") else "Python client (install wrk for real numbers)"
    log(f"driver: {driver}; {args.workers} workers, {args.connections} connections")
    results: dict[str, dict] = {}
    body = b""
    targets = [("commentsvc (SQLite)", "")]
    if args.postgres:
        why = postgres_ready(args.postgres)
        if why:
            log(f"PostgreSQL left out ({args.postgres}): {why}")
        else:
            targets.append(("commentsvc (PostgreSQL)", args.postgres))
    for name, database_url in targets:
        service = Commentsvc(name, args.workers, database_url)
        try:
            log(f"seeding {name}")
            seed(service, big=args.big)
            time.sleep(5)  # the background work the seeding started (title fetches) ends first
            body = body or requests.get(service.requests()["thread"]["url"], timeout=30).content
            results[name] = measure(service, args, log, only)
        finally:
            service.stop()
    if args.isso:
        try:
            service = Isso(args.workers)
        except (subprocess.CalledProcessError, SystemExit, requests.RequestException) as error:
            log(f"Isso left out: {error}")
        else:
            try:
                log("seeding Isso")
                seed(service, big=0)
                results[service.name] = measure(service, args, log, only)
            except requests.RequestException as error:
                log(f"Isso left out: {error}")
            finally:
                service.stop()
    constant = Constant(args.workers, body)
    try:
        results[constant.name] = measure(constant, args, log, only)
    finally:
        constant.stop()
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": sys.platform},
        "driver": driver,
        "workers": args.workers,
        "connections": args.connections,
        "seconds": args.seconds,
        "runs": args.runs,
        "thread_bytes": len(body),
        "big_thread": args.big,
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{report['when'].replace(':', '')}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(results))
    print(f"\n(written to {out.relative_to(HERE.parent)})")


if __name__ == "__main__":
    main()
