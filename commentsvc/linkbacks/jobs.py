"""The linkback work the queue runs, with its edges taken from the app."""

from __future__ import annotations

from flask import current_app

from commentsvc import queue
from commentsvc import spam
from commentsvc.linkbacks.receive import Context
from commentsvc.linkbacks.receive import Gate
from commentsvc.linkbacks.receive import own_hosts
from commentsvc.linkbacks.receive import process_webmention


def app_context(*, address: str = "", requested_by: str = "", host: str = "") -> Context:
    """Return the linkback context of the current app: its fetcher, limiter, clock and guard;
    host is the service's own host as the request named it (never a linkback source)."""
    config = current_app.config
    return Context(
        fetcher=current_app.extensions["fetcher"],
        guard=spam.Guard.of(current_app),
        now=current_app.extensions["clock"](),
        address=address,
        requested_by=requested_by,
        gate=current_app.extensions.setdefault("linkback_gate", Gate()),
        own_hosts=own_hosts(config["PUBLIC_URL"], host),
        own_pages_allowed=("/demo/",) if config.get("DEMO") else (),
    )


@queue.handler("webmention")
def run_webmention(payload: dict) -> None:
    process_webmention(
        payload["mention"], app_context(requested_by=payload.get("requested_by", ""))
    )
