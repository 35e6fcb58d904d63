"""The widget in a real browser: Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.browser import CHROMIUM
from tests.browser import CHROMIUM_ARGS
from tests.browser import HostSite
from tests.browser import assert_nothing_injected
from tests.browser import blog_page
from tests.browser import needs_chromium
from tests.browser import post_xss_vectors
from tests.conftest import ROOT_DIR
from tests.conftest import add_site
from tests.safety import INSTEAD
from tests.safety import XSS_DIR
from tests.safety import needs_shared

pytestmark = [pytest.mark.slow, needs_chromium]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

READY = ".csvc-thread:not([aria-busy])"
FORM = "form.csvc-form"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(locale="en-GB")
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.console = []
    page.errors = []
    page.on("console", lambda message: page.console.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


@pytest.fixture
def demo(live_server):
    """The service with its demo blog (site 'demo', moderation 'links')."""
    return live_server(DEMO="on", GUARD="off")


def post_in_form(page, text, author=None, scope=FORM):
    page.fill(f"{scope} [name=text]", text)
    if author is not None:
        page.fill(f"{scope} [name=author]", author)
    page.click(f"{scope} button[type=submit]")


def comment(page, text):
    """Wait for the comment showing text; return a locator pinned to its id."""
    found = page.locator(".csvc-comment", has=page.locator(":scope > .csvc-body", has_text=text))
    found.wait_for()
    return page.locator(f'.csvc-comment[data-id="{found.get_attribute("data-id")}"]')


# --- the whole conversation ------------------------------------------------------------------


def test_post_reply_edit_delete_and_like_on_the_demo_page(page, demo):
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    assert page.text_content(".csvc-title") == "No comments yet."

    post_in_form(page, "First! With **bold** words.", author="Ada")
    first = comment(page, "First!")
    assert first.locator(":scope > .csvc-body strong").text_content() == "bold"
    assert first.locator(".csvc-author").first.text_content() == "Ada"
    assert page.text_content(".csvc-title") == "1 comment"
    page.wait_for_function(
        "document.querySelector('.csvc-status').textContent.includes('published')"
    )

    first.locator(":scope > .csvc-actions [data-action=reply]").click()
    assert page.locator(f".csvc-comment {FORM}").count() == 1  # the form moved under the comment
    post_in_form(page, "A reply to Ada.", author="Grace")
    reply = comment(page, "A reply to Ada.")
    assert first.locator(":scope > .csvc-replies .csvc-comment").count() == 1
    assert page.text_content(".csvc-title") == "2 comments"

    first.locator(":scope > .csvc-actions [data-action=edit]").click()
    page.fill(".csvc-edit-form textarea", "First, edited *kindly*.")
    page.click(".csvc-edit-form [data-action=save]")
    comment(page, "First, edited")
    assert first.locator(":scope > .csvc-body em").text_content() == "kindly"
    assert first.locator(".csvc-edited").count() == 1

    reply.locator(":scope > .csvc-actions [data-action=delete]").click()
    reply.wait_for(state="detached")

    page.click("[data-action=like-page]")
    page.wait_for_function(
        "document.querySelector('.csvc-page-likes').textContent === '1 person likes this'"
    )
    first.locator(":scope > .csvc-actions [data-action=like]").click()
    page.wait_for_function(
        "document.querySelector('.csvc-comment [data-action=like]').textContent.endsWith('1')"
    )

    # What the page shows is what the service stored.
    thread = requests.get(
        demo.url + "/api/comments", params={"site": "demo", "uri": "/"}, timeout=10
    ).json()
    assert thread["count"] == 1 and thread["likes"] == 1
    [stored] = thread["comments"]
    assert stored["html"] == "<p>First, edited <em>kindly</em>.</p>"
    assert stored["likes"] == 1 and stored["replies"] == []
    # The title is the page's own, fetched by the service (not document.title, not the blog's name).
    deadline = time.monotonic() + 20
    while thread["title"] == "" and time.monotonic() < deadline:
        time.sleep(0.3)
        thread = requests.get(
            demo.url + "/api/comments", params={"site": "demo", "uri": "/"}, timeout=10
        ).json()
    assert thread["title"] == "Comments without a platform"
    assert page.errors == []


def test_edits_and_deletes_need_the_token_kept_in_this_browser(browser, page, demo):
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    post_in_form(page, "Mine.")
    comment(page, "Mine.")
    page.reload()
    page.wait_for_selector(READY)
    assert comment(page, "Mine.").locator("[data-action=edit]").count() == 1
    stranger = browser.new_context().new_page()
    stranger.goto(demo.url + "/")
    stranger.wait_for_selector(READY)
    assert stranger.locator(".csvc-comment").count() == 1
    assert stranger.locator("[data-action=edit], [data-action=delete]").count() == 0
    stranger.context.close()


def test_a_held_comment_shows_its_notice_to_its_author_only(browser, page, demo):
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    # The demo site holds comments with two links or more.
    post_in_form(page, "Links: https://example.org and https://example.com")
    notice = page.locator(".csvc-pending .csvc-notice")
    notice.wait_for()
    assert "awaiting moderation" in notice.text_content()
    assert page.text_content(".csvc-title") == "No comments yet."
    page.reload()
    page.wait_for_selector(".csvc-pending .csvc-notice")
    stranger = browser.new_context().new_page()
    stranger.goto(demo.url + "/")
    stranger.wait_for_selector(READY)
    assert stranger.locator(".csvc-comment").count() == 0
    stranger.context.close()


def test_errors_appear_next_to_the_field_in_words(page, demo):
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    page.click(f"{FORM} button[type=submit]")
    error = page.locator(f"{FORM} .csvc-field-text .csvc-error")
    error.wait_for()
    assert error.text_content() == "Please write something first."
    assert page.get_attribute(f"{FORM} [name=text]", "aria-invalid") == "true"
    page.fill(f"{FORM} [name=website]", "javascript:alert(1)")
    post_in_form(page, "Hello")
    website_error = page.locator(f"{FORM} .csvc-field-website .csvc-error")
    website_error.wait_for()
    assert "http://" in website_error.text_content()
    assert page.locator(".csvc-comment").count() == 0


def test_the_button_is_disabled_while_posting(page, demo):
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    page.route("**/api/comments", lambda route: (page.wait_for_timeout(500), route.continue_()))
    page.fill(f"{FORM} [name=text]", "Slow network.")
    page.click(f"{FORM} button[type=submit]")
    assert page.is_disabled(f"{FORM} button[type=submit]")
    comment(page, "Slow network.")
    assert page.is_enabled(f"{FORM} button[type=submit]")


def test_keyboard_alone_can_post(page, demo):
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    page.focus(f"{FORM} [name=text]")
    page.keyboard.type("Typed without a mouse.")
    page.keyboard.press("Tab")  # the name field
    page.keyboard.type("Kay")
    for _ in range(3):  # email, website, then the submit button
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Enter")
    comment(page, "Typed without a mouse.")


def test_preview_shows_the_sanitised_html(page, demo):
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    page.fill(f"{FORM} [name=text]", "*soon* <script>window.pwned = 1</script>")
    page.click(f"{FORM} [data-action=preview]")
    page.wait_for_selector(f"{FORM} .csvc-preview:not([hidden]) em")
    assert "<script>" in page.text_content(f"{FORM} .csvc-preview")
    assert page.evaluate("window.pwned") is None


# --- languages, themes, counts -----------------------------------------------------------------


def test_german_with_data_lang(page, demo):
    requests.post(
        demo.url + "/api/comments", json={"site": "demo", "uri": "/", "text": "Hallo"}, timeout=10
    )
    page.goto(demo.url + "/?lang=de")
    page.wait_for_selector(READY)
    assert page.text_content(".csvc-title") == "1 Kommentar"
    assert page.text_content(f"{FORM} button[type=submit]") == "Kommentar abschicken"
    assert page.text_content("[data-action=reply]") == "Antworten"
    assert page.text_content(".csvc-page-likes") == "Sei der Erste, dem dies gefällt."


def test_language_follows_the_host_page(browser, demo):
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(demo.url + "/")  # <html lang="en"> on the demo page wins over the browser
    page.wait_for_selector(READY)
    assert page.text_content(f"{FORM} button[type=submit]") == "Post comment"
    context.close()


def test_dark_theme_from_data_theme_and_auto_from_the_system(browser, page, demo):
    page.goto(demo.url + "/?theme=dark")
    page.wait_for_selector(READY)
    dark = "rgb(13, 17, 23)"
    assert page.eval_on_selector(".csvc-thread", "e => getComputedStyle(e).backgroundColor") == dark
    context = browser.new_context(color_scheme="dark")
    system = context.new_page()
    system.goto(demo.url + "/?theme=auto")
    system.wait_for_selector(READY)
    assert (
        system.eval_on_selector(".csvc-thread", "e => getComputedStyle(e).backgroundColor") == dark
    )
    system.goto(demo.url + "/?theme=light")
    system.wait_for_selector(READY)
    light = system.eval_on_selector(".csvc-thread", "e => getComputedStyle(e).backgroundColor")
    assert light == "rgba(0, 0, 0, 0)"
    context.close()


def test_counts_on_an_index_page_in_one_request(page, demo):
    for uri, n in (("/", 2), ("/demo/second-post", 1)):
        for i in range(n):
            requests.post(
                demo.url + "/api/comments",
                json={"site": "demo", "uri": uri, "text": f"c{i}"},
                timeout=10,
            )
    requests_seen = []
    page.on("request", lambda r: requests_seen.append(r.url) if "/api/" in r.url else None)
    page.goto(demo.url + "/demo/index")
    page.wait_for_function(
        "document.querySelectorAll('[data-commentsvc-count]')[1].textContent === '1 comment'"
    )
    counts = page.eval_on_selector_all(
        "[data-commentsvc-count]", "els => els.map(e => e.textContent)"
    )
    assert counts == ["2 comments", "1 comment"]
    assert len([u for u in requests_seen if "/api/counts" in u]) == 1
    assert len(requests_seen) == 1


# --- embedding into another site ---------------------------------------------------------------


@pytest.fixture
def host(app):
    site = HostSite()
    add_site(app, "blog", url=site.url)
    yield site
    site.close()


def test_embedded_cross_origin_with_the_stylesheet_first(page, live_server, host):
    service = live_server(GUARD="off")
    host.pages["/post"] = blog_page(service.url)
    page.goto(host.url + "/post")
    page.wait_for_selector(READY)
    post_in_form(page, "Hello from another origin.")
    comment(page, "Hello from another origin.")
    first_in_head = page.evaluate("document.head.firstElementChild.id")
    assert first_in_head == "csvc-style"
    assert page.evaluate("window.hostStillWorks") is True
    assert page.errors == []


def test_several_widgets_share_a_page(page, live_server, host):
    service = live_server(GUARD="off")
    second = '<div id="more"></div>' + (
        f'<script src="{service.url}/embed.js" data-site="blog" data-uri="/other" '
        'data-target="#more" async></script>'
    )
    host.pages["/two"] = blog_page(service.url, extra=second)
    requests.post(
        service.url + "/api/comments",
        json={"site": "blog", "uri": "/other", "text": "On the other thread"},
        timeout=10,
    )
    page.goto(host.url + "/two")
    page.wait_for_function(
        "document.querySelectorAll('.csvc-thread:not([aria-busy])').length === 2"
    )
    assert page.locator("#comments .csvc-comment").count() == 0
    assert page.locator("#more .csvc-comment").count() == 1
    assert page.evaluate("document.querySelectorAll('#csvc-style').length") == 1


def test_a_failure_leaves_the_host_page_working(page, live_server, host):
    service = live_server(GUARD="off")
    host.pages["/broken"] = blog_page(service.url, script_attrs='data-site="no-such-site"')
    page.goto(host.url + "/broken")
    page.wait_for_selector("#comments .csvc-notice")
    assert page.text_content("#comments .csvc-notice") == "Comments could not be loaded."
    assert any(line.startswith("[commentsvc]") for line in page.console)
    assert page.evaluate("window.hostStillWorks") is True
    assert page.text_content("#host") == "The host page's own text."
    assert page.errors == []


def test_space_is_reserved_while_loading(page, live_server, host):
    service = live_server(GUARD="off")
    host.pages["/post"] = blog_page(service.url)
    page.route("**/api/comments?*", lambda route: (page.wait_for_timeout(800), route.continue_()))
    page.goto(host.url + "/post")
    page.wait_for_selector(".csvc-thread[aria-busy]")
    height = page.eval_on_selector(".csvc-thread", "e => e.getBoundingClientRect().height")
    assert height >= 150
    page.wait_for_selector(READY)


# --- safety ------------------------------------------------------------------------------------


@needs_shared(XSS_DIR, INSTEAD)
def test_xss_vectors_execute_nothing(page, live_server, host):
    service = live_server(GUARD="off", MAX_TEXT_LENGTH=100000)

    def post(n, body):
        return requests.post(
            service.url + "/api/comments", json={"site": "blog", "uri": "/xss", **body}, timeout=10
        )

    post_xss_vectors(post)
    host.pages["/xss"] = blog_page(service.url)
    dialogs, outside = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not re.match(r"https?://127\.0\.0\.1[:/]", r.url) and not r.url.startswith("data:")
            else None
        ),
    )
    page.goto(host.url + "/xss")
    page.wait_for_selector(READY)
    while page.locator("[data-action=more]:visible").count():
        page.click("[data-action=more]")
        page.wait_for_timeout(100)
    shown = page.locator(".csvc-comment").count()
    assert shown > 500
    page.wait_for_timeout(500)
    assert dialogs == []
    assert outside == []
    assert_nothing_injected(page, forms=(".csvc-form", ".csvc-edit-form", ".csvc-mine-form"))
    assert page.evaluate("window.hostStillWorks") is True


def test_axe_finds_no_serious_or_critical_issue(page, demo):
    axe = ROOT_DIR / ".venv" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
    if not axe.exists():
        pytest.skip("axe-core is not installed: `make test` installs it with npm")
    requests.post(
        demo.url + "/api/comments", json={"site": "demo", "uri": "/", "text": "Hi"}, timeout=10
    )
    for query in ("", "?theme=dark"):
        page.goto(demo.url + "/" + query)
        page.wait_for_selector(READY)
        page.click(f"{FORM} button[type=submit]")  # show an error, too
        page.wait_for_selector(f"{FORM} .csvc-error:not([hidden])")
        page.add_script_tag(path=str(axe))
        result = page.evaluate("axe.run(document.querySelector('.csvc-thread'))")
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], query


def test_linkbacks_show_apart_as_excerpts_and_likes(page, live_server, host):
    import time
    import xmlrpc.client

    from tests.blogs import Blog
    from tests.blogs import post_linking_to

    service = live_server(GUARD="off")
    host.pages["/post"] = blog_page(service.url)
    target = host.url + "/post"
    other = Blog()
    try:
        other.page("/reply", post_linking_to(target, "Their reply"))
        other.page("/pinged", post_linking_to(target, "An old-school ping"))
        other.page(
            "/like",
            f'<div class="h-entry"><a class="u-like-of" href="{target}">liked</a>'
            f'<span class="p-author h-card"><img class="u-photo" src="{service.url}/api/avatar/abcdef0123.svg">'
            '<span class="p-name">Cy</span></span></div>',
        )
        locations = [
            service.url  # without PUBLIC_URL the Location is a path of the service
            + requests.post(
                service.url + "/webmention",
                data={"source": other.url + path, "target": target},
                timeout=10,
            ).headers["Location"]
            for path in ("/reply", "/like")
        ]
        with xmlrpc.client.ServerProxy(service.url + "/xmlrpc") as proxy:
            proxy.pingback.ping(other.url + "/pinged", target)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = [
                requests.get(u, headers={"Accept": "application/json"}, timeout=5).json()["status"]
                for u in locations
            ]
            if "pending" not in states:
                break
            time.sleep(0.3)
        assert states == ["verified", "verified"]
    finally:
        other.close()

    page.goto(host.url + "/post")
    page.wait_for_selector(READY)
    mentions = page.locator(".csvc-mentions .csvc-linkback")
    assert mentions.count() == 2
    titles = sorted(mentions.locator("a").all_text_contents())
    assert titles == ["An old-school ping", "Their reply"]
    excerpt = mentions.first.locator(".csvc-excerpt").text_content()
    assert excerpt.startswith("[…] ") and excerpt.endswith(" […]")
    assert "Have a look at this post, it says it well." in excerpt
    kinds = sorted(mentions.evaluate_all("els => els.map(e => e.dataset.kind)"))
    assert kinds == ["pingback", "webmention"]
    assert page.locator(".csvc-likers img[alt=Cy]").count() == 1
    assert page.text_content(".csvc-page-likes") == "1 person likes this"
    assert page.locator(".csvc-comments .csvc-comment").count() == 0
    assert page.text_content(".csvc-title") == "No comments yet."
    assert page.text_content(".csvc-mentions-title") == "2 mentions"


def test_sorting_reorders_the_thread(page, demo):
    for text in ("one", "two", "three"):
        requests.post(
            demo.url + "/api/comments", json={"site": "demo", "uri": "/", "text": text}, timeout=10
        )
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    bodies = lambda: page.eval_on_selector_all(  # noqa: E731
        ".csvc-comments > li > .csvc-comment > .csvc-body", "els => els.map(e => e.textContent)"
    )
    assert bodies() == ["one", "two", "three"]
    page.select_option(".csvc-sort", "newest")
    page.wait_for_function(
        "document.querySelector('.csvc-comments .csvc-body').textContent === 'three'"
    )
    assert bodies() == ["three", "two", "one"]


def test_a_rate_limit_is_said_in_words_by_the_button(page, live_server):
    service = live_server(DEMO="on", GUARD="on")
    page.goto(service.url + "/")
    page.wait_for_selector(READY)
    page.wait_for_timeout(2200)  # past the time trap: a human takes a moment to write
    post_in_form(page, "My first thought.")
    comment(page, "My first thought.")
    post_in_form(page, "And another, at once.")
    error = page.locator(f"{FORM} > .csvc-error")
    error.wait_for()
    assert re.fullmatch(
        r"You are posting too fast\. Please wait \d seconds\.", error.text_content()
    )
    assert page.input_value(f"{FORM} [name=text]") == "And another, at once."  # nothing lost


def test_editing_after_a_reload_starts_from_the_markdown(page, demo):
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    post_in_form(page, "Some **bold** words")
    comment(page, "Some bold words")
    page.reload()
    page.wait_for_selector(READY)
    comment(page, "Some bold words").locator(":scope > .csvc-actions [data-action=edit]").click()
    page.wait_for_selector(".csvc-edit-form textarea")
    assert page.input_value(".csvc-edit-form textarea") == "Some **bold** words"


def test_the_edit_form_previews_and_refuses_an_empty_text(page, demo):
    patches = []
    page.on("request", lambda r: patches.append(r.url) if r.method == "PATCH" else None)
    page.goto(demo.url + "/")
    page.wait_for_selector(READY)
    post_in_form(page, "Before the edit.")
    mine = comment(page, "Before the edit.")
    mine.locator(":scope > .csvc-actions [data-action=edit]").click()
    edit = ".csvc-edit-form"
    page.fill(f"{edit} textarea", "After, *previewed* <script>window.pwned = 1</script>")
    page.click(f"{edit} [data-action=preview]")
    page.wait_for_selector(f"{edit} .csvc-preview:not([hidden]) em")
    assert page.is_hidden(f"{edit} textarea")
    assert page.evaluate("window.pwned") is None
    page.click(f"{edit} [data-action=preview]")  # back to writing
    page.wait_for_selector(f"{edit} textarea:visible")
    assert page.is_hidden(f"{edit} .csvc-preview")

    page.fill(f"{edit} textarea", "   ")
    page.click(f"{edit} [data-action=save]")
    error = page.locator(f"{edit} .csvc-field-text .csvc-error")
    error.wait_for()
    assert error.text_content() == "Please write something first."
    assert page.get_attribute(f"{edit} textarea", "aria-invalid") == "true"
    assert patches == []  # refused in the browser: nothing was sent

    page.fill(f"{edit} textarea", "After the edit.")
    page.click(f"{edit} [data-action=save]")
    comment(page, "After the edit.")
    assert len(patches) == 1 and page.errors == []


def test_server_errors_are_worded_by_their_code(page, demo):
    page.goto(demo.url + "/?lang=de")
    page.wait_for_selector(READY)
    post_in_form(page, "Zweimal gesagt.")
    comment(page, "Zweimal gesagt.")
    post_in_form(page, "Zweimal gesagt.")
    error = page.locator(f"{FORM} .csvc-field-text .csvc-error")
    error.wait_for()
    assert error.text_content() == "Diesen Kommentar hast du schon geschrieben."


# --- day one (issue 17): what a thread shows, on a phone and a desktop --------------------------


def _linkback(app, uri, n, excerpt, kind="pingback"):
    """Store a published linkback in the thread of (blog, uri); return its id."""
    from commentsvc import comments
    from commentsvc.db import write_transaction
    from commentsvc.models import Comment
    from commentsvc.models import utcnow
    from commentsvc.sites import get_site

    with app.app_context(), write_transaction() as session:
        thread = comments.get_or_create_thread(get_site("blog"), uri, now=utcnow())
        linkback = Comment(
            thread_id=thread.id,
            kind=kind,
            status="approved",
            author=f"Blogger {n}",
            source_url=f"https://other.example/{n}",
            source_title=f"Their post {n}",
            excerpt=excerpt,
            created=utcnow(),
        )
        session.add(linkback)
        session.flush()
        comments.touch_thread(session, thread.id)
        return linkback.id


def test_what_a_thread_counts_is_what_it_shows(browser, page, live_server, host, app):
    from commentsvc import comments
    from commentsvc.db import write_transaction
    from commentsvc.models import Comment
    from commentsvc.models import utcnow

    service = live_server(GUARD="off")
    post = lambda text, author, parent=None: requests.post(  # noqa: E731
        service.url + "/api/comments",
        json={"site": "blog", "uri": "/post", "text": text, "author": author, "parent": parent},
        timeout=10,
    ).json()["id"]
    parent = None
    for author in ("Ada", "Bea", "Cy", "Dan", "Eve"):  # depths 0 to 4
        parent = post(f"From {author}.", author, parent)
    held = post("Held later.", "Hal")
    post("Under the held one.", "Ron", held)
    with app.app_context(), write_transaction() as session:
        comments.set_status(
            session.get(Comment, held), "pending", actor="admin", reason="", now=utcnow()
        )
    imported = _linkback(app, "/post", 1, "[...] an imported excerpt [...]", kind="trackback")
    _linkback(app, "/post", 2, "a fresh excerpt")
    post("A reply to the trackback.", "Quinn", imported)

    count_link = '<p><a href="/post#comments" data-commentsvc-count>comments</a></p>'
    host.pages["/post"] = blog_page(service.url, extra=count_link)
    page.goto(host.url + "/post")
    page.wait_for_selector(READY)
    page.wait_for_function(
        "!/^comments$/.test(document.querySelector('[data-commentsvc-count]').textContent)"
    )

    thread_text = page.text_content(".csvc-thread")
    assert "null" not in thread_text
    shown = page.locator(".csvc-comment[data-kind=comment]").count()
    assert shown == 6  # five in the conversation and the reply to the trackback, not Ron's
    assert "Under the held one." not in thread_text
    assert page.text_content(".csvc-title") == "6 comments"
    assert page.text_content(".csvc-mentions-title") == "2 mentions"
    assert page.text_content("[data-commentsvc-count]") == "6 comments · 2 mentions"
    reply = comment(page, "A reply to the trackback.")
    assert reply.locator("xpath=ancestor::li[@data-kind='trackback']").count() == 1

    # From depth 3 on the thread goes flat; each reply there says whom it answers.
    assert comment(page, "From Cy.").locator(":scope > .csvc-meta .csvc-reply-to").count() == 0
    assert (
        comment(page, "From Dan.").locator(":scope > .csvc-meta .csvc-reply-to").text_content()
        == "↪ in reply to Cy"
    )
    assert (
        comment(page, "From Eve.").locator(":scope > .csvc-meta .csvc-reply-to").text_content()
        == "↪ in reply to Dan"
    )

    excerpts = page.locator(".csvc-linkback .csvc-excerpt").all_text_contents()
    assert sorted(excerpts) == ["[...] an imported excerpt [...]", "[…] a fresh excerpt […]"]
    for entry in page.locator(".csvc-linkback").all():
        meta = entry.locator(":scope > .csvc-meta")
        assert meta.locator("img.csvc-avatar").count() == 1
        assert meta.locator("time").count() == 1
        assert not meta.text_content().lstrip().startswith("·")

    # Likes count per reader: a second reader behind the same address counts, and can take
    # the like back.
    page.click("[data-action=like-page]")
    page.wait_for_function(
        "document.querySelector('.csvc-page-likes').textContent === '1 person likes this'"
    )
    other = browser.new_context(locale="en-GB").new_page()
    other.goto(host.url + "/post")
    other.wait_for_selector(READY)
    other.click("[data-action=like-page]")
    likes = "document.querySelector('.csvc-page-likes').textContent === '{}'"
    other.wait_for_function(likes.format("2 people like this"))
    assert other.get_attribute("[data-action=like-page]", "aria-pressed") == "true"
    other.click("[data-action=like-page]")
    other.wait_for_function(likes.format("1 person likes this"))
    assert other.get_attribute("[data-action=like-page]", "aria-pressed") == "false"
    other.context.close()
    assert page.errors == []


LONG_CODE = "```\n" + "x = " + "'a long line of code' + " * 20 + "'end'\n```"


@pytest.mark.parametrize(
    ("width", "scheme", "lang"), [(390, "dark", "de"), (1280, "light", "en")], ids=str
)
def test_posting_keeps_the_page_width_and_says_what_happened(browser, demo, width, scheme, lang):
    requests_post = lambda **body: requests.post(  # noqa: E731
        demo.url + "/api/comments", json={"site": "demo", "uri": "/", **body}, timeout=10
    ).json()["id"]
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, locale="en-GB"
    )
    page = context.new_page()
    # theme=auto: the reader's system decides (by default the widget matches the light demo page).
    page.goto(demo.url + f"/?lang={lang}&theme=auto")
    page.wait_for_selector(READY)
    de = lang == "de"
    words = {
        "title": "Kommentar verfassen" if de else "Leave a comment",
        "email": "E-Mail (optional, nicht öffentlich)" if de else "Email (optional, never shown)",
        "likes": "Sei der Erste, dem dies gefällt." if de else "Be the first to like this",
        "liked": "Einem Blogger gefällt das" if de else "1 person likes this",
        "published": "Dein Kommentar wurde veröffentlicht."
        if de
        else "Your comment was published.",
        "preview": "Vorschau" if de else "Preview",
    }
    # An empty thread: no sort menu, and the form has its own heading.
    assert page.is_hidden(".csvc-sort-label")
    assert page.text_content(f"{FORM} .csvc-form-title") == words["title"]
    assert page.text_content(f"{FORM} .csvc-field-email label") == words["email"]
    assert page.text_content(".csvc-page-likes") == words["likes"]
    scheme_of = "s => getComputedStyle(document.querySelector(s)).colorScheme"
    assert page.evaluate(scheme_of, ".csvc-sort") == scheme
    assert page.evaluate(scheme_of, f"{FORM} [name=text]") == scheme
    page.click("[data-action=like-page]")
    page.wait_for_function(
        "t => document.querySelector('.csvc-page-likes').textContent === t", arg=words["liked"]
    )

    page_width = "document.documentElement.scrollWidth"
    page.fill(f"{FORM} [name=text]", LONG_CODE)
    page.click(f"{FORM} [data-action=preview]")
    page.wait_for_selector(f"{FORM} .csvc-preview:not([hidden]) pre")
    assert page.evaluate(page_width) <= width
    colours = page.eval_on_selector(
        f"{FORM} .csvc-preview pre",
        "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]",
    )
    dark = scheme == "dark"
    assert colours == (
        ["rgb(230, 237, 243)", "rgb(21, 27, 35)"]
        if dark
        else ["rgb(31, 35, 40)", "rgb(246, 248, 250)"]
    )

    # Two levels of replies; the reader answers the second, with the long line.
    first = requests_post(text="Erster." if de else "First.", author="Ada")
    requests_post(text="Zweiter." if de else "Second.", author="Bea", parent=first)
    page.reload()
    page.wait_for_selector(READY)
    assert page.is_visible(".csvc-sort-label")
    comment(page, "Zweiter." if de else "Second.").locator(
        ":scope > .csvc-actions [data-action=reply]"
    ).click()
    page.fill(f".csvc-comment {FORM} [name=text]", LONG_CODE)
    page.click(f".csvc-comment {FORM} [data-action=preview]")
    page.wait_for_selector(f".csvc-comment {FORM} .csvc-preview:not([hidden]) pre")
    assert page.evaluate(page_width) <= width
    page.click(f".csvc-comment {FORM} button[type=submit]")
    done = page.locator(f"{FORM} .csvc-done")
    done.wait_for()
    assert done.text_content() == words["published"]
    assert page.text_content(f"{FORM} [data-action=preview]") == words["preview"]
    assert page.is_visible(f"{FORM} [name=text]")
    mine = comment(page, "a long line of code")
    assert page.evaluate(page_width) <= width

    # The reader's own reply, two levels deep, keeps its four actions on one line.
    actions = mine.locator(":scope > .csvc-actions")
    assert actions.locator("button").count() == 4
    tops = actions.evaluate("e => Array.from(e.children).map(b => b.getBoundingClientRect().top)")
    assert len(set(tops)) == 1, tops
    assert actions.evaluate("e => e.scrollWidth <= e.clientWidth")
    like = actions.locator("[data-action=like]")
    assert like.get_attribute("aria-label") == ("Gefällt mir" if de else "Like")
    context.close()


def test_a_page_on_an_origin_the_site_does_not_list_tells_its_owner(page, live_server, host):
    service = live_server(GUARD="off")
    stranger = HostSite({"/post": blog_page(service.url)})
    try:
        page.goto(stranger.url + "/post")
        page.wait_for_selector("#comments .csvc-notice")
        assert page.text_content("#comments .csvc-notice") == (
            "Comments are not available on this page."
        )
        advice = (
            f'[commentsvc] The site "blog" does not accept comments from {stranger.url}; '
            f"add it with: commentsvc site set blog --origin {stranger.url}"
        )
        assert any(line.startswith(advice) for line in page.console), page.console
        assert page.evaluate("window.hostStillWorks") is True
    finally:
        stranger.close()
