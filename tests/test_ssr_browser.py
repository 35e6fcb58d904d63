"""Server-rendered threads in a real browser: JavaScript off, the no-JS page, hostile text, axe."""

from __future__ import annotations

import re

import pytest
import requests

from tests.browser import CHROMIUM
from tests.browser import CHROMIUM_ARGS
from tests.browser import HostSite
from tests.browser import assert_nothing_injected
from tests.browser import needs_chromium
from tests.browser import post_xss_vectors
from tests.conftest import ROOT_DIR
from tests.conftest import Api
from tests.conftest import add_site
from tests.safety import INSTEAD
from tests.safety import XSS_DIR
from tests.safety import needs_shared

pytestmark = [pytest.mark.slow, needs_chromium]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

AXE = ROOT_DIR / ".venv" / "npm" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def host(app):
    site = HostSite()
    add_site(app, "blog", url=site.url)
    yield site
    site.close()


def host_page(service: str, fragment: str, title: str = "A post") -> str:
    """Return a blog page whose template includes the thread's fragment (as SSI would)."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
</head><body><main><h1>{title}</h1><p>The post.</p></main>
<script src="{service}/embed.js" data-site="blog" async></script>
<div id="comments">{fragment}</div>
<script>window.hostStillWorks = true;</script>
</body></html>"""


def fetch_fragment(service: str, uri: str) -> str:
    response = requests.get(
        service + "/api/comments.html", params={"site": "blog", "uri": uri}, timeout=10
    )
    assert response.status_code == 200
    return response.text


def test_without_javascript_a_reader_reads_follows_the_link_and_posts(browser, live_server, host):
    service = live_server(GUARD="off")
    requests.post(
        service.url + "/api/comments",
        json={"site": "blog", "uri": "/post", "text": "Seen *without* script.", "author": "Ada"},
        timeout=10,
    ).raise_for_status()
    host.pages["/post"] = host_page(service.url, fetch_fragment(service.url, "/post"))
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    try:
        page = context.new_page()
        page.goto(host.url + "/post")
        assert page.locator(".csvc-comment .csvc-body em").inner_text() == "without"
        assert page.locator(".csvc-title").inner_text() == "1 comment"
        link = page.locator(".csvc-noscript a")
        assert link.inner_text() == "Comment without JavaScript"
        link.click()
        page.wait_for_url(re.compile(r"/t/blog\?uri=/post"))
        page.fill("form.csvc-form [name=text]", "Posted with a *plain* form.")
        page.fill("form.csvc-form [name=author]", "Nojs")
        page.click("form.csvc-form button[type=submit]")
        page.wait_for_url(re.compile(r"own="))
        assert page.locator(".csvc-done").inner_text() == "Your comment was published."
        mine = page.locator(".csvc-comment", has_text="Posted with a")
        assert mine.locator(".csvc-body em").inner_text() == "plain"
        assert mine.locator(".csvc-author").inner_text() == "Nojs"
        # An error keeps what was typed.
        page.fill("form.csvc-form [name=text]", "Typed before the error.")
        page.fill("form.csvc-form [name=email]", "not an address")
        page.click("form.csvc-form button[type=submit]")
        assert page.locator("#csvc-email-error").inner_text() == "This is not an email address."
        assert page.input_value("form.csvc-form [name=text]") == "Typed before the error."
    finally:
        context.close()
    assert "Posted with a" in fetch_fragment(service.url, "/post")


@needs_shared(XSS_DIR, INSTEAD)
def test_xss_vectors_execute_nothing_in_the_fragment_or_the_page(browser, make_app, site):
    app = make_app(MAX_TEXT_LENGTH=100_000)
    client = app.test_client()
    api = Api(client)
    uris = []

    def post(n, body):
        uri = f"/xss/{n // 60}"
        if uri not in uris:
            uris.append(uri)
        return api.post(uri=uri, **body)

    vectors = post_xss_vectors(post)
    base = "http://127.0.0.1:9"  # the discard port: the avatars load from nowhere
    fragments = [
        client.get(
            "/api/comments.html", query_string={"site": "blog", "uri": uri}, base_url=base
        ).get_data(as_text=True)
        for uri in uris
    ]
    host = HostSite({"/all": host_page(base, "".join(fragments))})
    for n, uri in enumerate(uris):
        page_html = client.get("/t/blog", query_string={"uri": uri}, base_url=base)
        # Served without the page's CSP: the markup itself must be safe.
        host.pages[f"/t/{n}"] = page_html.get_data(as_text=True) + (
            "<script>window.hostStillWorks = true;</script>"
        )
    context = browser.new_context()
    try:
        page = context.new_page()
        dialogs, shown = [], 0
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        for path in ["/all", *(f"/t/{n}" for n in range(len(uris)))]:
            page.goto(host.url + path)
            page.wait_for_timeout(200)
            assert page.evaluate("window.hostStillWorks") is True, path
            assert_nothing_injected(page, path)
            shown += page.locator(".csvc-comment").count()
        assert shown > 2 * len(vectors)  # every thread twice: in the fragment and its page
        assert dialogs == []
    finally:
        context.close()
        host.close()


def test_axe_finds_nothing_serious_on_the_no_js_page(browser, live_server, host):
    if not AXE.exists():
        pytest.skip("axe-core is not installed: `make test` installs it with npm")
    service = live_server(GUARD="off")
    requests.post(
        service.url + "/api/comments",
        json={"site": "blog", "uri": "/post", "text": "Hi", "author": "Ada"},
        timeout=10,
    ).raise_for_status()
    host.pages["/post"] = host_page(service.url, fetch_fragment(service.url, "/post"))
    # The page's CSP allows no script: axe comes in around it.
    for scheme in ("light", "dark"):
        context = browser.new_context(bypass_csp=True, color_scheme=scheme)
        try:
            page = context.new_page()
            page.goto(service.url + "/t/blog?uri=/post")
            page.fill("form.csvc-form [name=email]", "not an address")
            page.click("form.csvc-form button[type=submit]")  # an error shows, too
            page.wait_for_selector(".csvc-error")
            for url in (None, host.url + "/post"):
                if url:
                    page.goto(url)
                page.add_script_tag(path=str(AXE))
                result = page.evaluate("axe.run(document)")
                serious = [
                    (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                    for v in result["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
                assert serious == [], (scheme, url)
        finally:
            context.close()


def hydrating_page(service: str, fragment: str, script_attrs: str = 'data-site="blog"') -> str:
    """A blog page holding the fragment; it notes the server's nodes before the widget starts."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Post</title>
<style>body {{ background: #fff; color: #111; }}</style></head><body><main><h1>Post</h1></main>
<div id="comments">{fragment}</div>
<script>window.before = {{
  thread: document.querySelector(".csvc-thread"),
  comments: Array.from(document.querySelectorAll(".csvc-comment")),
  bodies: Array.from(document.querySelectorAll(".csvc-body")),
}};</script>
<script src="{service}/embed.js" {script_attrs} async></script>
</body></html>"""


def settled_fragment(service: str, uri: str) -> str:
    """Return the fragment once the thread stopped changing (its page title is fetched in the
    background after the first comment, which changes the thread's version)."""
    import time

    for _ in range(50):
        fragment = fetch_fragment(service, uri)
        etag = re.search(r'data-etag="([^"]+)"', fragment).group(1)
        time.sleep(1.5)
        answer = requests.get(
            service + "/api/comments",
            params={"site": "blog", "uri": uri, "sort": "oldest", "limit": 50},
            headers={"If-None-Match": etag},
            timeout=10,
        )
        if answer.status_code == 304:
            return fragment
    raise AssertionError(f"the thread kept changing: {answer.status_code}")


def test_the_widget_takes_the_fragment_over_without_rendering_again(browser, live_server, host):
    service = live_server(GUARD="off")
    first = requests.post(
        service.url + "/api/comments",
        json={"site": "blog", "uri": "/post", "text": "Server *rendered*.", "author": "Ada"},
        timeout=10,
    ).json()
    requests.post(
        service.url + "/api/comments",
        json={"site": "blog", "uri": "/post", "text": "A reply.", "parent": first["id"]},
        timeout=10,
    ).raise_for_status()
    host.pages["/post"] = hydrating_page(service.url, settled_fragment(service.url, "/post"))
    context = browser.new_context(locale="en-GB", color_scheme="dark")
    try:
        page = context.new_page()
        asked = []
        page.on(
            "response",
            lambda r: (
                asked.append((r.request.method, r.url, r.status, r.request.headers))
                if "/api/" in r.url
                else None
            ),
        )
        page.goto(host.url + "/post")
        page.wait_for_selector(".csvc-thread:not([aria-busy]):not([data-ssr]) form.csvc-form")
        same = page.evaluate(
            """() => {
              const now = {
                thread: document.querySelector(".csvc-thread"),
                comments: Array.from(document.querySelectorAll(".csvc-comment")),
                bodies: Array.from(document.querySelectorAll(".csvc-body")),
              };
              return now.thread === window.before.thread
                && now.comments.length === window.before.comments.length
                && now.comments.every((c, i) => c === window.before.comments[i])
                && window.before.bodies.every((b, i) => b === now.bodies[i]);
            }"""
        )
        assert same is True
        reads = [a for a in asked if a[0] == "GET" and "/api/comments" in a[1]]
        assert not any("comments.html" in a[1] for a in reads)
        # One conditional read of the first page, answered "nothing changed".
        assert len(reads) == 1 and reads[0][2] == 304
        assert reads[0][3].get("if-none-match")
        assert page.locator("noscript").count() == 0
        # What the markup leaves to the widget is there too: the feed link below the form.
        assert page.locator(".csvc-footer a.csvc-feed").count() == 1
        # A light page on a dark-mode system: a light widget.
        assert page.get_attribute(".csvc-thread", "data-theme") == "light"
        # The taken-over buttons work: like the comment, reply to it with the widget's form.
        parent = page.locator(f'.csvc-comment[data-id="{first["id"]}"]')
        parent.locator(":scope > .csvc-actions [data-action=like]").click()
        page.wait_for_function(
            f"""() => document.querySelector('.csvc-comment[data-id="{first["id"]}"] > .csvc-actions [data-action=like]').textContent.includes("1")"""
        )
        parent.locator(":scope > .csvc-actions [data-action=reply]").click()
        page.fill("form.csvc-form [name=text]", "Answered through the widget.")
        page.click("form.csvc-form button[type=submit]")
        page.wait_for_selector(".csvc-done:not([hidden])")
        assert parent.locator(".csvc-replies .csvc-body", has_text="Answered through").count() == 1
    finally:
        context.close()


def test_a_changed_thread_is_read_again(browser, live_server, host):
    service = live_server(GUARD="off")
    host.pages["/post"] = hydrating_page(service.url, fetch_fragment(service.url, "/post"))
    requests.post(
        service.url + "/api/comments",
        json={"site": "blog", "uri": "/post", "text": "Newer than the markup."},
        timeout=10,
    ).raise_for_status()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(host.url + "/post")
        page.wait_for_selector(".csvc-body >> text=Newer than the markup.")
        assert page.locator(".csvc-title").inner_text() == "1 comment"
    finally:
        context.close()


THEMES = [
    # the host page's background, the script's attributes, the system's scheme, what shows
    ("#fff", "", "dark", "light"),
    ("#111", "", "light", "dark"),
    ("transparent", "", "dark", "light"),
    ("#fff", 'data-theme="auto"', "dark", "dark"),
    ("#111", 'data-theme="auto"', "light", "light"),
    ("#fff", 'data-theme="dark"', "light", "dark"),
]


def test_the_theme_follows_the_host_page(browser, live_server, host):
    service = live_server(GUARD="off")
    for n, (background, attrs, scheme, expected) in enumerate(THEMES):
        host.pages[f"/theme/{n}"] = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>T</title>'
            f"<style>body {{ background: {background}; }}</style></head><body>"
            f'<script src="{service.url}/embed.js" data-site="blog" {attrs} async></script>'
            '<div id="comments"></div></body></html>'
        )
        context = browser.new_context(color_scheme=scheme)
        try:
            page = context.new_page()
            page.goto(f"{host.url}/theme/{n}")
            page.wait_for_selector(".csvc-thread:not([aria-busy])")
            colour = page.eval_on_selector(".csvc-thread", "e => getComputedStyle(e).color")
            shown = {"rgb(230, 237, 243)": "dark", "rgb(31, 35, 40)": "light"}.get(colour)
            assert shown == expected, (background, attrs, scheme)
        finally:
            context.close()
