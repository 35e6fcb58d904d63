"""Mail in tests: a real SMTP inbox on 127.0.0.1 and an app that sends to it.

The fixtures are registered for every test file by tests/conftest.py (pytest_plugins), so the
notification tests and the readers' tests share one inbox rather than each defining its own.
"""

from __future__ import annotations

import email
import email.policy

import pytest
from aiosmtpd.controller import Controller

from commentsvc import queue
from tests.conftest import reserve_port


class Inbox:
    """An SMTP server that keeps what it receives."""

    def __init__(self, port: int | None = None):
        self.messages: list[email.message.EmailMessage] = []
        # aiosmtpd cannot report a port 0 back: hold a reserved port (no race with others).
        self.reservation = None if port else reserve_port()
        self.port = port or self.reservation.port
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()
        if self.reservation:
            self.reservation.close()


@pytest.fixture
def inbox():
    box = Inbox().start()
    yield box
    box.stop()


@pytest.fixture
def mail_app(make_app, inbox, clock):
    app = make_app(
        SMTP_URL=f"smtp://127.0.0.1:{inbox.port}", PUBLIC_URL="https://comments.example.org"
    )
    app.extensions["clock"] = clock
    return app


def run_queue(app, now=None):
    """Run the jobs that are due, as the worker would; returns how many ran."""
    with app.app_context():
        return queue.run_pending(now=now)


def parts(message):
    """The plain-text and the HTML body of a message."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html
