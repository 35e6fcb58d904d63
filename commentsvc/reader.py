"""The thread as a page of its own, with a plain HTML form: for readers without JavaScript.

The form posts to the service's own origin (the JSON API refuses forms: 415), guarded by a
double-submit CSRF token, the honeypot and the time trap, and goes through the same domain call
as POST /api/comments: the same moderation, spam rules and rate limits.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from commentsvc import api
from commentsvc import comments
from commentsvc import fields
from commentsvc import fragments
from commentsvc import shapes
from commentsvc import sites
from commentsvc import spam
from commentsvc import tokens
from commentsvc.errors import RateLimited
from commentsvc.errors import ServiceError
from commentsvc.errors import ValidationError
from commentsvc.models import Site

bp = Blueprint("reader", __name__, url_prefix="/t")

CSRF_COOKIE = "csvc_form"
OWN_LIFETIME = timedelta(days=2)
FORM_FIELDS = ("text", "author", "email", "website")
CSP = (
    "default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class CsrfFailed(ServiceError):
    status = 403
    code = "forbidden"


@bp.get("/<site_name>")
def thread_page(site_name: str):
    """The thread, and a form that posts without JavaScript."""
    site, uri = _thread_of(site_name, request.args.get("uri"))
    return _page(site, uri, parent=_parent(request.args.get("parent")), values={})


@bp.post("/<site_name>")
def post_comment(site_name: str):
    """A comment from the plain form: back to the thread with it, or to the form with errors."""
    site, uri = _thread_of(site_name, request.form.get("uri"))
    values = {name: request.form.get(name, "") for name in (*FORM_FIELDS, "notify")}
    parent = _parent(request.form.get("parent"))
    try:
        _check_csrf()
        data = {
            **{name: values[name] for name in FORM_FIELDS},
            "parent": parent,
            "notify": bool(values["notify"]),
            "homepage": request.form.get("homepage", ""),
            "form_token": request.form.get("form_token", ""),
        }
        new = shapes.parse(shapes.NewComment, {**data, "site": site.name, "uri": uri}, api.limits())
        comment, _token = comments.post_comment(
            site,
            uri,
            new.comment_input(),
            address=api.client_address(),
            now=api.now(),
            guard=api.guard(),
        )
    except ServiceError as error:
        return _page(site, uri, parent=parent, values=values, error=error)
    own = tokens.dump_expiring(_secret(), tokens.OWN, comment.id, api.now() + OWN_LIFETIME)
    target = url_for(".thread_page", site_name=site.name, uri=uri, own=own)
    return redirect(f"{target}#csvc-comment-{comment.id}", 303)


def _thread_of(site_name: str, uri: Any) -> tuple[Site, str]:
    site = sites.find_site(site_name)
    if site is None:
        raise _NoThread(f"There is no site called {site_name!r}.")
    try:
        return site, comments.parse_uri(uri)
    except ValidationError as error:
        raise _NoThread(error.message) from None


def _parent(value: str | None) -> int | None:
    if not value:
        return None
    return fields.parse_decimal(value, minimum=1, maximum=comments.MAX_ID)


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _check_csrf() -> None:
    # Browsers say where a post comes from; the cookie's nonce, signed in the form, is the rest.
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        raise CsrfFailed("This form can only be sent from this page.")
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise CsrfFailed("This form can only be sent from this page.")
    nonce = request.cookies.get(CSRF_COOKIE, "")
    try:
        [signed] = tokens.load(_secret(), tokens.READER_FORM, request.form.get("csrf"), length=1)
    except tokens.BadToken:
        signed = ""
    if not nonce or not hmac.compare_digest(str(signed).encode(), nonce.encode()):
        raise CsrfFailed("The form was out of date: please send it again.")


def _own_comment(token: str | None, site: Site, uri: str) -> dict | None:
    """Return the held comment a reader posted, by the token of their redirect, or None."""
    if not token:
        return None
    try:
        comment_id = tokens.load_expiring(_secret(), tokens.OWN, token, now=api.now())
        comment = comments.find_comment(tokens.whole_number(comment_id))
    except tokens.BadToken:
        return None
    if comment is None:
        return None
    if comment.thread.site_id != site.id or comment.thread.uri != uri:
        return None
    if comment.status == "deleted":
        return None
    return api.comment_json(comment, site)


def _page(
    site: Site,
    uri: str,
    *,
    parent: int | None,
    values: dict[str, str],
    error: ServiceError | None = None,
) -> Response:
    words = fragments.Words(fragments.pick_language(request.args.get("lang")))
    page = comments.list_thread(site, uri, limit=comments.MAX_PAGE, cursor=_cursor())
    view = fragments.thread_view([api.comment_json(n.comment, site, n.replies) for n in page.nodes])
    own = _own_comment(request.args.get("own"), site, uri)
    if own is not None and own["status"] == "pending":
        fragments.add_own(view, own)
    replying_to = _replying_to(parent, site, uri)
    nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(16)
    style_nonce = secrets.token_urlsafe(16)
    summary = fragments.page_summary(page, "oldest", bool(current_app.config["SMTP_URL"]))
    body = render_template(
        "thread/page.html",
        site=site,
        uri=uri,
        page=summary,
        view=view,
        w=words,
        page_url=fragments.page_url(site, uri),
        own=own,
        values=values,
        error=error,
        field_error=_field_of(error),
        error_words=_error_words(words, error),
        replying_to=replying_to,
        csrf=tokens.dump(_secret(), tokens.READER_FORM, [nonce]),
        form_token=spam.make_form_token(_secret(), site.name, uri, api.now()),
        style_nonce=style_nonce,
        theme=_theme(request.args.get("theme")),
        reply_url=lambda cid: url_for(
            ".thread_page", site_name=site.name, uri=uri, parent=cid, _anchor="csvc-form"
        ),
        more_url=url_for(".thread_page", site_name=site.name, uri=uri, cursor=page.next_cursor)
        if page.next_cursor
        else None,
    )
    status = error.status if error else 200
    response = Response(body, status=status, mimetype="text/html")
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    response.headers["Content-Security-Policy"] = CSP.format(nonce=style_nonce)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The own-comment token in the address stays on this service.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        path="/t",
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )
    return response


def _theme(value: str | None) -> str:
    # The service's own page has no host to match: the reader's system, unless asked.
    return value if value in fragments.THEMES else "auto"


def _cursor() -> str | None:
    cursor = request.args.get("cursor")
    try:
        comments.parse_page("oldest", cursor)
    except ServiceError:
        return None
    return cursor


def _replying_to(parent: int | None, site: Site, uri: str) -> dict | None:
    if parent is None:
        return None
    comment = comments.find_comment(parent)
    if comment is None or comment.status != "approved" or comment.thread.site_id != site.id:
        return None
    if comment.thread.uri != uri:
        return None
    return {"id": comment.id, "author": comment.author}


def _field_of(error: ServiceError | None) -> str | None:
    if error is None or error.field not in FORM_FIELDS:
        return None
    return error.field


def _error_words(words: fragments.Words, error: ServiceError | None) -> str:
    if error is None:
        return ""
    retry = error.retry_after if isinstance(error, RateLimited) else 10
    return words.error(error.code, error.field, error.message, retry)


class _NoThread(ServiceError):
    status = 404
    code = "not_found"


@bp.errorhandler(_NoThread)
def no_thread(error: _NoThread):
    """Answer a page for a site or uri that is not there, in HTML like the rest of /t."""
    return render_template("thread/missing.html", message=error.message), 404
