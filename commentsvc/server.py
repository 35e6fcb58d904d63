"""Serving with gunicorn, each worker building its own app after the fork."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


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


def run_gunicorn(host: str, port: int, workers: int) -> None:
    """Serve the app on host:port with that many worker processes, until stopped."""
    _Gunicorn(gunicorn_options(host, port, workers)).run()


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
        # Several services (and test runs) on one host must not share one control socket.
        "control_socket_disable": True,
    }
