"""The OpenAPI 3.1 description of the JSON API, kept beside the routes it describes."""

from __future__ import annotations

from typing import Any

from commentsvc.errors import ERROR_CODES


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


def _errors(*codes: int) -> dict:
    text = {
        400: "Invalid input; `error.field` names the field and `error.code` says how "
        "(`empty`, `too_long`, `invalid`, `too_deep`).",
        403: "Origin not allowed, or the edit token is not valid.",
        404: "No such comment.",
        409: "A duplicate of a comment posted before.",
        413: "The body is too large.",
        414: "The URL is too long (more than the server reads in a request line).",
        415: "The body is not application/json.",
        429: "Rate limited; `Retry-After` says how many seconds to wait.",
    }
    responses = {str(code): _error(text[code]) for code in codes}
    if 414 in codes:
        # Answered by the HTTP server (gunicorn) before the app sees the request.
        responses["414"] = {
            "description": text[414],
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    if 429 in codes:
        responses["429"]["headers"] = {
            "Retry-After": {"schema": {"type": "integer", "minimum": 1}, "required": True}
        }
    return responses


def _query(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


SITE = _query("site", "The site's name.", {"type": "string", "minLength": 1}, required=True)
URI = _query("uri", "The page's path.", {"type": "string", "pattern": "^/"}, required=True)
COMMENT_ID = {
    "name": "comment_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647},
}
EDIT_TOKEN = {
    "name": "X-Edit-Token",
    "in": "header",
    "required": False,
    "description": "The edit_token answered when the comment was posted or last edited.",
    "schema": {"type": "string"},
}

NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "enum": list(ERROR_CODES),
                        "description": "What went wrong, for clients to key on (the message "
                        "is for people and may change):\n"
                        + "\n".join(f"- `{code}`: {text}" for code, text in ERROR_CODES.items()),
                        "x-enumDescriptions": ERROR_CODES,
                    },
                    "message": {"type": "string"},
                    "field": {
                        "type": "string",
                        "description": "The field, query parameter or header at fault (`body` "
                        "for the body as a whole).",
                    },
                },
            }
        },
    },
    "Comment": {
        "type": "object",
        "required": [
            "id",
            "parent",
            "kind",
            "status",
            "author",
            "website",
            "avatar",
            "html",
            "created",
            "modified",
            "likes",
            "owner",
            "replies",
        ],
        "properties": {
            "id": {"type": "integer"},
            "parent": {"type": ["integer", "null"]},
            "kind": {"enum": ["comment", "pingback", "trackback", "webmention", "fediverse"]},
            "handle": {
                "type": ["string", "null"],
                "description": "Fediverse replies only: the author's @user@server.",
            },
            "status": {"enum": ["published", "pending", "deleted"]},
            "author": {"type": "string"},
            "website": NULLABLE_STRING,
            "avatar": {
                "type": ["string", "null"],
                "description": "An image on this service (Gravatar's only where the site turned "
                "it on): never an address the comment's sender chose.",
            },
            "html": {"type": "string", "description": "Sanitised HTML, safe to insert."},
            "created": {"type": "string", "format": "date-time"},
            "modified": {"type": ["string", "null"], "format": "date-time"},
            "likes": {"type": "integer", "minimum": 0},
            "owner": {"type": "boolean", "description": "Written by the site's owner."},
            "replies": {"type": "array", "items": _ref("Comment")},
            "text": {
                "type": "string",
                "description": "The Markdown source: only to the author, with X-Edit-Token.",
            },
            "source": {
                "type": "object",
                "description": "Linkbacks and fediverse replies: the page that links here, "
                "or the reply on its server.",
                "properties": {
                    "url": {"type": "string"},
                    "title": {"type": "string"},
                    "excerpt": {"type": "string"},
                    "type": {"enum": ["reply", "like", "repost", "mention"]},
                },
            },
        },
    },
    "OwnComment": {
        "allOf": [
            _ref("Comment"),
            {
                "type": "object",
                "required": ["text", "edit_token", "edit_until"],
                "properties": {
                    "text": {"type": "string", "description": "The Markdown source."},
                    "edit_token": {"type": "string"},
                    "edit_until": {"type": "string", "format": "date-time"},
                },
            },
        ]
    },
    "Thread": {
        "type": "object",
        "required": [
            "site",
            "uri",
            "title",
            "count",
            "counts",
            "likes",
            "fediverse",
            "comments",
            "next",
            "notifications",
        ],
        "properties": {
            "site": {"type": "string"},
            "uri": {"type": "string"},
            "title": {"type": "string"},
            "count": {
                "type": "integer",
                "minimum": 0,
                "description": "Comments and mentions shown, as /api/counts gives them.",
            },
            "counts": {
                "type": "object",
                "required": ["comments", "mentions"],
                "properties": {
                    "comments": {"type": "integer", "minimum": 0},
                    "mentions": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Linkbacks shown, Webmention likes not included.",
                    },
                },
            },
            "likes": {"type": "integer", "minimum": 0},
            "fediverse": {
                "type": "object",
                "description": "The fediverse posts linked to the page: each one's URL (to reply "
                "to it there) and its boosts and favourites, and their sums (shown beside the "
                "page's likes).",
                "required": ["posts", "boosts", "favourites"],
                "properties": {
                    "posts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["url", "account", "boosts", "favourites"],
                            "properties": {
                                "url": {"type": "string"},
                                "account": NULLABLE_STRING,
                                "boosts": {"type": "integer", "minimum": 0},
                                "favourites": {"type": "integer", "minimum": 0},
                            },
                        },
                    },
                    "boosts": {"type": "integer", "minimum": 0},
                    "favourites": {"type": "integer", "minimum": 0},
                },
            },
            "comments": {"type": "array", "items": _ref("Comment")},
            "next": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last.",
            },
            "notifications": {
                "type": "boolean",
                "description": "Whether the service can mail readers about replies.",
            },
        },
    },
    "NewComment": {
        "type": "object",
        "required": ["site", "uri", "text"],
        "properties": {
            "site": {"type": "string"},
            "uri": {"type": "string", "pattern": "^/"},
            "text": {
                "type": "string",
                "minLength": 1,
                "description": "Markdown (CommonMark, no raw HTML); not only whitespace.",
            },
            "author": {"type": ["string", "null"], "maxLength": 100},
            "email": {"type": ["string", "null"], "maxLength": 254, "description": "Never shown."},
            "website": {"type": ["string", "null"], "maxLength": 500},
            "parent": {"type": ["integer", "null"], "minimum": 1},
            "title": {"type": ["string", "null"], "maxLength": 300},
            "notify": {"type": ["boolean", "null"]},
            "form_token": {
                "type": ["string", "null"],
                "description": "The X-Form-Token header of the thread's GET (time trap).",
            },
            "homepage": {"type": ["string", "null"], "description": "Honeypot: leave empty."},
        },
    },
    "CommentChanges": {
        "type": "object",
        "description": "Null for author or website clears it.",
        "properties": {
            "text": {"type": "string", "minLength": 1},
            "author": {"type": ["string", "null"], "maxLength": 100},
            "website": {"type": ["string", "null"], "maxLength": 500},
        },
    },
    "Likes": {
        "type": "object",
        "required": ["likes"],
        "properties": {"likes": {"type": "integer", "minimum": 0}},
    },
    "LikeChange": {
        "type": "object",
        "properties": {
            "visitor": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{16,64}$",
                "description": "A random id the client keeps; stored as a keyed hash. Without"
                " it, the client's address stands for the visitor.",
            },
            "like": {"type": "boolean", "description": "false takes the like back."},
        },
    },
}


COUNT_MAP = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}


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
        "components": {"schemas": SCHEMAS},
    }


def _paths() -> dict[str, Any]:
    return {
        "/api/comments": {
            "get": {
                "operationId": "getThread",
                "summary": "A page's thread: published comments with nested replies.",
                "parameters": [
                    SITE,
                    URI,
                    _query(
                        "sort",
                        "Order of top-level comments.",
                        {"enum": ["oldest", "newest", "top"], "default": "oldest"},
                    ),
                    _query(
                        "limit",
                        "Top-level comments per page.",
                        {"type": "integer", "minimum": 1, "maximum": 200, "default": 100},
                    ),
                    _query("cursor", "The `next` of the previous page.", {"type": "string"}),
                    {
                        **_query(
                            "fediverse",
                            "A fediverse post the page links to (the script tag's "
                            "data-fediverse); taken only from the site's own pages, for posts of "
                            "the site's fediverse accounts.",
                            {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                        ),
                        "explode": True,
                    },
                ],
                "responses": {
                    "200": {
                        **_json(_ref("Thread"), "The thread (empty before its first comment)."),
                        "headers": {
                            "ETag": {"schema": {"type": "string"}},
                            "X-Form-Token": {
                                "schema": {"type": "string"},
                                "description": "Send back as form_token when posting.",
                            },
                        },
                    },
                    "304": {"description": "Not modified since the ETag sent."},
                    **_errors(400, 414),
                },
            },
            "post": {
                "operationId": "postComment",
                "summary": "Post a comment or a reply.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewComment")}},
                },
                "responses": {
                    "201": _json(_ref("OwnComment"), "Published."),
                    "202": _json(_ref("OwnComment"), "Held for moderation."),
                    **_errors(400, 403, 409, 413, 415, 429),
                },
            },
        },
        "/api/comments/{comment_id}": {
            "parameters": [COMMENT_ID],
            "get": {
                "operationId": "getComment",
                "summary": "One comment: published, or the reader's own held one.",
                "parameters": [EDIT_TOKEN],
                "responses": {"200": _json(_ref("Comment"), "The comment."), **_errors(404)},
            },
            "patch": {
                "operationId": "editComment",
                "summary": "The author edits their comment inside the edit window.",
                "parameters": [EDIT_TOKEN],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("CommentChanges")}},
                },
                "responses": {
                    "200": _json(_ref("OwnComment"), "Edited; a new edit token."),
                    **_errors(400, 403, 404, 413, 415, 429),
                },
            },
            "delete": {
                "operationId": "deleteComment",
                "summary": "The author deletes their comment inside the edit window.",
                "parameters": [EDIT_TOKEN],
                "responses": {"204": {"description": "Deleted."}, **_errors(403, 404)},
            },
        },
        "/api/comments/{comment_id}/like": {
            "parameters": [COMMENT_ID],
            "post": {
                "operationId": "likeComment",
                "summary": "Like a comment (once per visitor), or take the like back.",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("LikeChange")}},
                },
                "responses": {
                    "200": _json(_ref("Likes"), "The comment's likes."),
                    **_errors(400, 403, 404, 415, 429),
                },
            },
        },
        "/api/likes": {
            "post": {
                "operationId": "likePage",
                "summary": "Like the page itself (once per visitor), or take the like back.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "allOf": [
                                    {
                                        "type": "object",
                                        "required": ["site", "uri"],
                                        "properties": {
                                            "site": {"type": "string"},
                                            "uri": {"type": "string", "pattern": "^/"},
                                        },
                                    },
                                    _ref("LikeChange"),
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("Likes"), "The page's likes."),
                    **_errors(400, 403, 413, 415, 429),
                },
            },
        },
        "/api/counts": {
            "get": {
                "operationId": "getCounts",
                "summary": "Published comments and linkbacks of many pages.",
                "parameters": [
                    SITE,
                    {
                        "name": "uri",
                        "in": "query",
                        "required": True,
                        "explode": True,
                        "schema": {
                            "type": "array",
                            "items": {"type": "string", "pattern": "^/"},
                            "minItems": 1,
                            "maxItems": 100,
                        },
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["counts", "comments", "mentions"],
                            "properties": {
                                "counts": {
                                    "description": "Comments and mentions, as threads show them.",
                                    **COUNT_MAP,
                                },
                                "comments": COUNT_MAP,
                                "mentions": {
                                    "description": "Linkbacks (Webmention likes not included).",
                                    **COUNT_MAP,
                                },
                            },
                        },
                        "Counts in the order asked; 0 for pages without comments.",
                    ),
                    **_errors(400, 414),
                },
            },
        },
        "/api/origin": {
            "get": {
                "operationId": "getOrigin",
                "summary": "Whether the site accepts the asking page's Origin (CORS for all).",
                "parameters": [SITE],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["site", "exists", "origin", "allowed"],
                            "properties": {
                                "site": {"type": "string"},
                                "exists": {"type": "boolean"},
                                "origin": {"type": ["string", "null"]},
                                "allowed": {"type": "boolean"},
                            },
                        },
                        "The site's answer to this origin.",
                    ),
                    **_errors(400),
                },
            },
        },
        "/api/preview": {
            "post": {
                "operationId": "preview",
                "summary": "The HTML a comment text would be stored as.",
                "description": "From a browser, the Origin must be one of `site`'s origins, "
                "or (without `site`) one of any site's. Rate limited per client address "
                "(with edits: 30 a minute, 500 a day).",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["text"],
                                "properties": {
                                    "text": {"type": "string"},
                                    "site": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["html"],
                            "properties": {"html": {"type": "string"}},
                        },
                        "Sanitised HTML.",
                    ),
                    **_errors(400, 403, 413, 415, 429),
                },
            },
        },
        "/api/avatar/{key}.svg": {
            "get": {
                "operationId": "getAvatar",
                "summary": "An identicon (the `avatar` of comments without a photo).",
                "parameters": [
                    {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "An SVG image.",
                        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
                    },
                    **_errors(404),
                },
            },
        },
        "/api/photo/{key}": {
            "get": {
                "operationId": "getPhoto",
                "summary": "A linkback author's photo, fetched once and served by the service "
                "(the identicon, as SVG, until then or when it could not be fetched).",
                "parameters": [
                    {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "A PNG, JPEG, GIF or WebP image, or the SVG identicon.",
                        "content": {
                            t: {"schema": {"type": "string"}}
                            for t in (
                                "image/png",
                                "image/jpeg",
                                "image/gif",
                                "image/webp",
                                "image/svg+xml",
                            )
                        },
                    },
                    **_errors(404),
                },
            },
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "getOpenAPI",
                "summary": "This document.",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
            },
        },
        "/xmlrpc": {
            "post": {
                "operationId": "xmlrpc",
                "summary": "Pingback 1.0: pingback.ping(source, target) and "
                "pingback.extensions.getPingbacks(url), over XML-RPC.",
                "description": "Faults: 0x10 source missing, 0x11 no link to the target, 0x20 "
                "target missing, 0x21 target unusable, 0x30 already registered, 0x31 access "
                "denied (banned, too many pings, too many at once, or a page of this service), "
                "0x32 upstream error, 0 other; -32700 not well-formed XML, -32600 no "
                "methodCall, -32601 no such method, -32602 wrong parameters. No DOCTYPE, no "
                "Content-Encoding, at most 16 KiB.",
                "requestBody": {
                    "required": True,
                    "content": {"text/xml": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "200": {
                        "description": "An XML-RPC methodResponse (a string, a list, or a fault).",
                        "content": {"text/xml": {"schema": {"type": "string"}}},
                    },
                    "413": {
                        "description": "The call is larger than 16 KiB (an XML-RPC fault).",
                        "content": {"text/xml": {"schema": {"type": "string"}}},
                    },
                    **_errors(415),
                },
            },
        },
        "/webmention": {
            "post": {
                "operationId": "webmention",
                "summary": "Webmention (W3C): checked at once, verified in the background.",
                "description": "Error codes: 400 `invalid` (field named), `same_page`, "
                "`source_not_allowed` (a page of this service), `target_not_accepted`; 403 "
                "`forbidden` (a banned source); 429 `rate_limited`.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["source", "target"],
                                "properties": {
                                    "source": {"type": "string", "format": "uri"},
                                    "target": {"type": "string", "format": "uri"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        **_json(
                            {
                                "type": "object",
                                "required": ["status", "location"],
                                "properties": {
                                    "status": {"const": "pending"},
                                    "location": {"type": "string"},
                                },
                            },
                            "Accepted; Location is the status page.",
                        ),
                        "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
                    },
                    **_errors(400, 403, 413, 415, 429),
                },
            },
        },
        "/webmention/{key}": {
            "get": {
                "operationId": "webmentionStatus",
                "summary": "What became of a Webmention (HTML, or JSON when asked for).",
                "parameters": [
                    {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "pending, verified, rejected (with the reason) or deleted.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["source", "target", "status", "reason"],
                                    "properties": {
                                        "source": {"type": "string"},
                                        "target": {"type": "string"},
                                        "status": {
                                            "enum": ["pending", "verified", "rejected", "deleted"]
                                        },
                                        "reason": {"type": "string"},
                                        "updated": {"type": "string", "format": "date-time"},
                                    },
                                }
                            },
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(404),
                },
            },
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Whether the service and its database answer.",
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"status": {"const": "ok"}}}, "Healthy."
                    ),
                    "503": _json({"type": "object"}, "The database does not answer."),
                },
            },
        },
    }
