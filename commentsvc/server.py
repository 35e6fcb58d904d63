"""Serving with gunicorn, each worker building its own app after the fork."""

from __future__ import annotations

import socket
from collections.abc import Callable

from gunicorn.app.base import BaseApplication


class PortBusy(Exception):
    """The address cannot be listened on (taken, or not ours to bind)."""


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


def check_port(host: str, port: int) -> None:
    """Check that host:port can be listened on now, as gunicorn will (SO_REUSEADDR).

    :raise PortBusy: with the system's reason, when it cannot.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortBusy(f"unknown host: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PortBusy(exc.strerror or str(exc)) from None


def run_gunicorn(
    host: str, port: int, workers: int, ready: Callable[[str], None] | None = None
) -> None:
    """Serve the app on host:port with that many worker processes, until stopped; call
    ready with the bound address once gunicorn listens."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def when_ready(server) -> None:
        if ready is not None:
            ready(bind)

    _Gunicorn(
        {
            "bind": bind,
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 60,
            "graceful_timeout": 20,
            "accesslog": "-",
            # Several services (and test runs) on one host must not share one control socket.
            "control_socket_disable": True,
            "when_ready": when_ready,
        }
    ).run()
