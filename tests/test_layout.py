"""tests/ mirrors the package (STYLE.md rule 11): a maintainer finds a module's tests by its name.

commentsvc/foo.py is tested in tests/test_foo.py, commentsvc/pkg/bar.py in tests/pkg/test_bar.py.
Suites that are not about one module (test_api, test_live, interop/, reliability/ ...) are allowed
beside them; only the one direction is checked: every module has its file.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "commentsvc"
TESTS = Path(__file__).resolve().parent
NOT_MODULES = {"__init__.py", "__main__.py"}


def modules(package: Path) -> list[Path]:
    """Every module of the package, relative to it; migrations are Alembic's, not ours."""
    return sorted(
        path.relative_to(package)
        for path in package.rglob("*.py")
        if path.name not in NOT_MODULES and "migrations" not in path.relative_to(package).parts
    )


def mirrored_test(module: Path) -> Path:
    return TESTS / module.parent / f"test_{module.name}"


def test_every_module_has_a_test_file_of_its_name():
    missing = [str(module) for module in modules(PACKAGE) if not mirrored_test(module).exists()]
    assert missing == [], f"modules without tests/<path>/test_<name>.py: {missing}"


def test_every_test_folder_is_a_package():
    """`from tests.importers.imports import ...` needs each folder of tests/ to be a package."""
    folders = {mirrored_test(module).parent for module in modules(PACKAGE)}
    assert [str(f) for f in sorted(folders) if not (f / "__init__.py").exists()] == []


def test_the_walk_finds_modules_in_subpackages():
    found = modules(PACKAGE)
    assert Path("sanitize.py") in found and Path("linkbacks/fetch.py") in found
    assert not [m for m in found if m.name in NOT_MODULES or m.parts[0] == "migrations"]
