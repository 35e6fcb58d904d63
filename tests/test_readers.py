"""A reader's own data: the mailed link (aiosmtpd), the listing, the download and the erasure."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from commentsvc import comments
from commentsvc.admins import add_admin
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Comment
from commentsvc.models import ModerationEvent
from tests.conftest import add_site
from tests.mail import parts
from tests.mail import run_queue
from tests.test_admin import PASSWORD
from tests.test_admin import AdminActions

ANN = {
    "author": "Ann Quill",
    "email": "ann@example.org",
    "website": "https://ann-quill.example",
}
SECRET_WORDS = "zebra-marmalade"


def post(client, **body):
    full = {"site": "blog", "uri": "/post/1", "text": "Hello", **body}
    response = client.post("/api/comments", json=full)
    assert response.status_code in (201, 202), response.get_json()
    return response.get_json()["id"]


def set_status(app, comment_id, status, clock):
    with app.app_context(), write_transaction() as session:
        comments.set_status(
            session.get(Comment, comment_id), status, actor="test", reason="", now=clock.now
        )


def ask(client, email="ann@example.org", site="blog", expect=202, **kwargs):
    response = client.post("/api/data-requests", json={"site": site, "email": email}, **kwargs)
    assert response.status_code == expect, response.get_json()
    return response


def mailed_path(inbox) -> str:
    text, html = parts(inbox.messages[-1])
    url = re.search(r"(https://comments\.example\.org/me/\S+)", text).group(1)
    assert url in html
    return urlsplit(url).path


def everything_stored(app) -> str:
    """Return every row of every table as one text."""
    with app.app_context():
        return "\n".join(
            repr(tuple(row))
            for table in db.metadata.sorted_tables
            for row in db.session.execute(select(table))
        )


@pytest.fixture
def conversation(mail_app, clock):
    """Ann's comments in every situation, and the replies of others."""
    add_site(mail_app)
    client = mail_app.test_client()
    ids = {}
    words = f"{SECRET_WORDS} "
    ids["replied"] = post(client, text=words + "replied to", **ANN, notify=True)
    ids["bo"] = post(client, text="Bo answers", author="Bo", parent=ids["replied"])
    ids["alone"] = post(client, text=words + "alone", **ANN)
    ids["under_bo"] = post(client, text=words + "under Bo", parent=ids["bo"], **ANN)
    ids["own_root"] = post(client, text=words + "own root", **ANN)
    ids["own_reply"] = post(client, text=words + "own reply", parent=ids["own_root"], **ANN)
    ids["held"] = post(client, text=words + "held", **ANN, uri="/post/2")
    ids["held_reply"] = post(
        client, text="Cy, held", author="Cy", parent=ids["held"], uri="/post/2"
    )
    ids["owner_deleted"] = post(client, text=words + "deleted by the owner", **ANN)
    set_status(mail_app, ids["held_reply"], "pending", clock)
    set_status(mail_app, ids["held"], "pending", clock)
    # The owner's delete keeps an undo copy for a day: the erasure must reach it too.
    set_status(mail_app, ids["owner_deleted"], "deleted", clock)
    run_queue(mail_app)  # reply notifications go out now, not among the data mails
    return ids


def test_a_reader_erases_their_comments_through_the_mailed_link(
    mail_app, inbox, clock, conversation
):
    client = mail_app.test_client()
    before = len(inbox.messages)
    ask(client, email="Ann@Example.org")  # normalised as posting normalises it
    ask(client, email="nobody@example.org")  # same answer, and no mail
    assert len(inbox.messages) == before  # nothing is sent while answering
    run_queue(mail_app)
    assert len(inbox.messages) == before + 1
    message = inbox.messages[-1]
    assert message["To"] == "ann@example.org"
    path = mailed_path(inbox)
    assert "ann" not in path.lower()  # the link carries no address

    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    html = page.get_data(as_text=True)
    for name in ("replied", "alone", "under_bo", "own_root", "own_reply", "held"):
        assert f'data-id="{conversation[name]}"' in html
    assert "Bo answers" not in html

    download = client.get(path + "/comments.json")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    data = download.get_json()
    assert data["email"] == "ann@example.org"
    assert {c["id"] for c in data["comments"]} == {
        conversation[n] for n in ("replied", "alone", "under_bo", "own_root", "own_reply", "held")
    }
    assert all(c["author"] == "Ann Quill" and SECRET_WORDS in c["text"] for c in data["comments"])

    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    erase = path + "/erase"
    assert client.post(erase, data={}).status_code == 403
    assert client.post(erase, data={"csrf": "forged"}).status_code == 403
    foreign = client.post(erase, data={"csrf": csrf}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    cross = client.post(erase, data={"csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    unnamed = client.post(erase, data={"csrf": csrf}, headers={"Origin": "null"})
    assert unnamed.status_code == 403
    assert SECRET_WORDS in everything_stored(mail_app)

    done = client.post(erase, data={"csrf": csrf, "sure": "on"})
    assert done.status_code == 200
    assert "Erased" in done.get_data(as_text=True)

    # Where replies hang, placeholders; the rest is gone.
    thread = client.get("/api/comments", query_string={"site": "blog", "uri": "/post/1"})
    [root] = [c for c in thread.get_json()["comments"] if c["id"] == conversation["replied"]]
    assert root["status"] == "deleted" and root["author"] == "" and root["html"] == ""
    assert root["website"] is None
    [bo] = root["replies"]
    assert bo["id"] == conversation["bo"] and bo["replies"] == []
    shown = {c["id"] for c in thread.get_json()["comments"]}
    assert shown == {conversation["replied"]}
    with mail_app.app_context():
        left = {c.id: c.status for c in db.session.scalars(select(Comment))}
        assert left[conversation["held"]] == "deleted"  # a held reply of Cy hangs there
        for name in ("alone", "under_bo", "own_root", "own_reply", "owner_deleted"):
            assert conversation[name] not in left, name
        erasures = db.session.scalars(
            select(ModerationEvent).where(ModerationEvent.action == "erase")
        ).all()
        assert [(e.actor, e.comment_id) for e in erasures] == [("reader", None)]

    stored = everything_stored(mail_app)
    for trace in (SECRET_WORDS, "Ann Quill", "ann@example.org", "ann-quill.example"):
        assert trace not in stored, trace
    assert "Bo answers" in stored

    # The link is used up: the comment it names no longer carries the address.
    assert client.get(path).status_code == 403


def test_links_expire_and_forged_links_are_refused(mail_app, inbox, clock, conversation):
    client = mail_app.test_client()
    ask(client)
    run_queue(mail_app)
    path = mailed_path(inbox)
    assert client.get(path).status_code == 200
    assert client.get(path[:-3] + "abc").status_code == 403
    assert client.get("/me/" + "x" * 2000).status_code == 403
    assert client.get(path + "/comments.json").status_code == 200
    clock.advance(hours=25)
    expired = client.get(path)
    assert expired.status_code == 403 and "expired" in expired.get_data(as_text=True)
    assert client.get(path + "/comments.json").get_json()["error"]["code"] == "forbidden"


def test_link_mails_are_limited_per_address_and_per_client(mail_app, inbox, clock, conversation):
    before = len(inbox.messages)
    for n in range(4):  # from four clients: the address gets three mails an hour
        client = mail_app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        ask(client)
    run_queue(mail_app)
    assert len(inbox.messages) == before + 3
    one = mail_app.test_client()
    one.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for n in range(5):
        ask(one, email=f"someone{n}@example.org")
    limited = ask(one, email="someone-else@example.org", expect=429)
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.get_json()["error"]["code"] == "rate_limited"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"site": "blog"}, 400, "email"),
        ({"site": "blog", "email": "not an address"}, 400, "email"),
        ({"site": "blog", "email": ["a@example.org"]}, 400, "email"),
        ({"email": "a@example.org"}, 400, "site"),
        ({"site": "nosuch", "email": "a@example.org"}, 400, "site"),
    ],
)
def test_bad_requests_name_their_field(mail_app, body, status, field):
    add_site(mail_app)
    response = mail_app.test_client().post("/api/data-requests", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field


def test_requests_from_other_origins_and_forms_are_refused(mail_app):
    add_site(mail_app)
    client = mail_app.test_client()
    body = {"site": "blog", "email": "a@example.org"}
    foreign = client.post(
        "/api/data-requests", json=body, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    form = client.post("/api/data-requests", data=body)
    assert form.status_code == 415


def test_each_known_crash_is_a_json_4xx_in_a_data_request(mail_app):
    from tests.test_fuzz import MATRIX_VALUES
    from tests.test_fuzz import assert_handled

    add_site(mail_app)
    client = mail_app.test_client()
    for value in MATRIX_VALUES:
        for body in ({"site": "blog", "email": value}, {"site": value, "email": "a@example.org"}):
            response = client.post("/api/data-requests", json=body)
            assert_handled(response, "/api/data-requests")


def test_without_mail_there_are_no_links(client, site):
    response = client.post("/api/data-requests", json={"site": "blog", "email": "a@example.org"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_owner_downloads_and_erases_any_address(mail_app, clock, conversation):
    add_site(mail_app, "other", "https://other.example.org")
    client = mail_app.test_client()
    post(client, site="other", uri="/x", text=SECRET_WORDS + " elsewhere", **ANN)
    with mail_app.app_context():
        add_admin("alice", PASSWORD)
    alice = AdminActions(mail_app.test_client())
    assert alice.login().status_code == 302
    page = alice.page("/admin/readers?email=ann@example.org&site=")
    assert SECRET_WORDS + " elsewhere" in page
    download = alice.client.get("/admin/readers/comments.json?email=ann@example.org&site=")
    assert len(download.get_json()["comments"]) == 7

    # Without the session's CSRF token: refused.
    refused = alice.client.post("/admin/readers/erase", data={"email": "ann@example.org"})
    assert refused.status_code == 403
    done = alice.post("/admin/readers/erase", email="ann@example.org", site="other")
    assert done.status_code == 302
    stored = everything_stored(mail_app)
    assert SECRET_WORDS + " elsewhere" not in stored
    assert SECRET_WORDS + " alone" in stored  # only the site named

    alice.post("/admin/readers/erase", email="ann@example.org", site="")
    stored = everything_stored(mail_app)
    for trace in (SECRET_WORDS, "Ann Quill", "ann@example.org", "ann-quill.example"):
        assert trace not in stored, trace
    assert "erase" in alice.page("/admin/log")
