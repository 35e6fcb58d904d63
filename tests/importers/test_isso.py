"""Importing from Isso (commentsvc.importers.isso): a database a real Isso wrote."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Thread
from tests.conftest import add_site
from tests.conftest import free_port
from tests.importers.imports import check_threads
from tests.importers.imports import comment_by

ROOT = Path(__file__).resolve().parents[2]
ISSO_VENV = ROOT / "bench" / ".venv-isso"


class Isso:
    """Isso 0.14 from bench/.venv-isso (make test installs it), serving on 127.0.0.1."""

    def __init__(self, folder: Path, *, moderation: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / f"isso-{self.port}.cfg"
        config.write_text(
            f"[general]\ndbpath = {folder / 'comments.db'}\nhost = {self.url}/\n"
            f"[moderation]\nenabled = {'true' if moderation else 'false'}\n"
            f"[guard]\nenabled = false\n[server]\nlisten = {self.url}/\n"
            "trusted-proxies = 127.0.0.1\n"
        )
        self.log = (folder / f"isso-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [str(ISSO_VENV / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "isso.run"],
            env={**os.environ, "ISSO_SETTINGS": str(config)},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/info", timeout=5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        pytest.fail("Isso did not start")

    def post(self, uri, text, **fields):
        answer = requests.post(
            f"{self.url}/new",
            params={"uri": uri},
            json={"text": text, "title": f"Title of {uri}", **fields},
            timeout=10,
        )
        assert answer.status_code in (201, 202), answer.text
        return answer.json()["id"], answer.cookies

    def like(self, comment_id, voter):
        answer = requests.post(
            f"{self.url}/id/{comment_id}/like", headers={"X-Forwarded-For": voter}, timeout=10
        )
        assert answer.ok, answer.text

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)
        self.log.close()


needs_isso = pytest.mark.skipif(
    not all((ISSO_VENV / "bin" / name).exists() for name in ("isso", "gunicorn")),
    reason="Isso 0.14 is not installed in bench/.venv-isso (make test installs it with pip; "
    "it could not here)",
)


@needs_isso
def test_a_database_written_by_isso_imports_whole(app, cli, client, tmp_path):
    folder = tmp_path / "isso"
    folder.mkdir()
    isso = Isso(folder, moderation=False)
    try:
        first, cookies = isso.post(
            "/posts/a/",
            "Hello **world** <script>alert(1)</script>",
            author="Ann",
            email="ann@example.org",
            website="https://ann.example.org",
            notification=1,
        )
        reply, _ = isso.post("/posts/a/", "A reply", author="Bob", parent=first)
        isso.post("/posts/a/", "Deeper", author="Cy", parent=reply)
        doomed, doomed_cookies = isso.post("/posts/b/", "Regretted", author="Di")
        isso.post("/posts/b/", "Reply to the regretted one", parent=doomed)
        for voter in ("10.0.1.1", "10.0.2.1", "10.0.3.1"):
            isso.like(first, voter)
        # Deleting a comment with replies keeps it as a placeholder (mode 4).
        gone = requests.delete(f"{isso.url}/id/{doomed}", cookies=doomed_cookies, timeout=10)
        assert gone.ok, gone.text
    finally:
        isso.stop()
    isso = Isso(folder, moderation=True)
    try:
        isso.post("/posts/b/", "Waiting for the owner", author="Ed")
    finally:
        isso.stop()

    add_site(app)
    database = folder / "comments.db"
    result = cli("import", "isso", str(database), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 6 into 2 page(s): 6 comment(s) (4 approved, 1 deleted, 1 pending); "
        "0 were there already"
    )
    ann = comment_by(app, author="Ann")
    assert ann.text == "Hello **world** <script>alert(1)</script>"
    assert "<strong>world</strong>" in ann.html and "<script>" not in ann.html
    assert ann.likes == 3 and ann.notify is True and ann.email == "ann@example.org"
    assert ann.website == "https://ann.example.org" and ann.imported_from == "isso"
    assert comment_by(app, author="Bob").parent_id == ann.id
    deeper = comment_by(app, author="Cy")
    # Isso itself hangs a reply to a reply under the top-level comment (one level deep).
    assert deeper.parent_id == ann.id and deeper.root_id == ann.id
    assert comment_by(app, author="Ed").status == "pending"
    with app.app_context():
        assert db.session.scalar(select(Thread.title).where(Thread.uri == "/posts/a/")) == (
            "Title of /posts/a/"
        )
    check_threads(app)
    thread = client.get("/api/comments", query_string={"site": "blog", "uri": "/posts/b/"})
    placeholder = thread.get_json()["comments"][0]
    assert placeholder["replies"] and placeholder["html"] == ""

    again = cli("import", "isso", str(database), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 6 were there already" in again.output
