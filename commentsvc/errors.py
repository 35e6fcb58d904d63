"""Named domain errors, and the one place that turns errors into the JSON error shape."""

from __future__ import annotations

import logging

from flask import Flask
from flask import jsonify
from flask import request
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error the client can act on; carries its HTTP status and a stable code."""

    status = 400
    code = "bad_request"

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

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


# The database did not answer (restarting, unreachable, SQLite busy past its timeout): the client
# may try again; nothing was acknowledged.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError)
DATABASE_RETRY_AFTER = 5

# Pages answered in HTML (admin, demo) keep Werkzeug's pages; everything else is JSON.
_HTML_PREFIXES = ("/admin", "/demo")


def register_error_handlers(app: Flask) -> None:
    """Answer domain errors, HTTP errors and surprises in the JSON error shape."""

    @app.errorhandler(ServiceError)
    def on_service_error(error: ServiceError):
        response = jsonify(error.to_dict())
        response.status_code = error.status
        if isinstance(error, RateLimited):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def on_http_error(error: HTTPException):
        if request.path.startswith(_HTML_PREFIXES) or request.path == "/":
            return error
        code = (error.name or "error").lower().replace(" ", "_")
        response = error.get_response()
        response.set_data(
            jsonify({"error": {"code": code, "message": error.description}}).get_data()
        )
        response.mimetype = "application/json"
        return response

    def on_database_unavailable(error: Exception):
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        response = jsonify(
            {
                "error": {
                    "code": "unavailable",
                    "message": "The service is briefly unavailable; try again shortly.",
                }
            }
        )
        response.status_code = 503
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, on_database_unavailable)

    @app.errorhandler(Exception)
    def on_unexpected(error: Exception):
        # Logged in full for the owner; the client learns nothing about the inside.
        log.exception("unexpected error on %s %s", request.method, request.path)
        response = jsonify({"error": {"code": "internal", "message": "Something went wrong."}})
        response.status_code = 500
        return response
