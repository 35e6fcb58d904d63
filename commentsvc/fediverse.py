"""Replies from the fediverse: a page's linked posts, their replies, boosts and favourites.

The owner names the site's accounts; a page is linked to posts of those accounts (by the
widget's data-fediverse, the page's own markup, the admin page or the CLI). The queue asks each
post's server, through its public Mastodon API (which GoToSocial, Pleroma, Akkoma and others also
speak), for the post and its context, conditionally, backing off per server, and less often as the
post ages. Replies become comments of kind "fediverse", moderated like any other.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from urllib.parse import urljoin
from urllib.parse import urlsplit

from bs4 import BeautifulSoup
from sqlalchemy import or_
from sqlalchemy import select

from commentsvc import comments
from commentsvc import fields
from commentsvc import notify
from commentsvc import photos
from commentsvc import queue
from commentsvc import sanitize
from commentsvc import spam
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.errors import NotFound
from commentsvc.errors import ValidationError
from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.linkbacks.verify import MAX_AUTHOR
from commentsvc.linkbacks.verify import clip
from commentsvc.linkbacks.verify import clip_url
from commentsvc.models import Comment
from commentsvc.models import FediversePost
from commentsvc.models import FediverseServer
from commentsvc.models import Site
from commentsvc.models import Thread

JOB_KIND = "fediverse"
MAX_ACCOUNTS = 20
MAX_POSTS_PER_THREAD = 5
# Replies kept per post: a huge thread is cut here (the rest are neither stored nor asked for).
MAX_REPLIES = 300
MAX_DEPTH = 50
ACCEPT = "application/json"
# How often a post is asked again, by its age: often while the conversation is young.
REFRESH = (
    (timedelta(days=1), timedelta(minutes=15)),
    (timedelta(days=7), timedelta(hours=1)),
    (timedelta(days=30), timedelta(hours=6)),
    (timedelta(days=365), timedelta(days=1)),
)
REFRESH_OLD = timedelta(days=7)
# A failing server is asked again after 5 minutes, then 10, 20 ... at most BACKOFF_MAX.
BACKOFF_FIRST = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=6)
# A job that comes well before the post's next fetch is a stale duplicate: it does nothing.
EARLY = timedelta(minutes=1)
_HANDLE = re.compile(r"@?([^\s@/\x00-\x1f\x7f]{1,64})@([a-z0-9.-]{1,253}(?::[0-9]{1,5})?)", re.I)
_STATUS_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The status URL forms of Mastodon, GoToSocial, Pleroma/Akkoma, Misskey-compatible servers:
# the id is the last path segment after one of these.
_STATUS_PATHS = (
    re.compile(r"/@[^/]+/(?:statuses/)?([A-Za-z0-9_-]{1,64})/?"),
    re.compile(r"/users/[^/]+/statuses/([A-Za-z0-9_-]{1,64})/?"),
    re.compile(r"/notice/([A-Za-z0-9_-]{1,64})/?"),
    re.compile(r"/objects/([A-Za-z0-9_-]{1,64})/?"),
)


# --- accounts and links ------------------------------------------------------------------------


def parse_accounts(value: Any) -> str:
    """Return the accounts named in a comma- or line-separated list, as user@host, one a line.

    :raise ValidationError: for anything that is not a handle.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("fediverse_accounts must be text.", field="fediverse_accounts")
    found = []
    for part in re.split(r"[,\s]+", value.strip()):
        if not part:
            continue
        match = _HANDLE.fullmatch(part)
        if match is None:
            raise ValidationError(
                f"{part[:100]!r} is not a fediverse handle (@user@server).",
                field="fediverse_accounts",
            )
        handle = f"{match[1]}@{fields.normal_host(match[2])}".lower()
        if handle not in found:
            found.append(handle)
    if len(found) > MAX_ACCOUNTS:
        raise ValidationError(
            f"At most {MAX_ACCOUNTS} accounts.", field="fediverse_accounts", code="too_long"
        )
    return "\n".join(found)


def site_accounts(site: Site) -> list[str]:
    """Return the site's accounts, user@host."""
    return [a for a in (site.fediverse_accounts or "").split("\n") if a]


def parse_post_url(url: Any, site: Site) -> tuple[str, str, str]:
    """Return a post URL, its server (scheme://host) and the post's id there.

    :raise ValidationError: for a URL that names no post, or one on a server where none of the
        site's accounts lives.
    """
    if not isinstance(url, str) or not fields.is_printable_ascii(url.strip(), max_length=2000):
        raise ValidationError("post_url must be a post's URL.", field="post_url")
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = fields.normal_host(parts.hostname or "")
        port = parts.port
    except ValueError:
        raise ValidationError("post_url is not a URL.", field="post_url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError("post_url must be an http or https URL.", field="post_url")
    netloc = f"{host}:{port}" if port else host
    hosts = {a.rpartition("@")[2] for a in site_accounts(site)}
    if not hosts:
        raise ValidationError(
            "The site names no fediverse accounts: set them first (--fediverse-accounts).",
            field="post_url",
            code="forbidden",
        )
    if netloc not in hosts:
        raise ValidationError(
            f"{netloc} is not the server of one of the site's fediverse accounts.",
            field="post_url",
            code="forbidden",
        )
    for pattern in _STATUS_PATHS:
        match = pattern.fullmatch(parts.path)
        if match:
            return url, f"{parts.scheme}://{netloc}", match[1]
    raise ValidationError("post_url is not the address of a post.", field="post_url")


def link_post(
    site: Site, uri: str, url: Any, *, by: str, now: datetime, fetch_now: bool = True
) -> FediversePost:
    """Link a post to the thread of (site, uri) and queue its first fetch; return it.

    Linking a post that is linked already changes nothing (fetch_now asks again at once).

    :raise ValidationError: for a post URL the site does not accept, or too many posts.
    """
    url, server, status_id = parse_post_url(url, site)
    with write_transaction() as session:
        current = session.get(Site, site.id)
        if current is None:  # removed since the caller read it
            raise NotFound(f"There is no site called {site.name!r}.", field="site")
        thread = comments.get_or_create_thread(current, uri, now=now)
        post = session.scalar(
            select(FediversePost).where(
                FediversePost.thread_id == thread.id, FediversePost.url == url
            )
        )
        if post is None:
            linked = session.scalars(
                select(FediversePost.id).where(FediversePost.thread_id == thread.id)
            ).all()
            if len(linked) >= MAX_POSTS_PER_THREAD:
                raise ValidationError(
                    f"A page takes at most {MAX_POSTS_PER_THREAD} fediverse posts.",
                    field="post_url",
                    code="too_long",
                )
            post = FediversePost(
                thread_id=thread.id,
                url=url,
                server=server,
                status_id=status_id,
                linked_by=by,
                created=now,
            )
            session.add(post)
            session.flush()
        elif not fetch_now:
            return post
        # Asked at once (the owner linked it again: "fetch now"); a job of the post's earlier
        # rhythm that comes after this one finds itself early and does nothing.
        schedule_fetch(post, now, at=now)
        return post


def link_quietly(site: Site, uri: str, urls: list[str], *, by: str, now: datetime) -> int:
    """Link the posts a page or the widget names that are new and acceptable; return how many.

    What is not acceptable is dropped without a word: the page's markup or the script tag is
    not the owner speaking to the service.
    """
    linked = 0
    known = set(
        db.session.scalars(
            select(FediversePost.url)
            .join(Thread, Thread.id == FediversePost.thread_id)
            .where(Thread.site_id == site.id, Thread.uri == uri)
        )
    )
    for url in urls[:MAX_POSTS_PER_THREAD]:
        if len(known) + linked >= MAX_POSTS_PER_THREAD:
            break
        if not isinstance(url, str) or url.strip() in known:
            continue
        try:
            link_post(site, uri, url, by=by, now=now, fetch_now=False)
        except ValidationError:
            continue
        linked += 1
    return linked


def declared_posts(page_html: str, base_url: str) -> list[str]:
    """Return the post URLs a page declares: rel="syndication" or class u-syndication links,
    <link rel="alternate"> and <meta name="fediverse:post" content="...">, in order."""
    soup = BeautifulSoup(page_html, "html.parser")
    found: list[str] = []
    for tag in soup.find_all(["a", "link", "meta"], limit=5000):
        rel = tag.get("rel") or []
        classes = tag.get("class") or []
        if tag.name == "meta":
            value = tag.get("content") if tag.get("name") == "fediverse:post" else None
        elif (
            "syndication" in rel
            or "u-syndication" in classes
            or (tag.name == "link" and "alternate" in rel)
        ):
            value = tag.get("href")
        else:
            value = None
        if isinstance(value, str) and value.strip():
            try:
                url = urljoin(base_url, value.strip())
            except ValueError:
                continue
            if url not in found:
                found.append(url)
        if len(found) >= 50:
            break
    return found


def site_posts(site: Site) -> list[tuple[str, FediversePost]]:
    """Return the posts linked to the site's pages, with their pages' uris."""
    return list(
        db.session.execute(
            select(Thread.uri, FediversePost)
            .join(FediversePost, FediversePost.thread_id == Thread.id)
            .where(Thread.site_id == site.id)
            .order_by(Thread.uri, FediversePost.id)
        ).all()
    )


def posts_of(thread_id: int) -> list[FediversePost]:
    """Return the posts linked to a thread, oldest link first."""
    return list(
        db.session.scalars(
            select(FediversePost)
            .where(FediversePost.thread_id == thread_id)
            .order_by(FediversePost.id)
        )
    )


def thread_summary(thread_id: int | None) -> dict:
    """Return what a thread answer says of its fediverse posts: each accepted post's URL and
    counts, and the boosts and favourites of all of them."""
    posts = [p for p in posts_of(thread_id) if p.state in ("ok", "failed")] if thread_id else []
    return {
        "posts": [
            {
                "url": p.url,
                "account": f"@{p.account}" if p.account else None,
                "boosts": p.boosts,
                "favourites": p.favourites,
            }
            for p in posts
            if p.account
        ],
        "boosts": sum(p.boosts for p in posts),
        "favourites": sum(p.favourites for p in posts),
    }


# --- fetching ----------------------------------------------------------------------------------


class ServerFailed(Exception):
    """The server did not give a usable answer: it is asked again after a pause."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PostGone(Exception):
    """The post no longer exists (404, 410)."""


@dataclass
class Reply:
    """One status of a post's context, read from the API's JSON."""

    id: str
    parent: str
    url: str
    uri: str
    name: str
    handle: str
    profile: str
    avatar: str
    html: str
    created: datetime | None
    edited: datetime | None


def refresh_interval(age: timedelta) -> timedelta:
    """Return how long to wait before asking about a post of this age again."""
    for younger_than, interval in REFRESH:
        if age < younger_than:
            return interval
    return REFRESH_OLD


def fetch_post(post_id: int, *, fetcher: Fetcher, now: datetime, secret: str) -> str:
    """Ask the post's server for the post and its replies; store what changed; return what
    happened, in words. The next fetch is queued (unless the post is refused or gone)."""
    post = db.session.get(FediversePost, post_id)
    if post is None or post.state in ("refused", "gone"):
        return "nothing to fetch"
    if post.next_fetch and now < post.next_fetch - EARLY:
        return "not due (a newer fetch is queued)"
    server = db.session.get(FediverseServer, post.server)
    if server is not None and server.retry_after and server.retry_after > now:
        with write_transaction():
            schedule_fetch(db.session.get(FediversePost, post_id), now, at=server.retry_after)
        return f"backing off {post.server} until {server.retry_after:%H:%M}"
    site = post.thread.site
    try:
        status, status_etag = _get_json(
            fetcher, f"{post.server}/api/v1/statuses/{quote(post.status_id)}", post.status_etag
        )
        # Checked on every fetch: the owner may have taken the account off the site's list.
        account = (
            _handle(status.get("account"), post.server) if status is not None else post.account
        )
        if account not in site_accounts(site):
            reason = f"the post is by @{account}, not one of the site's accounts"
            return _refuse(post_id, reason, now)
        context, context_etag = _get_json(
            fetcher,
            f"{post.server}/api/v1/statuses/{quote(post.status_id)}/context",
            post.context_etag,
        )
    except PostGone:
        return _gone(post_id, now)
    except ServerFailed as failure:
        return _fail(post_id, str(failure), failure.retry_after, now)
    return _store(post_id, status, status_etag, context, context_etag, now=now, secret=secret)


def _get_json(fetcher: Fetcher, url: str, etag: str) -> tuple[dict | None, str]:
    """GET url as JSON; return (None, etag) when it did not change since etag."""
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    try:
        fetched = fetcher.request("GET", url, headers=headers)
    except FetchError as error:
        raise ServerFailed(error.message) from None
    if fetched.status == 304 and etag:
        return None, etag
    if fetched.status in (404, 410):
        raise PostGone()
    if fetched.status == 429 or fetched.status >= 500:
        raise ServerFailed(
            f"{url} answered {fetched.status}", _seconds(fetched.headers.get("retry-after", ""))
        )
    if fetched.status != 200:
        raise ServerFailed(f"{url} answered {fetched.status}")
    if fetched.content_type != "application/json":
        raise ServerFailed(f"{url} answered {fetched.content_type or 'no content type'}, not JSON")
    try:
        data = json.loads(fetched.body)
    except (ValueError, RecursionError):
        raise ServerFailed(f"{url} answered malformed JSON") from None
    if not isinstance(data, dict):
        raise ServerFailed(f"{url} answered JSON that is not an object")
    return data, fetched.headers.get("etag", "")[:200]


def _seconds(value: str) -> int | None:
    value = value.strip()
    return min(int(value), int(BACKOFF_MAX.total_seconds())) if value.isdigit() else None


def _handle(account: Any, server: str) -> str:
    """Return an account's handle, user@host (the asking server's host for its own users)."""
    if not isinstance(account, dict):
        return ""
    acct = account.get("acct")
    if not isinstance(acct, str) or not acct or len(acct) > 300:
        return ""
    if "@" not in acct:
        acct = f"{acct}@{server.split('://', 1)[1]}"
    match = _HANDLE.fullmatch(acct)
    return f"{match[1]}@{fields.normal_host(match[2])}".lower() if match else ""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


def _count(value: Any) -> int:
    usable = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return min(value, 10**9) if usable else 0


def _text(value: Any, limit: int) -> str:
    # No NUL reaches a column (PostgreSQL refuses it in text).
    return value[:limit].replace("\x00", "") if isinstance(value, str) else ""


def read_reply(status: Any, server: str, *, content: bool = True) -> Reply | None:
    """Return a context status as a Reply, or None when it is unusable or not public;
    content=False leaves its HTML out (sanitising is the costly part)."""
    if not isinstance(status, dict) or status.get("visibility") not in ("public", "unlisted"):
        return None
    status_id, parent = status.get("id"), status.get("in_reply_to_id")
    if not isinstance(status_id, str) or not isinstance(parent, str):
        return None
    account = status.get("account") if isinstance(status.get("account"), dict) else {}
    url = clip_url(_text(status.get("url"), 2001)) or clip_url(_text(status.get("uri"), 2001))
    handle = _handle(account, server)
    if not url or not handle:
        return None
    name = clip(_clean_line(_text(account.get("display_name"), 1000)), MAX_AUTHOR)
    return Reply(
        id=status_id,
        parent=parent,
        url=url,
        uri=clip_url(_text(status.get("uri"), 2001)),
        name=name or handle.split("@")[0],
        handle=handle,
        profile=clip_url(_text(account.get("url"), 2001)),
        avatar=clip_url(_text(account.get("avatar_static") or account.get("avatar"), 2001)),
        html=reply_html(status) if content else "",
        created=_time(status.get("created_at")),
        edited=_time(status.get("edited_at")),
    )


def reply_html(status: dict) -> str:
    """Return a status's content sanitised, its content warning first."""
    content = sanitize.clean_remote_html(_text(status.get("content"), sanitize.MAX_REMOTE_HTML))
    warning = _clean_line(_text(status.get("spoiler_text"), 500))
    if warning:
        content = f"<p><strong>{html.escape(warning)}</strong></p>{content}"
    return content


def _clean_line(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def replies_in(context: dict, root_id: str, server: str) -> tuple[list[Reply], set[str]]:
    """Return the replies under the post, parents before children (at most MAX_REPLIES), and
    the URLs of every reply the context holds (for what was deleted upstream)."""
    descendants = context.get("descendants")
    children: dict[str, list[Reply]] = {}
    present: set[str] = set()
    raw: dict[int, dict] = {}
    for status in descendants if isinstance(descendants, list) else []:
        reply = read_reply(status, server, content=False)
        if reply is not None:
            children.setdefault(reply.parent, []).append(reply)
            present.update(filter(None, (reply.url, reply.uri)))
            raw[id(reply)] = status
    ordered: list[Reply] = []
    level, depth, seen = [root_id], 0, {root_id}
    while level and depth < MAX_DEPTH and len(ordered) < MAX_REPLIES:
        following = []
        for parent in level:
            for reply in children.get(parent, []):
                if reply.id not in seen and len(ordered) < MAX_REPLIES:
                    seen.add(reply.id)
                    ordered.append(reply)
                    following.append(reply.id)
        level, depth = following, depth + 1
    for reply in ordered:
        reply.html = reply_html(raw[id(reply)])
    return ordered, present


def _store(
    post_id: int,
    status: dict | None,
    status_etag: str,
    context: dict | None,
    context_etag: str,
    *,
    now: datetime,
    secret: str,
) -> str:
    with write_transaction() as session:
        post = session.get(FediversePost, post_id)
        site = post.thread.site
        changed = post.state != "ok"
        first = post.fetched is None
        if status is not None:
            post.account = _handle(status.get("account"), post.server)
            counts = (_count(status.get("reblogs_count")), _count(status.get("favourites_count")))
            changed = changed or counts != (post.boosts, post.favourites)
            post.boosts, post.favourites = counts
            post.posted = post.posted or _time(status.get("created_at"))
            post.status_etag = status_etag
        post.state, post.reason, post.fetched = "ok", "", now
        post.context_etag = context_etag
        added = updated = removed = 0
        if context is not None:
            added, updated, removed = _store_replies(
                session, post, site, context, now, secret, first=first
            )
            changed = changed or bool(added or updated or removed)
        _recover(session, post.server)
        schedule_fetch(post, now)
        if changed:
            comments.touch_thread(session, post.thread_id)
    if context is None:
        return "unchanged"
    return f"{added} new, {updated} changed, {removed} deleted"


def _store_replies(
    session, post, site, context, now, secret, *, first: bool
) -> tuple[int, int, int]:
    replies, present = replies_in(context, post.status_id, post.server)
    stored = list(
        session.scalars(
            select(Comment).where(
                Comment.thread_id == post.thread_id,
                or_(
                    Comment.fediverse_post_id == post.id,
                    Comment.source_url.in_([u for r in replies for u in (r.url, r.uri) if u]),
                    Comment.original_url.in_([u for r in replies for u in (r.url, r.uri) if u]),
                ),
            )
        )
    )
    by_url: dict[str, Comment] = {}
    for comment in stored:
        for url in (comment.source_url, comment.original_url):
            if url:
                by_url.setdefault(url, comment)
    accounts = site_accounts(site)
    nodes: dict[str, Comment | None] = {post.status_id: None}
    added = updated = 0
    for reply in replies:
        if reply.parent not in nodes:
            continue
        parent = nodes[reply.parent]
        comment = by_url.get(reply.url) or by_url.get(reply.uri)
        if comment is not None and comment.kind == "fediverse":
            if comment.fediverse_post_id not in (None, post.id):
                nodes[reply.id] = comment  # another linked post's reply: left to that post
                continue
        if comment is None:
            comment = _new_reply(session, post, reply, parent, site, accounts, now, first)
            added += 1
        elif _update_reply(comment, post, reply, parent, site, now):
            updated += 1
        nodes[reply.id] = comment
        if comment.status != "spam":
            photos.request_photo(secret, comment.author_photo, now=now)
    removed = 0
    for comment in stored:
        if (
            comment.fediverse_post_id == post.id
            and comment.status != "deleted"
            and comment.source_url not in present
        ):
            comments.set_status(
                comment, "deleted", actor="fediverse", reason="deleted on its server", now=now
            )
            removed += 1
    return added, updated, removed


def _submission(reply: Reply) -> spam.Submission:
    return spam.Submission(
        text=sanitize.html_text(reply.html),
        html=reply.html,
        author=reply.name,
        website=reply.profile,
        handle=reply.handle,
    )


def _new_reply(session, post, reply, parent, site, accounts, now, first) -> Comment:
    by_owner = reply.handle in accounts
    if by_owner:
        decision = spam.Decision("approved", "the site's own fediverse account")
    else:
        decision = spam.assess(site, _submission(reply), now=now, guard=False, form_check=None)
    created = min(reply.created or now, now)
    comment = Comment(
        thread_id=post.thread_id,
        parent_id=parent.id if parent else None,
        root_id=comments.root_of(parent),
        kind="fediverse",
        status=decision.status,
        reason=decision.reason[:500],
        created=created,
        by_owner=by_owner,
    )
    _copy(comment, post, reply)
    session.add(comment)
    session.flush()
    comments.record_event(comment, "rules", decision.status, comment.reason, now)
    # The first fetch of a post brings its whole conversation so far: the owner hears only of
    # what waits for them, not of every reply one by one.
    if not first or decision.status == "pending":
        notify.on_comment(comment, "new", now)
    return comment


def _copy(comment: Comment, post: FediversePost, reply: Reply) -> None:
    comment.kind = "fediverse"
    comment.fediverse_post_id = post.id
    comment.source_url = reply.url
    comment.original_url = reply.uri or None
    comment.source_title = ""
    comment.excerpt = ""
    comment.mention_type = "reply"
    comment.author = reply.name
    comment.handle = reply.handle
    comment.website = reply.profile
    comment.author_photo = reply.avatar
    comment.html = reply.html
    comment.text = sanitize.html_text(reply.html)


def _update_reply(comment, post, reply, parent, site, now) -> bool:
    """Bring a stored reply (or the same reply stored from a Webmention) up to date."""
    before = (comment.kind, comment.html, comment.author, comment.website, comment.author_photo)
    if comment.status == "deleted":
        return False  # deleted here (by the owner, or upstream before): it stays deleted
    if comment.kind != "fediverse" and comment.parent_id is None and parent is not None:
        comment.parent_id, comment.root_id = parent.id, comments.root_of(parent)
    _copy(comment, post, reply)
    after = (comment.kind, comment.html, comment.author, comment.website, comment.author_photo)
    if before == after:
        return False
    comment.modified = min(reply.edited or now, now)
    if comment.status == "approved" and before[1] != comment.html and not comment.by_owner:
        decision = spam.assess(site, _submission(reply), now=now, guard=False, form_check=None)
        if decision.status != "approved":
            comment.status = decision.status
            comment.reason = f"edited on its server; {decision.reason}"[:500]
            comments.record_event(comment, "rules", decision.status, comment.reason, now)
            notify.on_comment(comment, "new", now)
    return True


def _refuse(post_id: int, reason: str, now: datetime) -> str:
    with write_transaction() as session:
        post = session.get(FediversePost, post_id)
        post.state, post.reason, post.fetched = "refused", reason[:500], now
        _remove_replies(session, post, "the post is not accepted", now)
        comments.touch_thread(session, post.thread_id)
    return reason


def _gone(post_id: int, now: datetime) -> str:
    with write_transaction() as session:
        post = session.get(FediversePost, post_id)
        post.state, post.reason, post.fetched = "gone", "the post was deleted", now
        _remove_replies(session, post, "the post was deleted on its server", now)
        comments.touch_thread(session, post.thread_id)
    return "the post is gone"


def _remove_replies(session, post: FediversePost, reason: str, now: datetime) -> None:
    for comment in session.scalars(
        select(Comment).where(Comment.fediverse_post_id == post.id, Comment.status != "deleted")
    ):
        comments.set_status(comment, "deleted", actor="fediverse", reason=reason, now=now)


def _fail(post_id: int, reason: str, retry_after: int | None, now: datetime) -> str:
    with write_transaction() as session:
        post = session.get(FediversePost, post_id)
        server = session.get(FediverseServer, post.server)
        if server is None:
            server = FediverseServer(server=post.server, failures=0)
            session.add(server)
        server.failures = min((server.failures or 0) + 1, 30)
        pause = min(BACKOFF_FIRST * 2 ** (server.failures - 1), BACKOFF_MAX)
        if retry_after:
            pause = max(pause, timedelta(seconds=retry_after))
        server.retry_after, server.last_error = now + pause, reason[:500]
        if post.state != "ok":
            post.state = "failed"
        post.reason, post.fetched = reason[:500], now
        # Asked again once the server's pause is over, whatever the post's age says.
        schedule_fetch(post, now, at=server.retry_after)
    return f"failed: {reason}"


def _recover(session, server_name: str) -> None:
    server = session.get(FediverseServer, server_name)
    if server is not None and server.failures:
        server.failures, server.retry_after, server.last_error = 0, None, ""


def schedule_fetch(post: FediversePost, now: datetime, at: datetime | None = None) -> None:
    """Queue the post's next fetch (in the caller's transaction): at the time given, now for a
    new post, else by its age."""
    if at is not None:
        when = at
    elif post.fetched is None and post.state == "pending":
        when = now
    else:
        when = now + refresh_interval(now - (post.posted or post.created))
    post.next_fetch = when
    queue.enqueue(JOB_KIND, {"post": post.id}, now=when)


@queue.handler(JOB_KIND)
def run_fetch_post(payload: dict) -> None:
    from flask import current_app

    now = current_app.extensions["clock"]()
    try:
        fetch_post(
            payload["post"],
            fetcher=current_app.extensions["fetcher"],
            now=now,
            secret=current_app.config["SECRET_KEY"],
        )
    except Exception:
        # The job fails (and shows on the Jobs page), but the post is asked again later: one
        # bad answer must not end its fetches.
        db.session.rollback()
        with write_transaction() as session:
            post = session.get(FediversePost, payload["post"])
            if post is not None and post.state not in ("refused", "gone"):
                schedule_fetch(post, now, at=now + BACKOFF_MAX)
        raise


# --- moderation --------------------------------------------------------------------------------


def ban_server(comment_id: int, *, actor: str, now: datetime) -> int:
    """Ban the server of a fediverse reply's author everywhere, and mark every reply from it
    that is not deleted as spam; return how many were marked."""
    from commentsvc import moderation

    comment = moderation.get_comment(comment_id)
    host = comment.handle.rpartition("@")[2]
    if not host:
        raise ValidationError("This comment has no fediverse handle.", field="kind")
    moderation.add_ban(
        "domain", host, reason=f"server of comment {comment.id}", actor=actor, now=now
    )
    marked = 0
    with write_transaction() as session:
        for spammy in session.scalars(
            select(Comment).where(
                Comment.kind == "fediverse",
                Comment.handle.endswith(f"@{host}", autoescape=True),
                Comment.status.in_(("approved", "pending")),
            )
        ):
            comments.set_status(spammy, "spam", actor=actor, reason=f"ban: domain {host}", now=now)
            marked += 1
    return marked
