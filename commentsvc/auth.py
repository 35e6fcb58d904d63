"""The sign-in pages the widget opens in a popup (`/auth/...`).

The popup is a top-level window on the service's own origin, so its cookie (the flow's state,
nonce and PKCE verifier, signed) is first-party even where third-party cookies are blocked. At
the end, the page hands a commenter token to the opener with postMessage, aimed at the site's
exact origin; the embedding page itself never gets a cookie.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from commentsvc import fields
from commentsvc import identities
from commentsvc import providers
from commentsvc import sites
from commentsvc import spam
from commentsvc.db import db
from commentsvc.errors import NotFound
from commentsvc.errors import ProviderError
from commentsvc.errors import RateLimited
from commentsvc.errors import ServiceError
from commentsvc.errors import ValidationError
from commentsvc.models import Site

bp = Blueprint("auth", __name__, url_prefix="/auth")

FLOW_COOKIE = "csvc_sign_in"
# Over HTTPS the flow's cookie is a __Host- one, which browsers take only from this host over
# HTTPS (Secure, no Domain, Path=/): a sibling subdomain (Domain=) or a plain-http answer forged
# on the network could otherwise set a flow of their own in a reader's browser. With a hand-off
# that is a stolen sign-in: the stranger starts a flow, sets its cookie in the reader's browser,
# sends the reader through the provider (who knows them), and fetches the reader's sign-in with
# the secret the stranger's own start page gave them.
SECURE_FLOW_COOKIE = "__Host-csvc_sign_in"


def now():
    return current_app.extensions["clock"]()


def secret() -> str:
    return current_app.config["SECRET_KEY"]


def protocol(provider) -> providers.Client:
    """Return the protocol object for a configured provider."""
    kind = providers.KINDS.get(provider.kind)
    if kind is None:
        raise ValidationError(
            f"Signing in with a {provider.kind} provider is not available yet.", field="provider"
        )
    return kind(
        provider,
        secret=identities.decrypt_secret(secret(), provider.secret),
        fetcher=current_app.extensions["fetcher"],
        redirect_uri=redirect_uri(provider.name),
        cache=current_app.extensions.setdefault("provider_metadata", {}),
    )


def redirect_uri(name: str) -> str:
    """Return the callback address the owner registers with the provider (from PUBLIC_URL)."""
    public = current_app.config["PUBLIC_URL"].rstrip("/")
    path = url_for("auth.callback", name=name)
    return public + path if public else url_for("auth.callback", name=name, _external=True)


@bp.get("/<name>/start")
def start(name: str):
    """Begin a sign-in: check the site offers the provider, then go to the provider."""
    try:
        site, origin = _site_and_origin(request.args.get("site"), request.args.get("origin"))
    except ServiceError as error:
        return _result_page(None, error=error)
    try:
        if name not in identities.site_providers(site):
            raise NotFound(f"The site {site.name!r} offers no sign-in called {name!r}.")
        if current_app.config["GUARD"]:
            spam.limit_sign_ins(current_app.extensions["limiter"], _address())
        provider = identities.get_provider(name)
        server = ""
        if provider.kind in providers.READER_SERVER:
            allow_http = current_app.config["FETCH_ALLOW_PRIVATE"]
            parse = providers.parse_me if provider.kind == "indieauth" else providers.parse_server
            server = parse(request.args.get("server"), allow_http=allow_http)
        handle, digest = _handoff(request.args.get("handoff"))
        flow = providers.new_flow(
            provider.name, site.id, origin, now=now(), server=server, handoff=digest
        )
        target = protocol(provider).authorization_url(flow)
    except ServiceError as error:
        return _result_page(origin, error=error)
    response = _handoff_page(origin, handle, target) if handle else redirect(target)
    cookie, path = _flow_cookie(name)
    response.set_cookie(
        cookie,
        flow.dump(secret()),
        max_age=600,
        path=path,
        httponly=True,
        secure=request.is_secure,
        # Lax: the provider's redirect back is a top-level navigation, which Lax lets through.
        samesite="Lax",
    )
    return response


@bp.get("/<name>/callback")
def callback(name: str):
    """Finish a sign-in: check state, exchange the code, check the ID token, hand the token."""
    flow = providers.Flow.load(secret(), request.cookies.get(_flow_cookie(name)[0]), now=now())
    if flow is None or flow.provider != name:
        return _result_page(
            None,
            error=ValidationError(
                "This sign-in has expired or was started elsewhere; start again from the page.",
                field="state",
            ),
        )
    try:
        state = request.args.get("state", "")
        if not hmac.compare_digest(state.encode(), flow.state.encode()):
            raise ValidationError("The sign-in's state does not match; start again.", "state")
        if request.args.get("error"):
            reason = fields.text_field(request.args["error"][:100], "error", max_length=100)
            raise ProviderError(f"The provider did not sign you in ({reason}).")
        code = request.args.get("code", "")
        if not code or len(code) > 2000:
            raise ValidationError("The provider gave no code.", field="code")
        site = db.session.get(Site, flow.site_id)
        if site is None or flow.provider not in identities.site_providers(site):
            raise NotFound("The site no longer offers this sign-in.")
        provider = identities.get_provider(name)
        profile = protocol(provider).finish(flow, code, now=now())
        identity = identities.save_identity(provider.name, profile, secret=secret(), now=now())
        message = identities.sign_in_message(secret(), identity, site, now=now())
    except ServiceError as error:
        if flow.handoff:
            identities.hand_off(
                flow.handoff, flow.site_id, identity=None, error=_error(error), now=now()
            )
        return _result_page(flow.origin, error=error, clear=name, handoff=bool(flow.handoff))
    if flow.handoff:
        identities.hand_off(flow.handoff, site.id, identity=identity, error=None, now=now())
    return _result_page(
        flow.origin,
        message=message,
        title="Signed in",
        text=f"You are signed in as {identity.name}.",
        clear=name,
        handoff=bool(flow.handoff),
    )


def _handoff(value: object) -> tuple[str, str]:
    """Return a fresh hand-off secret and its digest when the widget asks for one (handoff=1).

    The secret is made here, never taken from the request: a stranger who chose it could send
    a reader to this address and fetch the reader's sign-in with it.
    """
    if value is None:
        return "", ""
    if value != "1":
        raise ValidationError("handoff must be 1.", field="handoff")
    return identities.new_handoff()


def _handoff_page(origin: str, handle: str, target: str) -> Response:
    """Answer the popup's first address with a page that gives the hand-off secret to the page
    that opened it (at the site's exact origin only), then goes on to the provider."""
    nonce = secrets.token_urlsafe(16)
    body = render_template(
        "auth/start.html",
        nonce=nonce,
        target=target,
        start={"origin": origin, "handle": handle, "target": target},
    )
    return _popup_page(Response(body, mimetype="text/html"), nonce)


def _flow_cookie(name: str) -> tuple[str, str]:
    """Return the name and path of the flow's cookie: a __Host- one over HTTPS (see
    SECURE_FLOW_COOKIE); over plain http (a test or a local setup), one for the callback only."""
    if request.is_secure:
        return SECURE_FLOW_COOKIE, "/"
    return FLOW_COOKIE, url_for("auth.callback", name=name)


def _site_and_origin(name, origin) -> tuple[Site, str]:
    site = sites.find_site(name) if isinstance(name, str) else None
    if site is None:
        raise NotFound(f"There is no site called {name!r}.", field="site")
    normal = (
        fields.normal_origin(origin)
        if isinstance(origin, str) and fields.is_printable_ascii(origin, max_length=300)
        else None
    )
    if normal is None or normal not in {o.origin for o in site.origins}:
        raise ValidationError(
            f"The site {site.name!r} is not embedded at {origin!r}.", field="origin"
        )
    return site, normal


def _error(error: ServiceError) -> dict:
    return error.to_dict()["error"]


def _address() -> str:
    return spam.address_hash(secret(), request.remote_addr or "")


def _result_page(
    origin: str | None,
    *,
    error: ServiceError | None = None,
    message: dict | None = None,
    title: str = "",
    text: str = "",
    clear: str | None = None,
    handoff: bool = False,
) -> Response:
    """Answer the popup: a page that tells the reader, and the opener (at origin), the result.

    handoff: the widget fetches the result itself if the popup has no opener to hand it to.
    """
    if error is not None:
        message = identities.error_message(_error(error))
        title, text = "Sign-in failed", error.message
    nonce = secrets.token_urlsafe(16)
    body = render_template(
        "auth/result.html",
        title=title,
        message=text,
        nonce=nonce,
        result={"origin": origin, "message": message, "handoff": handoff},
    )
    status = 200 if error is None else error.status
    response = _popup_page(Response(body, status=status, mimetype="text/html"), nonce)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    if clear:
        cookie, path = _flow_cookie(clear)
        response.delete_cookie(cookie, path=path, secure=request.is_secure, httponly=True)
    return response


def _popup_page(response: Response, nonce: str) -> Response:
    """Give a page of the popup its headers: only its own script runs, nothing keeps it, and
    nobody is told where it was."""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
