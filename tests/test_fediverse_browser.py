"""Fediverse replies in a real browser: nested, with handles and links, nothing loaded from the
fediverse server by the reader's browser."""

from __future__ import annotations

import time

import pytest
import requests

from tests.browser import CHROMIUM
from tests.browser import CHROMIUM_ARGS
from tests.browser import HostSite
from tests.browser import blog_page
from tests.browser import needs_chromium
from tests.conftest import add_site
from tests.fediverse import Mastodon

pytestmark = [pytest.mark.slow, needs_chromium]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

READY = ".csvc-thread:not([aria-busy])"


def test_a_linked_page_shows_its_fediverse_replies_nested(app, live_server):
    fedi = Mastodon()
    host = HostSite()
    try:
        add_site(app, "blog", url=host.url, fediverse_accounts=f"@me@{fedi.host}")
        post = fedi.post(reblogs_count=2, favourites_count=5)
        first = fedi.reply(
            post,
            "alice",
            '<p>Lovely <a href="https://x.example/tags/cats" class="mention hashtag">#cats</a>'
            '<img src="' + fedi.url + '/emoji.png" alt=":blobcat:"></p>',
            account=fedi.account("alice", "<img src=x onerror=alert(1)>Alice"),
        )
        fedi.reply(first, "bob", "<p>Seconded</p>")
        service = live_server(GUARD="off")
        host.pages["/post"] = blog_page(
            service.url, script_attrs=f'data-site="blog" data-fediverse="{post["url"]}"'
        )
        # The first read links the post; the service's own queue fetches its replies.
        requests.get(
            service.url + "/api/comments",
            params={"site": "blog", "uri": "/post", "fediverse": post["url"]},
            headers={"Origin": host.url},
            timeout=10,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            thread = requests.get(
                service.url + "/api/comments", params={"site": "blog", "uri": "/post"}, timeout=10
            ).json()
            if thread["comments"]:
                break
            time.sleep(0.3)
        assert thread["count"] == 2
        asked_by_service = len(fedi.requests)

        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            seen = []
            page.on("request", lambda request: seen.append(request.url))
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(host.url + "/post")
            page.wait_for_selector(READY)
            replies = page.locator('.csvc-comment[data-kind="fediverse"]')
            replies.first.wait_for()
            assert replies.count() == 2
            alice = replies.first
            assert alice.locator(".csvc-handle").first.text_content() == f"@alice@{fedi.host}"
            assert (
                alice.locator(".csvc-author").first.text_content()
                == "<img src=x onerror=alert(1)>Alice"
            )
            assert alice.locator("a.csvc-original").first.get_attribute("href") == first["url"]
            nested = alice.locator('.csvc-replies .csvc-comment[data-kind="fediverse"]')
            assert nested.locator(".csvc-handle").text_content() == f"@bob@{fedi.host}"
            assert ":blobcat:" in alice.locator(".csvc-body").first.text_content()
            assert page.locator(".csvc-fediverse-counts").text_content().count("5") == 1
            reply_link = page.locator('[data-action="reply-fediverse"]')
            assert reply_link.get_attribute("href") == post["url"]
            page.wait_for_load_state("networkidle")
            browser.close()
        assert not [url for url in seen if fedi.host in url]
        # Whatever reached the stand-in server came from the service (its fetches, its avatar
        # fetches), none from the browser.
        assert len(fedi.requests) >= asked_by_service
        assert all(h["User-Agent"].startswith("commentsvc/") for _p, h in fedi.requests)
        assert errors == []
    finally:
        fedi.close()
        host.close()
