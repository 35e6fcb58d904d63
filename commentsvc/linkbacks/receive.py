"""Receiving linkbacks: check, verify by fetching the source, store under the site's rules."""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select

from commentsvc import comments
from commentsvc import notify
from commentsvc import queue
from commentsvc import spam
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.fields import origin_of
from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.linkbacks.verify import Found
from commentsvc.linkbacks.verify import find_link
from commentsvc.linkbacks.verify import normalise_url
from commentsvc.models import Comment
from commentsvc.models import Mention
from commentsvc.models import Site
from commentsvc.models import Thread
from commentsvc.ratelimit import Limiter
from commentsvc.sites import list_sites
from commentsvc.sites import thread_uri

# Pingback 1.0's fault codes; Webmention answers with the same reasons in words.
GENERIC = 0
SOURCE_MISSING = 0x10
NO_LINK = 0x11
TARGET_MISSING = 0x20
TARGET_UNUSABLE = 0x21
ALREADY_REGISTERED = 0x30
ACCESS_DENIED = 0x31
UPSTREAM_ERROR = 0x32

MAX_URL_LENGTH = 1000
CLIENT_LIMITS = ("10 per minute", "200 per day")
SOURCE_HOST_LIMITS = ("20 per minute", "500 per day")
FAILURE_MEMORY = "1 per 10 minutes"
VERIFY_FAULTS = (SOURCE_MISSING, NO_LINK, TARGET_MISSING, UPSTREAM_ERROR)


class LinkbackError(Exception):
    """A linkback that is refused, with its Pingback fault code and a plain message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Context:
    """The edges a linkback needs: the fetcher, the limiter, the clock, who asked."""

    fetcher: Fetcher
    limiter: Limiter | None
    guard: bool
    now: datetime
    address: str = ""  # the keyed hash of the client's address
    requested_by: str = ""  # the client's address, named in the User-Agent of the fetch


@dataclass(frozen=True)
class Target:
    site: Site
    uri: str
    thread: Thread | None


# --- checks before any fetch -------------------------------------------------------------------


def check_urls(source: object, target: object) -> tuple[str, str]:
    """Return both URLs when they are usable http(s) URLs that differ; refuse otherwise."""
    if not _is_http_url(source):
        raise LinkbackError(SOURCE_MISSING, "The source must be an http or https URL.")
    if not _is_http_url(target):
        raise LinkbackError(TARGET_MISSING, "The target must be an http or https URL.")
    if normalise_url(source) == normalise_url(target):
        raise LinkbackError(GENERIC, "The source and the target are the same page.")
    return source.strip(), target.strip()


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or not value.strip():
        return False
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value.strip()


def resolve_target(target: str) -> Target:
    """Return the site and thread a target URL belongs to.

    :raise LinkbackError: 0x21 when it is under no site or the site takes no linkbacks.
    """
    for site in list_sites():
        uri = thread_uri(site, target)
        if uri is not None:
            if not site.linkbacks:
                raise LinkbackError(TARGET_UNUSABLE, "This site does not accept linkbacks.")
            return Target(site, uri, comments.get_thread(site, uri))
    raise LinkbackError(TARGET_UNUSABLE, "The target is not a page of a site served here.")


def limit_client(ctx: Context) -> None:
    """Refuse a flood of linkbacks from one client (0x31)."""
    if not (ctx.guard and ctx.limiter):
        return
    for limit in CLIENT_LIMITS:
        if ctx.limiter.hit(limit, "linkback-client", ctx.address):
            raise LinkbackError(ACCESS_DENIED, "Too many linkbacks from your address; try later.")


def refuse_banned(site: Site, source: str, address: str) -> None:
    """Refuse a source whose domain (or whose sender) is banned (0x31)."""
    ban = spam.find_ban(site, spam.Submission(text="", html="", website=source, address=address))
    if ban:
        raise LinkbackError(ACCESS_DENIED, "Linkbacks from this source are not accepted here.")


def existing_linkback(target: Target, source: str) -> Comment | None:
    """Return the linkback already stored for this source in the target's thread."""
    if target.thread is None:
        return None
    return db.session.scalar(
        select(Comment).where(Comment.thread_id == target.thread.id, Comment.source_url == source)
    )


# --- verification -------------------------------------------------------------------------------


def verify(source: str, target: Target, target_url: str, ctx: Context, *, media: bool) -> Found:
    """Fetch the source and find its link to the target; a failure is remembered for a while,
    so that the same refused ping costs no second fetch."""
    _refuse_recent_failure(source, target_url, ctx)
    try:
        return _verify(source, target, target_url, ctx, media=media)
    except LinkbackError as error:
        if ctx.limiter and error.code in VERIFY_FAULTS:
            ctx.limiter.hit(FAILURE_MEMORY, "linkback-failed", str(error.code), source, target_url)
        raise


def _refuse_recent_failure(source: str, target_url: str, ctx: Context) -> None:
    if not ctx.limiter:
        return
    for code in VERIFY_FAULTS:
        if ctx.limiter.seen(FAILURE_MEMORY, "linkback-failed", str(code), source, target_url):
            raise LinkbackError(
                code,
                "This source was checked a moment ago and did not verify; "
                "try again in a few minutes.",
            )


def _verify(source: str, target: Target, target_url: str, ctx: Context, *, media: bool) -> Found:
    if ctx.guard and ctx.limiter:
        host = (urlsplit(source).hostname or "").lower()
        for limit in SOURCE_HOST_LIMITS:
            if ctx.limiter.hit(limit, "linkback-host", host):
                raise LinkbackError(ACCESS_DENIED, f"Too many linkbacks from {host}; try later.")
    fetched = fetch_source(source, ctx)
    found = find_link(fetched, target_url, media=media)
    if found is None:
        raise LinkbackError(NO_LINK, "The source does not link to the target.")
    if target.thread is None:
        _check_target_exists(target_url, ctx)
    return found


def fetch_source(source: str, ctx: Context, *, background: bool = False):
    """Fetch the source page; map what went wrong to the Pingback fault that says so.

    In the background (Webmention), a 410 answers None, and an unreachable server counts as an
    upstream error, so that the mention is kept and tried again later.
    """
    try:
        return ctx.fetcher.get(source, requested_by=ctx.requested_by)
    except FetchError as error:
        if background and error.status == 410:
            return None
        upstream = error.kind == "timeout" or (error.status or 0) >= 500
        if upstream or (background and error.kind == "unreachable"):
            code = UPSTREAM_ERROR
        else:
            code = SOURCE_MISSING
        raise LinkbackError(code, f"The source could not be fetched: {error.message}.") from None


def _check_target_exists(target_url: str, ctx: Context) -> None:
    try:
        ctx.fetcher.get(target_url, requested_by=ctx.requested_by)
    except FetchError:
        raise LinkbackError(TARGET_MISSING, "The target page does not exist.") from None


# --- storing -------------------------------------------------------------------------------------


def store(target: Target, source: str, found: Found, *, kind: str, ctx: Context) -> Comment:
    """Store (or update) the linkback of source in the target's thread, moderated like a comment."""
    with write_transaction():
        site = db.session.get(Site, target.site.id)
        thread = comments.get_or_create_thread(site, target.uri, now=ctx.now)
        comment = db.session.scalar(
            select(Comment).where(Comment.thread_id == thread.id, Comment.source_url == source)
        )
        created = comment is None
        if created:
            comment = Comment(
                thread_id=thread.id,
                kind=kind,
                source_url=source,
                created=ctx.now,
                remote_hash=ctx.address,
            )
            db.session.add(comment)
        else:
            comment.modified = ctx.now
        comment.source_title = found.title
        comment.excerpt = found.excerpt
        comment.author = found.author or ""
        comment.website = found.author_url or ""
        comment.author_photo = found.author_photo
        comment.mention_type = found.mention_type if kind == "webmention" else ""
        comment.text = found.excerpt
        # Text from the source is escaped, never trusted as HTML.
        comment.html = f"<p>{html.escape(found.excerpt)}</p>" if found.excerpt else ""
        submission = spam.Submission(
            text=f"{found.title}\n{found.excerpt}",
            html="",
            author=comment.author,
            website=source,
            address=ctx.address,
        )
        if created or comment.status == "deleted":
            decision = spam.assess(site, submission, now=ctx.now, guard=False, form_check=None)
            comment.status, comment.reason = decision.status, decision.reason
            db.session.flush()
            comments.record_event(comment, "rules", decision.status, decision.reason, ctx.now)
            notify.on_comment(comment, "new", ctx.now)
        db.session.flush()
        comments.touch_thread(db.session, thread.id)
        return comment


def remove(target: Target, source: str, reason: str, now: datetime) -> Comment | None:
    """Delete the linkback of source from the target's thread (a 410, or the link is gone)."""
    with write_transaction():
        comment = existing_linkback(target, source)
        if comment is None or comment.status == "deleted":
            return comment
        comments.set_status(comment, "deleted", actor="source", reason=reason, now=now)
        return comment


# --- Pingback ------------------------------------------------------------------------------------


def receive_pingback(source: object, target_url: object, ctx: Context) -> str:
    """Verify and store a pingback; return the success string, or raise its fault."""
    source, target_url = check_urls(source, target_url)
    limit_client(ctx)
    target = resolve_target(target_url)
    existing = existing_linkback(target, source)
    if existing is not None and existing.status != "deleted":
        raise LinkbackError(ALREADY_REGISTERED, "This pingback is registered already.")
    refuse_banned(target.site, source, ctx.address)
    found = verify(source, target, target_url, ctx, media=False)
    store(target, source, found, kind="pingback", ctx=ctx)
    return f"Thanks: the pingback from {source} to {target_url} is registered."


def pingbacks_of(target_url: object) -> list[str]:
    """Return the sources of the published pingbacks to a page (pingback.extensions)."""
    if not _is_http_url(target_url):
        raise LinkbackError(TARGET_MISSING, "The URL must be an http or https URL.")
    target = resolve_target(target_url.strip())
    if target.thread is None:
        return []
    return list(
        db.session.scalars(
            select(Comment.source_url)
            .where(
                Comment.thread_id == target.thread.id,
                Comment.kind == "pingback",
                Comment.status == "approved",
            )
            .order_by(Comment.created, Comment.id)
        )
    )


# --- Webmention ------------------------------------------------------------------------------


def receive_webmention(source: object, target_url: object, ctx: Context) -> Mention:
    """Check a Webmention at once and queue its verification; return its status record."""
    source, target_url = check_urls(source, target_url)
    limit_client(ctx)
    target = resolve_target(target_url)
    refuse_banned(target.site, source, ctx.address)
    with write_transaction():
        mention = db.session.scalar(
            select(Mention).where(Mention.source == source, Mention.target == target_url)
        )
        if mention is None:
            mention = Mention(
                key=secrets.token_urlsafe(18), source=source, target=target_url, created=ctx.now
            )
            db.session.add(mention)
        mention.status, mention.reason, mention.updated = "pending", "", ctx.now
        mention.remote_hash = ctx.address
        db.session.flush()
        queue.enqueue(
            "webmention", {"mention": mention.id, "requested_by": ctx.requested_by}, now=ctx.now
        )
        return mention


def process_webmention(mention_id: int, ctx: Context) -> Mention:
    """Verify a queued Webmention: store, update or remove the mention as the source says."""
    mention = db.session.get(Mention, mention_id)
    if mention is None:
        return None
    source, target_url = mention.source, mention.target
    try:
        target = resolve_target(target_url)
        fetched = fetch_source(source, ctx, background=True)
        if fetched is None:  # 410 Gone
            _settle(
                mention,
                "deleted",
                "The source is gone (410).",
                remove(target, source, "the source answered 410 Gone", ctx.now),
                ctx,
            )
            return mention
        found = find_link(fetched, target_url, media=True)
        if found is None:
            removed = remove(target, source, "the source no longer links here", ctx.now)
            if removed is not None:
                _settle(
                    mention, "deleted", "The source no longer links to the target.", removed, ctx
                )
            else:
                _settle(mention, "rejected", "The source does not link to the target.", None, ctx)
            return mention
        if target.thread is None:
            _check_target_exists(target_url, ctx)
        comment = store(target, source, found, kind="webmention", ctx=ctx)
        _settle(
            mention,
            "verified",
            f"Stored as a {found.mention_type} ({comment.status}).",
            comment,
            ctx,
        )
    except LinkbackError as error:
        if error.code == UPSTREAM_ERROR:
            raise queue.Retry(error.message) from None
        _settle(mention, "rejected", error.message, None, ctx)
    return mention


def _settle(
    mention: Mention, status: str, reason: str, comment: Comment | None, ctx: Context
) -> None:
    with write_transaction():
        mention = db.session.get(Mention, mention.id)
        mention.status, mention.reason, mention.updated = status, reason[:500], ctx.now
        if comment is not None:
            mention.comment_id = comment.id


# --- verifying again ------------------------------------------------------------------------------


def reverify(comment: Comment, ctx: Context) -> str:
    """Check a stored linkback's source again; return what came of it, in words."""
    if comment.kind == "webmention":
        with write_transaction():
            mention = db.session.scalar(select(Mention).where(Mention.comment_id == comment.id))
            if mention is None:
                return "No Webmention record belongs to this comment."
            mention.status, mention.reason, mention.updated = "pending", "", ctx.now
            queue.enqueue("webmention", {"mention": mention.id, "requested_by": ""}, now=ctx.now)
        return "Queued for verification."
    site = comment.thread.site
    target_url = origin_of(site.url) + comment.thread.uri
    target = Target(site, comment.thread.uri, comment.thread)
    try:
        fetched = ctx.fetcher.get(comment.source_url)
    except FetchError as error:
        return f"The source could not be fetched ({error.message}); the linkback is kept."
    found = find_link(fetched, target_url)
    if found is None:
        remove(target, comment.source_url, "the source no longer links here", ctx.now)
        return "The source no longer links here: the linkback was deleted."
    store(target, comment.source_url, found, kind=comment.kind, ctx=ctx)
    return "Verified again; the title and excerpt are up to date."
