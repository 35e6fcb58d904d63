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

from commentsvc import __version__
from commentsvc import api
from commentsvc import comments
from commentsvc import feeds
from commentsvc import notify
from commentsvc import readers
from commentsvc import shapes
from commentsvc import sites
from commentsvc.db import db
from commentsvc.db import ping
from commentsvc.db import write_transaction
from commentsvc.errors import ServiceError
from commentsvc.errors import ValidationError
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


ATOM = "application/atom+xml"


@bp.get("/feed.atom")
def feed():
    """The Atom feed of a site's latest published comments, or of one thread (with uri)."""
    query = shapes.parse(
        shapes.FeedQuery, {"site": request.args.get("site"), "uri": request.args.get("uri")}
    )
    name, uri = query.site, query.uri
    public_url = current_app.config["PUBLIC_URL"]
    if uri is None:
        version = feeds.site_version(name)
        if version is None:
            raise ValidationError(f"There is no site called {name!r}.", field="site")
        key = api.answers().key("site-feed", *vars(version).values(), public_url)
        return api.cached_answer(key, lambda: _site_feed(name), version, mimetype=ATOM)
    state = api._read_state(name, [uri], None)
    thread = state.threads.get(uri, (0, 0))
    key = api.answers().key("feed", state.site_id, state.site_version, *thread, uri, public_url)
    return api.cached_answer(key, lambda: _thread_feed(name, uri), state, mimetype=ATOM)


def _site_feed(name: str) -> bytes:
    site = sites.get_site(name)
    public_url = current_app.config["PUBLIC_URL"]
    return feeds.site_feed(site, public_url=public_url, generator=__version__)


def _thread_feed(name: str, uri: str) -> bytes:
    site = sites.get_site(name)
    thread = comments.get_thread(site, uri)
    public_url = current_app.config["PUBLIC_URL"]
    return feeds.thread_feed(site, thread, uri, public_url=public_url, generator=__version__)


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


# --- a reader's own data, behind the link mailed to them ---------------------------------------

READER_HEADERS = {
    # The page's address is the reader's credential: no Referer takes it to another site.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def _reader_page(status: int = 200, **context) -> Response:
    response = Response(render_template("reader.html", **context), status)
    response.headers.update(READER_HEADERS)
    return response


def _reader(token: str):
    clock = current_app.extensions["clock"]
    return readers.check_link(current_app.config["SECRET_KEY"], token, clock())


@bp.get("/me/<token>")
def reader_data(token: str):
    """A reader's comments on a site, with a download and an erase button."""
    try:
        site, email = _reader(token)
    except ServiceError as error:
        return _reader_page(error.status, error=error.message)
    return _reader_page(
        site=site,
        comments=readers.reader_comments(site, email),
        comment_url=notify.comment_url,
        csrf=readers.erase_token(current_app.config["SECRET_KEY"], token),
        token=token,
    )


@bp.get("/me/<token>/comments.json")
def reader_download(token: str):
    """Everything stored with the reader's address on the site, as JSON."""
    site, email = _reader(token)
    now = current_app.extensions["clock"]()
    response = jsonify(readers.export_reader(site, email, now))
    response.headers.update(READER_HEADERS)
    response.headers["Content-Disposition"] = f'attachment; filename="comments-{site.name}.json"'
    return response


@bp.post("/me/<token>/erase")
def reader_erase(token: str):
    """Erase the reader's comments on the site (a form with its CSRF token, from this service)."""
    if not _same_origin():
        return _reader_page(403, error="This form can only be sent from its own page.")
    try:
        site, email = _reader(token)
        readers.check_erase_token(
            current_app.config["SECRET_KEY"], token, request.form.get("csrf", "")
        )
    except ServiceError as error:
        return _reader_page(error.status, error=error.message)
    done = readers.erase_reader(site, email, actor="reader", now=current_app.extensions["clock"]())
    return _reader_page(site=site, erased=done)


def _same_origin() -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if origin == "null":
        # The page sends no Referer, so browsers name no origin either: Sec-Fetch-Site must.
        return fetch_site == "same-origin"
    public = current_app.config["PUBLIC_URL"].rstrip("/")
    if origin is not None and origin not in {request.host_url.rstrip("/"), public}:
        return False
    return (fetch_site or "same-origin") in ("same-origin", "none")


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
