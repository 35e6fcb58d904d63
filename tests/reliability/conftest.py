"""Private PostgreSQL and Redis servers a test may stop and start (never the machine's)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import reserve_port

pytestmark = pytest.mark.slow


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a reserved port of 127.0.0.1, trust authentication."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.reservation = reserve_port()
        self.port = self.reservation.port
        self.dir = Path(tempfile.mkdtemp(prefix="commentsvc-pg-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as the postgres user
            shutil.chown(self.dir, "postgres", "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run(
            "initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-D", str(self.dir / "data")
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "log"),
            "-o",
            options,
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.dir / "data"))

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)
        self.reservation.close()


@pytest.fixture
def private_postgres():
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("needs the PostgreSQL server binaries (initdb, pg_ctl) to run a private one")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root needs runuser to start PostgreSQL as the postgres user")
    server = PrivatePostgres(bin_dir)
    server.start()
    yield server
    server.close()


class PrivateRedis:
    """A redis-server of this test's own on a reserved port, without persistence."""

    def __init__(self, binary: str):
        self.binary = binary
        self.reservation = reserve_port()
        self.port = self.reservation.port
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the private redis-server did not answer")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)

    def close(self) -> None:
        self.stop()
        self.reservation.close()


@pytest.fixture
def private_redis():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs redis-server to run a private Redis it may stop")
    server = PrivateRedis(binary)
    server.start()
    yield server
    server.close()
