"""The comment domain (commentsvc.comments): fields, posting under a site's rules, edit tokens."""

from datetime import timedelta

import pytest

from commentsvc import comments
from commentsvc import spam
from commentsvc.errors import Forbidden
from commentsvc.errors import ValidationError
from commentsvc.models import utcnow
from commentsvc.sites import add_site


def field_of(call, value) -> str:
    with pytest.raises(ValidationError) as caught:
        call(value)
    return caught.value.field


def test_a_uri_is_a_path_taken_exactly_as_sent():
    assert comments.parse_uri("/posts/1?x=1") == "/posts/1?x=1"
    assert comments.parse_uri("/über") == "/über"
    for bad in ("posts/1", "/a b", " /a", "", None, "/" + "x" * 5000):
        assert field_of(comments.parse_uri, bad) == "uri", bad


def test_emails_and_websites_are_normalised_or_refused():
    assert comments.parse_email(" Ann@Example.ORG ") == "ann@example.org"
    assert comments.parse_email("") == ""
    assert field_of(comments.parse_email, "two@a.org, b@c.org") == "email"
    assert comments.parse_website("ann.example.org") == "https://ann.example.org"
    assert comments.parse_website("") == ""
    for bad in ("javascript:alert(1)", "data:text/html,x", "ftp://a.org"):
        assert field_of(comments.parse_website, bad) == "website", bad


@pytest.mark.usefixtures("app_ctx")
def test_a_posted_comment_is_stored_threaded_and_editable_with_its_token(app):
    site = add_site("blog", "https://blog.example.org", moderation="none")
    guard = spam.Guard.of(app)
    now = utcnow()
    root, token = comments.post_comment(
        site, "/p", comments.CommentInput(text="Hello *you*"), address="a", now=now, guard=guard
    )
    assert root.status == "approved" and "<em>you</em>" in root.html
    reply, _ = comments.post_comment(
        site,
        "/p",
        comments.CommentInput(text="Hi", parent=root.id),
        address="a",
        now=now,
        guard=guard,
    )
    assert reply.thread_id == root.thread_id and comments.root_of(reply) == root.id
    assert comments.find_comment(root.id).id == root.id
    secret = app.config["SECRET_KEY"]
    comments.check_edit_token(secret, root, token, now=now)
    assert comments.token_expiry(token) > now
    for bad_token, when in ((token, now + timedelta(days=365)), ("forged", now), (None, now)):
        with pytest.raises(Forbidden):
            comments.check_edit_token(secret, root, bad_token, now=when)
    with pytest.raises(Forbidden):
        comments.check_edit_token(secret, reply, token, now=now)  # made for another comment
