"""The linkback work the queue runs, with its edges taken from the app."""

from __future__ import annotations

from flask import current_app

from commentsvc import queue
from commentsvc.linkbacks.receive import Context
from commentsvc.linkbacks.receive import process_webmention


def app_context(*, address: str = "", requested_by: str = "") -> Context:
    """Return the linkback context of the current app: its fetcher, limiter, clock and guard."""
    return Context(
        fetcher=current_app.extensions["fetcher"],
        limiter=current_app.extensions["limiter"],
        guard=current_app.config["GUARD"],
        now=current_app.extensions["clock"](),
        address=address,
        requested_by=requested_by,
        secret=current_app.config["SECRET_KEY"],
    )


@queue.handler("webmention")
def run_webmention(payload: dict) -> None:
    process_webmention(
        payload["mention"], app_context(requested_by=payload.get("requested_by", ""))
    )
