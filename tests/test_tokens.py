"""Signed tokens (commentsvc.tokens): one mechanism, a salt per purpose, hostile input refused
cleanly by every check."""

from datetime import timedelta

import pytest

from commentsvc import notify
from commentsvc import spam
from commentsvc import tokens
from commentsvc.comments import check_edit_token
from commentsvc.comments import edit_token
from commentsvc.db import db
from commentsvc.errors import Forbidden
from commentsvc.models import Comment
from commentsvc.models import Site
from tests.conftest import add_site
from tests.mail import parts
from tests.mail import run_queue
from tests.test_notify import link
from tests.test_notify import post

SECRET = "test-secret-key"

HOSTILE = [
    None,
    "",
    " ",
    "²",
    "1²",
    "².abc",
    "1².2².abc",
    "1.2².a.b.c",
    "٣.٣.٣",  # Arabic-Indic digits: isdigit() is true, int() would take them
    "a\nb",
    "a\r\nb",
    "\u2028",
    "\x00",
    "x" * 10 * 1024,
    "." * 500,
    "eyJ4IjoxfQ.forged",
    "WzEsMiwzXQ",  # base64 of [1,2,3], no signature
    12345,
    ["a"],
]


def hostile_ids(value):
    return repr(value)[:20]


@pytest.fixture
def comment(app, clock):
    add_site(app, moderation="all", edit_window=900)
    posted = app.test_client().post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "Hi"}
    )
    assert posted.status_code == 202
    return posted.get_json()


# --- the mechanism ---------------------------------------------------------------------------


def test_a_token_is_refused_for_another_purpose_or_key():
    made = tokens.dump(SECRET, tokens.EDIT, [1, 2, "x"])
    assert tokens.load(SECRET, tokens.EDIT, made) == [1, 2, "x"]
    with pytest.raises(tokens.BadToken):
        tokens.load(SECRET, tokens.FORM, made)
    with pytest.raises(tokens.BadToken):
        tokens.load("another key", tokens.EDIT, made)
    with pytest.raises(tokens.BadToken):
        tokens.load(SECRET, tokens.EDIT, made, length=2)


@pytest.mark.parametrize("value", HOSTILE, ids=hostile_ids)
@pytest.mark.parametrize("purpose", tokens.PURPOSES)
def test_hostile_tokens_raise_bad_token_only(purpose, value):
    with pytest.raises(tokens.BadToken):
        tokens.load(SECRET, purpose, value)


# --- each purpose, through its domain check ------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE, ids=hostile_ids)
def test_hostile_edit_tokens_are_forbidden(app, comment, clock, value):
    with app.app_context():
        found = db.session.get(Comment, comment["id"])
        with pytest.raises(Forbidden) as info:
            check_edit_token(SECRET, found, value, now=clock())
        assert info.value.status == 403 and info.value.field == "X-Edit-Token"


@pytest.mark.parametrize("value", HOSTILE, ids=hostile_ids)
def test_hostile_form_tokens_spring_the_trap(clock, value):
    reason = spam.check_form_token(value, SECRET, "blog", "/p", clock())
    assert reason in ("no form token", "invalid form token")


@pytest.mark.parametrize("value", HOSTILE, ids=hostile_ids)
def test_hostile_mail_and_unsubscribe_tokens_are_forbidden(app, comment, clock, value):
    with app.app_context():
        with pytest.raises(Forbidden):
            notify.check_action_token(SECRET, value, clock())
        with pytest.raises(Forbidden):
            notify.check_unsubscribe_token(SECRET, value)


def test_an_edit_token_for_one_comment_does_not_open_another(app, clock):
    add_site(app)
    client = app.test_client()
    first = client.post("/api/comments", json={"site": "blog", "uri": "/p", "text": "One"})
    second = client.post("/api/comments", json={"site": "blog", "uri": "/p", "text": "Two"})
    token = first.get_json()["edit_token"]
    response = client.patch(
        f"/api/comments/{second.get_json()['id']}",
        json={"text": "mine now"},
        headers={"X-Edit-Token": token},
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_the_edit_token_keeps_its_contract(app, clock):
    add_site(app, edit_window=900)
    response = app.test_client().post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "One"}
    )
    body = response.get_json()
    assert body["edit_token"] and body["edit_until"]
    with app.app_context():
        found = db.session.get(Comment, body["id"])
        site = db.session.get(Site, found.thread.site_id)
        assert edit_token(SECRET, found, site) == body["edit_token"]
        check_edit_token(SECRET, found, body["edit_token"], now=clock())
        with pytest.raises(Forbidden) as info:
            check_edit_token(SECRET, found, body["edit_token"], now=clock() + timedelta(hours=1))
        assert info.value.code == "edit_window"


# --- over HTTP: clean 4xx answers, never a 500 ---------------------------------------------------

HEADER_SAFE = [
    "",
    "²",
    "1²",
    "².abc",
    "1².2².abc",
    "٣.٣.٣",
    "x" * 10 * 1024,
    "eyJ4IjoxfQ.forged",
    "\u2028",
]


@pytest.mark.parametrize("value", HEADER_SAFE, ids=hostile_ids)
def test_hostile_edit_tokens_over_http(app, comment, value):
    client = app.test_client()
    path = f"/api/comments/{comment['id']}"
    for method in ("patch", "delete"):
        response = getattr(client, method)(
            path, json={"text": "changed"}, headers={"X-Edit-Token": value}
        )
        assert response.status_code in (403, 404), (method, response.status_code)
        assert response.get_json()["error"]["code"] in ("forbidden", "not_found")


@pytest.mark.parametrize("value", HEADER_SAFE, ids=hostile_ids)
def test_hostile_form_tokens_over_http(make_app, value):
    app = make_app(GUARD=True)
    add_site(app)
    response = app.test_client().post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "Hi", "form_token": value}
    )
    assert response.status_code in (202, 400), response.get_json()
    if response.status_code == 400:
        assert response.get_json()["error"]["field"] == "form_token"


PATH_HOSTILE = [
    "%C2%B2",
    "1%C2%B2.approve.pending.1%C2%B2.x",
    "1.approve.pending.2%C2%B2.x",
    "a%0Ab",
    "%E2%80%A8",
    "x" * 10 * 1024,
    "eyJ4IjoxfQ.forged",
    "%00",
]


@pytest.mark.parametrize("value", PATH_HOSTILE, ids=hostile_ids)
def test_hostile_mail_links_over_http(app, comment, value):
    client = app.test_client()
    for method in ("get", "post"):
        assert getattr(client, method)(f"/admin/mail/{value}").status_code == 403
        assert getattr(client, method)(f"/unsubscribe/{value}").status_code == 404


def test_a_mail_link_token_does_not_unsubscribe_and_back(mail_app, inbox, clock):
    add_site(mail_app, moderation="all", owner_email="owner@example.org")
    post(mail_app, email="ann@example.org", notify=True)
    run_queue(mail_app)
    approve = link(parts(inbox.messages[0])[0], "Approve")
    token = approve.rsplit("/", 1)[1]
    client = mail_app.test_client()
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.get(approve).status_code == 200


@pytest.mark.parametrize(
    "value", ["", "²", "1²", "a\nb", "x" * 10 * 1024, "\u2028"], ids=hostile_ids
)
def test_hostile_admin_csrf_tokens_are_forbidden(app, value):
    client = app.test_client()
    client.get("/admin/login")  # sets the login cookie
    response = client.post(
        "/admin/login", data={"csrf": value, "username": "alice", "password": "x"}
    )
    assert response.status_code == 403
    assert client.post("/admin/logout", data={"csrf": value}).status_code in (302, 403)
