"""The moderation pages in a real browser (Debian's Chromium, driven by Playwright)."""

import pytest
import requests

from commentsvc.admins import add_admin
from tests.browser import CHROMIUM
from tests.browser import CHROMIUM_ARGS
from tests.browser import needs_chromium
from tests.conftest import add_site

pytestmark = [pytest.mark.slow, needs_chromium]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

PASSWORD = "a long enough password"


@pytest.fixture
def service(app, live_server):
    with app.app_context():
        add_admin("alice", PASSWORD)
    add_site(app, moderation="all")
    return live_server(GUARD="off")


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        # A CSP violation is reported on the console as "Refused to ...".
        page.on("console", lambda m: page.errors.append(m.text) if "Refused" in m.text else None)
        yield page
        browser.close()


def post(service, text, **body):
    response = requests.post(
        service.url + "/api/comments",
        timeout=10,
        json={"site": "blog", "uri": "/post/1", "text": text, **body},
    )
    assert response.status_code == 202
    return response.json()["id"]


def row(page, comment_id):
    return page.locator(f'.row[data-id="{comment_id}"]')


def thread(service):
    return requests.get(
        service.url + "/api/comments", params={"site": "blog", "uri": "/post/1"}, timeout=10
    ).json()


def test_a_moderation_session(page, service):
    keep = post(service, "Keep me", author="Ann", email="ann@example.org")
    junk = post(service, "Buy cheap things", author="Spammer", email="spam@example.org")
    bulk = [post(service, f"Bulk {n}") for n in range(2)]
    by_key = post(service, "Approve me by keyboard")

    page.goto(service.url + "/admin/")
    page.wait_for_url(lambda url: "/admin/login?next=" in url)
    page.fill("#username", "alice")
    page.fill("#password", "wrong password!")
    page.click("button[type=submit]")
    assert page.text_content(".error") == "Wrong username or password."
    page.fill("#username", "alice")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(service.url + "/admin/")

    assert "Why: policy: every comment is held" in row(page, keep).text_content()
    assert "ann@example.org" in row(page, keep).text_content()

    row(page, keep).locator("button[value^=approve]").click()
    page.wait_for_selector(".done")
    assert [c["id"] for c in thread(service)["comments"]] == [keep]

    row(page, junk).locator("button[value^=spam]").click()
    page.wait_for_selector(".done")
    assert row(page, junk).count() == 0

    for comment in bulk:
        row(page, comment).locator("input[name=ids]").check()
    page.click('.bulk button[value="delete"]')
    page.wait_for_selector(".done")
    assert "delete: 2 comment(s)" in page.text_content(".done")
    assert all(row(page, c).count() == 0 for c in bulk)

    # j moves to the first row, a approves it.
    assert page.locator(".row[data-id]").count() == 1
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.wait_for_selector(".done")
    assert by_key in [c["id"] for c in thread(service)["comments"]]

    page.goto(f"{service.url}/admin/comments/{keep}")
    page.fill("#text", "Keep me, *edited*")
    page.click("form.edit button[type=submit]")
    page.wait_for_selector(".done")
    stored = next(c for c in thread(service)["comments"] if c["id"] == keep)
    assert stored["html"] == "<p>Keep me, <em>edited</em></p>"

    page.click('form.ban button[value="email"]')
    page.wait_for_selector(".done")
    page.goto(service.url + "/admin/bans")
    assert "ann@example.org" in page.text_content("table.bans")

    page.click("form.logout button")
    page.wait_for_url(lambda url: url.endswith("/admin/login"))
    page.goto(service.url + "/admin/")
    page.wait_for_url(lambda url: "/admin/login?next=" in url)
    assert page.errors == []


def log_in(page, service):
    page.goto(service.url + "/admin/login")
    page.fill("#username", "alice")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(service.url + "/admin/")


def act(service_page, comment_id, action):
    row(service_page, comment_id).locator(f'button[value="{action}:{comment_id}"]').click()
    service_page.wait_for_selector(".done")


PAGES = (
    "/admin/comments",
    "/admin/log",
    "/admin/bans",
    "/admin/",
    "/admin/sites",
    "/admin/admins",
    "/admin/readers?site=&email=" + "someone-" * 8 + "x@example.org",
)


def test_admin_pages_never_scroll_sideways_and_know_dark_mode(page, service):
    code = "```\n" + "x = 1; " * 120 + "\n```"
    published = post(service, f"Look at this:\n\n{code}", author="Coder")
    held = post(service, "A" * 300, author="Held " * 10, email="someone-" * 8 + "x@example.org")
    log_in(page, service)
    act(page, published, "approve")
    page.goto(service.url + "/admin/bans")
    page.fill('input[name="value"]', "very-long-subdomain-" * 8 + ".example.org")
    page.select_option('select[name="kind"]', "domain")
    page.fill('input[name="reason"]', "a reason that is long enough to need a second line " * 3)
    page.click("form.add-ban button[type=submit]")
    page.wait_for_selector(".done")

    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for path in PAGES:
            page.goto(service.url + path)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, (path, width, scroll)

    page.goto(service.url + "/admin/comments")
    weights = {
        comment: row(page, comment)
        .locator(".reason")
        .evaluate("e => getComputedStyle(e).fontWeight")
        for comment in (published, held)
    }
    assert int(weights[held]) >= 600 and int(weights[published]) < 600

    page.emulate_media(color_scheme="dark")
    page.goto(service.url + "/admin/comments")
    scheme = page.locator('select[name="status"]').evaluate("e => getComputedStyle(e).colorScheme")
    assert "dark" in scheme
    assert page.errors == []


def test_hold_by_key_and_undo_from_the_message(page, service):
    comment = post(service, "Published, then held, then deleted and back")
    log_in(page, service)
    act(page, comment, "approve")
    page.goto(service.url + "/admin/comments")
    page.keyboard.press("j")
    page.keyboard.press("a")  # approved already: no Approve button, nothing happens
    page.keyboard.press("h")
    page.wait_for_selector(".done")
    assert "hold: 1 comment(s)" in page.text_content(".done")
    assert thread(service)["comments"] == []

    page.goto(service.url + f"/admin/comments/{comment}")
    page.click(f'.status-actions button[value="delete:{comment}"]')
    page.wait_for_selector(".done form.undo")
    assert "Published, then held" not in page.text_content("main .text")
    page.click(".done form.undo button")
    page.wait_for_selector(".done")
    assert "undone: 1 comment(s)" in page.text_content(".done")
    assert "Published, then held" in page.text_content("main .text")
    assert page.text_content("h1 .status") == "pending"
    assert page.errors == []
