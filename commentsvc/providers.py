"""Sign-in protocols: OpenID Connect by discovery. Authlib makes the state, nonce, PKCE
challenge, authorization URL and token request; joserfc (Authlib's JOSE library, which Authlib
itself now points to) checks the ID token: signature by the provider's JWKS, issuer, audience,
expiry, nonce.

Every request to a provider goes through the hardened fetcher (no private addresses unless
FETCH_ALLOW_PRIVATE, one deadline, a byte cap): a stranger starts these requests by clicking.
The domain here knows no request: the caller passes the fetcher, the redirect URI and the clock.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode
from urllib.parse import urljoin
from urllib.parse import urlsplit

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from commentsvc import fields
from commentsvc import tokens
from commentsvc.errors import ProviderError
from commentsvc.errors import ValidationError
from commentsvc.identities import Profile
from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.models import AuthProvider

# Provider documents are small; a huge one is an attack or a mistake.
MAX_DOCUMENT_BYTES = 256 * 1024
# Discovery documents and keys are kept this long per process (providers rotate keys slowly;
# an unknown key id fetches them again).
METADATA_SECONDS = 600
# Asymmetric signatures only: "none" and HMAC with a public client secret are refused.
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Flow:
    """One sign-in in progress: what the callback must find again (kept in a signed cookie)."""

    provider: str
    site_id: int
    origin: str
    state: str
    nonce: str
    verifier: str
    expires: int
    # The server the reader named (mastodon): scheme://host[:port]; "" for the other kinds.
    server: str = ""
    # The SHA-256 (hex) of the hand-off secret the popup gave the widget; "" when none.
    handoff: str = ""

    def dump(self, secret: str) -> str:
        """Return the flow as a signed token."""
        return tokens.dump(
            secret,
            tokens.SIGN_IN,
            [
                self.provider,
                self.site_id,
                self.origin,
                self.state,
                self.nonce,
                self.verifier,
                self.expires,
                self.server,
                self.handoff,
            ],
        )

    @classmethod
    def load(cls, secret: str, token: object, *, now: datetime) -> Flow | None:
        """Return the flow a cookie carries, or None for a missing, forged or stale one."""
        try:
            data = tokens.load(secret, tokens.SIGN_IN, token, length=9)
        except tokens.BadToken:
            return None
        if not all(isinstance(data[i], str) for i in (0, 2, 3, 4, 5, 7, 8)):
            return None
        if type(data[1]) is not int or type(data[6]) is not int:
            return None
        flow = cls(*data)
        return flow if tokens.epoch(now) <= flow.expires else None


def new_flow(
    provider: str, site_id: int, origin: str, *, now: datetime, server: str = "", handoff: str = ""
) -> Flow:
    """Return a new flow with fresh state, nonce and PKCE verifier, good for ten minutes."""
    return Flow(
        provider=provider,
        site_id=site_id,
        origin=origin,
        state=generate_token(32),
        nonce=generate_token(32),
        verifier=generate_token(64),
        expires=tokens.epoch(now) + 600,
        server=server,
        handoff=handoff,
    )


class Client:
    """What every kind shares: the configured provider, its secret, the fetcher, the callback."""

    def __init__(
        self,
        provider: AuthProvider,
        *,
        secret: str,
        fetcher: Fetcher,
        redirect_uri: str,
        cache: dict[str, Any],
    ):
        self.provider = provider
        self.secret = secret
        self.fetcher = fetcher
        self.redirect_uri = redirect_uri
        self.cache = cache

    def authorization_url(self, flow: Flow) -> str:
        """Return the provider's authorization URL for this flow."""
        raise NotImplementedError

    def finish(self, flow: Flow, code: str, *, now: datetime) -> Profile:
        """Exchange the code and return who signed in.

        :raise ProviderError: when the provider refuses, is down, or answers nonsense.
        """
        raise NotImplementedError

    def _token(
        self, endpoint: str, code: str, verifier: str | None, *, basic: bool = True
    ) -> dict[str, Any]:
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.redirect_uri,
            code_verifier=verifier,
            **(
                {}
                if basic
                else {"client_id": self.provider.client_id, "client_secret": self.secret}
            ),
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if basic:
            # client_secret_basic, the default every OpenID provider takes (RFC 6749 2.3.1).
            pair = f"{quote(self.provider.client_id, safe='')}:{quote(self.secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        answer = self._request("POST", endpoint, data=body.encode(), headers=headers)
        if answer.status >= 400 or "error" in _json(answer.body):
            detail = _json(answer.body).get("error") or f"status {answer.status}"
            raise ProviderError(f"The provider refused the sign-in ({_short(detail)}).")
        return _json(answer.body)

    def _access_token(self, answer: dict[str, Any]) -> str:
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderError("The provider gave no access token.")
        return token

    def _get_json(self, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        answer = self._request(
            "GET", url, headers={"Accept": "application/json", **(headers or {})}
        )
        if answer.status != 200:
            raise ProviderError(f"The provider answered {answer.status} for {url}.")
        document = _json(answer.body)
        if not document:
            raise ProviderError(f"The provider's answer at {url} is not a JSON object.")
        return document

    def _request(self, method: str, url: str, **options: Any):
        try:
            return self.fetcher.request(method, url, **options)
        except FetchError as error:
            message = f"The sign-in provider cannot be reached: {error.message}."
            raise ProviderError(message) from None


class OIDC(Client):
    """Any OpenID Connect provider, by its issuer's discovery document."""

    def authorization_url(self, flow: Flow) -> str:
        """Return the provider's authorization URL for this flow (code flow, S256 PKCE)."""
        metadata = self.metadata()
        return prepare_grant_uri(
            metadata["authorization_endpoint"],
            client_id=self.provider.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope="openid profile",
            state=flow.state,
            nonce=flow.nonce,
            code_challenge=create_s256_code_challenge(flow.verifier),
            code_challenge_method="S256",
        )

    def finish(self, flow: Flow, code: str, *, now: datetime) -> Profile:
        """Exchange the code (with the PKCE verifier), check the ID token, return the profile.

        :raise ProviderError: when the provider refuses, is down, or its ID token fails a check.
        """
        metadata = self.metadata()
        answer = self._token(metadata["token_endpoint"], code, flow.verifier)
        self._access_token(answer)
        id_token = answer.get("id_token")
        access_token = answer.get("access_token")
        if not isinstance(id_token, str) or not id_token:
            raise ProviderError("The provider gave no ID token.")
        claims = self._check_id_token(metadata, id_token, flow.nonce, now)
        info = dict(claims)
        if isinstance(access_token, str) and metadata.get("userinfo_endpoint"):
            more = self._userinfo(metadata["userinfo_endpoint"], access_token)
            # The userinfo endpoint answers for the same subject or not at all.
            if more.get("sub") == claims["sub"]:
                info = {**more, **{k: v for k, v in info.items() if v}}
        return Profile(
            subject=str(claims["sub"]),
            name=_first_text(info, "name", "preferred_username", "nickname", "email") or "",
            url=_first_text(info, "profile", "website") or "",
            photo=_first_text(info, "picture") or "",
        )

    def metadata(self) -> dict[str, Any]:
        """Return the issuer's discovery document (kept for a while), checked."""
        issuer = self.provider.issuer.rstrip("/")
        kept = self.cache.get(("metadata", issuer))
        if kept and kept[0] > time.monotonic():
            return kept[1]
        document = self._get_json(f"{issuer}/.well-known/openid-configuration")
        if str(document.get("issuer", "")).rstrip("/") != issuer:
            raise ProviderError("The provider's discovery document names another issuer.")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str) or not document[key].startswith("http"):
                raise ProviderError(f"The provider's discovery document has no {key}.")
        self.cache[("metadata", issuer)] = (time.monotonic() + METADATA_SECONDS, document)
        return document

    def _keys(self, jwks_uri: str, *, fresh: bool = False) -> KeySet:
        kept = self.cache.get(("jwks", jwks_uri))
        if kept and kept[0] > time.monotonic() and not fresh:
            return kept[1]
        try:
            keys = KeySet.import_key_set(self._get_json(jwks_uri))
        except (JoseError, ValueError, TypeError, KeyError):
            raise ProviderError("The provider's signing keys cannot be read.") from None
        self.cache[("jwks", jwks_uri)] = (time.monotonic() + METADATA_SECONDS, keys)
        return keys

    def _check_id_token(self, metadata, id_token, nonce, now) -> dict[str, Any]:
        issuer = self.provider.issuer.rstrip("/")
        client_id = self.provider.client_id
        token = None
        for fresh in (False, True):
            try:
                keys = self._keys(metadata["jwks_uri"], fresh=fresh)
                token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
                break
            except (JoseError, ValueError, TypeError) as error:
                # Perhaps signed with a key the provider added since: fetch the keys once more.
                if fresh:
                    raise ProviderError(f"The ID token is not valid: {_reason(error)}") from None
        registry = jwt.JWTClaimsRegistry(
            now=tokens.epoch(now),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "values": [issuer, issuer + "/"]},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(token.claims)
        except JoseError as error:
            raise ProviderError(f"The ID token is not valid: {_reason(error)}") from None
        claims = token.claims
        # Several audiences: the token must have been issued to us (OIDC Core 3.1.3.7).
        if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1:
            if claims.get("azp") != client_id:
                raise ProviderError("The ID token is not valid: issued to another party.")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise ProviderError("The ID token names no subject.")
        return claims

    def _userinfo(self, endpoint: str, access_token: str) -> dict[str, Any]:
        answer = self._request(
            "GET",
            endpoint,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        return _json(answer.body) if answer.status == 200 else {}


class GitHub(Client):
    """GitHub (or GitHub Enterprise Server, by --issuer): OAuth app, then the user API."""

    def _endpoints(self) -> tuple[str, str, str]:
        base = (self.provider.issuer or "https://github.com").rstrip("/")
        api = "https://api.github.com" if base == "https://github.com" else base + "/api/v3"
        return base + "/login/oauth/authorize", base + "/login/oauth/access_token", api + "/user"

    def authorization_url(self, flow: Flow) -> str:
        """Return GitHub's authorization URL (no scope: public profile only; S256 PKCE)."""
        return prepare_grant_uri(
            self._endpoints()[0],
            client_id=self.provider.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            state=flow.state,
            code_challenge=create_s256_code_challenge(flow.verifier),
            code_challenge_method="S256",
        )

    def finish(self, flow: Flow, code: str, *, now: datetime) -> Profile:
        """Exchange the code; the user API names the account (its numeric id is stable)."""
        _authorize, token_url, user_url = self._endpoints()
        access = self._access_token(self._token(token_url, code, flow.verifier, basic=False))
        user = self._get_json(user_url, {"Authorization": f"Bearer {access}"})
        return _numbered_account(
            user, "GitHub", ("id", ("name", "login"), "html_url", "avatar_url")
        )


def _numbered_account(
    account: dict, who: str, keys: tuple[str, tuple[str, ...], str, str]
) -> Profile:
    """Return the profile of an account a provider names by a number (GitHub, WordPress.com);
    keys: the number's, the name's (first found wins), the profile page's and the photo's."""
    number, names, page, photo = keys
    if type(account.get(number)) is not int:
        raise ProviderError(f"{who}'s answer names no account.")
    return Profile(
        subject=str(account[number]),
        name=_first_text(account, *names) or "",
        url=_first_text(account, page) or "",
        photo=_first_text(account, photo) or "",
    )


class WordPress(Client):
    """WordPress.com accounts: its OAuth2 server, then /rest/v1.1/me."""

    def _base(self) -> str:
        return (self.provider.issuer or "https://public-api.wordpress.com").rstrip("/")

    def authorization_url(self, flow: Flow) -> str:
        """Return WordPress.com's authorization URL (scope auth: who the reader is, no more)."""
        return prepare_grant_uri(
            self._base() + "/oauth2/authorize",
            client_id=self.provider.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope="auth",
            state=flow.state,
        )

    def finish(self, flow: Flow, code: str, *, now: datetime) -> Profile:
        """Exchange the code; /me names the account (its numeric ID is stable)."""
        answer = self._token(self._base() + "/oauth2/token", code, None, basic=False)
        me = self._get_json(
            self._base() + "/rest/v1.1/me",
            {"Authorization": f"Bearer {self._access_token(answer)}"},
        )
        return _numbered_account(
            me, "WordPress.com", ("ID", ("display_name", "username"), "profile_URL", "avatar_URL")
        )


class Mastodon(Client):
    """Any Mastodon server the reader names: the service registers itself there on first use
    (POST /api/v1/apps) and keeps the registration; then OAuth2 with PKCE and
    /api/v1/accounts/verify_credentials."""

    SCOPE = "read:accounts"

    def _registration(self, server: str) -> tuple[str, str]:
        from commentsvc import identities

        kept = identities.find_registration(self.provider.name, server)
        if kept is not None:
            return kept
        answer = self._request(
            "POST",
            server + "/api/v1/apps",
            data=urlencode(
                {
                    "client_name": "commentsvc",
                    "redirect_uris": self.redirect_uri,
                    "scopes": self.SCOPE,
                }
            ).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        app = _json(answer.body)
        client_id, client_secret = app.get("client_id"), app.get("client_secret")
        if answer.status >= 400 or not isinstance(client_id, str) or not client_id:
            raise ProviderError(f"{server} did not register this service ({answer.status}).")
        secret = client_secret if isinstance(client_secret, str) else ""
        return identities.save_registration(self.provider.name, server, client_id, secret)

    def authorization_url(self, flow: Flow) -> str:
        """Return the server's authorization URL (registering the service there first)."""
        client_id, _secret = self._registration(flow.server)
        return prepare_grant_uri(
            flow.server + "/oauth/authorize",
            client_id=client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope=self.SCOPE,
            state=flow.state,
            code_challenge=create_s256_code_challenge(flow.verifier),
            code_challenge_method="S256",
        )

    def finish(self, flow: Flow, code: str, *, now: datetime) -> Profile:
        """Exchange the code; verify_credentials names the account (id@server is stable)."""
        client_id, client_secret = self._registration(flow.server)
        registered = Client(
            AuthProvider(name=self.provider.name, kind="mastodon", client_id=client_id),
            secret=client_secret,
            fetcher=self.fetcher,
            redirect_uri=self.redirect_uri,
            cache=self.cache,
        )
        answer = registered._token(flow.server + "/oauth/token", code, flow.verifier, basic=False)
        account = self._get_json(
            flow.server + "/api/v1/accounts/verify_credentials",
            {"Authorization": f"Bearer {self._access_token(answer)}"},
        )
        if not isinstance(account.get("id"), str | int) or not account.get("username"):
            raise ProviderError("The Mastodon server's answer names no account.")
        host = urlsplit(flow.server).netloc
        return Profile(
            subject=f"{account['id']}@{host}",
            name=_first_text(account, "display_name") or f"@{account['username']}@{host}",
            url=_first_text(account, "url") or "",
            photo=_first_text(account, "avatar_static", "avatar") or "",
        )


class IndieAuth(Client):
    """The reader's own domain (IndieAuth): discovery from their URL, PKCE, and the `me` check.

    The client id is the service's own address (PUBLIC_URL), as the spec has it; no secret.
    """

    def _metadata(self, me: str) -> dict[str, Any]:
        kept = self.cache.get(("indieauth", me))
        if kept and kept[0] > time.monotonic():
            return kept[1]
        page = self._request("GET", me, headers={"Accept": "text/html"})
        if page.status != 200:
            raise ProviderError(f"{me} answered {page.status}.")
        found = _link(page, "indieauth-metadata")
        if found:
            metadata = self._get_json(found)
        else:  # before the metadata document: the two endpoints linked from the page itself
            metadata = {
                "issuer": "",
                "authorization_endpoint": _link(page, "authorization_endpoint"),
                "token_endpoint": _link(page, "token_endpoint"),
            }
        for key in ("authorization_endpoint", "token_endpoint"):
            if not str(metadata.get(key) or "").startswith(("https://", "http://")):
                raise ProviderError(f"{me} names no IndieAuth {key}.")
        self.cache[("indieauth", me)] = (time.monotonic() + METADATA_SECONDS, metadata)
        return metadata

    def client_id(self) -> str:
        return self.redirect_uri.rsplit("/auth/", 1)[0] + "/"

    def authorization_url(self, flow: Flow) -> str:
        """Return the reader's authorization endpoint's URL, with `me` and S256 PKCE."""
        return prepare_grant_uri(
            self._metadata(flow.server)["authorization_endpoint"],
            client_id=self.client_id(),
            response_type="code",
            redirect_uri=self.redirect_uri,
            state=flow.state,
            me=flow.server,
            code_challenge=create_s256_code_challenge(flow.verifier),
            code_challenge_method="S256",
        )

    def finish(self, flow: Flow, code: str, *, now: datetime) -> Profile:
        """Redeem the code; the `me` answered must be the reader's site (same host), whose
        endpoint is the one that vouched for it."""
        metadata = self._metadata(flow.server)
        body = prepare_token_request(
            "authorization_code",
            code=code,
            client_id=self.client_id(),
            redirect_uri=self.redirect_uri,
            code_verifier=flow.verifier,
        )
        answer = self._request(
            "POST",
            metadata["token_endpoint"],
            data=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        result = _json(answer.body)
        if answer.status >= 400 or "error" in result:
            detail = result.get("error") or f"status {answer.status}"
            raise ProviderError(f"The provider refused the sign-in ({_short(detail)}).")
        me = result.get("me")
        if not isinstance(me, str) or urlsplit(me).netloc != urlsplit(flow.server).netloc:
            raise ProviderError("The IndieAuth answer names another site than yours.")
        if me != flow.server and self._metadata(me) != metadata:
            raise ProviderError("Your site names another IndieAuth server than the one used.")
        profile = result.get("profile") if isinstance(result.get("profile"), dict) else {}
        return Profile(
            subject=me,
            name=_first_text(profile, "name") or urlsplit(me).netloc,
            url=_first_text(profile, "url") or me,
            photo=_first_text(profile, "photo") or "",
        )


def _link(page, rel: str) -> str:
    """Return the absolute URL of the page's first link with rel (HTTP Link header first)."""
    from bs4 import BeautifulSoup
    from requests.utils import parse_header_links

    for link in parse_header_links(page.headers.get("link", "")):
        if rel in link.get("rel", "").split():
            return urljoin(page.url, link.get("url", ""))
    if "html" not in page.content_type:
        return ""
    soup = BeautifulSoup(page.body[:MAX_DOCUMENT_BYTES], "html.parser")
    found = soup.find(["link", "a"], rel=rel, href=True)
    return urljoin(page.url, found["href"]) if found else ""


def parse_me(value: object, *, allow_http: bool) -> str:
    """Return the reader's own URL (IndieAuth `me`): http(s), a path ("/" at least), no fragment.

    :raise ValidationError: otherwise.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError("Give your site's address.", field="server", code="empty")
    url = fields.http_url(text if "://" in text else "https://" + text, "server", max_length=300)
    parts = urlsplit(url)
    if parts.fragment or parts.username or parts.password or parts.port and not allow_http:
        raise ValidationError("Give your site's address, like example.org.", field="server")
    if parts.scheme == "http" and not allow_http:
        raise ValidationError("Your site must be reached over https.", field="server")
    return (
        f"{parts.scheme}://{fields.normal_host(parts.hostname)}"
        + (f":{parts.port}" if parts.port else "")
        + (parts.path or "/")
        + (f"?{parts.query}" if parts.query else "")
    )


def parse_server(value: object, *, allow_http: bool) -> str:
    """Return the origin of a server a reader named ("mastodon.social" or a URL).

    :raise ValidationError: for anything but a host (https; http only when allow_http).
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError(
            "Name your server, like mastodon.social.", field="server", code="empty"
        )
    origin = fields.origin(text if "://" in text else "https://" + text, "server")
    if origin.startswith("http://") and not allow_http:
        raise ValidationError("The server must be reached over https.", field="server")
    return origin


KINDS: dict[str, type[Client]] = {
    "oidc": OIDC,
    "github": GitHub,
    "wordpress": WordPress,
    "mastodon": Mastodon,
    "indieauth": IndieAuth,
}
# Kinds whose server the reader names when signing in.
READER_SERVER = ("mastodon", "indieauth")


def _json(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_DOCUMENT_BYTES:
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _first_text(info: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _short(value: Any) -> str:
    return "".join(ch for ch in str(value)[:100] if ch.isprintable())


def _reason(error: Exception) -> str:
    return _short(getattr(error, "description", None) or getattr(error, "error", None) or error)
