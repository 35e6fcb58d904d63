"""Settings: defaults, then a TOML file, then COMMENTSVC_* variables, then the caller's."""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PREFIX = "COMMENTSVC_"

# Every setting, its default and its meaning; the README's table is written from this one.
DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": "",  # empty: sqlite:///<instance>/comments.db
    "SECRET_KEY": "",  # empty: generated once into <instance>/secret_key
    "PUBLIC_URL": "",  # the service's own URL, for links in mail, feeds and Location headers
    "REDIS_URL": "",  # optional: shared rate limits through Redis instead of the database
    "SMTP_URL": "",  # e.g. smtp://user:pass@mail.example.org:587 (STARTTLS) or smtps://...
    "NOTIFY_EMAIL": "",  # where the owner's notifications go when a site names no owner
    "MAIL_FROM": "",  # the sender of notifications; empty: commentsvc@<PUBLIC_URL's host>
    "FETCH_ALLOW_PRIVATE": False,  # let linkback verification fetch private/loopback addresses
    "FETCH_TIMEOUT": 10,  # seconds for a whole linkback verification fetch, redirects included
    "QUEUE_IN_WEB": True,  # web workers run queued jobs; off when `commentsvc worker` does
    "GUARD": True,  # rate limits, flood window, time trap; moderation rules stay on regardless
    "DEMO": False,  # serve the demo blog pages at /
    "PROXY_COUNT": 0,  # reverse proxies in front whose X-Forwarded-* headers are trusted
    "MAX_BODY_BYTES": 64 * 1024,  # larger request bodies get 413
    "MAX_TEXT_LENGTH": 10_000,  # a comment's text, in code points
    "ANSWER_CACHE_BYTES": 32 * 1024 * 1024,  # finished thread answers kept per process
    "INSTANCE_PATH": "",  # empty: Flask's instance folder
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting has a value that cannot be used."""


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Merge defaults, the COMMENTSVC_CONFIG file, COMMENTSVC_* variables and overrides."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    config_file = environ.get(PREFIX + "CONFIG")
    if config_file:
        settings.update(_read_toml(Path(config_file)))
    for key in DEFAULTS:
        if PREFIX + key in environ:
            settings[key] = _coerce(key, environ[PREFIX + key])
    for key, value in (overrides or {}).items():
        settings[key.upper()] = _coerce(key.upper(), value) if key.upper() in DEFAULTS else value
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    settings = {}
    for key, value in data.items():
        name = key.upper()
        if name not in DEFAULTS:
            raise ConfigError(f"config file {path}: unknown setting {key!r}")
        settings[name] = _coerce(name, value)
    return settings


def _coerce(key: str, value: Any) -> Any:
    default = DEFAULTS[key]
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{PREFIX}{key} must be on or off, not {value!r}")
    if isinstance(default, int):
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{PREFIX}{key} must be a whole number, not {value!r}") from None
        if number < 0:
            raise ConfigError(f"{PREFIX}{key} must not be negative")
        return number
    if not isinstance(value, str):
        raise ConfigError(f"{PREFIX}{key} must be text, not {value!r}")
    return value.strip()


def instance_secret_key(instance_path: Path) -> str:
    """Return the instance folder's secret key, creating it on first start."""
    path = instance_path / "secret_key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    # Written aside, then linked into place: when several workers start at once, the first
    # link wins and every worker reads that one key, never a half-written file.
    tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text(encoding="ascii").strip()


def default_database_url(instance_path: Path) -> str:
    """Return the embedded default: an SQLite file in the instance folder."""
    return f"sqlite:///{instance_path / 'comments.db'}"


def check_database_url(url: str, setting: str = PREFIX + "DATABASE_URL") -> None:
    """Check that a database URL names a driver that is known and installed.

    :raise ConfigError: naming the setting and what is wrong, in one line.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    from sqlalchemy.exc import NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"{setting} is not a database URL (expected e.g. "
            "postgresql+psycopg://user@host/db or sqlite:////path/comments.db)"
        ) from None
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise ConfigError(
            f"{setting} names an unknown database driver {parsed.drivername!r} "
            "(use postgresql+psycopg://... or sqlite:///...)"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ConfigError(
            f"{setting} needs the Python package {exc.name or parsed.drivername!r}, which is "
            "not installed (for PostgreSQL: pip install 'commentsvc[postgres]')"
        ) from None


def _detail(exc: Exception) -> str:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return reason[0] if reason else type(exc).__name__


def _no_tables(detail: str) -> bool:
    return "no such table" in detail or ("relation" in detail and "does not exist" in detail)


def is_setup_error(exc: Exception) -> bool:
    """Return whether a database error means it cannot be reached or has no schema yet."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"OperationalError", "InterfaceError"}) or _no_tables(_detail(exc))


def database_error(exc: Exception, setting: str = PREFIX + "DATABASE_URL") -> str:
    """Return one line for a database that cannot be reached or used, naming the setting."""
    detail = _detail(exc)
    if _no_tables(detail):
        return f"{setting}: the database has no tables yet ({detail}); run `commentsvc db upgrade`"
    if type(exc).__name__ == "OperationalError":
        return f"{setting}: cannot connect to the database ({detail})"
    return f"{setting}: the database cannot be used ({detail})"
