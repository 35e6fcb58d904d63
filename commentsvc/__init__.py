"""commentsvc: comments, pingbacks and Webmentions for any website."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask.sessions import SessionInterface
from flask_compress import Compress
from werkzeug.middleware.proxy_fix import ProxyFix

from commentsvc.answers import init_answers
from commentsvc.config import check_database_url
from commentsvc.config import default_database_url
from commentsvc.config import instance_secret_key
from commentsvc.config import load_settings
from commentsvc.db import init_db
from commentsvc.errors import register_error_handlers
from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.models import utcnow
from commentsvc.ratelimit import init_limiter

__version__ = "0.1.0"

log = logging.getLogger(__name__)

COMPRESSED_TYPES = [
    "text/javascript",
    "application/javascript",
    "text/css",
    "application/json",
    "text/html",
    "image/svg+xml",
    "application/atom+xml",
]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application from settings (see commentsvc.config) and the given overrides."""
    settings = load_settings(overrides=config)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"] or None,
        static_folder=None,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings["SECRET_KEY"] or instance_secret_key(
        Path(app.instance_path)
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(
        settings["DATABASE_URL"]
    ) or default_database_url(Path(app.instance_path))
    check_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_BODY_BYTES"]
    # A pooled connection is tested before use: after a database restart, requests get fresh
    # connections instead of the dead ones. A SQLite file has no server to lose, and the test
    # would be one more statement on every request.
    server = not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": server})

    app.json.sort_keys = False
    # Admin sessions live in the database (admins.py): no Flask session is opened per request.
    app.session_interface = NoSessions()
    app.extensions["clock"] = utcnow
    init_db(app)
    init_limiter(app)
    app.config["COMPRESS_MIMETYPES"] = COMPRESSED_TYPES
    app.config["COMPRESS_ALGORITHM"] = ["gzip", "deflate"]
    Compress(app)
    init_answers(app, __version__)

    app.extensions["fetcher"] = Fetcher(
        user_agent=f"commentsvc/{__version__} (+{settings['PUBLIC_URL'] or 'self-hosted'})",
        allow_loopback=settings["FETCH_ALLOW_PRIVATE"],
        deadline=max(1, settings["FETCH_TIMEOUT"]),
    )

    from commentsvc import admin
    from commentsvc import api
    from commentsvc import auth
    from commentsvc import comments
    from commentsvc import fediverse
    from commentsvc import fields
    from commentsvc import fragments
    from commentsvc import notify
    from commentsvc import pages
    from commentsvc import photos
    from commentsvc import queue
    from commentsvc import reader
    from commentsvc import readers
    from commentsvc import titles
    from commentsvc.linkbacks import jobs as linkback_jobs
    from commentsvc.linkbacks import web as linkbacks

    # Every kind of queued work, known to the web and the worker processes alike.
    queue.register(
        app,
        [
            notify.mail_owner,
            notify.mail_reply,
            notify.send_webhook,
            linkback_jobs.run_webmention,
            photos.run_fetch_photo,
            titles.run_fetch_title,
            comments.erase_copy,
            fediverse.run_fetch_post,
            readers.mail_data_link,
        ],
    )
    mailer = notify.SMTPMailer(settings["SMTP_URL"]) if settings["SMTP_URL"] else None
    app.extensions["mailer"] = mailer
    app.extensions["notifier"] = notify.Notifier(
        public_url=settings["PUBLIC_URL"].rstrip("/"),
        mailer=mailer,
        sender=notify.default_sender(settings["MAIL_FROM"], settings["PUBLIC_URL"]),
        secret=app.config["SECRET_KEY"],
    )
    if notify.mail_warning(settings):
        log.warning("%s", notify.mail_warning(settings))
    app.jinja_env.filters["paragraphs"] = notify.html_text
    fragments.init_fragments(app)
    # Ids in routes are ASCII digits: Werkzeug's own int also matches '٣' and other scripts.
    app.url_map.converters["int"] = fields.DecimalConverter
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(linkbacks.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(reader.bp)
    register_error_handlers(app)
    # Outermost first: the proxy's headers are read before a 304 is answered ahead of Flask.
    app.wsgi_app = api.EarlyReads(app, app.wsgi_app)
    if settings["PROXY_COUNT"]:
        count = settings["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    return app


class NoSessions(SessionInterface):
    """Flask's session, never used here: not read from cookies, not signed, not saved."""

    def open_session(self, app: Flask, request: Any) -> None:
        """Open nothing: Flask then gives the request its null session."""
        return None

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        """Save nothing."""


def database_url(url: str) -> str:
    """Return the URL with the psycopg 3 driver named for plain postgres URLs."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url
