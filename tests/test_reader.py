"""The thread as a page with a plain form, for readers without JavaScript (GET/POST /t/SITE)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import add_site


class Reader:
    """A reader without JavaScript: loads the page, fills in the form, follows redirects."""

    def __init__(self, client, site="blog", uri="/post/1"):
        self.client = client
        self.site = site
        self.uri = uri

    def open(self, **params):
        response = self.client.get(f"/t/{self.site}", query_string={"uri": self.uri, **params})
        self.page = response.get_data(as_text=True)
        return response

    def hidden(self, name):
        found = re.search(rf'name="{name}" value="([^"]*)"', self.page)
        return found.group(1) if found else ""

    def post(self, headers=None, **fields):
        form = {
            "uri": self.uri,
            "csrf": self.hidden("csrf"),
            "form_token": self.hidden("form_token"),
            "parent": self.hidden("parent"),
            "text": "A comment.",
            "homepage": "",
        }
        form.update(fields)
        form = {k: v for k, v in form.items() if v is not None}
        response = self.client.post(f"/t/{self.site}", data=form, headers=headers or {})
        if response.status_code != 303:
            self.page = response.get_data(as_text=True)
        return response


@pytest.fixture
def reader(client, site):
    reader = Reader(client)
    reader.open()
    return reader


def test_the_page_shows_the_thread_and_a_form(client, api, reader):
    api.post(expect=201, text="Already *here*.", author="Ada")
    response = reader.open()
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "<em>here</em>" in reader.page and ">Ada<" in reader.page
    assert '<form class="csvc-form"' in reader.page and 'method="post"' in reader.page
    assert 'name="homepage"' in reader.page and reader.hidden("csrf")
    assert reader.hidden("form_token")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/t" in cookie


def test_posting_publishes_and_returns_to_the_thread(client, api, reader):
    response = reader.post(text="From a plain *form*.", author="Nojs")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/t/blog?uri=/post/1&own=") and "#csvc-comment-" in location
    page = client.get(location).get_data(as_text=True)
    assert "Your comment was published." in page
    assert "From a plain <em>form</em>." in page
    assert api.thread()["comments"][0]["author"] == "Nojs"


def test_a_reply_through_the_reply_link(client, api, reader):
    parent = api.post(expect=201, text="Parent.", author="Ada").get_json()["id"]
    reader.open()
    link = re.search(r'href="([^"]*parent=\d+[^"]*)"', reader.page).group(1)
    reader.client.get(link.replace("&amp;", "&"))
    reader.open(parent=parent)
    assert "Replying to Ada" in reader.page
    assert reader.post(text="A reply.").status_code == 303
    assert api.thread()["comments"][0]["replies"][0]["html"] == "<p>A reply.</p>"


def test_a_held_comment_is_shown_to_its_author_only(app, client, api):
    add_site(app, name="held", url="https://held.example.org", moderation="all")
    reader = Reader(client, site="held")
    reader.open()
    response = reader.post(text="Waiting.")
    assert response.status_code == 303
    mine = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "awaiting moderation" in mine and "Waiting." in mine
    assert "csvc-pending" in mine
    others = client.get("/t/held", query_string={"uri": "/post/1"}).get_data(as_text=True)
    assert "Waiting." not in others
    fragment = client.get("/api/comments.html", query_string={"site": "held", "uri": "/post/1"})
    assert "Waiting." not in fragment.get_data(as_text=True)
    # The token shows that comment on its own thread only.
    token = re.search(r"own=([^#&]+)", response.headers["Location"]).group(1)
    elsewhere = client.get("/t/held", query_string={"uri": "/other", "own": token})
    assert "Waiting." not in elsewhere.get_data(as_text=True)
    forged = client.get("/t/held", query_string={"uri": "/post/1", "own": token[:-2] + "xx"})
    assert "Waiting." not in forged.get_data(as_text=True)


def test_errors_show_in_the_form_with_what_was_typed(reader):
    response = reader.post(text="Kept text.", author="Ada", email="not an address")
    assert response.status_code == 400
    assert "This is not an email address." in reader.page
    assert 'aria-invalid="true"' in reader.page
    assert ">Kept text.</textarea>" in reader.page
    assert 'value="Ada"' in reader.page and 'value="not an address"' in reader.page
    empty = reader.post(text="   ")
    assert empty.status_code == 400 and "Please write something first." in reader.page


def test_typed_text_is_escaped_when_kept(reader):
    reader.post(text="</textarea><script>alert(1)</script>", email="bad")
    assert "<script>alert(1)" not in reader.page
    assert "&lt;/textarea&gt;&lt;script&gt;" in reader.page


def test_a_missing_or_forged_csrf_token_posts_nothing(client, api, reader):
    assert reader.post(csrf="forged").status_code == 403
    assert "please send it again" in reader.page and ">A comment.</textarea>" in reader.page
    assert reader.post(headers={"Origin": "https://evil.example"}).status_code == 403
    assert reader.post(headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    client.delete_cookie("csvc_form", path="/t")
    assert reader.post().status_code == 403
    assert api.thread()["comments"] == []
    reader.open()  # a fresh page: the form works again
    assert reader.post().status_code == 303


def test_the_honeypot_and_the_time_trap_apply(make_app, site):
    app = make_app(GUARD=True)
    add_site(app, name="trap", url="https://trap.example.org")
    client = app.test_client()
    reader = Reader(client, site="trap")
    reader.open()
    too_fast = reader.post(text="Too fast.")
    assert too_fast.status_code == 303
    assert "awaiting moderation" in client.get(too_fast.headers["Location"]).get_data(as_text=True)
    again = reader.post(text="Again.")
    assert again.status_code == 429 and again.headers["Retry-After"]
    assert "You are posting too fast." in reader.page and ">Again.</textarea>" in reader.page


def test_the_honeypot_marks_spam(app, client, api, reader):
    response = reader.post(text="Bot.", homepage="http://spam.example")
    assert response.status_code == 303
    assert api.thread()["comments"] == []
    assert "awaiting moderation" in client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    ["/t/nope?uri=/x", "/t/blog", "/t/blog?uri=x", "/t/blog?uri=/x&parent=%C2%B2", "/t/%00?uri=/"],
)
def test_bad_addresses_are_pages_not_500s(client, site, path):
    response = client.get(path)
    assert response.status_code in (200, 404)
    assert response.mimetype == "text/html"


def test_hostile_posts_are_never_500(client, reader):
    for form in (
        {"parent": "99999999999999999999"},
        {"parent": "-1"},
        {"notify": "on"},
        {"text": "x" * 100_000},
        {"uri": "\x00"},
        {"website": "javascript:alert(1)"},
    ):
        reader.open()
        assert reader.post(**form).status_code < 500, form
