"""The service's own pages: the health check, the widget's files and the demo blog."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import send_from_directory

from commentsvc.db import ping

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


@bp.get("/embed.js")
def embed_js():
    """Serve the widget's script."""
    return send_from_directory(static_dir(), "embed.js", max_age=3600)


@bp.get("/embed.css")
def embed_css():
    """Serve the widget's stylesheet."""
    return send_from_directory(static_dir(), "embed.css", max_age=3600)


@bp.get("/")
def home():
    """Serve the demo blog post (with COMMENTSVC_DEMO on) or a short landing page."""
    if current_app.config["DEMO"]:
        return render_template("demo/post.html")
    return render_template("landing.html")


@bp.get("/demo/<name>")
def demo_page(name: str):
    """Serve the demo blog's other pages."""
    template = DEMO_PAGES.get(name)
    if not current_app.config["DEMO"] or template is None:
        abort(404)
    return render_template(template)
