"""The sign-in protocols' own rules (commentsvc.providers): flows and the servers readers name."""

from datetime import datetime

import pytest

from commentsvc import providers
from commentsvc.errors import ValidationError

NOW = datetime(2026, 1, 1, 12, 0)


def test_a_flow_has_fresh_secrets_and_survives_its_cookie():
    one = providers.new_flow("github", 1, "https://blog.example.org", now=NOW)
    two = providers.new_flow("github", 1, "https://blog.example.org", now=NOW)
    assert one.state != two.state and one.nonce != two.nonce and one.verifier != two.verifier
    assert providers.Flow.load("k", one.dump("k"), now=NOW) == one


def test_a_readers_own_site_is_read_as_indieauth_wants():
    assert providers.parse_me("Example.org", allow_http=False) == "https://example.org/"
    assert providers.parse_me("https://example.org/~ann", allow_http=False) == (
        "https://example.org/~ann"
    )
    for bad in ("", "http://example.org/", "https://example.org/#me", "https://a:b@example.org/"):
        with pytest.raises(ValidationError) as caught:
            providers.parse_me(bad, allow_http=False)
        assert caught.value.field == "server", bad
    assert providers.parse_me("http://127.0.0.1:8080/", allow_http=True).startswith("http://")


def test_a_server_a_reader_names_is_an_origin():
    assert providers.parse_server("mastodon.social", allow_http=False) == "https://mastodon.social"
    for bad in ("", "https://mastodon.social/@ann", 7):
        with pytest.raises(ValidationError) as caught:
            providers.parse_server(bad, allow_http=False)
        assert caught.value.field == "server", bad
