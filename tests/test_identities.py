"""Sign-in providers and the readers' identities (commentsvc.identities)."""

from datetime import datetime
from datetime import timedelta

import pytest

from commentsvc import identities
from commentsvc.errors import Unauthorized
from commentsvc.errors import ValidationError
from commentsvc.sites import add_site

NOW = datetime(2026, 1, 1, 12, 0)
KEY = "a secret key of the service"


def test_a_client_secret_is_stored_encrypted_and_unreadable_under_another_key():
    stored = identities.encrypt_secret(KEY, "client-secret")
    assert "client-secret" not in stored
    assert identities.decrypt_secret(KEY, stored) == "client-secret"
    assert identities.decrypt_secret(KEY, "") == ""
    with pytest.raises(ValidationError) as caught:
        identities.decrypt_secret("another key", stored)
    assert caught.value.field == "secret"


@pytest.mark.usefixtures("app_ctx")
def test_providers_are_added_listed_and_named_by_sites():
    identities.add_provider("github", "github", client_id="id", secret="s", key=KEY)
    assert [p.name for p in identities.list_providers()] == ["github"]
    assert identities.parse_sign_in(["github", "github"]) == "github"
    with pytest.raises(ValidationError) as caught:
        identities.parse_sign_in("github,nowhere")
    assert caught.value.field == "sign_in"
    with pytest.raises(ValidationError) as caught:
        identities.add_provider("gh2", "github", key=KEY)  # no client id and secret
    identities.remove_provider("github")
    assert identities.list_providers() == []


@pytest.mark.usefixtures("app_ctx")
def test_a_readers_token_works_on_its_site_until_it_expires():
    site = add_site("blog", "https://blog.example.org")
    other = add_site("other", "https://other.example.org")
    profile = identities.Profile(subject="42", name="Ann", url="https://ann.example.org")
    identity = identities.save_identity("github", profile, secret=KEY, now=NOW)
    token = identities.make_token(KEY, identity, site, now=NOW)
    assert identities.check_token(KEY, token, site, now=NOW).id == identity.id
    for secret, where, when in (
        (KEY, other, NOW),
        ("forged", site, NOW),
        (KEY, site, NOW + timedelta(days=400)),
    ):
        with pytest.raises(Unauthorized):
            identities.check_token(secret, token, where, now=when)
    with pytest.raises(Unauthorized):
        identities.check_token(KEY, 12, site, now=NOW)
