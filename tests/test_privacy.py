"""The README's privacy promises: what answers, avatars and logs let a stranger learn."""

from __future__ import annotations

from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Comment
from tests.conftest import ORIGIN
from tests.conftest import add_site

# --- held comments: a wrong token learns nothing -------------------------------------------------


def _comments_in_every_state(app, client):
    """Post comments and move them to held, spam and deleted; return their ids by state."""
    add_site(app, "quiet", "https://quiet.example.org", moderation="all")
    ids = {}
    for state in ("held", "spam", "deleted"):
        response = client.post(
            "/api/comments",
            json={"site": "quiet", "uri": "/p", "text": f"a {state} comment"},
            headers={"Origin": "https://quiet.example.org"},
        )
        assert response.status_code == 202
        ids[state] = response.get_json()["id"]
    with app.app_context(), write_transaction():
        db.session.get(Comment, ids["spam"]).status = "spam"
        comment = db.session.get(Comment, ids["deleted"])
        comment.status, comment.text, comment.html = "deleted", "", ""
    ids["none"] = max(ids.values()) + 1000
    return ids


def test_a_wrong_token_gets_one_answer_for_held_spam_deleted_and_missing(app, client):
    ids = _comments_in_every_state(app, client)
    tokens = [None, "", "garbage", "1.2.3", f"{ids['held']}.9999999999.{'0' * 64}"]
    origins = [None, ORIGIN, "https://evil.example"]
    add_site(app)
    for token in tokens:
        for origin in origins:
            headers = {k: v for k, v in (("X-Edit-Token", token), ("Origin", origin)) if v}
            answers = set()
            for state, comment_id in ids.items():
                url = f"/api/comments/{comment_id}"
                patch = client.patch(url, json={"text": "x"}, headers=headers)
                delete = client.delete(url, headers=headers)
                for response in (patch, delete):
                    # The message must not name the site the held comment belongs to.
                    assert "quiet" not in response.get_data(as_text=True), state
                    answers.add((response.status_code, response.get_data(as_text=True)))
            assert len(answers) == 1, (token, origin, answers)
            [(status, _body)] = answers
            assert status == 403


def test_get_with_a_wrong_token_gets_one_answer_for_every_hidden_comment(app, client):
    ids = _comments_in_every_state(app, client)
    for token in (None, "garbage", "1.2.3"):
        headers = {"X-Edit-Token": token} if token else {}
        answers = {
            (r.status_code, r.get_data(as_text=True))
            for r in (client.get(f"/api/comments/{i}", headers=headers) for i in ids.values())
        }
        assert len(answers) == 1 and next(iter(answers))[0] == 404, answers


def test_the_author_still_edits_a_held_comment_and_a_foreign_origin_is_refused(app, client):
    add_site(app, "quiet", "https://quiet.example.org", moderation="all")
    held = client.post(
        "/api/comments", json={"site": "quiet", "uri": "/p", "text": "mine"}
    ).get_json()
    url, token = f"/api/comments/{held['id']}", {"X-Edit-Token": held["edit_token"]}
    foreign = client.patch(url, json={"text": "x"}, headers={**token, "Origin": ORIGIN})
    assert foreign.status_code == 403
    own = client.patch(
        url, json={"text": "mine, edited"}, headers={**token, "Origin": "https://quiet.example.org"}
    )
    assert own.status_code == 200 and own.get_json()["status"] == "pending"


# --- avatars ---------------------------------------------------------------------------------


def _post(client, address, **body):
    payload = {"site": "blog", "uri": "/p", "text": f"words from {address}", **body}
    response = client.post("/api/comments", json=payload, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_avatar_does_not_confirm_a_guessed_email(app, client, site):
    ann = _post(client, "192.0.2.1", email="ann@example.org")
    again = _post(client, "192.0.2.1", email="ann@example.org", text="more words")
    guesser = _post(client, "203.0.113.9", email="ann@example.org")
    # Ann keeps her picture from comment to comment; the guesser draws another one.
    assert ann["avatar"] == again["avatar"]
    assert guesser["avatar"] != ann["avatar"]


def test_anonymous_comments_from_one_address_do_not_share_an_avatar(app, client, site):
    first = _post(client, "192.0.2.1")
    second = _post(client, "192.0.2.1", text="other words")
    named = _post(client, "192.0.2.1", author="Ann", text="third words")
    named_again = _post(client, "192.0.2.1", author="Ann", text="fourth words")
    avatars = {first["avatar"], second["avatar"], named["avatar"], named_again["avatar"]}
    assert len(avatars) == 4


# --- hosts: one host, one spelling -----------------------------------------------------------


def test_a_host_has_one_normal_form():
    from commentsvc.fields import normal_host
    from commentsvc.fields import origin_of

    for spelling in ("Bücher.Example.", "xn--bcher-kva.example", "XN--BCHER-KVA.EXAMPLE."):
        assert normal_host(spelling) == "xn--bcher-kva.example"
    assert normal_host("[::FFFF:1]") == "::ffff:1"
    assert normal_host("my_host.Example.") == "my_host.example"
    assert origin_of("HTTPS://Blog.Example.org.:443/x") == "https://blog.example.org"
    assert origin_of("http://bücher.example:8080") == "http://xn--bcher-kva.example:8080"


def test_site_origins_and_linkback_targets_match_every_spelling_of_the_host(app, client):
    from commentsvc.sites import get_site
    from commentsvc.sites import thread_uri

    add_site(app, "shop", "https://Bücher.Example./", origins=["https://BÜCHER.example."])
    with app.app_context():
        site = get_site("shop")
        assert [o.origin for o in site.origins] == ["https://xn--bcher-kva.example"]
        for target in (
            "https://xn--bcher-kva.example/post",
            "https://bücher.example./post",
            "https://XN--BCHER-KVA.example:443/post",
        ):
            assert thread_uri(site, target) == "/post", target
        assert thread_uri(site, "https://other.example/post") is None
        assert thread_uri(site, "http://xn--bcher-kva.example/post") is None
    for origin in ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example."):
        response = client.post(
            "/api/comments",
            json={"site": "shop", "uri": "/p", "text": f"from {origin}"},
            headers={"Origin": origin},
        )
        assert response.status_code == 201, origin
        assert response.headers["Access-Control-Allow-Origin"] == origin


# --- logs --------------------------------------------------------------------------------------


def test_the_server_logs_no_client_address(app, site, live_server):
    import http.client
    import socket

    server = live_server(workers=1, GUARD="off")
    client_address = "127.0.0.2"  # any loopback address: the one the log must not show
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=10, source_address=(client_address, 0)
    )
    connection.request(
        "GET", "/api/comments?site=blog&uri=/p", headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert connection.getresponse().read()
    connection.close()
    # A malformed request: gunicorn's own warning names the address it came from.
    with socket.create_connection(
        ("127.0.0.1", server.port), timeout=10, source_address=(client_address, 0)
    ) as raw:
        raw.sendall(b"NOT A REQUEST\r\n\r\n")
        raw.recv(1024)
    server.process.terminate()  # the log is complete once the server has stopped
    server.process.wait(timeout=30)
    log = server.output()
    assert "GET /api/comments?site=blog&uri=/p" in log
    assert "Invalid request from ip=-" in log
    assert client_address not in log and "198.51.100.7" not in log


def test_liking_a_held_comment_answers_as_for_none_whatever_the_origin(app, client):
    ids = _comments_in_every_state(app, client)
    add_site(app)
    for origin in (None, ORIGIN, "https://evil.example"):
        headers = {"Origin": origin} if origin else {}
        answers = {
            (r.status_code, r.get_data(as_text=True))
            for r in (client.post(f"/api/comments/{i}/like", headers=headers) for i in ids.values())
        }
        assert len(answers) == 1 and next(iter(answers))[0] == 404, (origin, answers)


def test_a_webmention_stores_no_raw_address_in_its_job(app, client, ours, theirs):
    from sqlalchemy import select

    from commentsvc.models import Job

    target = ours.url + "/post/1"
    source = theirs.page("/reply", f'<p><a href="{target}">a post</a></p>')
    response = client.post(
        "/webmention",
        data={"source": source, "target": target},
        environ_base={"REMOTE_ADDR": "192.0.2.55"},
    )
    assert response.status_code == 201
    with app.app_context():
        payloads = db.session.scalars(select(Job.payload)).all()
    assert payloads and not any("192.0.2.55" in p for p in payloads)


def test_a_refused_fetch_does_not_say_what_the_host_resolves_to(make_app, ours):
    from commentsvc import queue

    app = make_app(FETCH_ALLOW_PRIVATE=False)  # the site "blog" is ours, on this database
    client = app.test_client()
    response = client.post(
        "/webmention", data={"source": "http://localhost:1/post", "target": ours.url + "/post/1"}
    )
    with app.app_context():
        queue.run_pending()
    status = client.get(response.headers["Location"], headers={"Accept": "application/json"})
    reason = status.get_json()["reason"]
    assert "localhost" in reason and "127.0.0.1" not in reason and "::1" not in reason
