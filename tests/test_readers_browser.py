"""A reader's own data from the widget, in a real browser: ask, follow the mailed link, erase."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest

from tests.browser import needs_chromium
from tests.mail import Inbox
from tests.test_widget import FORM
from tests.test_widget import READY
from tests.test_widget import browser  # noqa: F401 - a fixture
from tests.test_widget import comment
from tests.test_widget import context  # noqa: F401 - a fixture
from tests.test_widget import page  # noqa: F401 - a fixture
from tests.test_widget import post_in_form

pytestmark = [pytest.mark.slow, needs_chromium]


def wait_for_mail(inbox, count, seconds=30):
    deadline = time.monotonic() + seconds
    while len(inbox.messages) < count:
        assert time.monotonic() < deadline, "no mail came"
        time.sleep(0.2)
    return inbox.messages[count - 1]


def test_a_reader_takes_their_comments_back_from_the_widget(page, live_server):  # noqa: F811
    inbox = Inbox().start()
    try:
        service = live_server(
            DEMO="on",
            GUARD="off",
            SMTP_URL=f"smtp://127.0.0.1:{inbox.port}",
            PUBLIC_URL="https://comments.example.org",
        )
        page.goto(service.url + "/")
        page.wait_for_selector(READY)
        feed = page.locator(".csvc-footer a.csvc-feed")
        assert "/feed.atom?site=demo&uri=%2F" in feed.get_attribute("href")

        page.fill(f"{FORM} [name=email]", "reader@example.org")
        post_in_form(page, "Mine, and mine to take back", author="Reader")
        comment(page, "Mine, and mine to take back")

        page.click(".csvc-mine summary")
        page.fill(".csvc-mine [name=email]", "reader@example.org")
        page.click('.csvc-mine [data-action="my-comments"]')
        page.wait_for_selector(".csvc-mine .csvc-notice:not(:empty)")
        sent = page.locator(".csvc-mine .csvc-notice").text_content()
        assert "link" in sent.lower()

        message = wait_for_mail(inbox, 1)
        text = message.get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"https://comments\.example\.org/me/\S+", text).group(0)
        page.goto(service.url + urlsplit(link).path)
        assert page.locator("text=Mine, and mine to take back").count() == 1
        page.check("input[name=sure]")
        page.click("button[name=erase]")
        page.wait_for_selector("text=Erased")

        page.goto(service.url + "/")
        page.wait_for_selector(READY)
        assert page.locator("text=Mine, and mine to take back").count() == 0
        assert page.errors == []
    finally:
        inbox.stop()
