"""The sign-in endpoints (commentsvc.auth): where a reader is sent, and what is refused."""

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from commentsvc import identities
from tests.conftest import ORIGIN
from tests.conftest import add_site


@pytest.fixture
def github_app(make_app):
    app = make_app(PUBLIC_URL="https://comments.example.org")
    with app.app_context():
        key = app.config["SECRET_KEY"]
        identities.add_provider("github", "github", client_id="the-id", secret="s", key=key)
    add_site(app, sign_in="github")
    return app


def test_start_sends_the_reader_to_the_provider_with_a_flow_cookie(github_app):
    client = github_app.test_client()
    response = client.get("/auth/github/start", query_string={"site": "blog", "origin": ORIGIN})
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    query = parse_qs(target.query)
    assert query["client_id"] == ["the-id"] and query["state"][0]
    assert query["redirect_uri"] == ["https://comments.example.org/auth/github/callback"]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Path=/auth/github/callback" in cookie


def test_a_provider_the_site_does_not_offer_is_refused_in_words(github_app):
    client = github_app.test_client()
    response = client.get("/auth/gitlab/start", query_string={"site": "blog", "origin": ORIGIN})
    assert response.status_code != 302 and response.status_code < 500
    assert "gitlab" in response.get_data(as_text=True)


def test_a_callback_without_its_flow_is_refused(github_app):
    response = github_app.test_client().get("/auth/github/callback?code=x&state=y")
    assert response.status_code != 302 and response.status_code < 500
