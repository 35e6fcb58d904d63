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
    page = alice.page("/admin/bans")
    assert "troll@example.org" in page and "<td>spam.example</td>" in page and "abc123" in page
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
