"""Thread titles: taken from the site's own page (or set by the owner), never from a commenter."""

from __future__ import annotations

import re
from datetime import datetime

from bs4 import BeautifulSoup
from sqlalchemy import update

from commentsvc import fields
from commentsvc import queue
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.linkbacks.verify import HTML_TYPES
from commentsvc.linkbacks.verify import decode_html
from commentsvc.models import Thread
from commentsvc.models import utcnow

MAX_TITLE = 200
# Only the start of a page is read for its title: the head, and the entry's heading.
MAX_PAGE_BYTES = 256 * 1024
# Between a post's title and the blog's name in <title>: "Post – Blog", "Post | Blog".
_SITE_NAME_SEPARATORS = re.compile(r"\s+(?:\||–|—|-|::|·|»)\s+")
JOB_KIND = "thread-title"


def queue_title(thread: Thread) -> None:
    """Queue the fetch of a new thread's title from its page (inside the caller's transaction)."""
    queue.enqueue(JOB_KIND, {"thread": thread.id})


def fetch_title(thread_id: int, *, fetcher: Fetcher, now: datetime | None = None) -> str:
    """Fetch the thread's page from its site and store the page's title; return it ("" if none).
    The fediverse posts the page declares are linked on the way (when the site names accounts).

    A title already there (the owner's, or an import's) is kept.

    :raise queue.Retry: when the site's server failed or did not answer in time.
    """
    thread = db.session.get(Thread, thread_id)
    if thread is None or (thread.title and not thread.site.fediverse_accounts):
        return ""
    url = fields.origin_of(thread.site.url) + thread.uri
    try:
        fetched = fetcher.get(url)
    except FetchError as error:
        if error.kind == "timeout" or (error.status or 0) >= 500:
            raise queue.Retry(error.message) from None
        return ""
    if fetched.content_type not in HTML_TYPES:
        return ""
    html = decode_html(fetched.body[:MAX_PAGE_BYTES], fetched.headers.get("content-type", ""))
    if thread.site.fediverse_accounts:
        from commentsvc import fediverse

        declared = fediverse.declared_posts(html, fetched.url)
        fediverse.link_quietly(thread.site, thread.uri, declared, by="page", now=now or utcnow())
    if thread.title:
        return ""
    title = page_title(html)
    if title:
        set_title(thread_id, title, replace=False)
    return title


def page_title(html: str) -> str:
    """Return a page's own title: og:title, the h-entry's p-name, or <title> before the site's
    name; plain text, at most MAX_TITLE characters."""
    soup = BeautifulSoup(html, "html.parser")
    meta = soup.find("meta", attrs={"property": "og:title"})
    if meta and isinstance(meta.get("content"), str) and clean_title(meta["content"]):
        return clean_title(meta["content"])
    entry = soup.find(class_="h-entry")
    name = entry.find(class_="p-name") if entry else None
    if name and clean_title(name.get_text(" ")):
        return clean_title(name.get_text(" "))
    tag = soup.find("title")
    if tag is None:
        return ""
    text = clean_title(tag.get_text(" "))
    separators = list(_SITE_NAME_SEPARATORS.finditer(text))
    return clean_title(text[: separators[-1].start()]) if separators else text


def clean_title(text: str) -> str:
    """Return a title as one line of printable text, at most MAX_TITLE characters."""
    # isprintable drops controls, line and paragraph separators and bidi overrides: a title
    # goes into mail subjects, where a line break would break the header.
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text[:MAX_TITLE].strip()


def set_title(thread_id: int, title: str, *, replace: bool = True) -> None:
    """Store a thread's title (replace=False keeps one that is there already)."""
    # The version too: thread reads are cached by it, and the title is part of the answer.
    statement = (
        update(Thread)
        .where(Thread.id == thread_id)
        .values(title=clean_title(title), version=Thread.version + 1)
    )
    if not replace:
        statement = statement.where(Thread.title == "")
    with write_transaction() as session:
        session.execute(statement)


@queue.handler(JOB_KIND)
def run_fetch_title(payload: dict) -> None:
    from flask import current_app

    fetch_title(
        payload["thread"],
        fetcher=current_app.extensions["fetcher"],
        now=current_app.extensions["clock"](),
    )
