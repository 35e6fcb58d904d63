"""Serving with gunicorn, each worker building its own app after the fork."""

from __future__ import annotations

import re

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

# Gunicorn's default without %(h)s (the client's address), %(l)s and %(u)s.
ACCESS_LOG_FORMAT = '%(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
# Headers in which proxies pass the client's address on.
_ADDRESS_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded", "true-client-ip")
_IP_IN_MESSAGE = re.compile(r"\bip=\S+?(?=:? )")


class PrivateLogger(Logger):
    """Gunicorn's logger without raw client addresses, in the access log and the error log."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        # Even an access_log_format given by hand gets no address out of the log.
        atoms["h"] = "-"
        for header in _ADDRESS_HEADERS:
            atoms.pop(f"{{{header}}}i", None)
        return atoms

    def warning(self, msg, *args, **kwargs):
        # "Invalid request from ip=...": the worker formats the address into the message.
        if isinstance(msg, str):
            msg = _IP_IN_MESSAGE.sub("ip=-", msg)
        super().warning(msg, *args, **kwargs)


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Called in each worker: no database connection crosses a fork.
        from commentsvc import create_app
        from commentsvc import queue

        app = create_app()
        if app.config["QUEUE_IN_WEB"]:
            queue.start_background(app)
        return app


def run_gunicorn(host: str, port: int, workers: int, **hooks: object) -> None:
    """Serve the app on host:port with that many worker processes, until stopped; hooks are
    gunicorn's server hooks (when_ready runs once the port is bound)."""
    _Gunicorn({**gunicorn_options(host, port, workers), **hooks}).run()


def gunicorn_options(host: str, port: int, workers: int) -> dict:
    """Return the gunicorn settings commentsvc is served with (the benchmark reuses them)."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": PrivateLogger,
        # Several services (and test runs) on one host must not share one control socket.
        "control_socket_disable": True,
    }
