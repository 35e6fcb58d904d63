"""The ceiling: a Flask app answering a constant body, under the same gunicorn as commentsvc.

python -m bench.constant --port 8000 --workers 2 --body answer.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flask import Flask
from flask import Response

from commentsvc.server import _Gunicorn
from commentsvc.server import gunicorn_options


def make_app(body: bytes) -> Flask:
    """Return an app that answers every GET of / with body, as JSON."""
    app = Flask(__name__)

    @app.get("/")
    def constant():
        return Response(body, mimetype="application/json")

    return app


class _Constant(_Gunicorn):
    def __init__(self, options: dict, body: bytes):
        self.body = body
        super().__init__(options)

    def load(self):
        return make_app(self.body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--body", type=Path, required=True)
    args = parser.parse_args()
    options = gunicorn_options("127.0.0.1", args.port, args.workers)
    _Constant(options, args.body.read_bytes()).run()


if __name__ == "__main__":
    main()
