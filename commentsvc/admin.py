"""The moderation pages (server-rendered HTML) for the admins made with `commentsvc admin add`."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import quote
from urllib.parse import urlencode

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from commentsvc import admins
from commentsvc import comments
from commentsvc import exports
from commentsvc import fediverse
from commentsvc import fields
from commentsvc import identities
from commentsvc import moderation
from commentsvc import notify
from commentsvc import queue as job_queue
from commentsvc import readers
from commentsvc import sites
from commentsvc import spam
from commentsvc import titles
from commentsvc import tokens
from commentsvc.comments import UNDO_WINDOW
from commentsvc.errors import Forbidden
from commentsvc.errors import ServiceError
from commentsvc.errors import ValidationError
from commentsvc.fields import NAME_RULE
from commentsvc.linkbacks import receive
from commentsvc.linkbacks.jobs import app_context
from commentsvc.models import ANONYMOUS_POLICIES
from commentsvc.models import BAN_KINDS
from commentsvc.models import KINDS
from commentsvc.models import MODERATION_POLICIES
from commentsvc.models import STATUSES
from commentsvc.pages import static_dir

bp = Blueprint("admin", __name__, url_prefix="/admin")

SESSION_COOKIE = "csvc_admin"
LOGIN_COOKIE = "csvc_login"
# Set on a successful login: the browser an admin logged in from is not slowed by failures
# that others cause for the account (see admins.login_wait).
DEVICE_COOKIE = "csvc_device"
DEVICE_LIFETIME = 90 * 86400
# Pages that carry their own credential: the login form, and the signed links in mail.
PUBLIC_ENDPOINTS = {"admin.login", "admin.asset", "admin.mail_action"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def now():
    return current_app.extensions["clock"]()


def actor() -> str:
    return f"admin:{g.admin.username}"


# --- sessions, CSRF and headers -------------------------------------------------------------------


@bp.before_request
def require_admin():
    g.session = admins.find_session(request.cookies.get(SESSION_COOKIE), now())
    g.admin = g.session.admin if g.session else None
    if request.method == "POST":
        _check_same_origin()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if g.session is None:
        if request.method != "GET":
            abort(403)
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if request.method == "POST" and not _token_matches(g.session.csrf):
        abort(403)
    return None


def _check_same_origin() -> None:
    # Browsers say where a request comes from; anything from another site is refused outright.
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        abort(403)
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        abort(403)


def _token_matches(expected: str) -> bool:
    given = request.form.get("csrf", "")
    # As bytes: compare_digest refuses non-ASCII text with a TypeError (a 500).
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "admin.asset":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {
        "csrf_token": lambda: g.session.csrf if g.get("session") else "",
        "undo_offer": _undo_offer,
        "status_actions": moderation.status_actions,
        "no_admins": lambda: not admins.list_admins(),
        "mail_warning": notify.mail_warning(current_app.config),
    }


def _set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )


def handle_errors(view):
    """Show a domain error on the page it came from, instead of a JSON error."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except ServiceError as error:
            return render_template("admin/error.html", error=error), error.status

    return wrapper


# --- logging in and out ---------------------------------------------------------------------------


def _login_token(nonce: str) -> str:
    # Double submit: the form's token is the login cookie's nonce, signed (see tokens.py).
    return tokens.dump(current_app.config["SECRET_KEY"], tokens.ADMIN_LOGIN, [nonce])


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in; the same answer for an unknown name and a wrong password."""
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    error, status = "", 200
    if request.method == "POST":
        if not request.cookies.get(LOGIN_COOKIE) or not _token_matches(_login_token(nonce)):
            abort(403)
        username = request.form.get("username", "").strip().lower()[:64]
        limiter = current_app.extensions["limiter"]
        address = spam.address_hash(current_app.config["SECRET_KEY"], request.remote_addr or "")
        trusted = _device_user() == username
        wait = admins.login_wait(limiter, address, username, trusted=trusted)
        if wait:
            error, status = f"Too many attempts. Try again in {wait} seconds.", 429
        else:
            admin = admins.check_login(username, request.form.get("password", ""))
            if admin is not None:
                admins.login_succeeded(limiter, address, username)
                token, _csrf = admins.start_session(admin, now())
                response = redirect(_safe_next(request.args.get("next")))
                _set_cookie(response, SESSION_COOKIE, token)
                _set_cookie(response, DEVICE_COOKIE, _device_token(username), DEVICE_LIFETIME)
                response.delete_cookie(LOGIN_COOKIE, path="/admin")
                return response
            admins.login_failed(limiter, address, username, trusted=trusted)
            error, status = "Wrong username or password.", 401
    response = Response(
        render_template("admin/login.html", error=error, login_csrf=_login_token(nonce)), status
    )
    if status == 429:
        response.headers["Retry-After"] = str(wait)
    _set_cookie(response, LOGIN_COOKIE, nonce, max_age=3600)
    return response


def _device_token(username: str) -> str:
    expires = now() + timedelta(seconds=DEVICE_LIFETIME)
    return tokens.dump_expiring(
        current_app.config["SECRET_KEY"], tokens.ADMIN_DEVICE, username, expires
    )


def _device_user() -> str | None:
    """Return the admin this browser logged in as before (a signed cookie), if any."""
    token = request.cookies.get(DEVICE_COOKIE, "")
    if not token:
        return None
    try:
        username = tokens.load_expiring(
            current_app.config["SECRET_KEY"], tokens.ADMIN_DEVICE, token, now=now()
        )
    except tokens.BadToken:
        return None
    return username if isinstance(username, str) else None


def _safe_next(target: str | None) -> str:
    return fields.local_path(target, "/admin") or url_for("admin.queue")


@bp.post("/logout")
def logout():
    """End the session for good: its cookie is refused from now on."""
    admins.end_session(request.cookies.get(SESSION_COOKIE))
    response = redirect(url_for("admin.login"))
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


# --- the queue and the comments -------------------------------------------------------------------


@bp.get("/")
def queue():
    """Everything held, across all sites, newest first, with why it was held."""
    held = moderation.held_comments()
    return render_template(
        "admin/queue.html", comments=held, mentions=_mentions(held), done=request.args.get("done")
    )


@bp.get("/comments")
@handle_errors
def all_comments():
    """All comments: filter by site, thread, status and kind; search text, author and email."""
    filters = moderation.Filters(
        site=request.args.get("site", ""),
        uri=request.args.get("uri", ""),
        status=request.args.get("status", ""),
        kind=request.args.get("kind", ""),
        q=request.args.get("q", "").strip()[:200],
        page=_page_number(request.args.get("page")),
    )
    found, more = moderation.find_comments(filters)
    return render_template(
        "admin/comments.html",
        comments=found,
        mentions=_mentions(found),
        filters=filters,
        more=more,
        sites=sites.list_sites(),
        statuses=STATUSES,
        kinds=KINDS,
        done=request.args.get("done"),
    )


def _page_number(value: str | None) -> int:
    if not value:
        return 1
    return fields.decimal(value, "page", minimum=1, maximum=moderation.MAX_PAGE)


def _mentions(found) -> dict[int, Any]:
    return {c.id: moderation.mention_of(c) for c in found if c.kind == "webmention"}


@bp.post("/act")
@handle_errors
def act():
    """Approve, spam or delete one comment (its own button) or all the selected ones."""
    one = request.form.get("one", "")
    if one:
        action, _, comment_id = one.partition(":")
        given = [comment_id]
    else:
        action = request.form.get("bulk", "")
        given = request.form.getlist("ids")
    ids = [fields.decimal(i, "ids", minimum=1, maximum=comments.MAX_ID) for i in given]
    changed = moderation.act(ids, action, actor=actor(), now=now())
    after = moderation.ACTIONS.get(action)
    undo = [[i, before, after] for i, before in changed] if after else []
    return redirect(
        _back(f"{action}: {len(changed)} comment(s)", undo={"comments": undo} if undo else None)
    )


def _back(done: str, undo: dict | None = None) -> str:
    target = fields.local_path(request.form.get("back"), "/admin") or url_for("admin.queue")
    target = target.split("#")[0]
    # The page's last message and its undo give way to the new ones.
    path, _, query = target.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in MESSAGE_ARGS]
    target = path + (f"?{urlencode(kept)}" if kept else "")
    separator = "&" if "?" in target else "?"
    offer = f"&undo={_undo_token(undo)}" if undo else ""
    return f"{target}{separator}done={quote(done, safe=':(),')}{offer}"


# --- undo: the message after an action offers to take it back ----------------------------------


MESSAGE_ARGS = ("done", "undo")


def _undo_token(undo: dict) -> str:
    return tokens.dump_expiring(
        current_app.config["SECRET_KEY"], tokens.ADMIN_UNDO, undo, now() + UNDO_WINDOW
    )


def _undo_offer() -> dict[str, str] | None:
    token = request.args.get("undo", "")
    if not token:
        return None
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in MESSAGE_ARGS]
    return {"token": token, "back": request.path + (f"?{urlencode(kept)}" if kept else "")}


@bp.post("/undo")
@handle_errors
def undo():
    """Take back the action just done: statuses go back, a ban is lifted."""
    try:
        data = tokens.load_expiring(
            current_app.config["SECRET_KEY"],
            tokens.ADMIN_UNDO,
            request.form.get("undo", ""),
            now=now(),
        )
    except tokens.BadToken:
        raise Forbidden("This can no longer be undone.") from None
    if "ban" in data:
        moderation.lift_ban(data["ban"], actor=actor(), now=now())
        return redirect(_back("ban lifted"))
    changes = [(i, before, after) for i, before, after in data["comments"]]
    undone = moderation.undo(changes, actor=actor(), now=now())
    return redirect(_back(f"undone: {undone} comment(s)"))


@bp.get("/comments/<int:comment_id>")
@handle_errors
def comment_page(comment_id: int):
    """One comment: edit it, reply as the owner, ban its author."""
    comment = moderation.get_comment(comment_id)
    parent, replies = moderation.comment_context(comment)
    return render_template(
        "admin/comment.html",
        comment=comment,
        mention=moderation.mention_of(comment),
        parent=parent,
        replies=replies,
        live_url=moderation.live_url(comment),
        actions=moderation.status_actions(comment),
        ban_kinds=BAN_KINDS,
        done=request.args.get("done"),
    )


@bp.post("/comments/<int:comment_id>/edit")
@handle_errors
def edit_comment(comment_id: int):
    moderation.edit(
        comment_id,
        request.form.get("text", ""),
        actor=actor(),
        now=now(),
        max_length=current_app.config["MAX_TEXT_LENGTH"],
    )
    return redirect(url_for("admin.comment_page", comment_id=comment_id, done="saved"))


@bp.post("/comments/<int:comment_id>/reply")
@handle_errors
def reply(comment_id: int):
    moderation.reply_as_owner(
        comment_id,
        request.form.get("text", ""),
        author=request.form.get("author", "") or g.admin.username,
        actor=actor(),
        now=now(),
        max_length=current_app.config["MAX_TEXT_LENGTH"],
    )
    return redirect(url_for("admin.comment_page", comment_id=comment_id, done="replied"))


@bp.post("/comments/<int:comment_id>/title")
@handle_errors
def thread_title(comment_id: int):
    """The owner names the page the comment is on (instead of the title fetched from it)."""
    comment = moderation.get_comment(comment_id)
    titles.set_title(comment.thread_id, request.form.get("title", ""))
    return redirect(url_for("admin.comment_page", comment_id=comment_id, done="title saved"))


@bp.post("/comments/<int:comment_id>/ban")
@handle_errors
def ban_author(comment_id: int):
    ban = moderation.ban_author(comment_id, request.form.get("kind", ""), actor=actor(), now=now())
    return redirect(_back(f"banned {ban.kind} {ban.value}", undo={"ban": ban.id}))


@bp.post("/comments/<int:comment_id>/ban-server")
@handle_errors
def ban_server(comment_id: int):
    """Ban a fediverse reply's server at once: its replies here become spam."""
    marked = fediverse.ban_server(comment_id, actor=actor(), now=now())
    return redirect(_back(f"banned the server; {marked} reply(ies) marked as spam"))


@bp.post("/comments/<int:comment_id>/link-identity")
@handle_errors
def link_identity(comment_id: int):
    """Make the identity that wrote this comment the admin's own: their widget comments are
    then the owner's, published and marked."""
    comment = moderation.get_comment(comment_id)
    if comment.identity is None:
        raise ValidationError("This comment's author did not sign in.", field="identity")
    identities.link_admin(g.admin.username, comment.identity.id)
    who = f"{comment.identity.provider}:{comment.identity.subject}"
    return redirect(_back(f"linked {who} to your account"))


@bp.post("/comments/<int:comment_id>/verify")
@handle_errors
def verify_again(comment_id: int):
    comment = moderation.get_comment(comment_id)
    result = receive.reverify(comment, app_context())
    return redirect(_back(result))


# --- bans, sites, log ---------------------------------------------------------------------


@bp.route("/bans", methods=["GET", "POST"])
@handle_errors
def bans():
    """See bans, add one, lift one."""
    if request.method == "POST":
        ban = moderation.add_ban(
            request.form.get("kind", ""),
            request.form.get("value", ""),
            site=request.form.get("site", ""),
            reason=request.form.get("reason", ""),
            actor=actor(),
            now=now(),
        )
        return redirect(
            url_for(
                "admin.bans",
                done=f"banned {ban.kind} {ban.value}",
                undo=_undo_token({"ban": ban.id}),
            )
        )
    return render_template(
        "admin/bans.html",
        bans=moderation.list_bans(),
        kinds=BAN_KINDS,
        sites=sites.list_sites(),
        done=request.args.get("done"),
    )


@bp.post("/bans/<int:ban_id>/lift")
@handle_errors
def lift_ban(ban_id: int):
    moderation.lift_ban(ban_id, actor=actor(), now=now())
    return redirect(url_for("admin.bans", done="ban lifted"))


SITE_FORM_FIELDS = (
    "moderation",
    "link_limit",
    "edit_window",
    "moderation_words",
    "disallowed_words",
    "owner_email",
    "webhook_url",
    "fediverse_accounts",
    "sign_in",
    "anonymous",
)


@bp.get("/sites")
def sites_page():
    """The sites, their settings, and the snippet to embed."""
    return render_template(
        "admin/sites.html",
        sites=sites.list_sites(),
        service=request.host_url.rstrip("/"),
        webhook_secret=notify.webhook_secret,
        done=request.args.get("done"),
    )


@bp.route("/sites/new", methods=["GET", "POST"])
@bp.route("/sites/<name>", methods=["GET", "POST"])
@handle_errors
def site_form(name: str | None = None):
    """Add a site, or change one."""
    site = sites.get_site(name) if name else None
    if request.method == "POST":
        form = request.form
        settings = {key: form.get(key, "") for key in SITE_FORM_FIELDS}
        settings["linkbacks"] = "linkbacks" in form
        settings["gravatar"] = "gravatar" in form
        settings["anonymous"] = form.get("anonymous") or None
        origins = [o for o in form.get("origins", "").split() if o]
        if site is None:
            site = sites.add_site(
                form.get("name", ""), form.get("url", ""), origins=origins, **settings
            )
        else:
            site = sites.update_site(
                site.name, url=form.get("url", ""), origins=origins or None, **settings
            )
        return redirect(url_for("admin.sites_page", done=f"saved {site.name}"))
    return render_template(
        "admin/site_form.html",
        site=site,
        policies=MODERATION_POLICIES,
        name_rule=NAME_RULE,
        posts=fediverse.site_posts(site) if site else [],
        providers=[p.name for p in identities.list_providers()],
        anonymous_policies=ANONYMOUS_POLICIES,
    )


@bp.post("/sites/<name>/fediverse")
@handle_errors
def link_fediverse_post(name: str):
    """Link a page of the site to a fediverse post; the queue fetches its replies."""
    site = sites.get_site(name)
    uri = comments.parse_uri(request.form.get("uri", ""))
    post = fediverse.link_post(site, uri, request.form.get("post_url"), by="owner", now=now())
    return redirect(url_for("admin.site_form", name=site.name, done=f"linked {post.url}"))


@bp.route("/sites/<name>/remove", methods=["GET", "POST"])
@handle_errors
def remove_site(name: str):
    """Remove a site and everything in it, after saying how much that is."""
    if request.method == "POST":
        threads, count = sites.remove_site(name)
        done = f"removed {name} with {threads} thread(s) and {count} comment(s)"
        return redirect(url_for("admin.sites_page", done=done))
    threads, count = sites.site_contents(name)
    return render_template("admin/site_remove.html", name=name, threads=threads, count=count)


@bp.get("/export")
@handle_errors
def export_download():
    """Download the lossless export of one site (?site=NAME), or of the whole service."""
    name = request.args.get("site", "")
    data = exports.export_site(sites.get_site(name)) if name else exports.export_all()
    filename = f"commentsvc-{name or 'all'}-{now().strftime('%Y-%m-%d')}.json"
    return Response(
        exports.dump(data),
        mimetype="application/json",
        headers={
            # Site names are NAME_RULE characters only: nothing to escape in the header.
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


# --- admins -------------------------------------------------------------------------------------


@bp.get("/admins")
def admins_page():
    """The admins; remove one; change one's own password."""
    return render_template(
        "admin/admins.html",
        admins=admins.list_admins(),
        min_password=admins.MIN_PASSWORD_LENGTH,
        done=request.args.get("done"),
    )


@bp.post("/admins/<username>/remove")
@handle_errors
def remove_admin(username: str):
    admins.remove_admin(username)
    if username == g.admin.username:
        return redirect(url_for("admin.login"))
    return redirect(url_for("admin.admins_page", done=f"removed admin {username}"))


@bp.post("/password")
@handle_errors
def change_password():
    """Change one's own password with the current one; one's other sessions end."""
    form = request.form
    if form.get("password", "") != form.get("confirm", ""):
        raise ValidationError("The new password and its repetition differ.", field="confirm")
    admins.change_password(
        g.admin.username,
        form.get("current", ""),
        form.get("password", ""),
        keep_session=request.cookies.get(SESSION_COOKIE, ""),
    )
    done = "password changed; your other sessions have ended"
    return redirect(url_for("admin.admins_page", done=done))


# --- a reader's data -------------------------------------------------------------------------


def _reader_query(form) -> tuple[Any, str]:
    """Return the site (None: every site) and the normalised address a form names."""
    name = form.get("site", "")
    site = sites.get_site(name) if name else None
    return site, comments.parse_email(form.get("email", ""))


@bp.get("/readers")
@handle_errors
def readers_page():
    """Find every comment made with an address; download them, or erase them."""
    site, email = _reader_query(request.args)
    return render_template(
        "admin/readers.html",
        sites=sites.list_sites(),
        site=site,
        email=email,
        comments=readers.reader_comments(site, email),
        done=request.args.get("done"),
    )


@bp.get("/readers/comments.json")
@handle_errors
def reader_download():
    """Everything stored with an address, as the reader's own download gives it."""
    site, email = _reader_query(request.args)
    response = Response(
        current_app.json.dumps(readers.export_reader(site, email, now())),
        mimetype="application/json",
    )
    response.headers["Content-Disposition"] = 'attachment; filename="reader-comments.json"'
    return response


@bp.post("/readers/erase")
@handle_errors
def reader_erase():
    """Erase an address's text, name, address and website from every comment made with it."""
    site, email = _reader_query(request.form)
    done = readers.erase_reader(site, email, actor=actor(), now=now())
    message = f"erased: {done.deleted} deleted, {done.placeholders} kept as placeholders"
    return redirect(url_for("admin.readers_page", done=message))


@bp.get("/log")
def log():
    """Who did what, when, and why."""
    return render_template("admin/log.html", entries=moderation.recent_events())


@bp.get("/jobs")
def jobs():
    """Background work that failed: its kind, error, attempts and time, each to retry."""
    return render_template(
        "admin/jobs.html", jobs=job_queue.failed_jobs(), done=request.args.get("done")
    )


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    """Queue a failed job again (the admin's CSRF check guards every POST)."""
    done = "Queued again." if job_queue.retry(job_id, now()) else "That job is not failed any more."
    return redirect(url_for("admin.jobs", done=done))


@bp.route("/mail/<token>", methods=["GET", "POST"])
@handle_errors
def mail_action(token: str):
    """A one-click link from the owner's mail: GET asks to confirm, POST acts (once)."""
    comment, action = notify.check_action_token(current_app.config["SECRET_KEY"], token, now())
    if request.method == "GET":
        return render_template("admin/mail_action.html", comment=comment, action=action, done=None)
    moderation.act([comment.id], action, actor="mail link", now=now())
    return render_template("admin/mail_action.html", comment=comment, action=action, done=True)


@bp.get("/static/<name>")
def asset(name: str):
    """The admin pages' stylesheet and script (no inline script anywhere)."""
    if name not in ("admin.css", "admin.js"):
        abort(404)
    path = static_dir() / "admin" / name
    mimetype = "text/css" if name.endswith(".css") else "text/javascript"
    response = Response(path.read_bytes(), mimetype=mimetype)
    response.cache_control.max_age = 3600
    return response
