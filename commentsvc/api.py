"""The JSON API the widget and outside clients use (routes fixed by DESIGN.md)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.datastructures import MultiDict
from werkzeug.http import quote_etag
from werkzeug.wrappers import Request

from commentsvc import avatars
from commentsvc import comments
from commentsvc import fediverse
from commentsvc import fields
from commentsvc import fragments
from commentsvc import identities
from commentsvc import photos
from commentsvc import readers
from commentsvc import shapes
from commentsvc import sites
from commentsvc import spam
from commentsvc.answers import GZIP_MIN_BYTES
from commentsvc.comments import Node
from commentsvc.errors import Forbidden
from commentsvc.errors import NotFound
from commentsvc.errors import Unauthorized
from commentsvc.errors import UnsupportedMediaType
from commentsvc.errors import ValidationError
from commentsvc.models import Comment
from commentsvc.models import Identity
from commentsvc.models import Site
from commentsvc.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api")

CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
CORS_HEADERS = "Content-Type, X-Edit-Token, If-None-Match, Authorization"
CORS_EXPOSE = "X-Form-Token, ETag, Retry-After"


# --- request helpers ---------------------------------------------------------------------------


def json_body() -> dict[str, Any]:
    """Return the request's JSON object; anything but JSON is 415 (no cross-site form posts)."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    data = fields.json_value(request.get_data(), "body")
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", field="body")
    return data


def site_named(value: Any) -> Site:
    """Return the site a request names, as a 400 naming the field when there is none."""
    if value is None or value == "":
        raise ValidationError("site is required.", field="site", code="empty")
    if not isinstance(value, str):
        raise ValidationError("site must be a site's name.", field="site")
    try:
        return sites.get_site(value)
    except NotFound as exc:
        raise ValidationError(exc.message, field="site") from None


def check_write_origin(site: Site) -> None:
    """Refuse a browser write from an origin that is not one of the site's own."""
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not a browser, or a same-origin GET-like request: nothing to forge
    if fields.normal_origin(origin) not in {o.origin for o in site.origins}:
        raise Forbidden(f"The site {site.name!r} does not accept comments from {origin}.")


def bearer_token() -> str | None:
    """Return the commenter token of an `Authorization: Bearer` header, or None."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Send the sign-in token as `Authorization: Bearer TOKEN`.", field="Authorization"
        )
    return token.strip()


def signed_in(site: Site | None) -> Identity | None:
    """Return the signed-in reader of the request (for this site), or None without a token.

    :raise Unauthorized: for a token that is expired, forged, another site's or revoked.
    """
    token = bearer_token()
    if token is None:
        return None
    return identities.check_token(current_app.config["SECRET_KEY"], token, site, now=now())


def client_address() -> str:
    return spam.address_hash(current_app.config["SECRET_KEY"], request.remote_addr or "")


def now() -> datetime:
    return current_app.extensions["clock"]()


def guard() -> spam.Guard:
    return spam.Guard.of(current_app)


def limits() -> dict[str, Any]:
    """Return the settings the shapes' rules read (the configured text length)."""
    return {"max_length": current_app.config["MAX_TEXT_LENGTH"]}


# --- CORS --------------------------------------------------------------------------------------


@bp.before_request
def answer_preflight():
    if request.method == "OPTIONS":
        return Response(status=204)
    return None


@bp.after_request
def add_cors_headers(response: Response) -> Response:
    return cors_headers(request, response, g.get("origin_known"))


def cors_headers(req: Request, response: Response, known: bool | None) -> Response:
    """Add Vary: Origin, and the CORS headers for an origin that is some site's own; known is
    what a read's one lookup said of the origin already (None: look it up)."""
    response.vary.add("Origin")
    origin = req.headers.get("Origin")
    if origin and "Access-Control-Allow-Origin" not in response.headers:
        if known is None:
            known = sites.site_for_origin(origin) is not None
        if known:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
            if req.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
                response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                response.headers["Access-Control-Max-Age"] = "86400"
    return response


# --- serialisation -----------------------------------------------------------------------------


def comment_json(comment: Comment, site: Site, replies: list[Node] | None = None) -> dict:
    """Return the public form of a comment: never its email or address."""
    deleted = comment.status == "deleted"
    data = {
        "id": comment.id,
        "parent": comment.parent_id,
        "kind": comment.kind,
        "status": comments.shown_status(comment.status),
        "author": comment.author,
        "website": comment.website or None,
        "avatar": None if deleted else avatar_url(comment, site),
        "html": comment.html,
        "created": _iso(comment.created),
        "modified": _iso(comment.modified) if comment.modified else None,
        "likes": comment.likes,
        "owner": comment.by_owner,
        "identity": identities.identity_json(comment.identity)
        if comment.identity is not None and not deleted
        else None,
        "replies": [comment_json(n.comment, site, n.replies) for n in replies or []],
    }
    if comment.kind == "fediverse":
        data["handle"] = f"@{comment.handle}" if comment.handle and not deleted else None
    if comment.kind != "comment":
        data["source"] = {
            "url": comment.source_url,
            "title": comment.source_title,
            "excerpt": comment.excerpt,
            "type": comment.mention_type or "mention",
        }
    return data


def avatar_url(comment: Comment, site: Site) -> str:
    """Return the address of a comment's avatar: always on this service, except Gravatar's
    when the site turned it on."""
    if comment.author_photo:
        # Never the sender's own address for the photo: the service fetched it (or draws the
        # identicon in its place) and serves it itself.
        key = photos.photo_key(current_app.config["SECRET_KEY"], comment.author_photo)
        return f"{_photo_prefix()}{key}"
    if site.gravatar and comment.email:
        digest = hashlib.md5(comment.email.encode(), usedforsecurity=False).hexdigest()
        return f"https://www.gravatar.com/avatar/{digest}?d=identicon&s=96"
    key = hmac.new(
        current_app.config["SECRET_KEY"].encode(),
        f"avatar\x00{_avatar_seed(comment, site)}".encode(),
        hashlib.sha256,
    ).hexdigest()[:20]
    return f"{_avatar_prefix()}{key}.svg"


def _avatar_seed(comment: Comment, site: Site) -> str:
    # The email alone would be an oracle: whoever posts with a guessed address would get the
    # same picture as its owner. Bound to the sender's address hash too, a guess from elsewhere
    # draws another picture, while one commenter keeps theirs from comment to comment.
    if comment.by_owner:
        return f"owner\x00{site.id}"
    if comment.email:
        return f"email\x00{comment.email}\x00{comment.remote_hash}"
    # Without an email, nothing ties two comments together: each has its own picture.
    return f"comment\x00{comment.id}"


def _avatar_prefix() -> str:
    # Built once per request: url_for for each of hundreds of comments is a third of a read.
    if "avatar_prefix" not in g:
        g.avatar_prefix = url_for("api.avatar", key="k", _external=True)[: -len("k.svg")]
    return g.avatar_prefix


def _photo_prefix() -> str:
    if "photo_prefix" not in g:
        g.photo_prefix = url_for("api.photo", key="k", _external=True)[: -len("k")]
    return g.photo_prefix


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"


# --- routes ------------------------------------------------------------------------------------


@bp.get("/comments")
def get_comments():
    """The thread of (site, uri): published comments, replies nested."""
    read = request.environ.get(EARLY_READ) or thread_read(request)
    g.origin_known = read.state.origin_known
    if read.fediverse and not _links_settled(read):
        if _link_fediverse(read.name, read.uri, list(read.fediverse)):
            _settle_links(read)
    response = cached_answer(
        read.key,
        lambda: thread_body(read.name, read.uri, read.sort, read.limit, read.cursor),
        read.state,
    )
    response.headers["X-Form-Token"] = form_token(read)
    return response


# A read looked up by EarlyReads and handed on to the view, which then does not look again.
EARLY_READ = "commentsvc.early_read"


@dataclass(frozen=True)
class ThreadRead:
    """A thread GET, parsed and looked up (one query): what its answer is keyed by."""

    name: str
    uri: str
    sort: str
    limit: int
    cursor: str | None
    state: comments.ReadState
    key: str
    fediverse: tuple[str, ...] = ()


def thread_read(req: Request) -> ThreadRead:
    """Parse a thread GET and look its versions up; 400 naming the field for bad input."""
    name, uri, sort, limit, cursor, linked = parsed_query(req, _thread_query)
    state = _read_state(name, [uri], req.headers.get("Origin"))
    key = thread_key(req, state, uri, sort, limit, cursor)
    return ThreadRead(name, uri, sort, limit, cursor, state, key, linked)


def _thread_query(args: MultiDict) -> tuple:
    query = shapes.parse(
        shapes.ThreadQuery, {**args.to_dict(), "fediverse": args.getlist("fediverse")}
    )
    return query.site, query.uri, query.sort, query.limit, query.cursor, tuple(query.fediverse)


# Query strings parsed before, by their bytes: the same few threads are read over and over,
# and parsing one (urllib's, then the shape's rules) costs about what the lookup does. All are
# let go when _KEPT_QUERIES are kept: a stranger sending new strings costs only the parse.
_parsed_queries: dict[tuple[Callable, bytes], tuple] = {}
_KEPT_QUERIES = 1024
_KEPT_QUERY_BYTES = 512


def parsed_query(req: Request, parse: Callable[[MultiDict], tuple]) -> tuple:
    """Return parse(req.args), a tuple of the query's values, parsed once per query string.

    :raise ValidationError: as parse does (refusals are not kept).
    """
    kept = (parse, req.query_string)
    found = _parsed_queries.get(kept)
    if found is None:
        found = parse(req.args)
        if len(req.query_string) > _KEPT_QUERY_BYTES:
            return found  # a widget's queries are short: a long one is parsed, not kept
        if len(_parsed_queries) >= _KEPT_QUERIES:
            _parsed_queries.clear()
        _parsed_queries[kept] = found
    return found


def thread_key(
    req: Request, state: comments.ReadState, uri: str, sort: str, limit: int, cursor: str | None
) -> str:
    """Return the cache key (and ETag) of a thread page's JSON: it carries every version."""
    return answers().key(
        "thread",
        state.site_id,
        state.site_version,
        *state.threads.get(uri, (0, 0)),
        uri,
        sort,
        limit,
        cursor,
        # What the avatars' absolute addresses are built from (request.url_root, cheaper).
        req.scheme,
        req.host,
        req.root_path,
        bool(current_app.config["SMTP_URL"]),
    )


@bp.get("/comments.html")
def get_comments_html():
    """The thread's first page as the widget's markup, for pages that include it."""
    query = shapes.parse(shapes.FragmentQuery, request.args.to_dict())
    name, uri, sort = query.site, query.uri, query.sort
    lang = fragments.pick_language(query.lang)
    theme = query.theme or ""
    state = _read_state(name, [uri], request.headers.get("Origin"))
    g.origin_known = state.origin_known
    # The JSON page the widget would ask for first: its ETag in the markup lets the widget ask
    # only whether anything changed since.
    json_key = thread_key(request, state, uri, sort, fragments.FIRST_PAGE, None)
    key = answers().key("thread.html", json_key, lang, theme)
    build = lambda: fragment_body(name, uri, sort, lang, theme, json_key)  # noqa: E731
    return cached_answer(key, build, state, mimetype="text/html")


def fragment_body(name: str, uri: str, sort: str, lang: str, theme: str, etag: str) -> bytes:
    """Return a thread's first page as HTML, built from the database (the uncached path)."""
    site = sites.get_site(name)
    page = comments.list_thread(site, uri, sort=sort, limit=fragments.FIRST_PAGE)
    data = [comment_json(n.comment, site, n.replies) for n in page.nodes]
    html = render_template(
        "thread/fragment.html",
        site=site.name,
        uri=uri,
        etag=etag,
        theme=theme,
        page=fragments.page_summary(page, sort, bool(current_app.config["SMTP_URL"])),
        view=fragments.thread_view(data),
        w=fragments.Words(lang),
        page_url=fragments.page_url(site, uri),
        stylesheet=url_for("pages.embed_css", _external=True),
        nojs_url=url_for("reader.thread_page", site_name=site.name, uri=uri, _external=True),
        extra={"sign_in": sign_in_json(site), "fediverse": _fediverse_summary(site, page)},
    )
    return html.encode()


def form_token(read: ThreadRead) -> str:
    """Return the thread's X-Form-Token (when it was loaded: the time trap)."""
    return spam.make_form_token(current_app.config["SECRET_KEY"], read.name, read.uri, now())


class EarlyReads:
    """WSGI middleware: a thread or counts GET is answered here, after its one lookup and
    before Flask builds a request (most of a read's cost otherwise), when its If-None-Match
    still matches (304) or when this process keeps the finished answer (200, from memory).

    The answer is the one the view gives, header for header and byte for byte (the same helpers
    make the key, ETag, Cache-Control and gzip; tests/test_reads.py compares the two answers).
    Anything else (a miss, a read that links fediverse posts, bad input, a failed lookup) goes
    on to Flask, which answers it as always; a lookup made here is handed on, not run twice.
    """

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.reads = {"/api/comments": self._thread, "/api/counts": self._counts}

    def __call__(self, environ, start_response):
        read = self.reads.get(environ.get("PATH_INFO"))
        if read is not None and environ.get("REQUEST_METHOD") == "GET":
            early = self._answer(environ, read)
            if early is not None:
                status, headers, body = early
                start_response(status, headers)
                return [body]
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _thread(req: Request) -> tuple[ThreadRead, list[tuple[str, str]], bool]:
        read = thread_read(req)
        # A read that links fediverse posts (data-fediverse) has work for the view to do, a 304
        # included (a page's markup hands the widget its ETag, and the posts were never linked),
        # until this process has seen those posts linked at the thread's versions.
        kept_will_do = not read.fediverse or _links_settled(read)
        return read, [("X-Form-Token", form_token(read))], kept_will_do

    @staticmethod
    def _counts(req: Request) -> tuple[CountsRead, list[tuple[str, str]], bool]:
        return counts_read(req), [], True

    def _answer(self, environ, look_up) -> tuple[str, list[tuple[str, str]], bytes] | None:
        # The headers are written out here rather than through a Response object: building
        # one cost as much as the lookup.
        req = Request(environ)
        try:
            with self.app.app_context():
                read, own_headers, kept_will_do = look_up(req)
                if not kept_will_do:  # the view has work to do, whatever it answers (a 304)
                    environ[EARLY_READ] = read
                    return None
                if _etag_matches(req, read.key):
                    headers = _early_headers(req, read.state, _etag(req, read.key))
                    return "304 NOT MODIFIED", headers + own_headers, b""
                cache = answers()
                body = cache.memory.get(read.key)
                gzip_ok = body is not None and _gzip_ok(req)
                packed = cache.gzipped(read.key, body) if gzip_ok else None
                if body is None or (packed is None and _compressed_by_flask(req, body)):
                    environ[EARLY_READ] = read
                    return None
                etag = read.key + ":gzip" if packed else read.key
                headers = [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(packed or body))),
                    *_early_headers(req, read.state, etag),
                    *own_headers,
                ]
                if packed:
                    headers.append(("Content-Encoding", "gzip"))
                return "200 OK", headers, packed or body
        except Exception:  # noqa: BLE001 - Flask answers it, errors included, as it always does
            return None


def _compressed_by_flask(req: Request, body: bytes) -> bool:
    # An answer big enough to compress, asked for with an Accept-Encoding that is not gzip's
    # (deflate; gzip;q=0, which Flask-Compress takes as gzip): Flask-Compress encodes the view's
    # answer after it, so only Flask gives it.
    return len(body) >= GZIP_MIN_BYTES and bool(req.headers.get("Accept-Encoding"))


def _early_headers(req: Request, state: comments.ReadState, etag: str) -> list[tuple[str, str]]:
    """Return the headers cached_answer and the API's after_request give a read."""
    headers = [
        ("ETag", quote_etag(etag)),
        ("Vary", "Accept-Encoding, Origin"),
        ("Cache-Control", _cache_control(state)),
    ]
    origin = req.headers.get("Origin")
    if origin and state.origin_known:
        headers.append(("Access-Control-Allow-Origin", origin))
        headers.append(("Access-Control-Expose-Headers", CORS_EXPOSE))
    return headers


def _link_fediverse(name: str, uri: str, urls: list[str]) -> bool:
    """Link the posts of the script tag's data-fediverse; return whether every one of them is
    now linked or never will be (at the site's version: it holds the accounts and origins).

    Taken only from a page of the site itself, and only posts of the site's own accounts
    (checked again when they are fetched). Posts are never unlinked, and a refusal stands
    (not the site's account, or the thread holds as many posts as it takes).
    """
    site = sites.get_site(name)
    if not site.fediverse_accounts:
        return True
    origin = request.headers.get("Origin", "")
    if getattr(sites.site_for_origin(origin), "id", None) != site.id:
        return False  # the site's own page may name them yet
    fediverse.link_quietly(site, uri, urls, by="widget", now=now())
    return True


# Reads whose data-fediverse posts this process has seen linked, by the read's key (its
# versions) and the posts named: the next such read is answered like any other. Let go when
# _KEPT_QUERIES are kept.
_settled_links: set[tuple[str, tuple[str, ...]]] = set()


def _links_settled(read: ThreadRead) -> bool:
    return (read.key, read.fediverse) in _settled_links


def _settle_links(read: ThreadRead) -> None:
    if sum(map(len, read.fediverse)) > _KEPT_QUERY_BYTES:
        return  # as for parsed_query: a page names a few short addresses
    if len(_settled_links) >= _KEPT_QUERIES:
        _settled_links.clear()
    _settled_links.add((read.key, read.fediverse))


def thread_body(name: str, uri: str, sort: str, limit: int, cursor: str | None) -> bytes:
    """Return the thread page's JSON, built from the database (the uncached path)."""
    site = sites.get_site(name)
    return page_body(
        site, uri, comments.list_thread(site, uri, sort=sort, limit=limit, cursor=cursor)
    )


def page_body(site: Site, uri: str, page: comments.ThreadPage) -> bytes:
    """Return a thread page as the API's JSON."""
    body = {
        "site": site.name,
        "uri": uri,
        "title": page.thread.title if page.thread else "",
        "count": page.count,
        "counts": {"comments": page.counts.comments, "mentions": page.counts.mentions},
        "likes": page.likes,
        "fediverse": _fediverse_summary(site, page),
        "comments": [comment_json(n.comment, site, n.replies) for n in page.nodes],
        "next": page.next_cursor,
        "notifications": bool(current_app.config["SMTP_URL"]),
        "sign_in": sign_in_json(site),
    }
    return jsonify(body).get_data()


def _fediverse_summary(site: Site, page: comments.ThreadPage) -> dict:
    # Asked only of sites that name fediverse accounts: others' cold reads cost no query more.
    return fediverse.thread_summary(
        page.thread.id if page.thread and site.fediverse_accounts else None
    )


def sign_in_json(site: Site) -> dict:
    """Return what the widget offers for signing in: the providers (name, kind) and whether
    readers may comment without (on, name-required, off)."""
    named = identities.site_providers(site)
    # Most sites offer none: then no query is spent on the providers.
    kinds = {p.name: p.kind for p in identities.list_providers()} if named else {}
    offered = [n for n in named if n in kinds]
    return {
        "providers": [{"name": n, "kind": kinds[n]} for n in offered],
        "anonymous": site.anonymous,
    }


def answers():
    return current_app.extensions["answers"]


def _read_state(name: str, uris: list[str], origin: str | None) -> comments.ReadState:
    """Look up the site's and threads' versions once; 400 naming the site when there is none."""
    state = comments.read_state(name, uris, origin=origin)
    if state is None:
        raise ValidationError(f"There is no site called {name!r}.", field="site")
    return state


def _etag_matches(req: Request, key: str) -> bool:
    # A client sends back the one ETag it was given, as given: matched without parsing.
    sent = req.environ.get("HTTP_IF_NONE_MATCH")
    if sent is None:
        return False
    if sent in (f'"{key}"', f'"{key}:gzip"'):
        return True
    return req.if_none_match.contains(key) or req.if_none_match.contains(key + ":gzip")


def _gzip_ok(req: Request) -> bool:
    return req.accept_encodings["gzip"] > 0


def not_modified(req: Request, key: str, state: comments.ReadState) -> Response:
    """Return the 304 for a kept answer's key."""
    response = Response(status=304)
    response.set_etag(_etag(req, key))
    return _cache_headers(response, state)


def _etag(req: Request, key: str) -> str:
    """Return the ETag of a kept answer: its key, marked when the client takes it gzipped."""
    return key + ":gzip" if _gzip_ok(req) else key


def cached_answer(
    key: str, build, state: comments.ReadState, mimetype: str = "application/json"
) -> Response:
    """Answer 304 for a matching If-None-Match, else the kept answer (built on a miss), gzipped
    when the client takes it; the ETag is the key, which carries every version."""
    if _etag_matches(request, key):
        return not_modified(request, key, state)
    cache = answers()
    body = cache.body(key, build)
    packed = cache.gzipped(key, body) if _gzip_ok(request) else None
    response = Response(packed or body, mimetype=mimetype)
    response.set_etag(key + ":gzip" if packed else key)
    if packed:
        response.headers["Content-Encoding"] = "gzip"
    return _cache_headers(response, state)


def _cache_headers(response: Response, state: comments.ReadState) -> Response:
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = _cache_control(state)
    return response


def _cache_control(state: comments.ReadState) -> str:
    # Revalidated on every read by default; a site behind a CDN may let it keep answers a while.
    return f"public, max-age={state.cache_max_age}" if state.cache_max_age else "no-cache"


@bp.post("/comments")
def post_comment():
    """A new comment: 201 when published, 202 when held."""
    data = json_body()
    site = site_named(data.get("site"))
    check_write_origin(site)
    new = shapes.parse(shapes.NewComment, data, limits())
    comment, token = comments.post_comment(
        site,
        new.uri,
        new.comment_input(),
        address=client_address(),
        now=now(),
        guard=guard(),
        identity=signed_in(site),
    )
    return _own_comment_response(comment, site, token, 201 if comment.status == "approved" else 202)


def _own_comment_response(comment: Comment, site: Site, token: str, status: int):
    body = comment_json(comment, site)
    body["text"] = comment.text
    body["edit_token"] = token
    body["edit_until"] = _iso(comments.token_expiry(token))
    return jsonify(body), status


@bp.get("/comments/<int:comment_id>")
def get_comment(comment_id: int):
    """One comment: published, or the reader's own (with its source text) by its edit token."""
    comment, own = comments.get_own_comment(
        comment_id,
        request.headers.get("X-Edit-Token"),
        secret=current_app.config["SECRET_KEY"],
        now=now(),
        identity=_signed_in_for(comment_id),
    )
    body = comment_json(comment, comment.thread.site)
    if own:
        # Only the author gets here: their Markdown source, and "pending" for held or spam.
        body["text"] = comment.text
        if comment.status != "approved":
            body["status"] = "pending"
    return jsonify(body)


@bp.patch("/comments/<int:comment_id>")
def patch_comment(comment_id: int):
    """The author changes their comment inside the edit window."""
    data = json_body()
    _check_comment_origin(comment_id, request.headers.get("X-Edit-Token"))
    changes = shapes.parse(shapes.CommentChanges, data, limits()).changes()
    comment, token = comments.edit_comment(
        comment_id,
        request.headers.get("X-Edit-Token"),
        changes,
        address=client_address(),
        now=now(),
        guard=guard(),
        identity=_signed_in_for(comment_id),
    )
    return _own_comment_response(comment, comment.thread.site, token, 200)


@bp.delete("/comments/<int:comment_id>")
def delete_comment(comment_id: int):
    """The author deletes their comment inside the edit window."""
    _check_comment_origin(comment_id, request.headers.get("X-Edit-Token"))
    comments.delete_comment(
        comment_id,
        request.headers.get("X-Edit-Token"),
        now=now(),
        secret=current_app.config["SECRET_KEY"],
        identity=_signed_in_for(comment_id),
    )
    return Response(status=204)


def _signed_in_for(comment_id: int) -> Identity | None:
    """Return the signed-in reader for a request about a comment (a token for its site)."""
    if request.headers.get("Authorization") is None:
        return None
    comment = comments.find_comment(comment_id)
    site = comment.thread.site if comment is not None else None
    return signed_in(site)


def _check_comment_origin(comment_id: int, token: str | None = None) -> None:
    comment = comments.find_comment(comment_id)
    if comment is None:
        return
    # Only a comment the caller may know of names its site: a published one, or their own.
    # For anything else the domain call answers as it does for a comment that does not exist.
    known = (
        comment.status == "approved"
        or comments.holds_token(current_app.config["SECRET_KEY"], comment, token)
        or comments.is_authors(comment, _signed_in_for(comment_id))
    )
    if known:
        check_write_origin(comment.thread.site)


@bp.get("/me")
def get_me():
    """The signed-in reader on a site: their identity, their comments held for moderation, and
    (with uri) the ids of their comments in that thread, which they may edit and delete."""
    query = shapes.parse(shapes.MeQuery, request.args.to_dict())
    site = site_named(query.site)
    identity = signed_in(site)
    if identity is None:
        raise Unauthorized("Sign in first.", field="Authorization")
    held = []
    for comment in comments.held_comments(site, identity):
        body = comment_json(comment, site)
        body["status"], body["text"], body["uri"] = "pending", comment.text, comment.thread.uri
        held.append(body)
    mine = comments.own_ids(site, query.uri, identity) if query.uri is not None else []
    response = jsonify(identity=identities.identity_json(identity), held=held, own=mine)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/sign-out")
def sign_out():
    """End the reader's sign-in: every token of their identity stops working, on every device."""
    site = site_named(shapes.parse(shapes.MeQuery, request.args.to_dict()).site)
    check_write_origin(site)
    identity = signed_in(site)
    if identity is None:
        raise Unauthorized("Sign in first.", field="Authorization")
    identities.revoke(identity)
    return Response(status=204)


@bp.post("/sign-in/handoff")
def take_sign_in():
    """A sign-in whose popup could not hand it to the page (a provider's page cut the popup off
    with Cross-Origin-Opener-Policy): 200 with what postMessage would have given, once; 204
    while there is none. The widget asks every few seconds while a sign-in is open: each ask
    costs one lookup by key, as a thread read does, and is not rate limited."""
    data = shapes.parse(shapes.HandoffRequest, json_body())
    site = site_named(data.site)
    check_write_origin(site)
    secret = current_app.config["SECRET_KEY"]
    message = identities.take_handoff(secret, data.handle, site, now=now())
    response = Response(status=204) if message is None else jsonify(message)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/comments/<int:comment_id>/like")
def like_comment(comment_id: int):
    """A visitor likes a comment once, or takes the like back (`{"like": false}`)."""
    # The body is optional here: a bare POST likes, counted by the client's address.
    data = json_body() if request.content_length or request.mimetype else {}
    _check_comment_origin(comment_id)
    change = shapes.parse(shapes.LikeChange, data)
    address = client_address()
    likes = comments.like_comment(
        comment_id,
        change.visitor or address,
        now=now(),
        guard=guard(),
        address=address,
        like=change.like,
    )
    return jsonify(likes=likes)


@bp.post("/likes")
def like_page():
    """A visitor likes the page itself once, or takes the like back (`{"like": false}`)."""
    data = json_body()
    site = site_named(data.get("site"))
    check_write_origin(site)
    change = shapes.parse(shapes.PageLike, data)
    address = client_address()
    likes = comments.like_page(
        site,
        change.uri,
        change.visitor or address,
        now=now(),
        guard=guard(),
        address=address,
        like=change.like,
    )
    return jsonify(likes=likes)


@bp.get("/origin")
def get_origin():
    """Whether the site accepts the asking page's origin: readable from any origin, so that
    the widget on a page the site does not list can tell its owner what to change."""
    name = shapes.parse(shapes.OriginQuery, request.args.to_dict()).site
    site = sites.find_site(name)
    origin = request.headers.get("Origin")
    allowed = bool(site and origin and origin.lower() in {o.origin for o in site.origins})
    response = jsonify(site=name, exists=site is not None, origin=origin, allowed=allowed)
    # Nothing private in this answer, and no credentials: any page may read it.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/counts")
def get_counts():
    """Published comments and linkbacks of many pages, in one request."""
    read = request.environ.get(EARLY_READ) or counts_read(request)
    g.origin_known = read.state.origin_known
    return cached_answer(read.key, lambda: counts_body(read.name, read.uris), read.state)


@dataclass(frozen=True)
class CountsRead:
    """A counts GET, parsed and looked up (one query): what its answer is keyed by."""

    name: str
    uris: list[str]
    state: comments.ReadState
    key: str


def counts_read(req: Request) -> CountsRead:
    """Parse a counts GET and look its versions up; 400 naming the field for bad input."""
    name, uris = parsed_query(req, _counts_query)
    uris = list(uris)
    state = _read_state(name, uris, req.headers.get("Origin"))
    versions = [state.threads.get(uri, (0, 0)) for uri in uris]
    key = answers().key("counts", state.site_id, state.site_version, uris, versions)
    return CountsRead(name, uris, state, key)


def _counts_query(args: MultiDict) -> tuple:
    query = shapes.parse(shapes.CountsQuery, {"site": args.get("site"), "uri": args.getlist("uri")})
    return query.site, tuple(query.uri)


def counts_body(name: str, uris: list[str]) -> bytes:
    """Return the counts' JSON, built from the database (the uncached path)."""
    found = comments.count_comments(sites.get_site(name), uris)
    return jsonify(
        counts={uri: c.total for uri, c in found.items()},
        comments={uri: c.comments for uri, c in found.items()},
        mentions={uri: c.mentions for uri, c in found.items()},
    ).get_data()


@bp.post("/preview")
def preview():
    """The HTML a text would be stored as: for the sites' own pages, a few times a minute."""
    data = json_body()
    _check_preview_origin(data.get("site"))
    text = shapes.parse(shapes.PreviewRequest, data, limits()).text
    html = comments.preview(
        text, max_length=limits()["max_length"], address=client_address(), guard=guard()
    )
    return jsonify(html=html)


def _check_preview_origin(site: Any) -> None:
    # With a site named, its own origins; without, a browser's Origin must be some site's.
    if site is not None:
        check_write_origin(site_named(site))
        return
    origin = request.headers.get("Origin")
    if origin is not None and sites.site_for_origin(origin) is None:
        raise Forbidden(f"Previews are for the pages of the sites served here, not {origin}.")


@bp.post("/data-requests")
def request_data_link():
    """A reader asks for a link to their own comments on a site, mailed to their address."""
    data = json_body()
    site = site_named(data.get("site"))
    check_write_origin(site)
    if not current_app.config["SMTP_URL"]:
        raise NotFound("This service sends no mail: ask the site's owner for your comments.")
    asked = shapes.parse(shapes.DataRequest, data)
    readers.request_link(
        site,
        asked.email,
        address=client_address(),
        limiter=current_app.extensions["limiter"],
        secret=current_app.config["SECRET_KEY"],
        now=now(),
    )
    return jsonify(status="sent"), 202


@bp.get("/avatar/<key>.svg")
def avatar(key: str):
    """An identicon drawn from a key: no third party learns who reads or writes."""
    if not avatars.valid_key(key):
        raise NotFound("There is no such avatar.")
    response = Response(avatars.identicon_svg(key), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@bp.get("/photo/<key>")
def photo(key: str):
    """An author's photo, fetched once from a linkback's source; the identicon until then."""
    if not avatars.valid_key(key):
        raise NotFound("There is no such photo.")
    stored = photos.stored_photo(key)
    if stored is None:
        response = Response(avatars.identicon_svg(key), mimetype="image/svg+xml")
        # Short-lived: once the photo has been fetched, readers get it.
        response.headers["Cache-Control"] = "public, max-age=300"
    else:
        response = Response(stored.data, mimetype=stored.content_type)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(request.host_url.rstrip("/")))
