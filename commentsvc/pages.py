"""The service's own pages: the health check, the widget's files and the demo blog."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request

from commentsvc import notify
from commentsvc.db import db
from commentsvc.db import ping
from commentsvc.db import write_transaction
from commentsvc.errors import ServiceError
from commentsvc.models import Comment

try:
    import brotli  # flask-compress's own dependency: served to browsers that take it
except ImportError:  # pragma: no cover - gzip alone then
    brotli = None

bp = Blueprint("pages", __name__)

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_PAGES = {
    "second-post": "demo/second.html",
    "index": "demo/index.html",
}


def static_dir() -> Path:
    """Return the widget's folder: inside the package when installed, beside it in a checkout."""
    packaged = PACKAGE_DIR / "static"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "static"


@bp.get("/healthz")
def healthz():
    """Answer ok once the database answers, 503 otherwise."""
    if ping():
        return jsonify(status="ok")
    error = {"code": "database_unavailable", "message": "The database does not answer."}
    return jsonify(status="unavailable", error=error), 503


# An hour: a new widget reaches readers soon after an upgrade; ETags make re-checks cheap.
WIDGET_MAX_AGE = 3600
LANGUAGE = re.compile(r"^[a-z]{2}$")


@bp.get("/embed.js")
def embed_js():
    """Serve the widget's script."""
    return _widget_file("embed.js")


@bp.get("/embed.css")
def embed_css():
    """Serve the widget's stylesheet."""
    return _widget_file("embed.css")


@bp.get("/i18n/<lang>.json")
def translation(lang: str):
    """Serve the widget's words in one language."""
    if not LANGUAGE.match(lang):
        abort(404)
    return _widget_file(f"i18n/{lang}.json")


def _widget_file(name: str):
    path = static_dir() / name
    try:
        kept = _widget_file_packed(path)
    except (FileNotFoundError, NotADirectoryError):
        abort(404)
    encoding = request.accept_encodings.best_match(list(kept.bodies)[1:])
    response = Response(kept.bodies[encoding], mimetype=mimetypes.guess_type(name)[0])
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    response.set_etag(f"{kept.digest}:{encoding}" if encoding else kept.digest)
    response.cache_control.public = True
    response.cache_control.max_age = WIDGET_MAX_AGE
    # Any page may load the widget's files, fetch() of the translations included.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


@dataclass(frozen=True)
class PackedFile:
    """A widget file as served: its bytes by content coding (None: as is), and their digest."""

    stamp: tuple[int, int]
    digest: str
    bodies: dict[str | None, bytes]


_packed: dict[Path, PackedFile] = {}


def _widget_file_packed(path: Path) -> PackedFile:
    """Return the file compressed once (again only when its modification time or size changes),
    not on every request: the widget is the most requested file of the service."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    kept = _packed.get(path)
    if kept is None or kept.stamp != stamp:
        data = path.read_bytes()
        bodies: dict[str | None, bytes] = {None: data}
        if brotli is not None:
            bodies["br"] = brotli.compress(data, quality=11)
        bodies["gzip"] = gzip.compress(data, compresslevel=9, mtime=0)
        digest = hashlib.sha256(data).hexdigest()[:32]
        kept = _packed[path] = PackedFile(stamp, digest, bodies)
    return kept


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """Stop reply mails for a comment: GET asks to confirm, POST (or one-click) does it."""
    try:
        comment = notify.check_unsubscribe_token(current_app.config["SECRET_KEY"], token)
    except ServiceError:
        abort(404)
    if request.method == "POST":
        with write_transaction():
            comment = db.session.get(Comment, comment.id)
            comment.notify = False
        return render_template("unsubscribe.html", done=True)
    return render_template("unsubscribe.html", done=False)


@bp.get("/")
def home():
    """Serve the demo blog post (with COMMENTSVC_DEMO on) or a short landing page."""
    if current_app.config["DEMO"]:
        return render_template("demo/post.html", **_widget_options())
    return render_template("landing.html")


@bp.get("/demo/<name>")
def demo_page(name: str):
    """Serve the demo blog's other pages."""
    template = DEMO_PAGES.get(name)
    if not current_app.config["DEMO"] or template is None:
        abort(404)
    return render_template(template, **_widget_options())


def _widget_options() -> dict[str, str]:
    """Return the widget options a demo visitor asked for: ?lang=de, ?theme=dark."""
    lang = request.args.get("lang", "")
    theme = request.args.get("theme", "")
    return {
        "lang": lang if LANGUAGE.match(lang) else "",
        "theme": theme if theme in ("light", "dark") else "",
    }
