"""Thread titles come from the site's own page (or the owner), never from a commenter."""

from __future__ import annotations

import pytest

from commentsvc import queue
from commentsvc.titles import page_title

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>{title}</title>{head}</head><body>{body}<p>Text.</p></body></html>"""


def post(client, uri, **body):
    payload = {"site": "blog", "uri": uri, "text": "First!", **body}
    response = client.post("/api/comments", json=payload)
    assert response.status_code == 201, response.get_json()
    return response


def title_of(client, uri):
    return client.get("/api/comments", query_string={"site": "blog", "uri": uri}).get_json()[
        "title"
    ]


def run_queue(app):
    with app.app_context():
        queue.run_pending()


def test_the_title_comes_from_the_page_not_from_the_first_poster(app, client, ours):
    ours.page(
        "/og",
        PAGE.format(
            title="Post – Blog",
            head='<meta property="og:title" content="The &amp; real title">',
            body="",
        ),
    )
    ours.page("/plain", PAGE.format(title="My first post – A Blog", head="", body=""))
    ours.page(
        "/entry",
        PAGE.format(
            title="Blog",
            head="",
            body='<article class="h-entry"><h1 class="p-name">Entry  name</h1></article>',
        ),
    )
    for uri in ("/og", "/plain", "/entry"):
        post(client, uri, title="BUY CHEAP PILLS")
        assert title_of(client, uri) == ""  # never the commenter's
    run_queue(app)
    assert title_of(client, "/og") == "The & real title"
    assert title_of(client, "/plain") == "My first post"
    assert title_of(client, "/entry") == "Entry name"
    # Fetched once, when the thread began: later posts fetch nothing and change nothing.
    post(client, "/og", text="Second!", title="Other")
    run_queue(app)
    assert ours.hits("/og") == 1 and title_of(client, "/og") == "The & real title"


def test_a_page_that_cannot_be_fetched_leaves_no_title(app, client, ours):
    post(client, "/missing", title="Spam title")
    run_queue(app)
    assert title_of(client, "/missing") == ""


def test_a_title_is_one_bounded_line_of_text():
    html = PAGE.format(title="Line\u2028break\u202e " + "x" * 500 + " | Blog", head="", body="")
    title = page_title(html)
    assert "\u2028" not in title and "\u202e" not in title and len(title) <= 200
    assert title.startswith("Line break x")


@pytest.mark.parametrize("separator", [" | ", " – ", " - ", " — ", " :: ", " · ", " » "])
def test_the_blog_name_after_a_separator_is_dropped(separator):
    html = PAGE.format(title=f"Well-made things{separator}Ann's blog", head="", body="")
    assert page_title(html) == "Well-made things"


def test_the_owner_names_the_page_and_the_fetch_keeps_it(app, client, ours):
    from commentsvc.admins import add_admin
    from tests.test_admin import PASSWORD
    from tests.test_admin import AdminActions

    ours.page(
        "/og", PAGE.format(title="X", head='<meta property="og:title" content="Fetched">', body="")
    )
    comment = post(client, "/og").get_json()["id"]
    with app.app_context():
        add_admin("alice", PASSWORD)
    alice = AdminActions(app.test_client())
    assert alice.login().status_code == 302
    assert 'name="title"' in alice.page(f"/admin/comments/{comment}")
    saved = alice.post(f"/admin/comments/{comment}/title", title="The owner's\u2028title")
    assert saved.status_code == 302
    run_queue(app)
    assert title_of(client, "/og") == "The owner's title"
