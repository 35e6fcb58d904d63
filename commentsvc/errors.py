"""Named domain errors, and the one place that turns errors into the JSON error shape."""

from __future__ import annotations

import logging
import xmlrpc.client

from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Every code an error answer can carry, with what it means: the one vocabulary that the
# OpenAPI document, the README and the widget's translations are checked against.
ERROR_CODES: dict[str, str] = {
    "empty": "A required field is missing or blank.",
    "too_long": "A field is longer than its limit (in code points).",
    "invalid": "A field (or the body, or a query parameter) is not of the right form.",
    "too_deep": "The JSON is nested more deeply than any request of this API needs.",
    "duplicate": "The same text was posted to the same thread already.",
    "conflict": "The request conflicts with the current state (a name already taken).",
    "forbidden": "The Origin, the edit token or the link does not allow this.",
    "edit_window": "The time to edit or delete the comment is over.",
    "unauthorized": "Sign in first: the commenter token is missing, expired, forged, made for "
    "another site or revoked (signed out).",
    "not_found": "There is no such thing (comment, site, route, Webmention).",
    "not_allowed": "The route does not answer this HTTP method.",
    "too_large": "The request body (or URL) is larger than the service reads.",
    "unsupported_media_type": "The body is not of the type the route takes (JSON, or a form).",
    "rate_limited": "Too many requests from this address; `Retry-After` says when to retry.",
    "bad_request": "The request cannot be read (any other client error).",
    "database_unavailable": "The database does not answer (`/healthz` only).",
    "unavailable": "The database does not answer; `Retry-After` says when to retry (503).",
    "internal": "Something went wrong inside the service; the owner finds it in the log.",
    # Linkbacks (Webmention answers; pingback faults carry the spec's numbers instead).
    "source_not_found": "The source page cannot be fetched.",
    "source_not_allowed": "The source is a page of this service, or its address is not allowed.",
    "no_link": "The source does not link to the target.",
    "same_page": "The source and the target are the same page.",
    "target_not_found": "The target page does not exist.",
    "target_not_accepted": "The target is no page of a site here, or its site takes no linkbacks.",
    "already_registered": "This linkback is registered already.",
    "upstream_error": "The source's server failed; the linkback is tried again later.",
    # Sign-in (the popup's pages).
    "provider_error": "The sign-in provider is down, or refused or garbled the sign-in.",
}

# The code of each HTTP error Werkzeug raises before a view runs (unknown route, method, size).
HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "not_allowed",
    409: "conflict",
    413: "too_large",
    414: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "too_large",
}


class ServiceError(Exception):
    """An error the client can act on; carries its HTTP status and a stable code."""

    status = 400
    code = "bad_request"
    fault = 0  # the Pingback fault code when it refuses a pingback (0: a generic fault)

    def __init__(self, message: str, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_dict(self) -> dict:
        """Return the body of the JSON error answer."""
        error = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}


class ValidationError(ServiceError):
    status = 400
    code = "invalid"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"
    fault = 0x31


class Unauthorized(ServiceError):
    """A commenter token that is missing where one is needed, expired, forged, made for another
    site or revoked: the reader signs in again."""

    status = 401
    code = "unauthorized"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"
    fault = 0x31

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


# Linkbacks: each refusal has its HTTP status and code (Webmention) and its Pingback 1.0 fault
# (0x10 source missing, 0x11 no link, 0x20 no target, 0x21 target not usable, 0x30 registered
# already, 0x31 access denied, 0x32 upstream error). Bans are Forbidden, floods RateLimited.


class InvalidSource(ValidationError):
    fault = 0x10


class InvalidTarget(ValidationError):
    fault = 0x20


class SourceNotFound(ServiceError):
    status = 400
    code = "source_not_found"
    fault = 0x10


class SourceNotAllowed(ServiceError):
    status = 400
    code = "source_not_allowed"
    fault = 0x31


class NoLinkToTarget(ServiceError):
    status = 400
    code = "no_link"
    fault = 0x11


class TargetNotFound(ServiceError):
    status = 400
    code = "target_not_found"
    fault = 0x20


class TargetNotAccepted(ServiceError):
    status = 400
    code = "target_not_accepted"
    fault = 0x21


class AlreadyRegistered(Conflict):
    code = "already_registered"
    fault = 0x30


class ProviderError(ServiceError):
    """A sign-in provider that is unreachable, or whose answer fails a check."""

    status = 502
    code = "provider_error"


class UpstreamError(ServiceError):
    status = 502
    code = "upstream_error"
    fault = 0x32


# The database did not answer (restarting, unreachable, SQLite busy past its timeout): the client
# may try again; nothing was acknowledged.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError)
DATABASE_RETRY_AFTER = 5

# Pages answered in HTML (admin, demo, threads without JavaScript) keep Werkzeug's pages;
# everything else is JSON.
_HTML_PREFIXES = ("/admin", "/demo", "/t/")


def register_error_handlers(app: Flask) -> None:
    """Answer domain errors, HTTP errors and surprises in the JSON error shape (an XML-RPC fault
    on /xmlrpc)."""

    @app.errorhandler(ServiceError)
    def on_service_error(error: ServiceError):
        response = _error_answer(Response(status=error.status), error.to_dict())
        if isinstance(error, RateLimited):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def on_http_error(error: HTTPException):
        if request.path.startswith(_HTML_PREFIXES) or request.path == "/":
            return error
        code = HTTP_ERROR_CODES.get(error.code or 500, "bad_request")
        if (error.code or 500) >= 500:
            code = "internal"
        # Werkzeug's own answer keeps its headers (Allow on a 405, say); only the body changes.
        body = {"error": {"code": code, "message": error.description}}
        return _error_answer(error.get_response(), body)

    def on_database_unavailable(error: Exception):
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        message = "The service is briefly unavailable; try again shortly."
        response = _error_answer(
            Response(status=503), {"error": {"code": "unavailable", "message": message}}
        )
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, on_database_unavailable)

    @app.errorhandler(Exception)
    def on_unexpected(error: Exception):
        # Logged in full for the owner; the client learns nothing about the inside.
        log.exception("unexpected error on %s %s", request.method, request.path)
        body = {"error": {"code": "internal", "message": "Something went wrong."}}
        return _error_answer(Response(status=500), body)


# An XML-RPC client reads a fault, never JSON: every error answer of /xmlrpc is one, its HTTP
# status kept (XML-RPC's interoperability codes: a transport error for what the client sent, an
# application error for the service's own trouble).
XMLRPC_PATH = "/xmlrpc"
XMLRPC_TRANSPORT_ERROR = -32300
XMLRPC_APPLICATION_ERROR = -32500


def _error_answer(response: Response, body: dict) -> Response:
    """Return the response with the error body: JSON, or an XML-RPC fault on /xmlrpc."""
    if request.path == XMLRPC_PATH:
        fault = XMLRPC_APPLICATION_ERROR if response.status_code >= 500 else XMLRPC_TRANSPORT_ERROR
        fault_body = xmlrpc.client.Fault(fault, body["error"]["message"])
        response.set_data(xmlrpc.client.dumps(fault_body, methodresponse=True))
        response.mimetype = "text/xml"
    else:
        response.set_data(current_app.json.response(body).get_data())
        response.mimetype = "application/json"
    return response
