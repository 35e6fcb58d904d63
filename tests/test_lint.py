"""The JavaScript lint and format check of `make lint`, so that `make test` catches it too."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT_DIR

BIOME = ROOT_DIR / ".venv" / "npm" / "node_modules" / ".bin" / "biome"


@pytest.mark.skipif(
    not BIOME.exists(),
    reason="biome is not installed (needs npm; `make test` installs it into .venv/npm)"
    if shutil.which("npm")
    else "npm is not installed, so biome cannot be: the JavaScript is not linted",
)
def test_the_javascript_passes_biome_lint_and_format():
    result = subprocess.run(
        [str(BIOME), "ci", "--colors=off"],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
