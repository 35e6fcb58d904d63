"""Threads rendered on the server: the widget's markup, with microformats and schema.org data,
for search engines, readers without JavaScript and static sites built ahead of time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from commentsvc import pages
from commentsvc import shapes

# The widget's English words that the server shows (embed.js holds them all; a test keeps the
# two the same). Other languages come from static/i18n, as the widget loads them.
ENGLISH: dict[str, Any] = {
    "comments": {"one": "{n} comment", "other": "{n} comments"},
    "mentions": {"one": "{n} mention", "other": "{n} mentions"},
    "people": {"one": "{n} person likes this", "other": "{n} people like this"},
    "leave": "Leave a comment",
    "inReplyTo": "in reply to {name}",
    "noLikes": "Be the first to like this",
    "likePage": "Like",
    "like": "Like",
    "reply": "Reply",
    "more": "Load more comments",
    "sort": "Sort",
    "oldest": "Oldest first",
    "newest": "Newest first",
    "top": "Most liked",
    "text": "Comment",
    "hint": "Markdown works: *italic*, **bold**, [link](https://…), `code`.",
    "author": "Name",
    "email": "Email (optional, never shown)",
    "website": "Website",
    "optional": "optional",
    "notify": "Email me when someone replies",
    "submit": "Post comment",
    "submitReply": "Post reply",
    "replyingTo": "Replying to {name}",
    "anonymous": "Anonymous",
    "owner": "Author",
    "edited": "edited",
    "empty": "No comments yet.",
    "pending": "Your comment is awaiting moderation. Only you can see it.",
    "published": "Your comment was published.",
    "deleted": "This comment was deleted.",
    "likedBy": "Liked by",
    "noScript": "Comment without JavaScript",
    "backToPage": "Back to the page",
    "errors": {
        "rate_limited": "You are posting too fast. Please wait {n} seconds.",
        "duplicate": "You have posted this comment already.",
        "empty": "Please write something first.",
        "too_long": "This is too long.",
        "too_large": "This is too long.",
        "invalid:email": "This is not an email address.",
        "invalid:website": "Please give a web address starting with http:// or https://.",
    },
    "failed": "That did not work: {msg}",
    "original": "on the fediverse",
    "verified": "Verified by {p}",
}
LANGUAGES = ("en", "de", "fr", "es", "nl", "it")
THEMES = shapes.THEMES
# The widget's first page: the fragment holds the same, so that its ETag is the JSON page's.
FIRST_PAGE = 50
# Replies nest to this depth; deeper ones line up flat and say whom they answer (as the widget).
FLAT_DEPTH = 3


@lru_cache(maxsize=len(LANGUAGES))
def _translation(lang: str) -> dict[str, Any]:
    if lang == "en":
        return {}
    path = pages.static_dir() / "i18n" / f"{lang}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def pick_language(value: str | None) -> str:
    """Return one of the widget's languages for a lang option (English when none fits)."""
    code = (value or "").lower().split("-")[0]
    return code if code in LANGUAGES else "en"


class Words:
    """The widget's words in one language, with its plural rules and {name} fill-ins."""

    def __init__(self, lang: str):
        self.lang = lang
        self.words = {**ENGLISH, **_translation(lang)}
        self.words["errors"] = {**ENGLISH["errors"], **self.words.get("errors", {})}

    def __call__(self, key: str, n: int | None = None, **values: Any) -> str:
        """Return the words for key, the plural form chosen by n."""
        text = self.words.get(key, ENGLISH.get(key, key))
        if isinstance(text, dict):
            text = text.get(self._plural(n or 0)) or text["other"]
        values["n"] = n
        return _fill(str(text), values)

    def error(self, code: str, field_name: str | None, message: str, retry_after: int = 10) -> str:
        """Return an API error in words, keyed on its code (and field), as the widget does."""
        errors = self.words["errors"]
        text = errors.get(f"{code}:{field_name}") or errors.get(code)
        if text:
            return text.replace("{n}", str(retry_after))
        return self("failed", msg=message)

    def _plural(self, n: int) -> str:
        # Intl.PluralRules for the widget's languages: French counts 0 as singular.
        if self.lang == "fr":
            return "one" if n in (0, 1) else "other"
        return "one" if n == 1 else "other"


def _fill(text: str, values: dict[str, Any]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", "" if value is None else str(value))
    return text


@dataclass
class Item:
    """A comment as one list item of the markup, at its depth, with the items under it."""

    comment: dict
    depth: int
    parent: dict | None
    replies: list[Item] = field(default_factory=list)


@dataclass
class ThreadView:
    """What the thread's markup shows: comments placed as the widget places them, mentions."""

    items: list[Item]
    mentions: list[Item]
    likers: list[dict]


def thread_view(comments: list[dict]) -> ThreadView:
    """Place a thread page's comments (the API's JSON form) as the widget does."""
    view = ThreadView([], [], [])
    for comment in comments:
        view.items.extend(_place(comment, 0, None, view))
    return view


def _place(comment: dict, depth: int, parent: dict | None, view: ThreadView) -> list[Item]:
    if comment["kind"] not in ("comment", "fediverse"):  # replies from the fediverse nest
        source = comment.get("source") or {}
        if source.get("type") == "like":
            view.likers.append(comment)
            return []
        item = Item(comment, 1, parent)
        for reply in comment["replies"]:
            item.replies.extend(_place(reply, 1, comment, view))
        view.mentions.append(item)
        return []
    item = Item(comment, depth, parent)
    placed = [item]
    for reply in comment["replies"]:
        if depth >= FLAT_DEPTH:
            placed.extend(_place(reply, FLAT_DEPTH, comment, view))
        else:
            item.replies.extend(_place(reply, depth + 1, comment, view))
    return placed


def excerpt(text: str | None) -> str:
    """Return "[…] excerpt […]", without doubling the markers an excerpt carries already."""
    text = (text or "").strip()
    marks = ("[…]", "[...]", "…", "...")
    start = "" if text.startswith(marks) else "[…] "
    end = "" if text.endswith(marks) else " […]"
    return start + text + end


def safe_url(url: str | None) -> str | None:
    """Return an http(s) URL as it is, anything else as None (no javascript: links)."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def host_of(url: str | None) -> str:
    """Return the host name of a URL, or "" when it has none."""
    try:
        return urlsplit(url or "").hostname or ""
    except ValueError:
        return ""


@dataclass(frozen=True)
class PageSummary:
    """The thread's numbers and paging, as the heading and the buttons show them."""

    count: int  # comments (the heading); mentions have their own
    mentions: int
    likes: int
    next: str | None
    sort: str
    notifications: bool

    @property
    def comments(self) -> int:
        """Return the comments the heading counts."""
        return self.count


def page_summary(page: Any, sort: str, notifications: bool) -> PageSummary:
    """Return the numbers of a comments.ThreadPage."""
    return PageSummary(
        page.counts.comments,
        page.counts.mentions,
        page.likes,
        page.next_cursor,
        sort,
        notifications,
    )


def page_url(site: Any, uri: str) -> str:
    """Return the address of the site's page that a thread belongs to."""
    base = urlsplit(site.url)
    return f"{base.scheme}://{base.netloc}{uri}"


def add_own(view: ThreadView, comment: dict) -> None:
    """Show the reader's own held comment where the widget would: under its parent, or last."""
    comment = {**comment, "replies": []}
    if comment["parent"] is not None:
        parent = _find(view.items, comment["parent"])
        if parent is not None:
            depth = min(parent.depth + 1, FLAT_DEPTH)
            item = Item(comment, depth, parent.comment)
            if parent.depth >= FLAT_DEPTH:
                siblings = _list_holding(view.items, parent)
                siblings.insert(siblings.index(parent) + 1, item)
            else:
                parent.replies.append(item)
            return
    view.items.append(Item(comment, 0, None))


def _find(items: list[Item], comment_id: int) -> Item | None:
    for item in items:
        if item.comment["id"] == comment_id:
            return item
        found = _find(item.replies, comment_id)
        if found is not None:
            return found
    return None


def _list_holding(items: list[Item], target: Item) -> list[Item]:
    if target in items:
        return items
    for item in items:
        found = _list_holding(item.replies, target)
        if found:
            return found
    return []


def init_fragments(app: Any) -> None:
    """Give the templates the filters the thread's markup uses."""
    app.jinja_env.filters["safe_url"] = safe_url
    app.jinja_env.filters["host_of"] = host_of
    app.jinja_env.filters["excerpt"] = excerpt
