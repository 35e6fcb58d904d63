"""Sign in to comment: providers, the OpenID Connect flow against a real provider run here
(oidc-provider-mock), commenter tokens, and what a signed-in reader may do."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.blogs import Blog
from tests.blogs import Page
from tests.conftest import ORIGIN
from tests.conftest import add_site

with warnings.catch_warnings():
    # The mock provider imports Authlib modules that Authlib itself marks as deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    import oidc_provider_mock

# The mock provider (in a thread of this process) calls an Authlib server API that Authlib
# deprecates; the service's own code uses none of it.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@contextmanager
def serving_provider(headers: dict[str, str] | None = None) -> Iterator[str]:
    """Serve a real OpenID Connect provider on 127.0.0.1 (any client id and secret are
    accepted), its answers with the headers given added; yield its address."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = oidc_provider_mock.app()
    added = list((headers or {}).items())

    def with_headers(environ, start_response):
        def start(status, response_headers, exc_info=None):
            return start_response(status, [*response_headers, *added], exc_info)

        return app(environ, start)

    server = make_server("127.0.0.1", 0, with_headers, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture(scope="module")
def provider_url():
    with serving_provider() as url:
        yield url


@pytest.fixture
def oidc(app, cli, provider_url):
    """The provider 'oidc' added with the CLI, offered by the site 'blog'."""
    result = cli(
        "auth", "add", "oidc", "--kind", "oidc", "--issuer", provider_url,
        "--client-id", "commentsvc", input="s3cret-value\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    add_site(app, sign_in="oidc")
    return provider_url


def set_user(provider_url: str, sub: str, **claims) -> None:
    response = requests.put(f"{provider_url}/users/{sub}", json=claims, timeout=5)
    assert response.status_code == 204


def popup_result(response) -> dict:
    """Return what the popup page hands to its opener (origin and message)."""
    found = re.search(
        r'<script id="csvc-result" type="application/json">(.*?)</script>', response.text, re.S
    )
    assert found, response.text
    return json.loads(found.group(1))


def start(client, provider="oidc", site="blog", origin=ORIGIN, base_url=None, **more):
    query = {"site": site, "origin": origin, **more}
    return client.get(f"/auth/{provider}/start", query_string=query, base_url=base_url)


def consent(location: str, sub: str) -> str:
    """Approve the sign-in on the provider's page as sub; return the callback path and query."""
    answer = requests.post(location, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    return f"{callback.path}?{callback.query}"


def sign_in(client, provider_url, sub="alice", name="Alice Example", **claims) -> dict:
    """Go through the whole flow as the browser would; return the popup's message."""
    set_user(provider_url, sub, name=name, **claims)
    started = start(client)
    assert started.status_code == 302, started.text
    answer = client.get(consent(started.headers["Location"], sub))
    assert answer.status_code == 200, answer.text
    result = popup_result(answer)
    assert result["origin"] == ORIGIN
    return result["message"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- providers ----------------------------------------------------------------------------------


def test_auth_add_keeps_the_secret_encrypted_and_never_prints_it(app, cli, provider_url):
    from commentsvc.db import db
    from commentsvc.models import AuthProvider

    added = cli(
        "auth", "add", "corp", "--kind", "oidc", "--issuer", provider_url,
        "--client-id", "cid", input="very-secret-value\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "/auth/corp/callback" in added.output
    listed = cli("auth", "list")
    assert "corp\tkind=oidc" in listed.output and "secret=set" in listed.output
    assert "very-secret-value" not in added.output + listed.output
    with app.app_context():
        stored = db.session.scalar(select(AuthProvider.secret))
        assert stored and "very-secret-value" not in stored
    assert "exists already" in cli("auth", "add", "corp", "--kind", "github",
                                   "--client-id", "x", input="y\n").output  # fmt: skip
    assert cli("auth", "remove", "corp").exit_code == 0
    assert "no sign-in providers" in cli("auth", "list").output


def test_auth_add_refuses_what_a_kind_needs(cli):
    no_issuer = cli("auth", "add", "x", "--kind", "oidc", "--client-id", "c", input="s\n")
    assert no_issuer.exit_code != 0 and "issuer" in no_issuer.output
    no_secret = cli("auth", "add", "x", "--kind", "github", "--client-id", "c", input="\n")
    assert no_secret.exit_code != 0 and "secret" in no_secret.output


def test_site_offers_only_known_providers(app, cli, oidc):
    assert cli("site", "set", "blog", "--sign-in", "nope").exit_code != 0
    result = cli("site", "set", "blog", "--sign-in", "oidc", "--anonymous", "off")
    assert result.exit_code == 0, result.output
    assert "sign_in=oidc\tanonymous=off" in result.output
    thread = app.test_client().get("/api/comments?site=blog&uri=/p").get_json()
    assert thread["sign_in"] == {
        "providers": [{"name": "oidc", "kind": "oidc"}],
        "anonymous": "off",
    }
    cli("auth", "remove", "oidc")
    thread = app.test_client().get("/api/comments?site=blog&uri=/p").get_json()
    assert thread["sign_in"]["providers"] == []


# --- the flow ------------------------------------------------------------------------------


def test_sign_in_posts_with_the_verified_name_and_edits_from_another_device(app, oidc):
    reader = app.test_client()
    message = sign_in(reader, oidc, profile="https://alice.example.org/")
    assert message["type"] == "commentsvc:sign-in"
    assert message["identity"] == {
        "provider": "oidc",
        "name": "Alice Example",
        "url": "https://alice.example.org/",
    }
    posted = reader.post(
        "/api/comments",
        json={"site": "blog", "uri": "/post/1", "text": "Hello", "author": "Mallory"},
        headers={**bearer(message["token"]), "Origin": ORIGIN},
    )
    assert posted.status_code == 201, posted.get_json()
    comment = posted.get_json()
    assert comment["author"] == "Alice Example"
    thread = reader.get("/api/comments?site=blog&uri=/post/1").get_json()
    assert thread["comments"][0]["identity"]["name"] == "Alice Example"

    # The same reader on another device: a new sign-in, no edit token.
    other = app.test_client()
    second = sign_in(other, oidc)
    edited = other.patch(
        f"/api/comments/{comment['id']}",
        json={"text": "Hello again"},
        headers={**bearer(second["token"]), "Origin": ORIGIN},
    )
    assert edited.status_code == 200, edited.get_json()
    assert "Hello again" in edited.get_json()["html"]
    assert edited.get_json()["author"] == "Alice Example"

    # Somebody else signed in may not.
    bob = sign_in(app.test_client(), oidc, sub="bob", name="Bob")
    refused = other.delete(f"/api/comments/{comment['id']}", headers=bearer(bob["token"]))
    assert refused.status_code == 403
    deleted = other.delete(f"/api/comments/{comment['id']}", headers=bearer(second["token"]))
    assert deleted.status_code == 204


def test_wrong_state_is_refused(app, oidc):
    client = app.test_client()
    set_user(oidc, "alice", name="Alice")
    started = start(client)
    callback = consent(started.headers["Location"], "alice")
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    answer = client.get(forged)
    assert answer.status_code == 400
    assert "token" not in popup_result(answer)["message"]
    assert popup_result(answer)["message"]["error"]["field"] == "state"


def test_a_callback_without_its_cookie_is_refused(app, oidc):
    set_user(oidc, "alice", name="Alice")
    started = start(app.test_client())
    callback = consent(started.headers["Location"], "alice")
    # Another browser (an attacker's link): no flow cookie, no sign-in.
    answer = app.test_client().get(callback)
    assert answer.status_code == 400
    assert popup_result(answer)["origin"] is None


def test_a_replayed_code_is_refused(app, oidc):
    client = app.test_client()
    set_user(oidc, "alice", name="Alice")
    started = start(client)
    cookie = client.get_cookie("csvc_sign_in", path="/auth/oidc/callback").value
    callback = consent(started.headers["Location"], "alice")
    assert "token" in popup_result(client.get(callback))["message"]
    client.set_cookie("csvc_sign_in", cookie, path="/auth/oidc/callback")
    replayed = client.get(callback)
    assert replayed.status_code == 502
    assert popup_result(replayed)["message"]["error"]["code"] == "provider_error"


def test_start_refuses_unknown_origins_sites_and_providers(app, oidc):
    client = app.test_client()
    assert start(client, origin="https://evil.example").status_code == 400
    assert start(client, site="nosuch").status_code == 404
    assert start(client, provider="github").status_code == 404
    page = start(client, origin="https://evil.example")
    # Nothing is posted to an origin the site does not list.
    assert popup_result(page)["origin"] is None


HANDLE = "ab" * 32


def take(client, handle=HANDLE, site="blog", origin=ORIGIN):
    return client.post(
        "/api/sign-in/handoff", json={"site": site, "handle": handle}, headers={"Origin": origin}
    )


def handoff_start(client) -> tuple[str, str]:
    """Start a sign-in as the widget does (handoff=1): return the secret the popup's first page
    gives its opener, and the provider's address it goes on to."""
    page = start(client, handoff="1")
    assert page.status_code == 200, page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'nonce-" in page.headers["Content-Security-Policy"]
    found = re.search(
        r'<script id="csvc-start" type="application/json">(.*?)</script>', page.text, re.S
    )
    given = json.loads(found.group(1))
    assert given["origin"] == ORIGIN and re.fullmatch(r"[0-9a-f]{64}", given["handle"])
    return given["handle"], given["target"]


def test_a_popup_cut_off_from_the_page_hands_the_sign_in_over_once(app, oidc, clock):
    # The popup's first page gives the page a secret; the page asks with it.
    page = app.test_client()
    assert take(page).status_code == 204  # nothing
    set_user(oidc, "alice", name="Alice Example")
    popup = app.test_client()
    handle, target = handoff_start(popup)
    assert take(page, handle=handle).status_code == 204  # the reader is on the provider's page
    finished = popup.get(consent(target, "alice"))
    assert popup_result(finished)["handoff"] is True
    assert take(page, handle="cd" * 32).status_code == 204  # another secret
    digest = hashlib.sha256(handle.encode()).hexdigest()
    assert take(page, handle=digest).status_code == 204  # the digest (in the cookie) is no key
    given = take(page, handle=handle)
    assert given.status_code == 200 and given.headers["Cache-Control"] == "no-store"
    message = given.get_json()
    assert message["type"] == "commentsvc:sign-in"
    assert message["identity"]["name"] == "Alice Example"
    me = page.get("/api/me?site=blog", headers=bearer(message["token"]))
    assert me.status_code == 200 and me.get_json()["identity"]["name"] == "Alice Example"
    assert take(page, handle=handle).status_code == 204  # once
    with app.app_context():
        from commentsvc.db import db
        from commentsvc.models import SignInHandoff

        assert db.session.scalars(select(SignInHandoff)).all() == []


def test_a_stranger_cannot_choose_the_hand_off_secret_of_someone_elses_sign_in(app, oidc):
    # A stranger who could choose the secret would send a reader (a link, a window.open on
    # their own page) to the start with it: a provider that asks nothing of a returning reader
    # signs them in at once, and the stranger fetches the sign-in from a server. The secret is
    # the service's: the start refuses one given, and the page hands it to the site's page only.
    set_user(oidc, "alice", name="Alice Example")
    reader = app.test_client()
    digest = hashlib.sha256(HANDLE.encode()).hexdigest()
    for given in (digest, HANDLE, "0"):
        refused = start(reader, handoff=given)
        assert refused.status_code == 400
        assert popup_result(refused)["message"]["error"]["field"] == "handoff"
    _handle, target = handoff_start(reader)
    reader.get(consent(target, "alice"))
    stranger = app.test_client()
    for headers in ({}, {"Origin": ORIGIN}):
        answer = stranger.post(
            "/api/sign-in/handoff", json={"site": "blog", "handle": HANDLE}, headers=headers
        )
        assert answer.status_code == 204, headers


def test_a_flow_cookie_set_from_elsewhere_does_not_hand_a_readers_sign_in_to_a_stranger(app, oidc):
    # A stranger starts a sign-in (handoff=1) from a server: they hold its secret, its flow's
    # cookie and the provider's address. A sibling subdomain (Domain=) or a plain-http answer
    # forged on the network sets that cookie in a reader's browser, which the stranger then sends
    # to the provider's address: a provider that asks nothing of a returning reader comes back
    # to the callback with the reader's code. Over HTTPS, only a __Host- cookie counts, which
    # neither can set.
    set_user(oidc, "alice", name="Alice Example")
    stranger = app.test_client()
    page = stranger.get(
        "/auth/oidc/start",
        query_string={"site": "blog", "origin": ORIGIN, "handoff": "1"},
        base_url="https://localhost",
    )
    assert page.status_code == 200
    handle = json.loads(
        re.search(r'<script id="csvc-start" type="application/json">(.*?)</script>', page.text)[1]
    )["handle"]
    target = re.search(r'href="([^"]+)"', page.text)[1].replace("&amp;", "&")
    [cookie] = page.headers.getlist("Set-Cookie")
    flow = cookie.split(";")[0].split("=", 1)[1]
    reader = app.test_client()
    reader.set_cookie("csvc_sign_in", flow, path="/auth/oidc/callback")  # what others can set
    back = reader.get(consent(target, "alice"), base_url="https://localhost")
    assert take(stranger, handle=handle).status_code == 204  # was 200: Alice's token
    assert popup_result(back)["message"]["error"]["field"] == "state"
    assert cookie.startswith("__Host-csvc_sign_in=") and "; Secure" in cookie
    assert "; Path=/;" in cookie and "Domain" not in cookie
    # The reader's own sign-in over HTTPS works with the __Host- cookie, which goes after it.
    own = app.test_client()
    started = start(own, handoff="1", base_url="https://localhost")
    target = re.search(r'href="([^"]+)"', started.text)[1].replace("&amp;", "&")
    assert own.get_cookie("__Host-csvc_sign_in", domain="localhost", path="/") is not None
    done = own.get(consent(target, "alice"), base_url="https://localhost")
    assert popup_result(done)["message"]["identity"]["name"] == "Alice Example"
    assert own.get_cookie("__Host-csvc_sign_in", domain="localhost", path="/") is None


def test_a_handed_over_sign_in_is_the_sites_for_ten_minutes_and_says_its_errors(
    app, cli, oidc, clock
):
    set_user(oidc, "alice", name="Alice")
    popup = app.test_client()
    handle, target = handoff_start(popup)
    popup.get(re.sub(r"state=[^&]+", "state=forged", consent(target, "alice")))
    page = app.test_client()
    refused = take(page, handle=handle)
    assert refused.status_code == 200
    assert refused.get_json()["error"]["field"] == "state" and "token" not in refused.get_json()
    # Only the site's own pages ask; another site's name finds nothing.
    add_site(app, "other", url="https://other.example.org")
    handle, target = handoff_start(popup)
    popup.get(consent(target, "alice"))
    assert take(page, handle=handle, origin="https://evil.example").status_code == 403
    other = take(page, handle=handle, site="other", origin="https://other.example.org")
    assert other.status_code == 204
    clock.advance(minutes=11)
    assert take(page, handle=handle).status_code == 204  # too old: gone
    clock.advance(minutes=-11)
    # Handles that are not 64 hex digits are refused by name.
    for bad in ("", "AB" * 32, "ab" * 31, 7, None, "ab" * 32 + "\n"):
        answer = take(page, handle=bad)
        assert answer.status_code == 400 and answer.get_json()["error"]["field"] == "handle", bad


def test_a_provider_that_is_down_gets_a_clear_message(app, cli):
    blog = Blog()
    url = blog.url
    blog.close()
    cli("auth", "add", "down", "--kind", "oidc", "--issuer", url, "--client-id", "c", input="s\n")
    add_site(app, sign_in="down")
    page = start(app.test_client(), provider="down")
    assert page.status_code == 502
    message = popup_result(page)["message"]
    assert message["error"]["code"] == "provider_error"
    assert "cannot be reached" in message["error"]["message"]


# --- commenter tokens ------------------------------------------------------------------------


def test_tokens_that_are_tampered_foreign_expired_or_revoked_get_401(app, oidc, clock):
    client = app.test_client()
    token = sign_in(client, oidc)["token"]
    post = {"site": "blog", "uri": "/post/1", "text": "Hi"}

    def refusal(headers, body=post):
        answer = client.post("/api/comments", json=body, headers=headers)
        assert answer.status_code == 401, answer.get_json()
        error = answer.get_json()["error"]
        assert error["code"] == "unauthorized" and error["field"] == "Authorization"
        return error["message"]

    assert "not valid" in refusal(bearer(token[:-2] + "xx"))
    assert "Bearer" in refusal({"Authorization": "Basic abc"})
    add_site(app, "other", "https://other.example.org")
    assert "another site" in refusal(bearer(token), {**post, "site": "other"})
    clock.advance(days=31)
    assert "expired" in refusal(bearer(token))
    clock.advance(days=-31)
    assert client.post("/api/comments", json=post, headers=bearer(token)).status_code == 201
    signed_out = client.post("/api/sign-out?site=blog", headers=bearer(token))
    assert signed_out.status_code == 204
    assert "signed out" in refusal(bearer(token))


def test_anonymous_settings(app, cli, oidc):
    client = app.test_client()
    post = {"site": "blog", "uri": "/post/1", "text": "Hi"}
    cli("site", "set", "blog", "--anonymous", "name-required")
    answer = client.post("/api/comments", json=post)
    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == "author"
    assert client.post("/api/comments", json={**post, "author": "Ann"}).status_code == 201
    cli("site", "set", "blog", "--anonymous", "off")
    answer = client.post("/api/comments", json={**post, "text": "again", "author": "Ann"})
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized"
    token = sign_in(client, oidc)["token"]
    signed = {**post, "text": "Signed in"}
    assert client.post("/api/comments", json=signed, headers=bearer(token)).status_code == 201


# --- moderation knows identities ---------------------------------------------------------------


def test_first_time_moderation_keys_on_the_identity_and_the_reader_sees_held(app, cli, oidc):
    from commentsvc import moderation
    from commentsvc.db import db
    from commentsvc.models import Comment
    from commentsvc.models import utcnow

    cli("site", "set", "blog", "--moderation", "first-time")
    client = app.test_client()
    token = sign_in(client, oidc)["token"]
    post = {"site": "blog", "uri": "/post/1", "text": "First", "email": "a@example.org"}
    held = client.post("/api/comments", json=post, headers=bearer(token))
    assert held.status_code == 202
    me = client.get("/api/me?site=blog", headers=bearer(token)).get_json()
    assert me["identity"]["name"] == "Alice Example"
    assert [c["text"] for c in me["held"]] == ["First"]
    first_id = held.get_json()["id"]
    with app.app_context():
        moderation.act([first_id], "approve", actor="admin:t", now=utcnow())
    # Known now: published, with or without the same email.
    again = client.post("/api/comments", json={**post, "text": "Second", "email": ""},
                        headers=bearer(token))  # fmt: skip
    assert again.status_code == 201
    # Banned by identity: spam (the author only learns "pending").
    with app.app_context():
        moderation.ban_author(first_id, "identity", actor="admin:t", now=utcnow())
    banned = client.post("/api/comments", json={**post, "text": "Third"}, headers=bearer(token))
    assert banned.status_code == 202
    with app.app_context():
        last = db.session.get(Comment, banned.get_json()["id"])
        assert last.status == "spam" and last.reason == "ban: identity oidc:alice"


# --- ID token checks against a stand-in provider ---------------------------------------------


@pytest.fixture
def stand_in(app, cli):
    """A provider on 127.0.0.1 that serves discovery, keys, and an ID token the test signs."""
    from joserfc import jwt
    from joserfc.jwk import KeySet
    from joserfc.jwk import RSAKey

    blog = Blog()
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    blog.page(
        "/.well-known/openid-configuration",
        json.dumps(
            {
                "issuer": blog.url,
                "authorization_endpoint": blog.url + "/authorize",
                "token_endpoint": blog.url + "/token",
                "jwks_uri": blog.url + "/jwks",
            }
        ),
        headers={"Content-Type": "application/json"},
    )
    blog.page("/jwks", json.dumps(KeySet([key]).as_dict(private=False)))
    cli("auth", "add", "idp", "--kind", "oidc", "--issuer", blog.url, "--client-id", "us",
        input="s\n")  # fmt: skip
    add_site(app, sign_in="idp")

    def answer_with(**claims):
        """Run the flow; the token endpoint answers an ID token with these claims changed."""
        client = app.test_client()
        started = start(client, provider="idp")
        query = parse_qs(urlsplit(started.headers["Location"]).query)
        now = int(__import__("time").time())
        body = {
            "iss": blog.url,
            "aud": "us",
            "sub": "u1",
            "name": "U",
            "iat": now,
            "exp": now + 300,
            "nonce": query["nonce"][0],
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, body, key)
        blog.pages["/token"] = Page(
            json.dumps({"access_token": "at", "token_type": "Bearer", "id_token": id_token}),
            headers={"Content-Type": "application/json"},
        )
        return client.get(f"/auth/idp/callback?code=c&state={query['state'][0]}")

    yield answer_with
    blog.close()


def test_stand_in_provider_signs_in(stand_in):
    answer = stand_in()
    assert answer.status_code == 200, answer.text
    assert popup_result(answer)["message"]["identity"]["name"] == "U"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"exp": 1000, "iat": 900},
        {"nonce": "replayed"},
        {"iss": "https://other.example.org"},
        {"sub": None},
    ],
    ids=["wrong-audience", "expired", "wrong-nonce", "wrong-issuer", "no-subject"],
)
def test_id_tokens_that_fail_a_check_are_refused(stand_in, claims):
    answer = stand_in(**claims)
    assert answer.status_code == 502
    message = popup_result(answer)["message"]
    assert "token" not in message
    assert message["error"]["code"] == "provider_error"
    assert "ID token" in message["error"]["message"]


# --- GitHub and WordPress.com against stand-in servers ------------------------------------------


def oauth2_stand_in(app, cli, blog, kind, token_path, user_path, user) -> None:
    """Offer provider `gh` of this kind on site blog, its token and user answers served by
    blog (a stand-in for GitHub or WordPress.com)."""
    cli("auth", "add", "gh", "--kind", kind, "--issuer", blog.url, "--client-id", "cid",
        input="csecret\n")  # fmt: skip
    add_site(app, sign_in="gh")
    json_type = {"Content-Type": "application/json"}
    blog.page(token_path, json.dumps({"access_token": "tok", "token_type": "bearer"}),
              headers=json_type)  # fmt: skip
    blog.page(user_path, json.dumps(user), headers=json_type)


@pytest.mark.parametrize(
    ("kind", "token_path", "user_path", "user", "expected"),
    [
        (
            "github",
            "/login/oauth/access_token",
            "/api/v3/user",
            {"id": 42, "login": "octo", "name": "Octo Cat", "html_url": "https://github.com/octo"},
            {"provider": "gh", "name": "Octo Cat", "url": "https://github.com/octo"},
        ),
        (
            "wordpress",
            "/oauth2/token",
            "/rest/v1.1/me",
            {"ID": 7, "display_name": "Wendy", "profile_URL": "https://gravatar.com/wendy"},
            {"provider": "gh", "name": "Wendy", "url": "https://gravatar.com/wendy"},
        ),
    ],
)
def test_oauth2_kinds_against_stand_ins(app, cli, kind, token_path, user_path, user, expected):
    blog = Blog()
    try:
        oauth2_stand_in(app, cli, blog, kind, token_path, user_path, user)
        client = app.test_client()
        started = start(client, provider="gh")
        assert started.status_code == 302
        location = urlsplit(started.headers["Location"])
        assert f"{location.scheme}://{location.netloc}" == blog.url
        query = parse_qs(location.query)
        assert query["client_id"] == ["cid"] and query["redirect_uri"][0].endswith(
            "/auth/gh/callback"
        )
        answer = client.get(f"/auth/gh/callback?code=the-code&state={query['state'][0]}")
        assert answer.status_code == 200, answer.text
        message = popup_result(answer)["message"]
        assert message["identity"] == expected
        (token_request,) = [r for r in blog.requests if r[1] == token_path]
        sent = parse_qs(token_request[3].decode())
        assert sent["code"] == ["the-code"] and sent["client_secret"] == ["csecret"]
        (user_request,) = [r for r in blog.requests if r[1] == user_path]
        assert user_request[2]["Authorization"] == "Bearer tok"
        posted = client.post(
            "/api/comments",
            json={"site": "blog", "uri": "/p", "text": "hi"},
            headers=bearer(message["token"]),
        )
        assert posted.get_json()["identity"] == expected
    finally:
        blog.close()


@pytest.mark.parametrize(
    ("kind", "token_path", "user_path", "user", "who"),
    [
        ("github", "/login/oauth/access_token", "/api/v3/user", {"id": "42"}, "GitHub"),
        ("wordpress", "/oauth2/token", "/rest/v1.1/me", {"display_name": "W"}, "WordPress.com"),
    ],
)
def test_an_oauth2_answer_that_names_no_account_is_refused(
    app, cli, kind, token_path, user_path, user, who
):
    blog = Blog()
    try:
        oauth2_stand_in(app, cli, blog, kind, token_path, user_path, user)
        client = app.test_client()
        state = parse_qs(urlsplit(start(client, provider="gh").headers["Location"]).query)["state"]
        answer = client.get(f"/auth/gh/callback?code=the-code&state={state[0]}")
        assert answer.status_code == 502
        error = popup_result(answer)["message"]["error"]
        assert error["code"] == "provider_error"
        assert error["message"] == f"{who}'s answer names no account."
    finally:
        blog.close()


def test_the_owner_linked_to_an_identity_replies_as_the_owner(app, cli, oidc):
    cli("admin", "add", "owner", input="a long enough password\n")
    cli("site", "set", "blog", "--moderation", "all")
    client = app.test_client()
    token = sign_in(client, oidc, sub="me", name="The Owner")["token"]
    post = {"site": "blog", "uri": "/post/1", "text": "Before linking"}
    assert client.post("/api/comments", json=post, headers=bearer(token)).status_code == 202
    assert "No one has signed in" in cli("admin", "link", "owner", "oidc:nobody").output
    assert cli("admin", "link", "owner", "oidc:me").exit_code == 0
    mine = client.post("/api/comments", json={**post, "text": "As the owner"},
                       headers=bearer(token))  # fmt: skip
    assert mine.status_code == 201
    assert mine.get_json()["owner"] is True
    assert mine.get_json()["identity"]["name"] == "The Owner"


def test_mastodon_registers_once_per_server_and_signs_in(app, cli):
    blog = Blog()
    try:
        assert cli("auth", "add", "masto", "--kind", "mastodon").exit_code == 0
        add_site(app, sign_in="masto")
        json_type = {"Content-Type": "application/json"}
        blog.page("/api/v1/apps", json.dumps({"client_id": "app-id", "client_secret": "app-sec"}),
                  headers=json_type)  # fmt: skip
        blog.page("/oauth/token", json.dumps({"access_token": "tok", "token_type": "Bearer"}),
                  headers=json_type)  # fmt: skip
        account = {"id": "109", "username": "ann", "display_name": "Ann M",
                   "url": f"{blog.url}/@ann", "avatar": f"{blog.url}/a.png"}  # fmt: skip
        blog.page("/api/v1/accounts/verify_credentials", json.dumps(account), headers=json_type)
        client = app.test_client()
        missing = client.get("/auth/masto/start", query_string={"site": "blog", "origin": ORIGIN})
        assert missing.status_code == 400
        assert popup_result(missing)["message"]["error"]["field"] == "server"
        query = {"site": "blog", "origin": ORIGIN, "server": blog.url}
        for _ in range(2):
            started = client.get("/auth/masto/start", query_string=query)
            assert started.status_code == 302, started.text
        assert blog.hits("/api/v1/apps") == 1  # registered once, then kept
        location = urlsplit(started.headers["Location"])
        assert location.path == "/oauth/authorize"
        state = parse_qs(location.query)["state"][0]
        assert parse_qs(location.query)["client_id"] == ["app-id"]
        answer = client.get(f"/auth/masto/callback?code=c&state={state}")
        assert answer.status_code == 200, answer.text
        host = urlsplit(blog.url).netloc
        assert popup_result(answer)["message"]["identity"] == {
            "provider": "masto",
            "name": "Ann M",
            "url": f"{blog.url}/@ann",
        }
        sent = parse_qs([r for r in blog.requests if r[1] == "/oauth/token"][0][3].decode())
        assert sent["client_id"] == ["app-id"] and sent["client_secret"] == ["app-sec"]
        assert "code_verifier" in sent
        with app.app_context():
            from commentsvc.db import db
            from commentsvc.models import Identity

            assert db.session.scalar(select(Identity.subject)) == f"109@{host}"
    finally:
        blog.close()


def test_a_reader_named_server_must_be_https_without_allow_private(make_app):
    from commentsvc.providers import parse_server

    assert parse_server("Mastodon.Social", allow_http=False) == "https://mastodon.social"
    with pytest.raises(Exception, match="https"):
        parse_server("http://127.0.0.1:9", allow_http=False)
    with pytest.raises(Exception, match="server"):
        parse_server("not a host/", allow_http=False)


def test_indieauth_discovers_the_readers_server_and_checks_me(app, cli):
    blog = Blog()
    try:
        assert cli("auth", "add", "web", "--kind", "indieauth").exit_code == 0
        add_site(app, sign_in="web")
        me = blog.url + "/"
        blog.page("/", "<title>Me</title>",
                  headers={"Content-Type": "text/html", "Link": '</meta>; rel="indieauth-metadata"'})  # fmt: skip
        metadata = {"issuer": blog.url + "/", "authorization_endpoint": blog.url + "/auth",
                    "token_endpoint": blog.url + "/token"}  # fmt: skip
        blog.page("/meta", json.dumps(metadata), headers={"Content-Type": "application/json"})
        client = app.test_client()
        query = {"site": "blog", "origin": ORIGIN, "server": blog.url}

        def run(answered_me):
            blog.pages["/token"] = Page(
                json.dumps({"me": answered_me, "profile": {"name": "Indy"}}),
                headers={"Content-Type": "application/json"},
            )
            started = client.get("/auth/web/start", query_string=query)
            assert started.status_code == 302, started.text
            location = urlsplit(started.headers["Location"])
            params = parse_qs(location.query)
            assert location.path == "/auth" and params["me"] == [me]
            assert params["code_challenge_method"] == ["S256"]
            return client.get(f"/auth/web/callback?code=c&state={params['state'][0]}")

        answer = run(me)
        assert answer.status_code == 200, answer.text
        assert popup_result(answer)["message"]["identity"] == {
            "provider": "web",
            "name": "Indy",
            "url": me,
        }
        sent = parse_qs([r for r in blog.requests if r[1] == "/token"][-1][3].decode())
        assert "code_verifier" in sent and sent["client_id"][0].endswith("/")
        refused = run("https://someone-else.example.org/")
        assert refused.status_code == 502
        assert "another site" in popup_result(refused)["message"]["error"]["message"]
    finally:
        blog.close()


def test_removing_a_provider_keeps_what_another_process_offered_since(app, site):
    # The request's site is kept through a write (db._end_read): the removal must still edit
    # the sign-in list as it is under the lock, not as this session first read it.
    from commentsvc import identities
    from commentsvc import sites

    def elsewhere(action):
        worker = threading.Thread(target=lambda: app.app_context().push() or action())
        worker.start()
        worker.join()

    with app.app_context():
        for name in ("github", "gitlab", "forgejo"):
            identities.add_provider(name, "github", client_id="id", secret="s", key="k" * 32)
        sites.update_site("blog", sign_in="github,gitlab")
        kept = sites.get_site("blog")  # as a request holds its site
        assert kept.sign_in == "github,gitlab"
        elsewhere(lambda: sites.update_site("blog", sign_in="github,gitlab,forgejo"))
        identities.remove_provider("github")
    with app.app_context():
        assert sites.get_site("blog").sign_in == "gitlab,forgejo"
