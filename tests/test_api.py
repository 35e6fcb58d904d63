import pytest
from sqlalchemy import select

from commentsvc.db import db
from tests.conftest import ORIGIN
from tests.conftest import add_site
from tests.safety import unsafe_parts

# --- posting and reading ---------------------------------------------------------------------


def test_a_comment_is_published_and_read_back(api):
    posted = api.post(
        expect=201,
        text="Hello *there*",
        author="Ann",
        email="Ann@Example.org",
        website="ann.example.org",
    ).get_json()
    assert posted["status"] == "published"
    assert posted["html"] == "<p>Hello <em>there</em></p>"
    assert posted["website"] == "https://ann.example.org"
    assert posted["edit_token"]
    assert "email" not in posted

    thread = api.thread()
    assert (thread["site"], thread["uri"]) == ("blog", "/post/1")
    assert thread["count"] == 1
    [comment] = thread["comments"]
    assert comment["author"] == "Ann"
    assert comment["kind"] == "comment"
    assert comment["avatar"].endswith(".svg")
    assert "Ann@Example.org".lower() not in str(thread).lower()


def test_an_unknown_thread_is_empty(api):
    thread = api.thread("/never")
    assert thread == {
        "site": "blog",
        "uri": "/never",
        "title": "",
        "count": 0,
        "counts": {"comments": 0, "mentions": 0},
        "likes": 0,
        "fediverse": {"posts": [], "boosts": 0, "favourites": 0},
        "comments": [],
        "next": None,
        "notifications": False,
        "sign_in": {"providers": [], "anonymous": "on"},
    }


def test_a_posted_title_is_accepted_but_not_used(api):
    api.post(expect=201, title="First")
    assert api.thread()["title"] == ""  # the page's title is fetched from the site instead


def test_replies_nest_under_their_parents(api):
    top = api.post(expect=201, text="top").get_json()["id"]
    reply = api.post(expect=201, text="reply", parent=top).get_json()["id"]
    deeper = api.post(expect=201, text="reply to reply", parent=reply).get_json()["id"]
    [node] = api.thread()["comments"]
    assert node["id"] == top
    assert node["replies"][0]["id"] == reply
    assert node["replies"][0]["parent"] == top
    assert node["replies"][0]["replies"][0]["id"] == deeper
    assert node["replies"][0]["replies"][0]["parent"] == reply


def test_a_parent_must_be_in_the_same_thread(api):
    other = api.post(expect=201, uri="/post/2").get_json()["id"]
    response = api.post(expect=400, parent=other)
    assert response.get_json()["error"]["field"] == "parent"
    assert api.post(expect=400, parent=999_999).get_json()["error"]["field"] == "parent"
    assert api.thread()["count"] == 0


def test_sort_and_cursor_give_every_comment_exactly_once(api, clock):
    posted = []
    for n in range(7):
        clock.advance(seconds=10)
        parent = posted[n - 1] if n in (3, 6) else None
        posted.append(api.post(expect=201, text=f"comment {n}", parent=parent).get_json()["id"])
    for sort in ("oldest", "newest", "top"):
        seen, cursor = [], None
        for _ in range(10):
            params = {"sort": sort, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = api.thread(**params)
            for top in page["comments"]:
                seen.append(top["id"])
                seen.extend(r["id"] for r in top["replies"])
            cursor = page["next"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(posted), sort
        assert len(seen) == len(set(seen))


def test_newest_and_top_order(api, client, clock):
    ids = []
    for n in range(3):
        clock.advance(seconds=5)
        ids.append(api.post(expect=201, text=f"c{n}").get_json()["id"])
    assert [c["id"] for c in api.thread(sort="newest")["comments"]] == ids[::-1]
    client.post(f"/api/comments/{ids[1]}/like")
    assert [c["id"] for c in api.thread(sort="top")["comments"]][0] == ids[1]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "best"},
        {"limit": "0"},
        {"limit": "1000"},
        {"limit": "x"},
        {"cursor": "not-a-cursor"},
        {"cursor": "WyJuZXdlc3QiLDEsMl0", "sort": "oldest"},  # a cursor made for "newest"
    ],
)
def test_bad_listing_parameters_are_named(api, client, params):
    response = client.get("/api/comments", query_string={"site": "blog", "uri": "/p", **params})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] in params


def test_unknown_site_and_bad_uri_are_400(client, site):
    response = client.get("/api/comments", query_string={"site": "nope", "uri": "/p"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "site"
    response = client.get("/api/comments", query_string={"site": "blog", "uri": "p"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "uri"
    response = client.get("/api/comments", query_string={"site": "blog"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "uri"


# --- caching -----------------------------------------------------------------------------------


def test_thread_reads_answer_if_none_match_with_304(api, client):
    api.post(expect=201)
    first = client.get("/api/comments?site=blog&uri=/post/1")
    etag = first.headers["ETag"]
    again = client.get("/api/comments?site=blog&uri=/post/1", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["X-Form-Token"]
    api.post(expect=201, text="new")
    changed = client.get("/api/comments?site=blog&uri=/post/1", headers={"If-None-Match": etag})
    assert changed.status_code == 200


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": " \n\t "}, "text"),
        ({"text": ...}, "text"),
        ({"text": 42}, "text"),
        ({"text": ["a"]}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"text": "lone \ud800 surrogate"}, "text"),
        ({"author": "x" * 101}, "author"),
        ({"author": 5}, "author"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b@c"}, "email"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"website": "ftp://example.org"}, "website"),
        ({"website": "data:text/html,x"}, "website"),
        ({"website": "<script>alert(1)//"}, "website"),
        ({"website": "https://x.org/<b>"}, "website"),
        ({"website": "https://-bad-.example"}, "website"),
        ({"parent": "1"}, "parent"),
        ({"parent": True}, "parent"),
        ({"parent": -1}, "parent"),
        ({"notify": "yes"}, "notify"),
        ({"uri": "no-slash"}, "uri"),
        ({"uri": " /post/1"}, "uri"),
        ({"uri": "/post/\x07"}, "uri"),
        ({"uri": ...}, "uri"),
        ({"site": ...}, "site"),
        ({"site": "unknown"}, "site"),
        ({"site": 7}, "site"),
    ],
)
def test_invalid_fields_get_400_naming_the_field(api, overrides, field):
    response = api.post(expect=400, **overrides)
    error = response.get_json()["error"]
    assert error["field"] == field
    assert error["message"]
    assert api.thread()["count"] == 0


def test_length_is_counted_in_code_points_and_never_truncated(make_app):
    app = make_app(MAX_TEXT_LENGTH=10)
    add_site(app)
    client = app.test_client()
    ok = client.post("/api/comments", json={"site": "blog", "uri": "/p", "text": "😀" * 10})
    assert ok.status_code == 201
    too_long = client.post("/api/comments", json={"site": "blog", "uri": "/p", "text": "é" * 11})
    assert too_long.status_code == 400
    assert too_long.get_json()["error"]["field"] == "text"


def test_control_characters_are_stripped(api):
    posted = api.post(expect=201, text="one\x07two\u202ethree", author="A\x1bnn").get_json()
    assert posted["html"] == "<p>onetwothree</p>"
    assert posted["author"] == "Ann"


def test_writes_accept_json_only(client, site):
    for data, content_type in [
        ("site=blog&uri=/p&text=x", "application/x-www-form-urlencoded"),
        ('{"site": "blog", "uri": "/p", "text": "x"}', "text/plain"),
        ("--b\r\n", "multipart/form-data; boundary=b"),
    ]:
        response = client.post("/api/comments", data=data, content_type=content_type)
        assert response.status_code == 415
        assert response.get_json()["error"]["code"] == "unsupported_media_type"
    for route in ("/api/likes", "/api/preview"):
        assert client.post(route, data="x", content_type="text/plain").status_code == 415


def test_bodies_that_are_not_json_objects_are_400(client, site):
    for body in ("[1, 2]", '"text"', "{not json", ""):
        response = client.post("/api/comments", data=body, content_type="application/json")
        assert response.status_code == 400
        assert response.get_json()["error"]["field"] == "body"


def test_oversize_bodies_are_413(make_app):
    app = make_app(MAX_BODY_BYTES=2048)
    add_site(app)
    response = app.test_client().post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "x" * 5000}
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


# --- CORS and origins --------------------------------------------------------------------------


def test_cors_answers_the_sites_origins_only(api, client):
    allowed = client.get("/api/comments?site=blog&uri=/p", headers={"Origin": ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in allowed.headers["Vary"]
    assert "X-Form-Token" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get("/api/comments?site=blog&uri=/p", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]


def test_preflight_is_answered_for_site_origins(api, client):
    response = client.options(
        "/api/comments/1",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "content-type, x-edit-token",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    assert "X-Edit-Token" in response.headers["Access-Control-Allow-Headers"]
    refused = client.options("/api/comments", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_writes_from_a_foreign_origin_are_403(api, app, client):
    add_site(app, "other", "https://other.example")
    for origin in ("https://evil.example", "https://other.example", "null"):
        response = api.post(headers={"Origin": origin})
        assert response.status_code == 403, origin
    assert api.post(headers={"Origin": ORIGIN}).status_code == 201
    assert api.thread()["count"] == 1
    page_like = client.post(
        "/api/likes", json={"site": "blog", "uri": "/p"}, headers={"Origin": "https://evil.example"}
    )
    assert page_like.status_code == 403


# --- editing and deleting one's own ------------------------------------------------------------


def test_the_author_edits_within_the_window(api, client, clock):
    posted = api.post(expect=201, text="frist").get_json()
    response = client.patch(
        f"/api/comments/{posted['id']}",
        json={"text": "first, *really*", "author": "Bo"},
        headers={"X-Edit-Token": posted["edit_token"]},
    )
    assert response.status_code == 200
    edited = response.get_json()
    assert edited["html"] == "<p>first, <em>really</em></p>"
    assert edited["author"] == "Bo"
    assert edited["modified"]
    # The token is bound to the content: the old one no longer works, the new one does.
    old = client.patch(
        f"/api/comments/{posted['id']}",
        json={"text": "again"},
        headers={"X-Edit-Token": posted["edit_token"]},
    )
    assert old.status_code == 403
    new = client.patch(
        f"/api/comments/{posted['id']}",
        json={"text": "again"},
        headers={"X-Edit-Token": edited["edit_token"]},
    )
    assert new.status_code == 200


def _flip(token: str, index: int) -> str:
    swapped = "0" if token[index] != "0" else "1"
    return token[:index] + swapped + token[index + 1 :]


def test_edits_with_a_wrong_token_or_late_are_403(api, client, clock):
    first = api.post(expect=201, text="one").get_json()
    second = api.post(expect=201, text="two").get_json()
    url = f"/api/comments/{first['id']}"
    bad_tokens = [
        None,
        "",
        "garbage",
        second["edit_token"],  # another comment's token
        _flip(first["edit_token"], -1),  # a flipped byte in the signature
        _flip(first["edit_token"], len(str(first["id"])) + 2),  # in the expiry
    ]
    for token in bad_tokens:
        headers = {"X-Edit-Token": token} if token is not None else {}
        assert client.patch(url, json={"text": "x"}, headers=headers).status_code == 403
        assert client.delete(url, headers=headers).status_code == 403
    clock.advance(minutes=15, seconds=1)
    late = client.patch(url, json={"text": "x"}, headers={"X-Edit-Token": first["edit_token"]})
    assert late.status_code == 403
    assert late.get_json()["error"]["code"] == "edit_window"
    assert api.thread()["comments"][0]["html"] == "<p>one</p>"


def test_the_edit_window_is_per_site(make_app, clock):
    app = make_app()
    add_site(app, edit_window=60)
    app.extensions["clock"] = clock
    client = app.test_client()
    posted = client.post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "x"}
    ).get_json()
    clock.advance(seconds=61)
    response = client.delete(
        f"/api/comments/{posted['id']}", headers={"X-Edit-Token": posted["edit_token"]}
    )
    assert response.status_code == 403


def test_an_edit_is_validated_and_sanitised_like_a_post(api, client):
    posted = api.post(expect=201).get_json()
    url, headers = f"/api/comments/{posted['id']}", {"X-Edit-Token": posted["edit_token"]}
    for body, field in [
        ({"text": ""}, "text"),
        ({"website": "javascript:x"}, "website"),
        ({}, "text"),
    ]:
        response = client.patch(url, json=body, headers=headers)
        assert response.status_code == 400
        assert response.get_json()["error"]["field"] == field
    evil = client.patch(
        url, json={"text": "<img src=x onerror=alert(1)>[x](javascript:alert(1))"}, headers=headers
    ).get_json()
    assert unsafe_parts(evil["html"]) == []
    assert client.patch(url, data="text=x", headers=headers).status_code == 415


def test_an_edit_that_adds_links_is_held_again(make_app):
    app = make_app()
    add_site(app, moderation="links", link_limit=2)
    client = app.test_client()
    posted = client.post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "x"}
    ).get_json()
    assert posted["status"] == "published"
    response = client.patch(
        f"/api/comments/{posted['id']}",
        json={"text": "see https://a.example.org and https://b.example.org"},
        headers={"X-Edit-Token": posted["edit_token"]},
    )
    assert response.get_json()["status"] == "pending"
    thread = client.get("/api/comments?site=blog&uri=/p").get_json()
    assert thread["count"] == 0 and thread["comments"] == []


def test_deleting_keeps_a_placeholder_while_replies_hang_from_it(api, client):
    top = api.post(expect=201, text="top", author="Ann").get_json()
    reply = api.post(expect=201, text="reply", parent=top["id"]).get_json()
    lonely = api.post(expect=201, text="lonely").get_json()
    for posted in (top, lonely):
        response = client.delete(
            f"/api/comments/{posted['id']}", headers={"X-Edit-Token": posted["edit_token"]}
        )
        assert response.status_code == 204
    thread = api.thread()
    assert thread["count"] == 1
    [placeholder] = thread["comments"]
    assert placeholder["id"] == top["id"]
    assert placeholder["status"] == "deleted"
    assert placeholder["html"] == "" and placeholder["author"] == ""
    assert placeholder["replies"][0]["id"] == reply["id"]
    assert client.get(f"/api/comments/{lonely['id']}").status_code == 404


# --- held comments -----------------------------------------------------------------------------


def test_a_held_comment_is_seen_only_by_its_author(make_app):
    app = make_app()
    add_site(app, moderation="all")
    client = app.test_client()
    response = client.post("/api/comments", json={"site": "blog", "uri": "/p", "text": "held"})
    assert response.status_code == 202
    held = response.get_json()
    assert held["status"] == "pending"
    assert client.get(f"/api/comments/{held['id']}").status_code == 404
    own = client.get(f"/api/comments/{held['id']}", headers={"X-Edit-Token": held["edit_token"]})
    assert own.status_code == 200 and own.get_json()["status"] == "pending"
    thread = client.get("/api/comments?site=blog&uri=/p").get_json()
    assert thread["count"] == 0 and thread["comments"] == []
    counts = client.get("/api/counts?site=blog&uri=/p").get_json()
    assert counts["counts"] == {"/p": 0}
    reply = client.post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "r", "parent": held["id"]}
    )
    assert reply.status_code == 400


def test_a_held_comment_appears_once_approved(make_app):
    from commentsvc.comments import set_status
    from commentsvc.db import db
    from commentsvc.db import write_transaction
    from commentsvc.models import Comment
    from commentsvc.models import utcnow

    app = make_app()
    add_site(app, moderation="all")
    client = app.test_client()
    held = client.post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "held"}
    ).get_json()
    with app.app_context(), write_transaction():
        comment = db.session.get(Comment, held["id"])
        set_status(comment, "approved", actor="admin:test", reason="looks fine", now=utcnow())
    thread = client.get("/api/comments?site=blog&uri=/p").get_json()
    assert [c["id"] for c in thread["comments"]] == [held["id"]]
    assert client.get("/api/counts?site=blog&uri=/p").get_json()["counts"]["/p"] == 1


# --- likes and counts --------------------------------------------------------------------------


def test_likes_count_once_per_visitor(api, client):
    posted = api.post(expect=201).get_json()
    url = f"/api/comments/{posted['id']}/like"
    assert client.post(url).get_json() == {"likes": 1}
    assert client.post(url).get_json() == {"likes": 1}
    other = client.post(url, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.get_json() == {"likes": 2}
    assert api.thread()["comments"][0]["likes"] == 2
    assert client.post("/api/comments/999999/like").status_code == 404


def test_page_likes_count_once_per_visitor(api, client):
    body = {"site": "blog", "uri": "/post/1"}
    assert client.post("/api/likes", json=body).get_json() == {"likes": 1}
    assert client.post("/api/likes", json=body).get_json() == {"likes": 1}
    assert client.post(
        "/api/likes", json=body, environ_base={"REMOTE_ADDR": "192.0.2.9"}
    ).get_json() == {"likes": 2}
    assert api.thread()["likes"] == 2
    assert client.post("/api/likes", json={"site": "blog", "uri": "x"}).status_code == 400


def test_counts_come_in_the_order_asked_with_zero_for_unknown(api, client):
    api.post(expect=201, uri="/a")
    api.post(expect=201, uri="/b", text="1")
    api.post(expect=201, uri="/b", text="2")
    response = client.get("/api/counts?site=blog&uri=/zzz&uri=/b&uri=/a")
    assert list(response.get_json()["counts"].items()) == [("/zzz", 0), ("/b", 2), ("/a", 1)]
    assert client.get("/api/counts?site=blog").status_code == 400
    many = "&".join(f"uri=/p{n}" for n in range(101))
    assert client.get(f"/api/counts?site=blog&{many}").status_code == 400


def test_preview_renders_without_storing(api, client):
    response = client.post("/api/preview", json={"text": "**bold** <b>raw</b>"})
    assert response.get_json() == {"html": "<p><strong>bold</strong> &lt;b&gt;raw&lt;/b&gt;</p>"}
    assert client.post("/api/preview", json={"text": ""}).status_code == 400
    assert api.thread()["count"] == 0


def test_the_author_gets_their_markdown_back_with_the_token(api, client):
    posted = api.post(expect=201, text="Some **bold** words").get_json()
    url = f"/api/comments/{posted['id']}"
    mine = client.get(url, headers={"X-Edit-Token": posted["edit_token"]}).get_json()
    assert mine["text"] == "Some **bold** words" and mine["status"] == "published"
    public = client.get(url).get_json()
    assert "text" not in public
    assert "text" not in client.get(url, headers={"X-Edit-Token": "1.2.3"}).get_json()


# --- hostile input: a clear 4xx, never a 500 -------------------------------------------------

# Deeper than any recursion limit, within the 64 KB body limit.
DEEP = "[" * 20_000 + "]" * 20_000


def test_deeply_nested_json_is_400_on_every_json_route(api, client):
    posted = api.post(expect=201).get_json()
    headers = {"X-Edit-Token": posted["edit_token"]}
    for method, route in [
        ("POST", "/api/comments"),
        ("PATCH", f"/api/comments/{posted['id']}"),
        ("POST", "/api/likes"),
        ("POST", "/api/preview"),
    ]:
        for body in (DEEP, '{"text": ' + DEEP + "}", '{"a":' * 5000 + "1" + "}" * 5000):
            response = client.open(
                route, method=method, data=body, content_type="application/json", headers=headers
            )
            assert response.status_code == 400, (route, response.get_json())
            error = response.get_json()["error"]
            assert (error["code"], error["field"]) == ("too_deep", "body")


def test_json_nested_past_any_need_is_refused_even_when_python_could_parse_it(client, site):
    body = '{"site": "blog", "uri": "/p", "text": "x", "extra": ' + "[" * 40 + "]" * 40 + "}"
    response = client.post("/api/comments", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "too_deep"


def test_a_hostile_cursor_is_400(api):
    import base64

    def cursor(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    for value, code in [
        (cursor(DEEP), "invalid"),  # far longer than any cursor the service gives out
        (cursor('["oldest", ' + DEEP + "]"), "invalid"),
        (cursor('["oldest", ' + "[" * 60 + "]" * 60 + "]"), "too_deep"),
        (cursor('["oldest", 1' + "0" * 5000 + "]"), "invalid"),
        (cursor("not json"), "invalid"),
        ("é", "invalid"),
    ]:
        response = api.client.get(
            "/api/comments", query_string={"site": "blog", "uri": "/p", "cursor": value}
        )
        assert response.status_code == 400, response.get_json()
        error = response.get_json()["error"]
        assert (error["code"], error["field"]) == (code, "cursor")


def test_numbers_are_ascii_digits_only(api, client):
    posted = api.post(expect=201).get_json()
    for limit in ("²", "1²", "٣", "１２", "-1", " 5", "5 ", "1e2", "0x10", "9" * 30, "0"):
        response = client.get(
            "/api/comments", query_string={"site": "blog", "uri": "/post/1", "limit": limit}
        )
        assert response.status_code == 400, limit
        error = response.get_json()["error"]
        assert (error["code"], error["field"]) == ("invalid", "limit")
    assert api.thread(limit="7")["count"] == 1
    # '٣' is a decimal digit to int(): the id 3 must not have a second spelling.
    for path in ("/api/comments/%D9%A3", "/api/comments/%C2%B2", "/api/comments/%EF%BC%91"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/comments/{posted['id']}").status_code == 200
    assert client.get("/api/comments/" + "9" * 30).status_code == 404


def test_hostile_edit_tokens_are_403(api, client):
    posted = api.post(expect=201).get_json()
    token = posted["edit_token"]
    body, mac = token.rsplit(".", 1)  # itsdangerous: payload.signature
    url = f"/api/comments/{posted['id']}"
    for bad in (
        f"{body}.é{mac[1:]}",
        f"{body}.{mac[:-1]}²",
        f"²{body}.{mac}",
        f"{body[:-1]}٣.{mac}",
        f"{body}.{'9' * 4000}",
        f"{body}.{mac}.x",
    ):
        header = bad.encode().decode("latin-1")  # as a WSGI server hands it over
        assert (
            client.patch(url, json={"text": "x"}, headers={"X-Edit-Token": header}).status_code
            == 403
        )
        assert client.delete(url, headers={"X-Edit-Token": header}).status_code == 403
        shown = client.get(url, headers={"X-Edit-Token": header})
        assert shown.status_code == 200 and "text" not in shown.get_json()


def test_hostile_form_tokens_only_trip_the_time_trap(make_app):
    app = make_app(GUARD=True)
    add_site(app)
    client = app.test_client()
    for n, token in enumerate(("1.é", "².abc", "1" * 40 + ".x", "\u0663" * 10 + ".x")):
        response = client.post(
            "/api/comments",
            json={"site": "blog", "uri": f"/p{n}", "text": "Hello", "form_token": token},
            environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"},
        )
        assert response.status_code == 202, response.get_json()


def test_errors_carry_specific_documented_codes(client, site):
    from commentsvc.errors import ERROR_CODES

    def error(response, status):
        assert response.status_code == status, response.get_data()
        body = response.get_json()["error"]
        assert body["code"] in ERROR_CODES
        return body["code"], body.get("field")

    post = {"site": "blog", "uri": "/p"}
    assert error(client.post("/api/comments", json={**post, "text": " "}), 400) == ("empty", "text")
    long = {**post, "text": "x", "author": "a" * 101}
    assert error(client.post("/api/comments", json=long), 400) == ("too_long", "author")
    assert error(client.post("/api/comments", json={**post, "text": 5}), 400) == ("invalid", "text")
    assert error(client.get("/api/comments?uri=/p"), 400) == ("empty", "site")
    assert error(client.get("/api/counts?site=blog"), 400) == ("empty", "uri")
    many = "&".join(f"uri=/p{n}" for n in range(101))
    assert error(client.get(f"/api/counts?site=blog&{many}"), 400) == ("too_long", "uri")
    assert error(client.patch("/api/comments/1", json={}), 400) == ("empty", "text")
    assert error(client.get("/api/nothing-here"), 404) == ("not_found", None)
    assert error(client.put("/api/comments", json=post), 405) == ("not_allowed", None)
    assert error(client.post("/api/comments", data="x", content_type="text/plain"), 415) == (
        "unsupported_media_type",
        None,
    )


# --- preview: the sites' pages only, a few times a minute --------------------------------------


def test_preview_answers_the_sites_origins_only(api, app, client):
    add_site(app, "other", "https://other.example")
    text = {"text": "*hi*"}
    assert client.post("/api/preview", json=text).status_code == 200  # not a browser
    assert client.post("/api/preview", json=text, headers={"Origin": ORIGIN}).status_code == 200
    foreign = client.post("/api/preview", json=text, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert foreign.get_json()["error"]["code"] == "forbidden"
    # Naming the site: only its own origins.
    named = {"text": "*hi*", "site": "blog"}
    assert client.post("/api/preview", json=named, headers={"Origin": ORIGIN}).status_code == 200
    other = client.post("/api/preview", json=named, headers={"Origin": "https://other.example"})
    assert other.status_code == 403
    unknown = client.post("/api/preview", json={"text": "x", "site": "nope"})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["field"] == "site"


def test_previews_and_edits_are_rate_limited(make_app):
    app = make_app(GUARD=True)
    add_site(app)
    client = app.test_client()
    for _ in range(30):
        assert client.post("/api/preview", json={"text": "*hi*"}).status_code == 200
    refused = client.post("/api/preview", json={"text": "*hi*"})
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    # Edits render too, and count against the same limit of the same address.
    other = {"REMOTE_ADDR": "192.0.2.77"}
    posted = client.post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "x"}, environ_base=other
    ).get_json()
    url, token = f"/api/comments/{posted['id']}", posted["edit_token"]
    for n in range(30):
        edited = client.patch(
            url, json={"text": f"x{n}"}, headers={"X-Edit-Token": token}, environ_base=other
        )
        assert edited.status_code == 200
        token = edited.get_json()["edit_token"]
    late = client.patch(
        url, json={"text": "y"}, headers={"X-Edit-Token": token}, environ_base=other
    )
    assert late.status_code == 429 and late.headers["Retry-After"]
    assert client.post("/api/preview", json={"text": "x"}, environ_base=other).status_code == 429


def test_markdown_nesting_is_capped(client, site):
    from commentsvc.sanitize import MAX_NESTING

    for text in (">" * 10_000, "> " * 5000, "".join("  " * i + "- a\n" for i in range(300))):
        response = client.post("/api/preview", json={"text": text[:10_000]})
        assert response.status_code == 200
        html = response.get_json()["html"]
        assert html.count("<blockquote>") + html.count("<ul>") <= MAX_NESTING


def test_nul_and_other_impossible_names_are_not_looked_up(client, site):
    # PostgreSQL refuses to compare text that holds NUL: such values never reach a query.
    for name in ("a\x00b", "\x00", "Blog", "b" * 100):
        response = client.get("/api/comments", query_string={"site": name, "uri": "/p"})
        assert response.status_code == 400, name
        assert response.get_json()["error"]["field"] == "site"
        body = {"site": name, "uri": "/p", "text": "x"}
        assert client.post("/api/comments", json=body).status_code == 400
    assert client.get("/webmention/a%00b").status_code == 404
    origin = client.get("/api/origin", query_string={"site": "a\x00b"})
    assert origin.status_code == 200 and origin.get_json()["exists"] is False
    with_nul = client.get("/api/comments?site=blog&uri=/p", headers={"Origin": "https://a\x00"})
    assert with_nul.status_code == 200


def test_two_visitors_behind_one_address_both_count_and_can_take_it_back(api, client, app):
    from commentsvc.models import Like

    posted = api.post(expect=201).get_json()
    ann, bob = "ann-0123456789abcdef", "bob-0123456789abcdef"
    page = {"site": "blog", "uri": "/post/1"}
    for url, body in ((f"/api/comments/{posted['id']}/like", {}), ("/api/likes", page)):
        like = lambda visitor, url=url, body=body, **extra: client.post(  # noqa: E731
            url, json={**body, "visitor": visitor, **extra}
        ).get_json()
        assert like(ann) == {"likes": 1}
        assert like(bob) == {"likes": 2}  # same address, another reader
        assert like(ann) == {"likes": 2}  # a second click does not count twice
        assert like(ann, like=False) == {"likes": 1}
        assert like(ann, like=False) == {"likes": 1}  # nothing left to take back
        assert like(ann) == {"likes": 2}
    thread = api.thread()
    assert thread["likes"] == 2 and thread["comments"][0]["likes"] == 2
    with app.app_context():
        stored = db.session.scalars(select(Like.visitor)).all()
    assert len(stored) == 4 and not {ann, bob} & set(stored)  # keyed hashes only
    bad = client.post("/api/likes", json={**page, "visitor": "short"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "visitor"
    bad = client.post("/api/likes", json={**page, "visitor": ann, "like": "no"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "like"


def test_one_address_likes_for_a_few_visitors_only(make_app):
    from commentsvc.comments import MAX_VISITORS_PER_ADDRESS

    app = make_app(GUARD=True)
    add_site(app)
    client = app.test_client()
    page = {"site": "blog", "uri": "/post/1"}
    for n in range(MAX_VISITORS_PER_ADDRESS):
        response = client.post("/api/likes", json={**page, "visitor": f"visitor-{n:012d}"})
        assert response.get_json() == {"likes": n + 1}
    stuffed = client.post("/api/likes", json={**page, "visitor": "one-too-many-0000"})
    assert stuffed.status_code == 429 and stuffed.headers["Retry-After"]
    again = client.post("/api/likes", json={**page, "visitor": "visitor-000000000000"})
    assert again.get_json() == {"likes": MAX_VISITORS_PER_ADDRESS}  # a voter may click again
    elsewhere = client.post(
        "/api/likes",
        json={**page, "visitor": "one-too-many-0000"},
        environ_base={"REMOTE_ADDR": "192.0.2.44"},
    )
    assert elsewhere.get_json() == {"likes": MAX_VISITORS_PER_ADDRESS + 1}


def test_counts_agree_between_the_index_and_the_thread(api, client, app):
    from commentsvc import comments
    from commentsvc.db import write_transaction
    from commentsvc.models import Comment
    from commentsvc.models import utcnow

    root = api.post(expect=201, text="root").get_json()
    api.post(expect=201, text="reply", parent=root["id"])
    held = api.post(expect=201, text="soon held").get_json()
    api.post(expect=201, text="under the held one", parent=held["id"])
    with app.app_context(), write_transaction() as session:
        thread_id = session.get(Comment, root["id"]).thread_id
        for n, kind, mention_type in ((1, "pingback", ""), (2, "webmention", "like")):
            session.add(
                Comment(
                    thread_id=thread_id,
                    kind=kind,
                    status="approved",
                    source_url=f"https://other.example/{n}",
                    source_title=f"Other {n}",
                    excerpt="text",
                    mention_type=mention_type,
                    created=utcnow(),
                )
            )
        comments.set_status(
            session.get(Comment, held["id"]), "pending", actor="admin", reason="", now=utcnow()
        )
        ping_id = session.scalar(select(Comment.id).where(Comment.kind == "pingback"))
    api.post(expect=201, text="a reply to the pingback", parent=ping_id)

    thread = api.thread()
    shown = []

    def walk(items):
        for item in items:
            shown.append((item["kind"], item.get("source", {}).get("type")))
            walk(item["replies"])

    walk(thread["comments"])
    comments_shown = shown.count(("comment", None))
    mentions_shown = shown.count(("pingback", "mention"))
    assert (comments_shown, mentions_shown) == (3, 1)  # not the reply under the held comment
    assert thread["counts"] == {"comments": 3, "mentions": 1}
    assert thread["count"] == 4 and thread["likes"] == 1
    counts = client.get("/api/counts?site=blog&uri=/post/1&uri=/none").get_json()
    assert counts == {
        "counts": {"/post/1": 4, "/none": 0},
        "comments": {"/post/1": 3, "/none": 0},
        "mentions": {"/post/1": 1, "/none": 0},
    }


def test_the_origin_report_answers_any_page(client, site):
    foreign = client.get("/api/origin?site=blog", headers={"Origin": "https://elsewhere.example"})
    assert foreign.headers["Access-Control-Allow-Origin"] == "*"
    assert foreign.get_json() == {
        "site": "blog",
        "exists": True,
        "origin": "https://elsewhere.example",
        "allowed": False,
    }
    own = client.get("/api/origin?site=blog", headers={"Origin": ORIGIN}).get_json()
    assert own["allowed"] is True
    unknown = client.get("/api/origin?site=nope", headers={"Origin": ORIGIN}).get_json()
    assert unknown["exists"] is False and unknown["allowed"] is False
    # The thread itself keeps DESIGN's rule: CORS for the site's own origins only.
    thread = client.get(
        "/api/comments?site=blog&uri=/p", headers={"Origin": "https://elsewhere.example"}
    )
    assert "Access-Control-Allow-Origin" not in thread.headers
