"""The OpenAPI 3.1 document, derived from the shapes in `shapes.py` and the route table below.

A route's entry says its path, method, query model, body model, answers and which error statuses
it can give; the schemas themselves come from the models, never from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from commentsvc import shapes
from commentsvc.errors import ERROR_CODES

REF = "#/components/schemas/{model}"

# What each error status means, and the codes it can carry.
ERROR_STATUSES: dict[int, tuple[str, tuple[str, ...]]] = {
    400: (
        "Invalid input; `error.field` names the field and `error.code` says how.",
        ("empty", "too_long", "invalid", "too_deep", "bad_request"),
    ),
    401: (
        "The sign-in token (`Authorization: Bearer`) is damaged, expired, another site's or "
        "signed out; or the site takes signed-in readers only.",
        ("unauthorized",),
    ),
    403: ("The Origin, the edit token or the link does not allow this.", ("forbidden",)),
    404: ("No such thing.", ("not_found",)),
    405: ("The route does not answer this method.", ("not_allowed",)),
    409: ("A conflict with what is stored.", ("duplicate", "conflict", "already_registered")),
    413: ("The body is too large.", ("too_large",)),
    414: (
        "The URL is too long (more than the server reads in a request line).",
        ("too_large",),
    ),
    415: ("The body is not of the type the route takes.", ("unsupported_media_type",)),
    429: ("Rate limited; `Retry-After` says how many seconds to wait.", ("rate_limited",)),
    500: ("Something went wrong inside the service.", ("internal",)),
    502: ("The source's server failed.", ("upstream_error",)),
    503: ("The database does not answer; try again shortly.", ("unavailable",)),
}

# Codes a route gives beyond its statuses' usual ones (linkbacks, edits).
EDIT_CODES = {403: ("forbidden", "edit_window")}
WEBMENTION_CODES = {
    400: ("empty", "too_long", "invalid", "same_page", "source_not_allowed", "target_not_accepted")
}

TEXT = {"type": "string"}
IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")


@dataclass(frozen=True)
class Answer:
    """One success answer: a model (JSON), a media type's raw bytes, or nothing."""

    description: str
    model: type[BaseModel] | None = None
    media: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    operation: str
    summary: str
    answers: dict[int, Answer]
    errors: tuple[int, ...] = ()
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    body_required: bool = True
    path_params: tuple[str, ...] = ()
    edit_token: bool = False
    bearer: bool = False
    codes: dict[int, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    # Every route that reads the database answers 503 `unavailable` when it does not answer.
    database: bool = True


def revalidated(answer: Answer) -> dict[int, Answer]:
    """Return the answers of a read with an ETag: the answer, or 304 for an ETag still good."""
    return {200: answer, 304: Answer("Not modified since the ETag sent.")}


ROUTES: tuple[Route, ...] = (
    Route(
        "/api/comments",
        "get",
        "getThread",
        "A page's thread: published comments with nested replies.",
        revalidated(
            Answer(
                "The thread (empty before its first comment).",
                shapes.Thread,
                headers={"ETag": "", "X-Form-Token": "Send back as form_token when posting."},
            )
        ),
        (400, 414),
        query=shapes.ThreadQuery,
    ),
    Route(
        "/api/comments",
        "post",
        "postComment",
        "Post a comment or a reply.",
        {201: Answer("Published.", shapes.OwnComment), 202: Answer("Held.", shapes.OwnComment)},
        (400, 401, 403, 409, 413, 415, 429),
        body=shapes.NewComment,
        bearer=True,
        codes={409: ("duplicate",)},
    ),
    Route(
        "/api/comments/{comment_id}",
        "get",
        "getComment",
        "One comment: published, or the reader's own held one.",
        {200: Answer("The comment.", shapes.Comment)},
        (401, 404),
        path_params=("comment_id",),
        edit_token=True,
        bearer=True,
    ),
    Route(
        "/api/comments/{comment_id}",
        "patch",
        "editComment",
        "The author edits their comment inside the edit window.",
        {200: Answer("Edited; a new edit token.", shapes.OwnComment)},
        (400, 401, 403, 404, 413, 415, 429),
        body=shapes.CommentChanges,
        path_params=("comment_id",),
        edit_token=True,
        bearer=True,
        codes=EDIT_CODES,
    ),
    Route(
        "/api/comments/{comment_id}",
        "delete",
        "deleteComment",
        "The author deletes their comment inside the edit window.",
        {204: Answer("Deleted.")},
        (401, 403, 404),
        path_params=("comment_id",),
        edit_token=True,
        bearer=True,
        codes=EDIT_CODES,
    ),
    Route(
        "/api/comments/{comment_id}/like",
        "post",
        "likeComment",
        "Like a comment (once per visitor), or take the like back.",
        {200: Answer("The comment's likes.", shapes.Likes)},
        (400, 403, 404, 413, 415, 429),
        body=shapes.LikeChange,
        body_required=False,
        path_params=("comment_id",),
    ),
    Route(
        "/api/likes",
        "post",
        "likePage",
        "Like the page itself (once per visitor), or take the like back.",
        {200: Answer("The page's likes.", shapes.Likes)},
        (400, 403, 413, 415, 429),
        body=shapes.PageLike,
    ),
    Route(
        "/api/me",
        "get",
        "getMe",
        "The signed-in reader on a site, their held comments, and their comments on a page.",
        {200: Answer("Who is signed in.", shapes.Me)},
        (400, 401),
        query=shapes.MeQuery,
        bearer=True,
    ),
    Route(
        "/api/sign-out",
        "post",
        "signOut",
        "End the reader's sign-in: every token of theirs stops working, on every device.",
        {204: Answer("Signed out.")},
        (400, 401, 403),
        query=shapes.MeQuery,
        bearer=True,
    ),
    Route(
        "/api/sign-in/handoff",
        "post",
        "takeSignIn",
        "A sign-in the popup could not hand to the page (cut off by the provider's "
        "Cross-Origin-Opener-Policy), once.",
        {
            200: Answer(
                "The sign-in's result, as the popup's message gives it.", shapes.SignInMessage
            ),
            204: Answer("Nothing yet: the reader has not finished, or it was taken."),
        },
        (400, 403, 404, 413, 415),
        body=shapes.HandoffRequest,
    ),
    Route(
        "/api/counts",
        "get",
        "getCounts",
        "Published comments and linkbacks of many pages.",
        {
            200: Answer(
                "Counts in the order asked; 0 for pages without comments.", shapes.PageCounts
            )
        },
        (400, 414),
        query=shapes.CountsQuery,
    ),
    Route(
        "/api/origin",
        "get",
        "getOrigin",
        "Whether the site accepts the asking page's Origin (CORS for all).",
        {200: Answer("The site's answer to this origin.", shapes.OriginAnswer)},
        (400,),
        query=shapes.OriginQuery,
    ),
    Route(
        "/api/preview",
        "post",
        "preview",
        "The HTML a comment text would be stored as.",
        {200: Answer("Sanitised HTML.", shapes.PreviewAnswer)},
        (400, 403, 413, 415, 429),
        body=shapes.PreviewRequest,
        description="From a browser, the Origin must be one of `site`'s origins, or (without "
        "`site`) one of any site's. Rate limited per client address (with edits: 30 a minute, "
        "500 a day).",
    ),
    Route(
        "/api/avatar/{key}.svg",
        "get",
        "getAvatar",
        "An identicon (the `avatar` of comments without a photo).",
        {200: Answer("An SVG image.", media=("image/svg+xml",))},
        (404,),
        path_params=("key",),
        database=False,
    ),
    Route(
        "/api/photo/{key}",
        "get",
        "getPhoto",
        "A linkback author's photo, fetched once and served by the service (the identicon, as "
        "SVG, until then or when it could not be fetched).",
        {200: Answer("A PNG, JPEG, GIF or WebP image, or the SVG identicon.", media=IMAGES)},
        (404,),
        path_params=("key",),
    ),
    Route(
        "/api/openapi.json",
        "get",
        "getOpenAPI",
        "This document.",
        {200: Answer("OpenAPI 3.1.", media=("application/json",))},
        database=False,
    ),
    Route(
        "/xmlrpc",
        "post",
        "xmlrpc",
        "Pingback 1.0: pingback.ping(source, target) and pingback.extensions.getPingbacks(url), "
        "over XML-RPC.",
        {
            200: Answer(
                "An XML-RPC methodResponse (a string, a list, or a fault).", media=("text/xml",)
            ),
            413: Answer("The call is larger than 16 KiB (an XML-RPC fault).", media=("text/xml",)),
            415: Answer("The call came compressed (an XML-RPC fault).", media=("text/xml",)),
            503: Answer(
                "The database does not answer; `Retry-After` says when to retry (an XML-RPC "
                "fault, -32500).",
                media=("text/xml",),
                headers={"Retry-After": ""},
            ),
        },
        body_media="text/xml",
        database=False,  # its 503 is a fault, listed above, not the JSON error
        description="Faults: 0x10 source missing, 0x11 no link to the target, 0x20 target "
        "missing, 0x21 target unusable, 0x30 already registered, 0x31 access denied (banned, too "
        "many pings, too many at once, or a page of this service), 0x32 upstream error, 0 other; "
        "-32700 not well-formed XML, -32600 no methodCall, -32601 no such method, -32602 wrong "
        "parameters; every error answer of another HTTP status is a fault too: -32300 for what "
        "the client sent, -32500 for the service's own trouble. No DOCTYPE, no "
        "Content-Encoding, at most 16 KiB.",
    ),
    Route(
        "/api/data-requests",
        "post",
        "requestDataLink",
        "A reader asks for a link to see, download or erase their comments on a site.",
        {202: Answer("A link is mailed if the address commented there.", shapes.DataRequestSent)},
        (400, 403, 404, 413, 415, 429),
        body=shapes.DataRequest,
        codes={404: ("not_found",)},
        description="The link (valid 24 hours) goes to the address only. Limited per client "
        "(429) and per address (silently). 404 where the service sends no mail.",
    ),
    Route(
        "/api/comments.html",
        "get",
        "getThreadFragment",
        "A thread's first page as the widget's HTML markup (microformats, schema.org), for"
        " pages that include it or are built ahead of time.",
        revalidated(
            Answer(
                "The thread's markup; the widget takes it over without rendering it again.",
                media=("text/html",),
                headers={"ETag": ""},
            )
        ),
        (400, 414),
        query=shapes.FragmentQuery,
    ),
    Route(
        "/feed.atom",
        "get",
        "getFeed",
        "The Atom feed of a site's latest published comments, or of one thread's.",
        revalidated(
            Answer(
                "An Atom feed (RFC 4287), newest 50 entries.",
                media=("application/atom+xml",),
                headers={"ETag": ""},
            )
        ),
        (400,),
        query=shapes.FeedQuery,
    ),
    Route(
        "/webmention",
        "post",
        "webmention",
        "Webmention (W3C): checked at once, verified in the background.",
        {
            201: Answer(
                "Accepted; Location is the status page.",
                shapes.WebmentionAccepted,
                headers={"Location": ""},
            )
        },
        (400, 403, 413, 415, 429),
        body=shapes.WebmentionForm,
        body_media="application/x-www-form-urlencoded",
        codes=WEBMENTION_CODES,
    ),
    Route(
        "/webmention/{key}",
        "get",
        "webmentionStatus",
        "What became of a Webmention (HTML, or JSON when asked for).",
        {
            200: Answer(
                "pending, verified, rejected (with the reason) or deleted.",
                shapes.WebmentionStatus,
                media=("text/html",),
            )
        },
        (404,),
        path_params=("key",),
    ),
    Route(
        "/healthz",
        "get",
        "health",
        "Whether the service and its database answer.",
        {200: Answer("Healthy.", shapes.Health)},
        (503,),
        codes={503: ("database_unavailable",)},
    ),
)

PATH_PARAMS = {
    "comment_id": {"type": "integer", "minimum": 0, "maximum": 2147483647},
    "key": TEXT,
}


def openapi_document(server_url: str) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document, with this server as its base."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "commentsvc",
            "version": "1",
            "description": "Comments and linkbacks for any website. Writes take JSON only; "
            "errors are `{error: {code, message, field}}`.",
        },
        "servers": [{"url": server_url}],
        "paths": _paths(),
        "components": {"schemas": component_schemas()},
    }


def _models() -> list[type[BaseModel]]:
    found = [shapes.Error]
    for route in ROUTES:
        found += [route.body] if route.body else []
        found += [a.model for a in route.answers.values() if a.model]
    return list(dict.fromkeys(found))


def component_schemas() -> dict[str, Any]:
    """Return the schemas of every body and answer, by model name."""
    _, top = models_json_schema([(model, _mode(model)) for model in _models()], ref_template=REF)
    schemas = top["$defs"]
    # The error's inner object is read in place by clients (and tests): no separate name.
    schemas["Error"]["properties"]["error"] = schemas.pop("ErrorDetail")
    return schemas


def _mode(model: type[BaseModel]) -> str:
    return "validation" if issubclass(model, shapes.Body) else "serialization"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = _operation(route)
    return paths


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": route.operation, "summary": route.summary}
    if route.description:
        operation["description"] = route.description
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name]}
        for name in route.path_params
    ]
    if route.query:
        parameters += _query_parameters(route.query)
    if route.edit_token:
        parameters.append(
            {
                "name": "X-Edit-Token",
                "in": "header",
                "required": False,
                "description": "The edit_token answered when the comment was posted or edited.",
                "schema": TEXT,
            }
        )
    if route.bearer:
        parameters.append(
            {
                "name": "Authorization",
                "in": "header",
                "required": False,
                "description": "`Bearer TOKEN`: the commenter token the sign-in popup handed over.",
                "schema": TEXT,
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if route.body:
        operation["requestBody"] = {
            "required": route.body_required,
            "content": {route.body_media: {"schema": _ref(route.body)}},
        }
    responses = {str(status): _answer(answer) for status, answer in route.answers.items()}
    errors = route.errors + ((503,) if route.database and 503 not in route.errors else ())
    for status in errors:
        responses[str(status)] = _error(status, route.codes.get(status))
    operation["responses"] = responses
    return operation


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", "")
        if "anyOf" in prop:  # optional parameters: null is no query value
            prop = {**next(s for s in prop.pop("anyOf") if s.get("type") != "null"), **prop}
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        if prop.get("type") == "array":
            parameter["explode"] = True
        parameters.append(parameter)
    return parameters


def _answer(answer: Answer) -> dict[str, Any]:
    result: dict[str, Any] = {"description": answer.description}
    content = {}
    if answer.model:
        content["application/json"] = {"schema": _ref(answer.model)}
    for media in answer.media:
        content[media] = {"schema": {"type": "object"} if media.endswith("json") else TEXT}
    if content:
        result["content"] = content
    if answer.headers:
        result["headers"] = {
            name: {"schema": TEXT, **({"description": text} if text else {})}
            for name, text in answer.headers.items()
        }
        if "Location" in answer.headers:
            result["headers"]["Location"]["required"] = True
    return result


def _error(status: int, codes: tuple[str, ...] | None) -> dict[str, Any]:
    text, usual = ERROR_STATUSES[status]
    codes = codes or usual
    assert set(codes) <= set(ERROR_CODES), codes  # noqa: S101 - the vocabulary is one
    description = f"{text} Codes: " + ", ".join(f"`{code}`" for code in codes) + "."
    if status == 414:
        # Answered by the HTTP server (gunicorn) before the app sees the request.
        return {"description": description, "content": {"text/html": {"schema": TEXT}}}
    result: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(shapes.Error)}},
    }
    if status == 429:
        result["headers"] = {
            "Retry-After": {"schema": {"type": "integer", "minimum": 1}, "required": True}
        }
    return result
