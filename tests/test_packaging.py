"""The built wheel carries the widget, the templates and the migrations, and serves them."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_serves_the_widget_and_migrates(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            # No package index at test time: the build backend (hatchling, in the test extra)
            # is the one installed here, and nothing else is fetched.
            "--no-index",
            "--no-build-isolation",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("commentsvc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "commentsvc/static/embed.js",
        "commentsvc/static/embed.css",
        "commentsvc/migrations/env.py",
        "commentsvc/migrations/versions/0001_first_tables.py",
        "commentsvc/templates/demo/post.html",
    ):
        assert needed in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # Run from the unpacked wheel alone (the checkout is not on the path): migrate and serve.
    script = f"""
import sys
sys.path.insert(0, {str(unpacked)!r})
import commentsvc
assert commentsvc.__file__.startswith({str(unpacked)!r}), commentsvc.__file__
from flask_migrate import upgrade
app = commentsvc.create_app({{"INSTANCE_PATH": {str(tmp_path / "instance")!r}}})
with app.app_context():
    upgrade(directory=app.extensions["migrate"].directory)
client = app.test_client()
assert client.get("/healthz").json == {{"status": "ok"}}
with client.get("/embed.js") as response:
    assert response.status_code == 200 and b"commentsvc" in response.data
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
