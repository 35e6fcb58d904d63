"""The linkback endpoints: XML-RPC for Pingback, /webmention, and Webmention status pages."""

from __future__ import annotations

import xmlrpc.client

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from flask import url_for

from commentsvc import fields
from commentsvc import shapes
from commentsvc import spam
from commentsvc.db import db
from commentsvc.errors import NotFound
from commentsvc.errors import ServiceError
from commentsvc.errors import UnsupportedMediaType
from commentsvc.linkbacks import receive
from commentsvc.linkbacks.jobs import app_context
from commentsvc.models import Mention

bp = Blueprint("linkbacks", __name__)

MAX_XMLRPC_BYTES = 16 * 1024
# XML-RPC's interoperability fault codes (specs.xmlrpc.com "fault code interoperability").
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


def _context():
    # Only the keyed hash of the client's address is kept, in jobs too, and named to the pages
    # fetched (so that their owner can report abuse without learning the address).
    hashed = spam.address_hash(current_app.config["SECRET_KEY"], request.remote_addr or "")
    return app_context(address=hashed, requested_by=f"client {hashed}", host=request.host)


# --- Pingback over XML-RPC ---------------------------------------------------------------------


@bp.post("/xmlrpc")
def xmlrpc_endpoint():
    """Answer pingback.ping and pingback.extensions.getPingbacks."""
    if request.headers.get("Content-Encoding"):
        raise UnsupportedMediaType("Compressed XML-RPC requests are not accepted.")
    body = request.stream.read(MAX_XMLRPC_BYTES + 1)
    if len(body) > MAX_XMLRPC_BYTES or (request.content_length or 0) > MAX_XMLRPC_BYTES:
        return _too_large()
    try:
        params, method = _parse_call(body)
    except _Fault as fault:
        return _fault(fault.code, fault.message)
    if method == "pingback.ping":
        return _call(receive.receive_pingback, params, 2)
    if method == "pingback.extensions.getPingbacks":
        return _call(receive.pingbacks_of, params, 1, context=False)
    return _fault(METHOD_NOT_FOUND, f"There is no method called {str(method)[:100]!r} here.")


class _Fault(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _parse_call(body: bytes) -> tuple[tuple, str]:
    # defusedxml first: no DOCTYPE, no entity, no external reference gets past it. Only then
    # does xmlrpc.client (plain expat) decode the call.
    try:
        root = defusedxml.ElementTree.fromstring(body, forbid_dtd=True)
    except DefusedXmlException:
        raise _Fault(PARSE_ERROR, "DOCTYPEs and entities are not accepted.") from None
    except Exception:  # noqa: BLE001 - any parser complaint is the client's malformed XML
        raise _Fault(PARSE_ERROR, "The request is not well-formed XML.") from None
    if root.tag != "methodCall":
        raise _Fault(INVALID_REQUEST, "The request is not an XML-RPC methodCall.")
    try:
        params, method = xmlrpc.client.loads(body, use_builtin_types=True)
    except Exception:  # noqa: BLE001 - whatever xmlrpc.client objects to, the call is malformed
        raise _Fault(INVALID_REQUEST, "The request is not a valid XML-RPC call.") from None
    if not isinstance(method, str) or not method:
        raise _Fault(INVALID_REQUEST, "The request names no method.")
    return params, method


def _call(function, params: tuple, arity: int, context: bool = True):
    if len(params) != arity or not all(isinstance(p, str) for p in params):
        return _fault(INVALID_PARAMS, f"This method takes {arity} string parameter(s).")
    try:
        result = function(*params, _context()) if context else function(*params)
    except ServiceError as error:
        return _fault(error.fault, error.message)
    return _xml(xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False))


def _fault(code: int, message: str):
    return _xml(xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True))


def _xml(payload: str):
    return Response(payload, mimetype="text/xml")


def _too_large():
    response = _fault(PARSE_ERROR, f"The request is larger than {MAX_XMLRPC_BYTES} bytes.")
    response.status_code = 413
    return response


# --- Webmention ----------------------------------------------------------------------------------


@bp.post("/webmention")
def webmention_endpoint():
    """Take a Webmention: checks at once, verification in the background (201 + status page)."""
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise UnsupportedMediaType("Send source and target as a form (x-www-form-urlencoded).")
    form = shapes.parse(shapes.WebmentionForm, request.form.to_dict())
    mention = receive.receive_webmention(form.source, form.target, _context())
    # Absolute from COMMENTSVC_PUBLIC_URL only, never from the request's Host; relative without.
    location = current_app.config["PUBLIC_URL"].rstrip("/") + url_for(
        "linkbacks.webmention_status", key=mention.key
    )
    response = jsonify(status=mention.status, location=location)
    response.status_code = 201
    response.headers["Location"] = location
    return response


@bp.get("/webmention/<key>")
def webmention_status(key: str):
    """Tell what became of a Webmention: pending, verified, rejected (and why), or deleted."""
    valid = fields.is_printable_ascii(key, max_length=32)
    mention = db.session.query(Mention).filter_by(key=key).one_or_none() if valid else None
    if mention is None:
        raise NotFound("There is no such Webmention.")
    data = {
        "source": mention.source,
        "target": mention.target,
        "status": mention.status,
        "reason": mention.reason,
        "updated": mention.updated.isoformat(timespec="seconds") + "Z",
    }
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if best == "application/json":
        return jsonify(data)
    return render_template("webmention_status.html", **data)
