"""Signing in from the widget in Chromium, with third-party cookies blocked: the popup, the
provider's consent page (oidc-provider-mock), the comment posted with the verified name, and the
same reader editing it from a second browser context."""

from __future__ import annotations

import re

import pytest

from tests.browser import CHROMIUM
from tests.browser import CHROMIUM_ARGS
from tests.browser import HostSite
from tests.browser import blog_page
from tests.browser import needs_chromium
from tests.conftest import add_site
from tests.test_sign_in import provider_url  # noqa: F401 - the provider fixture
from tests.test_sign_in import serving_provider
from tests.test_sign_in import set_user

pytestmark = [
    pytest.mark.slow,
    needs_chromium,
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

READY = ".csvc-thread:not([aria-busy])"
FORM = "form.csvc-form"
# Nothing leaves 127.0.0.1 (the provider's page names a stylesheet on a CDN).
OUTSIDE = re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # Chromium's switch that blocks third-party cookies, as Safari and Firefox do.
            args=[*CHROMIUM_ARGS, "--test-third-party-cookie-phaseout"],
        )
        yield browser
        browser.close()


def new_page(browser):
    context = browser.new_context(locale="en-GB")
    context.route(OUTSIDE, lambda route: route.abort())
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return context, page


def sign_in(page, sub: str):
    with page.expect_popup() as opened:
        page.click('[data-action="sign-in"][data-provider="oidc"]')
    popup = opened.value
    popup.fill("input[name=sub]", sub)
    # The popup may close before click() returns: wait for the close from before the click.
    try:
        with popup.expect_event("close", timeout=30000):
            popup.click("button:has-text('Authorize')", no_wait_after=True)
    except sync_api.TimeoutError:
        raise AssertionError(f"the popup stayed open at {popup.url}: {popup.content()}") from None
    page.wait_for_selector('[data-action="sign-out"]')


def signing_in_blog(app, live_server, issuer, host, origin):
    """Serve site blog (at origin, the host page /post embedding the widget) with the oidc
    provider offered for signing in; return the running service."""
    from commentsvc import identities

    with app.app_context():
        identities.add_provider(
            "oidc",
            "oidc",
            issuer=issuer,
            client_id="commentsvc",
            secret="s",
            key="test-secret-key",
        )
    add_site(app, "blog", url=origin, sign_in="oidc")
    service = live_server(GUARD="off")
    host.pages["/post"] = blog_page(service.url)
    return service


def test_sign_in_post_and_edit_from_a_second_context(app, browser, live_server, provider_url):  # noqa: F811
    host = HostSite()
    try:
        # The host page on localhost, the service on 127.0.0.1: two sites, so the service is
        # third-party to the page and its cookies would be blocked there.
        origin = host.url.replace("127.0.0.1", "localhost")
        signing_in_blog(app, live_server, provider_url, host, origin)
        set_user(provider_url, "alice", name="Alice Example", profile="https://alice.example.org/")

        context, page = new_page(browser)
        provider_requests = []
        context.on(
            "request",
            lambda r: provider_requests.append(r.url) if r.url.startswith(provider_url) else None,
        )
        page.goto(origin + "/post")
        page.wait_for_selector(READY)
        page.fill(f"{FORM} [name=text]", "Typed before signing in.")
        assert provider_requests == []  # nothing asks the provider before the click
        sign_in(page, "alice")
        assert "Alice Example" in page.inner_text(".csvc-sign-in")
        assert page.input_value(f"{FORM} [name=text]") == "Typed before signing in."
        page.click(f"{FORM} button[type=submit]")
        mine = page.locator(".csvc-comment", has_text="Typed before signing in.")
        mine.wait_for()
        assert mine.locator(".csvc-author").first.inner_text() == "Alice Example"
        assert mine.locator(".csvc-verified").count() == 1
        assert context.cookies(origin) == []  # no cookie on the embedding page
        context.close()

        # The same reader, another browser: signs in again and edits the comment.
        context, page = new_page(browser)
        page.goto(origin + "/post")
        page.wait_for_selector(READY)
        sign_in(page, "alice")
        comment = page.locator(".csvc-comment", has_text="Typed before signing in.")
        comment.locator('[data-action="edit"]').click()
        page.fill(".csvc-edit-form [name=text]", "Edited on another device.")
        page.click(".csvc-edit-form button[type=submit]")
        page.locator(".csvc-comment", has_text="Edited on another device.").wait_for()
        # Signing out forgets the token and ends it on the service.
        page.click('[data-action="sign-out"]')
        page.wait_for_selector('[data-action="sign-in"]')
        assert "Alice" not in page.inner_text(".csvc-sign-in")
        assert page.evaluate("localStorage.getItem('csvc-me:blog')") == "null"
        assert page.errors == []
        context.close()
    finally:
        host.close()


def test_a_signed_in_readers_own_comments_get_their_buttons_on_a_page_that_did_not_change(
    app,
    browser,
    live_server,
    provider_url,  # noqa: F811
):
    from tests.test_ssr_browser import hydrating_page
    from tests.test_ssr_browser import settled_fragment

    host = HostSite()
    try:
        origin = host.url.replace("127.0.0.1", "localhost")
        service = signing_in_blog(app, live_server, provider_url, host, origin)
        set_user(provider_url, "bob", name="Bob Example")
        context, page = new_page(browser)
        page.goto(origin + "/post")
        page.wait_for_selector(READY)
        sign_in(page, "bob")
        page.fill(f"{FORM} [name=text]", "Written on the laptop.")
        page.click(f"{FORM} button[type=submit]")
        page.locator(".csvc-comment", has_text="Written on the laptop.").wait_for()
        context.close()

        # The phone: a page built with the thread's markup, which has not changed since (304).
        host.pages["/post"] = hydrating_page(service.url, settled_fragment(service.url, "/post"))
        context, page = new_page(browser)
        page.goto(origin + "/post")
        page.wait_for_selector(READY)
        sign_in(page, "bob")
        reads = []
        page.on(
            "response",
            lambda r: reads.append(r.status) if "/api/comments?" in r.url else None,
        )
        page.reload()
        page.wait_for_selector(READY)
        comment = page.locator(".csvc-comment", has_text="Written on the laptop.")
        comment.locator('[data-action="edit"]').wait_for(timeout=5000)
        assert reads == [304], "one conditional read, the markup still current"
        assert comment.locator('[data-action="delete"]').count() == 1
        assert page.errors == []
        context.close()
    finally:
        host.close()


def test_a_provider_page_that_cuts_the_popup_off_from_the_page_still_signs_the_reader_in(
    app, browser, live_server
):
    # Cross-Origin-Opener-Policy: same-origin on the provider's pages (Bluesky's authorization
    # page sends it) puts the popup in a browsing context of its own: it has no opener to hand
    # the token to when it comes back to the service, and the page sees the popup as closed.
    host = HostSite()
    coop = {"Cross-Origin-Opener-Policy": "same-origin"}
    try:
        with serving_provider(coop) as provider:
            origin = host.url.replace("127.0.0.1", "localhost")
            signing_in_blog(app, live_server, provider, host, origin)
            set_user(provider, "carol", name="Carol Example")
            context, page = new_page(browser)
            page.goto(origin + "/post")
            page.wait_for_selector(READY)
            page.fill(f"{FORM} [name=text]", "Typed before signing in.")
            with page.expect_popup() as opened:
                page.click('[data-action="sign-in"][data-provider="oidc"]')
            popup = opened.value
            popup.fill("input[name=sub]", "carol")
            popup.click("button:has-text('Authorize')")
            popup.wait_for_selector("#title")
            assert popup.evaluate("window.opener") is None  # cut off indeed
            page.wait_for_selector('[data-action="sign-out"]', timeout=15000)
            assert "Carol Example" in page.inner_text(".csvc-sign-in")
            assert page.input_value(f"{FORM} [name=text]") == "Typed before signing in."
            assert page.errors == []
            context.close()
    finally:
        host.close()


# Counts the widget's 2-second timers that are still running.
COUNT_POLLERS = """
(() => {
  const running = new Set();
  const set = window.setInterval, clear = window.clearInterval;
  window.setInterval = (fn, ms, ...rest) => {
    const id = set(fn, ms, ...rest);
    if (ms === 2000) running.add(id);
    return id;
  };
  window.clearInterval = (id) => { running.delete(id); return clear(id); };
  window.csvcPollers = () => running.size;
})();
"""


def test_a_sign_in_started_again_stops_the_first_ones_asking(
    app,
    browser,
    live_server,
    provider_url,  # noqa: F811 - the fixture imported above
):
    host = HostSite()
    try:
        origin = host.url.replace("127.0.0.1", "localhost")
        signing_in_blog(app, live_server, provider_url, host, origin)
        context, page = new_page(browser)
        page.add_init_script(COUNT_POLLERS)
        page.goto(origin + "/post")
        page.wait_for_selector(READY)
        for _ in range(3):  # the reader closes the popup at the provider's page, clicks again
            with page.expect_popup() as opened:
                page.click('[data-action="sign-in"][data-provider="oidc"]')
            popup = opened.value
            popup.wait_for_url(provider_url + "/**")
            popup.close()
        page.wait_for_timeout(2500)  # every timer ticks once
        assert page.evaluate("window.csvcPollers()") == 1
        assert page.errors == []
        context.close()
    finally:
        host.close()


def test_the_hand_off_secret_goes_to_the_sites_page_only(
    app,
    browser,
    live_server,
    provider_url,  # noqa: F811 - the fixture imported above
):
    host, stranger = HostSite(), HostSite()
    try:
        origin = host.url.replace("127.0.0.1", "localhost")
        service = signing_in_blog(app, live_server, provider_url, host, origin)
        start = f"{service.url}/auth/oidc/start?site=blog&origin={origin}&handoff=1"
        stranger.pages["/"] = (
            "<script>window.got = []; addEventListener('message', (e) => got.push(e.data));"
            "</script>"
        )
        context, page = new_page(browser)
        page.goto(stranger.url + "/")
        with page.expect_popup() as opened:
            page.evaluate(f"window.open({start!r}, 'x', 'width=500,height=600')")
        opened.value.wait_for_url(provider_url + "/**")
        assert page.evaluate("window.got") == []
        context.close()
    finally:
        host.close()
        stranger.close()


def test_a_window_a_stranger_named_for_the_popup_does_not_become_the_popup(
    app,
    browser,
    live_server,
    provider_url,  # noqa: F811 - the fixture imported above
):
    # A stranger's page that opened the blog (window.open: one browsing context group) opens a
    # window of the blog's origin named as the widget's popup: Chromium then gives that window
    # to the widget's window.open (and makes the blog its opener), and the stranger keeps a
    # reference to the sign-in popup: it can send it to a start of its choosing (a reader-named
    # IndieAuth or Mastodon server of its own), whose answer the blog takes as the reader's
    # sign-in. The popup's name is the widget's own, new for each sign-in.
    host, stranger = HostSite(), HostSite()
    try:
        origin = host.url.replace("127.0.0.1", "localhost")
        signing_in_blog(app, live_server, provider_url, host, origin)
        host.pages["/other"] = "<p>Another page of the blog.</p>"
        stranger.pages["/"] = "<p>A stranger's page.</p>"
        context, page = new_page(browser)
        page.goto(stranger.url + "/")
        with page.expect_popup() as opened:
            page.evaluate(f"window.blog = window.open({origin + '/post'!r})")
        blog = opened.value
        errors = []
        blog.on("pageerror", lambda error: errors.append(str(error)))
        blog.wait_for_selector(READY)
        with page.expect_popup() as opened:
            page.evaluate(f"window.trap = window.open({origin + '/other'!r}, 'csvc-sign-in')")
        trap = opened.value
        trap.wait_for_load_state()
        with blog.expect_popup() as opened:
            blog.click('[data-action="sign-in"][data-provider="oidc"]')
        popup = opened.value
        popup.wait_for_url(provider_url + "/**")
        assert popup != trap
        assert trap.url == origin + "/other"
        assert errors == []
        context.close()
    finally:
        host.close()
        stranger.close()
