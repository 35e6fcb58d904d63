"""The moderation pages over HTTP: sessions, CSRF, headers, and every action."""

import re
from urllib.parse import quote

import pytest
from sqlalchemy import select

from commentsvc import admins
from commentsvc.admins import add_admin
from commentsvc.db import db
from commentsvc.models import Ban
from commentsvc.models import Comment
from tests.conftest import add_site

PASSWORD = "a long enough password"


class AdminActions:
    """Repeated HTTP steps of an admin in a browser: log in, read tokens, post forms."""

    def __init__(self, client):
        self.client = client

    def login(self, username="alice", password=PASSWORD, **kwargs):
        page = self.client.get("/admin/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        return self.client.post(
            "/admin/login",
            data={"csrf": token, "username": username, "password": password},
            **kwargs,
        )

    def csrf(self) -> str:
        page = self.client.get("/admin/bans").get_data(as_text=True)
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    def post(self, path, headers=None, **data):
        data.setdefault("csrf", self.csrf())
        return self.client.post(path, data=data, headers=headers or {})

    def page(self, path) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)


@pytest.fixture
def admin_app(app):
    with app.app_context():
        add_admin("alice", PASSWORD)
        add_admin("bob", PASSWORD)
    add_site(app, moderation="all")
    return app


@pytest.fixture
def alice(admin_app):
    actions = AdminActions(admin_app.test_client())
    assert actions.login().status_code == 302
    return actions


def post_comment(app, **body):
    client = app.test_client()
    payload = {"site": "blog", "uri": "/post/1", "text": "Held comment", **body}
    response = client.post("/api/comments", json=payload)
    assert response.status_code in (201, 202), response.get_json()
    return response.get_json()["id"]


def status_of(app, comment_id):
    with app.app_context():
        return db.session.get(Comment, comment_id).status


def admin_get_routes(app):
    for rule in app.url_map.iter_rules():
        if (
            rule.rule.startswith("/admin")
            and "GET" in rule.methods
            and rule.endpoint not in ("admin.login", "admin.asset", "admin.mail_action")
        ):
            yield rule.rule.replace("<int:comment_id>", "1").replace("<name>", "blog")


def admin_post_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin") and "POST" in rule.methods:
            yield (
                rule.rule.replace("<int:comment_id>", "1")
                .replace("<name>", "blog")
                .replace("<int:ban_id>", "1")
                .replace("<int:job_id>", "1")
            )


# --- sessions ----------------------------------------------------------------------------------


def test_every_page_without_a_session_redirects_to_login(admin_app):
    client = admin_app.test_client()
    paths = list(admin_get_routes(admin_app))
    assert len(paths) >= 7
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login?next=")


def test_unknown_user_and_wrong_password_get_the_same_answer(admin_app):
    actions = AdminActions(admin_app.test_client())
    wrong = actions.login(password="not the password")
    unknown = actions.login(username="mallory")
    assert wrong.status_code == unknown.status_code == 401
    message = "Wrong username or password."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_a_session_cookie_is_httponly_strict_and_secure_under_https(admin_app):
    actions = AdminActions(admin_app.test_client())
    response = actions.login()
    cookie = response.headers["Set-Cookie"]
    assert "csvc_admin=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/admin" in cookie and "Secure" not in cookie
    secure = AdminActions(admin_app.test_client())
    page = secure.client.get("/admin/login", base_url="https://localhost")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = secure.client.post(
        "/admin/login",
        base_url="https://localhost",
        data={"csrf": token, "username": "alice", "password": PASSWORD},
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_is_rate_limited_per_address(admin_app):
    actions = AdminActions(admin_app.test_client())
    codes = [actions.login(password=f"wrong {n}").status_code for n in range(6)]
    assert codes == [401] * 5 + [429]
    limited = actions.login()  # even the right password waits
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_an_attackers_failures_never_keep_the_owner_out(admin_app):
    attacker = AdminActions(admin_app.test_client())
    attack = {"environ_base": {"REMOTE_ADDR": "203.0.113.66"}}
    answers = [attacker.login(password=f"wrong {n}", **attack) for n in range(50)]
    codes = [a.status_code for a in answers]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    waits = [int(a.headers["Retry-After"]) for a in answers[5:]]
    # The attacking address waits longer and longer: each knock doubles the wait, to a day.
    assert waits == sorted(waits) and waits[0] < waits[3] < waits[-1]
    assert waits[-1] == admins.LOGIN_BACKOFF_MAX
    assert attacker.login(**attack).status_code == 429  # even with the right password
    owner = AdminActions(admin_app.test_client())
    assert owner.login(environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 302


def test_failures_for_one_account_from_many_addresses_spare_the_owners_address(admin_app):
    owner = {"environ_base": {"REMOTE_ADDR": "192.0.2.10"}}
    assert AdminActions(admin_app.test_client()).login(**owner).status_code == 302
    browser = AdminActions(admin_app.test_client())
    assert browser.login(environ_base={"REMOTE_ADDR": "192.0.2.11"}).status_code == 302
    limit = int(admins.LOGIN_UNKNOWN_FAILURES.split()[0])
    codes = []
    for n in range(limit + 1):
        actions = AdminActions(admin_app.test_client())
        address = {"environ_base": {"REMOTE_ADDR": f"198.51.100.{n + 1}"}}
        codes.append(actions.login(password=f"wrong {n}", **address).status_code)
    assert codes[:limit] == [401] * limit and codes[limit] == 429
    # A stranger's address waits; the owner's own address, and their browser anywhere, do not.
    stranger = AdminActions(admin_app.test_client())
    assert stranger.login(environ_base={"REMOTE_ADDR": "198.51.100.200"}).status_code == 429
    assert AdminActions(admin_app.test_client()).login(**owner).status_code == 302
    browser.post("/admin/logout")
    travelling = browser.login(environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert travelling.status_code == 302
    # Another account is not slowed by the attack on this one.
    bob = stranger.login(username="bob", environ_base={"REMOTE_ADDR": "198.51.100.200"})
    assert bob.status_code == 302


def test_a_cookie_from_before_logout_is_refused(admin_app, alice):
    cookie = alice.client.get_cookie("csvc_admin", path="/admin").value
    assert alice.page("/admin/").count("Held for moderation") == 1
    response = alice.post("/admin/logout")
    assert response.status_code == 302
    replay = admin_app.test_client()
    replay.set_cookie("csvc_admin", cookie, path="/admin")
    assert replay.get("/admin/").status_code == 302
    assert replay.post("/admin/act", data={"csrf": "x", "one": "approve:1"}).status_code == 403


def test_login_redirects_to_the_page_asked_for_but_only_inside_admin(admin_app):
    actions = AdminActions(admin_app.test_client())
    page = actions.client.get("/admin/login?next=/admin/bans")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    ok = actions.client.post(
        "/admin/login?next=/admin/bans",
        data={"csrf": token, "username": "alice", "password": PASSWORD},
    )
    assert ok.headers["Location"] == "/admin/bans"
    other = AdminActions(admin_app.test_client())
    page = other.client.get("/admin/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    evil = other.client.post(
        "/admin/login?next=//evil.example/x",
        data={"csrf": token, "username": "alice", "password": PASSWORD},
    )
    assert evil.headers["Location"] == "/admin/"


# --- CSRF and headers --------------------------------------------------------------------------


def test_every_admin_post_needs_the_sessions_own_token(admin_app, alice):
    bob = AdminActions(admin_app.test_client())
    bob.login(username="bob")
    bobs_token = bob.csrf()
    comment = post_comment(admin_app)
    for path in admin_post_routes(admin_app):
        if path in ("/admin/login", "/admin/logout"):
            continue
        assert alice.client.post(path, data={"one": f"approve:{comment}"}).status_code == 403, path
        assert (
            alice.client.post(
                path, data={"csrf": bobs_token, "one": f"approve:{comment}"}
            ).status_code
            == 403
        ), path
        assert admin_app.test_client().post(path, data={"csrf": bobs_token}).status_code == 403, (
            path
        )
    assert status_of(admin_app, comment) == "pending"


def test_cross_origin_posts_are_refused_even_with_a_token(admin_app, alice):
    comment = post_comment(admin_app)
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ):
        response = alice.post("/admin/act", headers=headers, one=f"approve:{comment}")
        assert response.status_code == 403
    assert status_of(admin_app, comment) == "pending"
    same = alice.post(
        "/admin/act",
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
        one=f"approve:{comment}",
    )
    assert same.status_code == 302 and status_of(admin_app, comment) == "approved"


def test_the_login_form_needs_its_token_too(admin_app):
    client = admin_app.test_client()
    response = client.post("/admin/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


def test_pages_have_a_strict_csp_and_no_inline_script(admin_app, alice):
    post_comment(admin_app)
    for path in ["/admin/login", *admin_get_routes(admin_app)]:
        response = alice.client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert "script-src 'self'" in csp
        html = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " on" not in re.sub(r"<[^>]*>", "", "") and not re.search(r"<[^>]+\son\w+=", html), (
            path
        )


# --- moderation --------------------------------------------------------------------------------


def test_the_queue_shows_what_is_held_and_why(admin_app, alice):
    comment = post_comment(
        admin_app, author="Ann", email="ann@example.org", website="https://ann.example.org"
    )
    page = alice.page("/admin/")
    assert f'data-id="{comment}"' in page
    assert "Why: policy: every comment is held" in page
    assert "ann@example.org" in page and "https://ann.example.org" in page
    assert "/post/1" in page


def test_approve_spam_and_bulk_delete(admin_app, alice):
    first, second, third, fourth = (post_comment(admin_app, text=f"c{n}") for n in range(4))
    alice.post("/admin/act", one=f"approve:{first}", back="/admin/")
    thread = admin_app.test_client().get("/api/comments?site=blog&uri=/post/1").get_json()
    assert [c["id"] for c in thread["comments"]] == [first]
    alice.post("/admin/act", one=f"spam:{second}")
    assert status_of(admin_app, second) == "spam"
    response = alice.client.post(
        "/admin/act",
        data={"csrf": alice.csrf(), "bulk": "delete", "ids": [str(third), str(fourth)]},
    )
    assert "delete: 2 comment(s)" in response.headers["Location"].replace("%20", " ").replace(
        "%3A", ":"
    )
    assert status_of(admin_app, third) == status_of(admin_app, fourth) == "deleted"
    log = alice.page("/admin/log")
    assert "admin:alice" in log and "approved" in log and "spam" in log


def test_edit_is_rendered_and_sanitised(admin_app, alice):
    comment = post_comment(admin_app)
    alice.post(f"/admin/comments/{comment}/edit", text="*new* <script>alert(1)</script>")
    with admin_app.app_context():
        stored = db.session.get(Comment, comment)
        assert stored.html == "<p><em>new</em> &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    bad = alice.post(f"/admin/comments/{comment}/edit", text="   ")
    assert bad.status_code == 400 and "must not be empty" in bad.get_data(as_text=True)


def test_reply_as_the_owner(admin_app, alice):
    comment = post_comment(admin_app)
    alice.post(f"/admin/comments/{comment}/reply", text="Thanks!", author="The author")
    thread = admin_app.test_client().get("/api/comments?site=blog&uri=/post/1").get_json()
    [top] = thread["comments"]  # replying approved the comment, too
    [reply] = top["replies"]
    assert reply["owner"] is True and reply["author"] == "The author"


def test_ban_the_author_see_and_lift_bans(admin_app, alice):
    comment = post_comment(
        admin_app, email="troll@example.org", website="https://www.spam.example/x"
    )
    alice.post(f"/admin/comments/{comment}/ban", kind="email")
    alice.post(f"/admin/comments/{comment}/ban", kind="domain")
    alice.post("/admin/bans", kind="address", value="abc123", reason="by hand")
    alice.post("/admin/bans", kind="address", value="def456", site="blog")
    page = alice.page("/admin/bans")
    assert "troll@example.org" in page and ">spam.example</td>" in page and "abc123" in page
    assert 'data-label="Site">blog</td>' in page  # the site's name, not its id
    assert 'data-label="Site">every site</td>' in page
    again = post_comment(admin_app, email="troll@example.org", text="again")
    assert status_of(admin_app, again) == "spam"
    with admin_app.app_context():
        ban_id = db.session.scalar(select(Ban.id).where(Ban.kind == "email"))
    alice.post(f"/admin/bans/{ban_id}/lift")
    assert "troll@example.org" not in alice.page("/admin/bans")
    assert "unban" in alice.page("/admin/log")


def test_filters_and_search(admin_app, alice):
    add_site(admin_app, "other", url="https://other.example.org")
    post_comment(admin_app, text="about cheese", author="Ann")
    other = admin_app.test_client().post(
        "/api/comments", json={"site": "other", "uri": "/x", "text": "about wine"}
    )
    assert other.status_code == 201
    assert "about cheese" in alice.page("/admin/comments?q=cheese")
    assert "about wine" not in alice.page("/admin/comments?q=cheese")
    assert "about wine" in alice.page("/admin/comments?site=other")
    assert "about cheese" not in alice.page("/admin/comments?site=other")
    assert "about cheese" in alice.page("/admin/comments?status=pending&kind=comment&uri=/post/1")
    assert "Nothing here." in alice.page("/admin/comments?status=spam")
    assert "Nothing here." in alice.page("/admin/comments?q=%25")  # a literal %, not a wildcard
    bad = alice.client.get("/admin/comments?status=bogus")
    assert bad.status_code == 400


def test_sites_are_added_and_edited_from_the_page(admin_app, alice):
    response = alice.post(
        "/admin/sites/new",
        name="news",
        url="https://news.example.org",
        origins="https://news.example.org\nhttps://www.news.example.org",
        moderation="links",
        link_limit="3",
        edit_window="60",
        linkbacks="on",
    )
    assert response.status_code == 302
    page = alice.page("/admin/sites")
    assert "news" in page and 'data-site="news"' in page and "embed.js" in page
    alice.post(
        "/admin/sites/blog",
        url="https://blog.example.org",
        moderation="all",
        link_limit="2",
        edit_window="900",
        webhook_url="https://hooks.example.org/in",
        linkbacks="on",
    )
    assert 'class="secret"' in alice.page("/admin/sites")
    alice.post(
        "/admin/sites/news",
        url="https://news.example.org",
        moderation="first-time",
        link_limit="3",
        edit_window="120",
    )
    from commentsvc.sites import get_site

    with admin_app.app_context():
        site = get_site("news")
        assert (site.moderation, site.edit_window, site.linkbacks) == ("first-time", 120, False)
        assert [o.origin for o in site.origins] == [
            "https://news.example.org",
            "https://www.news.example.org",
        ]
    bad = alice.post("/admin/sites/new", name="Bad Name", url="https://x.example.org")
    assert bad.status_code == 400 and "lower-case" in bad.get_data(as_text=True)


def test_verify_again_rechecks_linkbacks(admin_app, alice, theirs):
    import xmlrpc.client

    from commentsvc.models import Job
    from commentsvc.sites import update_site
    from tests.blogs import Blog

    ours = Blog()
    ours.page("/post/1", "<title>Our post</title>")
    with admin_app.app_context():
        update_site("blog", url=ours.url, origins=[ours.url], moderation="none")
    client = admin_app.test_client()
    target = ours.url + "/post/1"
    source = theirs.page("/entry", f'<title>Theirs</title><p>See <a href="{target}">this</a>.</p>')
    body = xmlrpc.client.dumps((source, target), "pingback.ping")
    assert b"registered" in client.post("/xmlrpc", data=body, content_type="text/xml").data
    with admin_app.app_context():
        pingback = db.session.scalar(select(Comment).where(Comment.kind == "pingback"))
    page = alice.page("/admin/comments?kind=pingback")
    assert "Theirs" in page and "Verify again" in page

    theirs.page("/entry", "<p>The link is gone.</p>")
    response = alice.post(f"/admin/comments/{pingback.id}/verify")
    assert "no longer links" in response.headers["Location"].replace("%20", " ")
    assert status_of(admin_app, pingback.id) == "deleted"

    mention = theirs.page("/mention", f'<p>A <a href="{target}">mention</a>.</p>')
    assert client.post("/webmention", data={"source": mention, "target": target}).status_code == 201
    from commentsvc import queue

    with admin_app.app_context():
        queue.run_pending()
        webmention = db.session.scalar(select(Comment).where(Comment.kind == "webmention"))
    assert "Verification: verified" in alice.page(f"/admin/comments/{webmention.id}")
    alice.post(f"/admin/comments/{webmention.id}/verify")
    with admin_app.app_context():
        assert db.session.scalar(select(Job).where(Job.status == "queued")) is not None
    ours.close()


# --- the owner's tools: status actions, the comment's page, undo --------------------------------


def flash(response) -> tuple[str, str]:
    """Follow an action's redirect; return the page and its undo token ("" when none)."""
    from urllib.parse import parse_qs
    from urllib.parse import urlsplit

    assert response.status_code == 302, response.get_data(as_text=True)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return response.headers["Location"], query.get("undo", [""])[0]


def message(response) -> str:
    """Return the message an action's redirect carries."""
    from urllib.parse import parse_qs
    from urllib.parse import urlsplit

    return parse_qs(urlsplit(response.headers["Location"]).query)["done"][0]


def buttons(page: str, comment_id: int) -> list[str]:
    return re.findall(rf'name="one" value="(\w+):{comment_id}"', page)


def test_lists_offer_only_the_actions_that_change_the_status(admin_app, alice):
    held, published, junk = (post_comment(admin_app, text=f"c{n}") for n in range(3))
    alice.post("/admin/act", one=f"approve:{published}")
    alice.post("/admin/act", one=f"spam:{junk}")
    page = alice.page("/admin/comments")
    assert buttons(page, held) == ["approve", "spam", "delete"]
    assert buttons(page, published) == ["hold", "spam", "delete"]
    assert buttons(page, junk) == ["approve", "delete"]
    assert re.search(rf'value="approve:{junk}"[^>]*>Not spam<', page)
    assert 'name="bulk" value="hold"' in page and "h hold" in page


def test_hold_takes_a_published_comment_back_to_the_queue(admin_app, alice):
    first, second = post_comment(admin_app, text="one"), post_comment(admin_app, text="two")
    alice.client.post(
        "/admin/act", data={"csrf": alice.csrf(), "bulk": "approve", "ids": [first, second]}
    )
    alice.post("/admin/act", one=f"hold:{first}")
    assert status_of(admin_app, first) == "pending"
    alice.client.post("/admin/act", data={"csrf": alice.csrf(), "bulk": "hold", "ids": [second]})
    assert status_of(admin_app, second) == "pending"
    thread = admin_app.test_client().get("/api/comments?site=blog&uri=/post/1").get_json()
    assert thread["comments"] == []
    assert f'data-id="{first}"' in alice.page("/admin/")


def test_the_reason_is_prominent_only_while_held_or_spam(admin_app, alice):
    held, published = post_comment(admin_app, text="a"), post_comment(admin_app, text="b")
    alice.post("/admin/act", one=f"approve:{published}")
    page = alice.page("/admin/comments")
    rows = {int(i): body for i, body in re.findall(r'data-id="(\d+)"(.*?)</li>', page, re.S)}
    assert 'class="reason reason-held"' in rows[held]
    assert 'class="reason reason-quiet"' in rows[published]


def test_the_comment_page_acts_and_shows_the_thread_around_it(admin_app, alice):
    parent = post_comment(admin_app, text="The parent", author="Pat")
    alice.post("/admin/act", one=f"approve:{parent}")
    child = post_comment(admin_app, text="The child", author="Kim", parent=parent)
    alice.post("/admin/act", one=f"approve:{child}")
    grandchild = post_comment(admin_app, text="The grandchild", author="Lou", parent=child)

    page = alice.page(f"/admin/comments/{child}")
    assert buttons(page, child) == ["hold", "spam", "delete"]
    assert f'href="/admin/comments/{parent}"' in page and "The parent" in page
    assert f'href="/admin/comments/{grandchild}"' in page and "The grandchild" in page
    assert f'href="https://blog.example.org/post/1#csvc-comment-{child}"' in page
    assert 'class="reason reason-quiet"' in page

    response = alice.post("/admin/act", one=f"spam:{child}", back=f"/admin/comments/{child}")
    location, _undo = flash(response)
    assert location.startswith(f"/admin/comments/{child}?done=")
    assert status_of(admin_app, child) == "spam"
    page = alice.page(location)
    assert buttons(page, child) == ["approve", "delete"] and "csvc-comment-" not in page
    held = alice.page(f"/admin/comments/{grandchild}")
    assert buttons(held, grandchild) == ["approve", "spam", "delete"]
    assert "Not a reply." in alice.page(f"/admin/comments/{parent}")


def test_the_anchor_is_the_one_the_widget_renders():
    from tests.conftest import ROOT_DIR

    embed = (ROOT_DIR / "static" / "embed.js").read_text()
    assert 'id: P + "comment-" + comment.id' in embed and 'const P = "csvc-"' in embed


def test_delete_can_be_undone_from_the_message(admin_app, alice, clock):
    comment = post_comment(admin_app, text="Worth keeping", author="Ann", email="ann@example.org")
    alice.post("/admin/act", one=f"approve:{comment}")
    location, undo = flash(
        alice.post("/admin/act", one=f"delete:{comment}", back="/admin/comments")
    )
    with admin_app.app_context():
        erased = db.session.get(Comment, comment)
        assert (erased.status, erased.text, erased.author, erased.email) == ("deleted", "", "", "")
    page = alice.page(location)
    assert 'action="/admin/undo"' in page and undo in page
    assert 'name="back" value="/admin/comments"' in page
    response = alice.post("/admin/undo", undo=undo, back="/admin/comments")
    assert "undone: 1 comment(s)" in response.headers["Location"].replace("%20", " ")
    with admin_app.app_context():
        back = db.session.get(Comment, comment)
        assert (back.status, back.text, back.author, back.email) == (
            "approved",
            "Worth keeping",
            "Ann",
            "ann@example.org",
        )
    thread = admin_app.test_client().get("/api/comments?site=blog&uri=/post/1").get_json()
    assert thread["comments"][0]["html"] == "<p>Worth keeping</p>"
    # Undoing twice changes nothing more.
    again = alice.post("/admin/undo", undo=undo)
    assert "undone: 0 comment(s)" in again.headers["Location"].replace("%20", " ")


def test_a_deleted_comment_is_erased_for_good_after_the_undo_window(admin_app, alice, clock):
    from commentsvc import queue
    from commentsvc.comments import UNDO_WINDOW
    from commentsvc.models import DeletedCopy

    comment = post_comment(admin_app, text="Gone soon")
    _location, undo = flash(alice.post("/admin/act", one=f"delete:{comment}"))
    assert buttons(alice.page(f"/admin/comments/{comment}"), comment) == ["restore"]
    clock.advance(seconds=UNDO_WINDOW.total_seconds() + 1)
    alice.login()  # the session of a day ago has expired
    with admin_app.app_context():
        assert db.session.get(DeletedCopy, comment) is not None
        assert queue.run_pending(now=clock()) >= 1
        assert db.session.get(DeletedCopy, comment) is None
    page = alice.page(f"/admin/comments/{comment}")
    assert buttons(page, comment) == [] and "Erased for good" in page
    alice.post("/admin/undo", undo=undo)
    alice.post("/admin/act", one=f"approve:{comment}")
    assert status_of(admin_app, comment) == "deleted"


def test_spam_undo_restores_each_comments_own_status(admin_app, alice):
    held, published = post_comment(admin_app, text="a"), post_comment(admin_app, text="b")
    alice.post("/admin/act", one=f"approve:{published}")
    response = alice.client.post(
        "/admin/act", data={"csrf": alice.csrf(), "bulk": "spam", "ids": [held, published]}
    )
    _location, undo = flash(response)
    assert status_of(admin_app, held) == status_of(admin_app, published) == "spam"
    alice.post("/admin/undo", undo=undo)
    assert (status_of(admin_app, held), status_of(admin_app, published)) == ("pending", "approved")
    assert "undone by admin:alice" in alice.page("/admin/log")


def test_a_ban_can_be_undone_and_undo_tokens_cannot_be_forged(admin_app, alice):
    comment = post_comment(admin_app, email="troll@example.org")
    location, undo = flash(
        alice.post(
            f"/admin/comments/{comment}/ban", kind="email", back=f"/admin/comments/{comment}"
        )
    )
    assert "Undo" in alice.page(location)
    with admin_app.app_context():
        assert db.session.scalar(select(Ban.value)) == "troll@example.org"
    alice.post("/admin/undo", undo=undo)
    with admin_app.app_context():
        assert db.session.scalar(select(Ban.value)) is None
    _location, undo = flash(alice.post("/admin/bans", kind="domain", value="spam.example"))
    alice.post("/admin/undo", undo=undo)
    assert ">spam.example</td>" not in alice.page("/admin/bans")
    forged = alice.post("/admin/undo", undo=undo[:-2] + "xx")
    assert forged.status_code == 403 and "no longer be undone" in forged.get_data(as_text=True)


def test_the_log_names_author_page_and_text_and_an_import_is_one_line(admin_app, alice, clock):
    from commentsvc.importers import Record
    from commentsvc.importers import import_records
    from commentsvc.models import ModerationEvent
    from commentsvc.sites import get_site

    comment = post_comment(admin_app, text="A rather memorable remark", author="Quinn")
    alice.post("/admin/act", one=f"approve:{comment}")
    with admin_app.app_context():
        records = [
            Record(
                key=str(n),
                uri=f"/old/{n}",
                title="Old",
                kind="comment",
                status="approved",
                author=f"Reader {n}",
                email="",
                website="",
                body=f"Old comment {n}",
                created=clock(),
                parent="",
                address="",
            )
            for n in range(5)
        ]
        import_records(get_site("blog"), records, secret="x", now=clock())
        # Imports before the importer logged one line logged one event per comment.
        older = clock().replace(year=2020)
        ids = db.session.scalars(select(Comment.id).where(Comment.author.like("Reader %")))
        db.session.add_all(
            ModerationEvent(comment_id=i, actor="import", action="approved", created=older)
            for i in ids
        )
        db.session.commit()
    log = alice.page("/admin/log")
    assert "Quinn" in log and "A rather memorable remark" in log and "/post/1" in log
    assert log.count("Reader ") == 0 and "5 comments imported" in log
    assert "5 comment(s) imported into blog" in log
    assert log.count('class="action-import"') == 2


# --- lifecycle ------------------------------------------------------------------------------------


def test_a_site_is_removed_after_a_confirmation_that_counts_what_goes(admin_app, alice):
    add_site(admin_app, "other", url="https://other.example.org")
    post_comment(admin_app, text="one")
    post_comment(admin_app, text="two", uri="/post/2")
    assert 'href="/admin/sites/blog/remove"' in alice.page("/admin/sites")
    page = alice.page("/admin/sites/blog/remove")
    assert "2 thread(s)" in page and "2 comment(s)" in page
    response = alice.post("/admin/sites/blog/remove")
    assert message(response) == "removed blog with 2 thread(s) and 2 comment(s)"
    page = alice.page("/admin/sites")
    assert "/admin/sites/blog" not in page and "/admin/sites/other" in page
    assert "Nothing here." in alice.page("/admin/comments")
    assert alice.client.get("/admin/sites/blog/remove").status_code == 404


def test_admins_are_listed_and_removed_but_never_the_last(admin_app, alice):
    page = alice.page("/admin/admins")
    assert 'data-admin="alice"' in page and 'data-admin="bob"' in page
    alice.post("/admin/admins/bob/remove")
    page = alice.page("/admin/admins")
    assert 'data-admin="bob"' not in page and "the last admin stays" in page
    last = alice.post("/admin/admins/alice/remove")
    assert last.status_code == 409 and "last admin" in last.get_data(as_text=True)
    assert alice.post("/admin/admins/nobody/remove").status_code == 404


def test_removing_oneself_ends_ones_session(admin_app, alice):
    response = alice.post("/admin/admins/alice/remove")
    assert response.headers["Location"] == "/admin/login"
    assert alice.client.get("/admin/").status_code == 302


def test_changing_ones_password_needs_the_current_one_and_ends_other_sessions(admin_app, alice):
    other = AdminActions(admin_app.test_client())
    assert other.login().status_code == 302
    new = "another long password"
    wrong = alice.post("/admin/password", current="not it at all", password=new, confirm=new)
    assert wrong.status_code == 400 and "current password" in wrong.get_data(as_text=True)
    differ = alice.post("/admin/password", current=PASSWORD, password=new, confirm=new + "!")
    assert differ.status_code == 400
    short = alice.post("/admin/password", current=PASSWORD, password="short", confirm="short")
    assert short.status_code == 400
    ok = alice.post("/admin/password", current=PASSWORD, password=new, confirm=new)
    assert ok.status_code == 302
    assert alice.client.get("/admin/").status_code == 200
    assert other.client.get("/admin/").status_code == 302
    assert AdminActions(admin_app.test_client()).login().status_code == 401
    assert AdminActions(admin_app.test_client()).login(password=new).status_code == 302


def test_the_login_page_says_how_to_add_the_first_admin(app):
    hint = "commentsvc admin add USERNAME"
    assert hint in app.test_client().get("/admin/login").get_data(as_text=True)
    with app.app_context():
        add_admin("alice", PASSWORD)
    assert hint not in app.test_client().get("/admin/login").get_data(as_text=True)


def test_the_new_site_form_says_what_a_name_may_contain(admin_app, alice):
    from commentsvc.fields import NAME_RULE

    page = alice.page("/admin/sites/new")
    assert NAME_RULE.replace("'", "&#39;") in page
    assert "lower-case letters, digits" in NAME_RULE


# --- hostile query and form values: a 4xx or a safe redirect, never a 500 ------------------------


def test_redirect_targets_with_line_breaks_or_other_hosts_fall_back_to_the_queue(admin_app):
    for n, target in enumerate(
        [
            "/admin\r\nX-Injected: yes",
            "/admin/bans\nX-Injected: yes",
            "/admin/\x00",
            "/admin/é",
            "/\\evil.example",
            "/admin\\..\\x",
            "/adminx",
            "https://evil.example/admin",
        ]
    ):
        client = admin_app.test_client()
        address = {"REMOTE_ADDR": f"192.0.2.{n + 1}"}
        page = client.get("/admin/login", environ_base=address)
        token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        response = client.post(
            "/admin/login",
            query_string={"next": target},
            data={"csrf": token, "username": "alice", "password": PASSWORD},
            environ_base=address,
        )
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/admin/", target
        assert "X-Injected" not in response.headers


def test_back_targets_are_local_admin_paths_only(admin_app, alice):
    comment_id = post_comment(admin_app)
    for back in ("/admin/comments\r\nX-Injected: yes", "//evil.example", "/\\evil.example"):
        response = alice.post("/admin/act", one=f"hold:{comment_id}", back=back)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/admin/?done=")
        assert "X-Injected" not in response.headers
    kept = alice.post("/admin/act", one=f"approve:{comment_id}", back="/admin/comments?q=x")
    assert kept.headers["Location"].startswith("/admin/comments?q=x&done=approve")


def test_numbers_in_other_scripts_are_400_on_admin_pages(admin_app, alice):
    comment_id = post_comment(admin_app)
    for page in ("²", "٣", "-1", "9" * 30, "1e3"):
        response = alice.client.get("/admin/comments", query_string={"page": page})
        assert response.status_code == 400, page
    assert alice.client.get("/admin/comments", query_string={"page": "2"}).status_code == 200
    for form in ({"one": "approve:²"}, {"one": "approve:٣"}, {"bulk": "spam", "ids": ["²", "1"]}):
        response = alice.post("/admin/act", **form)
        assert response.status_code == 400, form
    assert status_of(admin_app, comment_id) == "pending"
    assert alice.client.get("/admin/comments/%D9%A3").status_code == 404
    for ban_id in ("2147483648", "9223372036854775808", "99999999999999999999"):
        assert alice.post(f"/admin/bans/{ban_id}/lift").status_code == 404


def test_hostile_csrf_tokens_are_403(admin_app, alice):
    for token in ("é", "²", "\u0663" * 43):
        assert alice.client.post("/admin/act", data={"csrf": token}).status_code == 403
    client = admin_app.test_client()
    client.get("/admin/login")
    response = client.post("/admin/login", data={"csrf": "é", "username": "alice"})
    assert response.status_code == 403


def test_hostile_mail_links_are_403(admin_app):
    client = admin_app.test_client()
    for token in (
        "1.approve.pending.1.é",
        "1.approve.pending.².x",
        "².approve.pending.1.x",
        "99999999999999999999.approve.pending.1.x",
        "1.approve.pending." + "9" * 40 + ".x",
    ):
        for method in ("GET", "POST"):
            response = client.open(f"/admin/mail/{quote(token)}", method=method)
            assert response.status_code == 403, (token, method)


def test_nul_in_filters_and_names_is_a_4xx(admin_app, alice):
    for name in ("site", "uri", "q"):
        response = alice.client.get("/admin/comments", query_string={name: "a\x00b"})
        assert response.status_code == 400, name
    assert (
        alice.post("/admin/bans", kind="email", value="a@b.example", site="a\x00").status_code
        == 400
    )
    client = admin_app.test_client()
    page = client.get("/admin/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post(
        "/admin/login", data={"csrf": token, "username": "ali\x00ce", "password": PASSWORD}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"link_limit": "0"}, "link_limit"),
        ({"edit_window": "2592001"}, "edit_window"),
        ({"moderation": "sometimes"}, "moderation"),
        ({"fediverse_accounts": "not a handle"}, "fediverse_accounts"),
    ],
)
def test_the_site_form_refuses_a_setting_as_the_shape_does(admin_app, alice, form, field):
    from markupsafe import escape

    from commentsvc import shapes
    from commentsvc.errors import ValidationError
    from commentsvc.sites import get_site

    with pytest.raises(ValidationError) as caught:
        shapes.parse(shapes.SiteSettings, form)
    fields = {"url": "https://news.example.org", "moderation": "none", "link_limit": "2"}
    for path, name in (("/admin/sites/new", {"name": "news"}), ("/admin/sites/blog", {})):
        answer = alice.post(path, **{**fields, "edit_window": "900", **name, **form})
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert f'data-code="{caught.value.code}" data-field="{field}">' in page
        assert str(escape(caught.value.message)) in page
    with admin_app.app_context():
        assert get_site("blog").moderation == "all"
        with pytest.raises(Exception, match="no site called 'news'"):
            get_site("news")
