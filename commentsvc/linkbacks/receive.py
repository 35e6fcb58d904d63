"""Receiving linkbacks: check, verify by fetching the source, store under the site's rules.

Refusals are the named errors of errors.py; each carries its HTTP status and code (Webmention)
and its Pingback fault code, so that both endpoints answer the same refusal the same way.
"""

from __future__ import annotations

import html
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select

from commentsvc import comments
from commentsvc import notify
from commentsvc import photos
from commentsvc import queue
from commentsvc import spam
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.errors import AlreadyRegistered
from commentsvc.errors import Forbidden
from commentsvc.errors import InvalidSource
from commentsvc.errors import InvalidTarget
from commentsvc.errors import NoLinkToTarget
from commentsvc.errors import RateLimited
from commentsvc.errors import ServiceError
from commentsvc.errors import SourceNotAllowed
from commentsvc.errors import SourceNotFound
from commentsvc.errors import TargetNotAccepted
from commentsvc.errors import TargetNotFound
from commentsvc.errors import UpstreamError
from commentsvc.errors import ValidationError
from commentsvc.fields import origin_of
from commentsvc.fields import url_host
from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.linkbacks.urls import host_of
from commentsvc.linkbacks.urls import normalise_url
from commentsvc.linkbacks.verify import MAX_AUTHOR
from commentsvc.linkbacks.verify import MAX_TITLE
from commentsvc.linkbacks.verify import MAX_URL
from commentsvc.linkbacks.verify import Found
from commentsvc.linkbacks.verify import clip
from commentsvc.linkbacks.verify import clip_excerpt
from commentsvc.linkbacks.verify import clip_url
from commentsvc.linkbacks.verify import find_link
from commentsvc.models import Comment
from commentsvc.models import Mention
from commentsvc.models import Site
from commentsvc.models import Thread
from commentsvc.sites import list_sites
from commentsvc.sites import thread_uri

log = logging.getLogger(__name__)

MAX_URL_LENGTH = MAX_URL
CLIENT_LIMITS = ("10 per minute", "200 per day")
SOURCE_HOST_LIMITS = ("20 per minute", "500 per day")
FAILURE_MEMORY = "1 per 10 minutes"
# Verification failures remembered for a while (by their Pingback fault code).
VERIFY_FAILURES = {
    error.fault: error for error in (SourceNotFound, NoLinkToTarget, TargetNotFound, UpstreamError)
}


class Gate:
    """Bound the synchronous verifications of one process: in all, and per client and source.

    A pingback is verified while its caller waits; without this, a few slow sources from one
    client hold every worker thread (and /healthz with them) for the whole fetch deadline.
    """

    def __init__(self, total: int = 2, per_key: int = 1, wait: float = 1.0):
        self.total, self.per_key, self.wait = total, per_key, wait
        self._running: Counter[str] = Counter()
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, *keys: str) -> Iterator[None]:
        """Run the block once a place is free for every key; refuse after a short wait.

        :raise RateLimited: when no place is free within the wait.
        """
        deadline = time.monotonic() + self.wait
        with self._changed:
            while not self._free(keys):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RateLimited(
                        "Too many linkbacks are being verified at once; try again in a minute.",
                        retry_after=30,
                    )
                self._changed.wait(remaining)
            self._running.update(("", *keys))
        try:
            yield
        finally:
            with self._changed:
                for key in ("", *keys):
                    self._running[key] -= 1
                    if key and self._running[key] <= 0:
                        del self._running[key]  # one entry per client ever seen would pile up
                self._changed.notify_all()

    def running(self) -> int:
        """Return how many verifications hold a place now."""
        return self._running[""]

    def _free(self, keys: tuple[str, ...]) -> bool:
        return self._running[""] < self.total and all(
            self._running[key] < self.per_key for key in keys
        )


@dataclass(frozen=True)
class Context:
    """The edges a linkback needs: the fetcher, the limiter, the clock, who asked."""

    fetcher: Fetcher
    guard: spam.Guard  # the limiter (also the memory of failed checks) and the secret
    now: datetime
    address: str = ""  # the keyed hash of the client's address
    requested_by: str = ""  # "client <keyed hash of its address>", named in the fetch's User-Agent
    gate: Gate | None = None
    # The service's own hosts (host[:port]): its pages are never a linkback's source, except
    # those under own_pages_allowed (the demo blog's pages, when the demo is on).
    own_hosts: tuple[str, ...] = ()
    own_pages_allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    site: Site
    uri: str
    thread: Thread | None


# --- checks before any fetch -------------------------------------------------------------------


def check_urls(source: object, target: object, ctx: Context | None = None) -> tuple[str, str]:
    """Return both URLs, normalised, when they are usable http(s) URLs that differ.

    :raise InvalidSource, InvalidTarget: (0x10, 0x20) for anything but an http(s) URL.
    :raise SourceNotAllowed: (0x31) for a page of the service itself.
    """
    source_url = _http_url(source)
    if source_url is None:
        raise InvalidSource("The source must be an http or https URL.", field="source")
    target_url = _http_url(target)
    if target_url is None:
        raise InvalidTarget("The target must be an http or https URL.", field="target")
    if source_url == target_url:
        raise ValidationError(
            "The source and the target are the same page.", field="target", code="same_page"
        )
    if ctx is not None:
        _refuse_own_page(source_url, ctx)
    return source_url, target_url


def _http_url(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or not value.strip():
        return None
    value = value.strip()
    if any(c.isspace() or not c.isprintable() for c in value):
        return None
    try:
        url = normalise_url(value)
    except ValueError:
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None


def _refuse_own_page(source: str, ctx: Context) -> None:
    if is_own_page(source, ctx):
        raise SourceNotAllowed(
            "The source is a page of this comment service; it cannot be a linkback's source.",
            field="source",
        )


def is_own_page(url: str, ctx: Context) -> bool:
    """Tell whether url is one of the service's own pages (asked of every redirect too)."""
    if not ctx.own_hosts or host_of(url) not in ctx.own_hosts:
        return False
    return not urlsplit(url).path.startswith(ctx.own_pages_allowed or "\0")


def own_hosts(*urls: str) -> tuple[str, ...]:
    """Return the normalised host[:port] of each URL or bare host, as http and https see it."""
    hosts = set()
    for url in filter(None, urls):
        bare = url.split("//", 1)[-1].split("/", 1)[0]
        hosts.update(host_of(f"{scheme}://{bare}") for scheme in ("http", "https"))
    return tuple(sorted(hosts - {""}))


def resolve_target(target: str) -> Target:
    """Return the site and thread a target URL belongs to.

    :raise TargetNotAccepted: (0x21) under no site, or the site takes no linkbacks.
    """
    for site in list_sites():
        uri = thread_uri(site, target)
        if uri is not None:
            if not site.linkbacks:
                raise TargetNotAccepted("This site does not accept linkbacks.", field="target")
            return Target(site, uri, comments.get_thread(site, uri))
    raise TargetNotAccepted("The target is not a page of a site served here.", field="target")


def limit_client(ctx: Context) -> None:
    """Refuse a flood of linkbacks from one client (429, 0x31)."""
    if not ctx.guard.limits:
        return
    for limit in CLIENT_LIMITS:
        if ctx.guard.limits.hit(limit, "linkback-client", ctx.address):
            raise RateLimited("Too many linkbacks from your address; try later.", retry_after=60)


def refuse_banned(site: Site, source: str, address: str) -> None:
    """Refuse a source whose domain (or whose sender) is banned (403, 0x31)."""
    ban = spam.find_ban(site, spam.Submission(text="", html="", website=source, address=address))
    if ban:
        raise Forbidden("Linkbacks from this source are not accepted here.", field="source")


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
    except ServiceError as error:
        memory = ctx.guard.limiter
        if memory and error.fault in VERIFY_FAILURES:
            memory.hit(FAILURE_MEMORY, "linkback-failed", str(error.fault), source, target_url)
        raise


def _refuse_recent_failure(source: str, target_url: str, ctx: Context) -> None:
    memory = ctx.guard.limiter
    if not memory:
        return
    for fault, error in VERIFY_FAILURES.items():
        if memory.seen(FAILURE_MEMORY, "linkback-failed", str(fault), source, target_url):
            raise error(
                "This source was checked a moment ago and did not verify; "
                "try again in a few minutes.",
                field="source",
            )


def _verify(source: str, target: Target, target_url: str, ctx: Context, *, media: bool) -> Found:
    host = url_host(source)
    if ctx.guard.limits:
        for limit in SOURCE_HOST_LIMITS:
            if ctx.guard.limits.hit(limit, "linkback-host", host):
                raise RateLimited(f"Too many linkbacks from {host}; try later.", retry_after=60)
    fetched = fetch_source(source, ctx)
    found = find_link(fetched, target_url, media=media)
    if found is None:
        raise NoLinkToTarget("The source does not link to the target.", field="source")
    if target.thread is None:
        _check_target_exists(target_url, ctx)
    return found


def fetch_source(source: str, ctx: Context, *, background: bool = False):
    """Fetch the source page; map what went wrong to the refusal that says so.

    In the background (Webmention), a 410 answers None, and an unreachable server counts as an
    upstream error, so that the mention is kept and tried again later.
    """
    try:
        return ctx.fetcher.get(
            source, requested_by=ctx.requested_by, refuse=lambda url: is_own_page(url, ctx)
        )
    except FetchError as error:
        if background and error.status == 410:
            return None
        if error.kind == "own_page":
            raise SourceNotAllowed(
                "The source redirects to a page of this comment service.", field="source"
            ) from None
        message = f"The source could not be fetched: {error.message}."
        if error.kind == "timeout" or (error.status or 0) >= 500:
            raise UpstreamError(message, field="source") from None
        if background and error.kind == "unreachable":
            raise UpstreamError(message, field="source") from None
        raise SourceNotFound(message, field="source") from None


def _check_target_exists(target_url: str, ctx: Context) -> None:
    try:
        ctx.fetcher.get(target_url, requested_by=ctx.requested_by)
    except FetchError:
        raise TargetNotFound("The target page does not exist.", field="target") from None


# --- storing -------------------------------------------------------------------------------------


def store(target: Target, source: str, found: Found, *, kind: str, ctx: Context) -> Comment:
    """Store (or update) the linkback of source in the target's thread, moderated like a comment.

    New content, and changed content of a published linkback, go through the site's rules; a
    held or spam linkback stays as the rules or the owner left it.
    """
    title = clip(found.title, MAX_TITLE)
    excerpt = clip_excerpt(found.excerpt)
    author = clip(found.author or "", MAX_AUTHOR)
    with write_transaction():
        site = db.session.get(Site, target.site.id)
        thread = comments.get_or_create_thread(site, target.uri, now=ctx.now)
        comment = db.session.scalar(
            select(Comment).where(Comment.thread_id == thread.id, Comment.source_url == source)
        )
        same = comment or _same_reply(thread.id, found.original_url)
        if same is not None and same.kind == "fediverse":
            # The reply is stored from the fediverse already (Bridgy sends its copy, or the
            # original's own address): one comment, kept as the fediverse gave it.
            return same
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
        changed = (comment.source_title, comment.excerpt, comment.author) != (
            title,
            excerpt,
            author,
        )
        if not created:
            comment.modified = ctx.now
        comment.source_title = title
        comment.excerpt = excerpt
        comment.author = author
        comment.website = clip_url(found.author_url or "")
        comment.author_photo = clip_url(found.author_photo or "")
        comment.mention_type = found.mention_type if kind == "webmention" else ""
        comment.original_url = found.original_url or None
        comment.text = excerpt
        # Text from the source is escaped, never trusted as HTML.
        comment.html = f"<p>{html.escape(excerpt)}</p>" if excerpt else ""
        if created or comment.status == "deleted" or (changed and comment.status == "approved"):
            submission = spam.Submission(
                text=f"{title}\n{excerpt}",
                html="",
                author=author,
                website=source,
                address=ctx.address,
            )
            decision = spam.assess(site, submission, now=ctx.now, guard=False, form_check=None)
            fresh = created or comment.status == "deleted"
            reason = decision.reason if fresh else f"changed by its source; {decision.reason}"
            comment.status, comment.reason = decision.status, reason[:500]
            db.session.flush()
            comments.record_event(comment, "rules", decision.status, comment.reason, ctx.now)
            if fresh or decision.status != "approved":
                # Held again: the owner hears of it as of a new one, to moderate it.
                notify.on_comment(comment, "new", ctx.now)
        if comment.status != "spam":  # spam shows no photo: nothing to fetch and keep for it
            photos.request_photo(ctx.guard.secret, comment.author_photo, now=ctx.now)
        db.session.flush()
        comments.touch_thread(db.session, thread.id)
        return comment


def _same_reply(thread_id: int, original_url: str) -> Comment | None:
    if not original_url:
        return None
    return db.session.scalar(
        select(Comment)
        .where(
            Comment.thread_id == thread_id,
            (Comment.source_url == original_url) | (Comment.original_url == original_url),
        )
        .limit(1)
    )


def remove(target: Target, source: str, reason: str, now: datetime) -> Comment | None:
    """Delete the linkback of source from the target's thread (a 410, or the link is gone)."""
    with write_transaction():
        comment = existing_linkback(target, source)
        # A fediverse reply comes and goes with its server, not with a Webmention's source.
        if comment is None or comment.status == "deleted" or comment.kind == "fediverse":
            return comment
        comments.set_status(comment, "deleted", actor="source", reason=reason, now=now)
        return comment


# --- Pingback ------------------------------------------------------------------------------------


def receive_pingback(source: object, target_url: object, ctx: Context) -> str:
    """Verify and store a pingback; return the success string, or raise its refusal.

    The verification runs while the caller waits, through ctx.gate: one client, or one source
    host, holds at most one of the process's few verification places.
    """
    source, target_url = check_urls(source, target_url, ctx)
    limit_client(ctx)
    target = resolve_target(target_url)
    existing = existing_linkback(target, source)
    if existing is not None and existing.status != "deleted":
        raise AlreadyRegistered("This pingback is registered already.", field="source")
    refuse_banned(target.site, source, ctx.address)
    host = urlsplit(source).hostname or ""
    if ctx.gate is None:
        found = verify(source, target, target_url, ctx, media=False)
    else:
        with ctx.gate.hold(f"client:{ctx.address}", f"host:{host}"):
            found = verify(source, target, target_url, ctx, media=False)
    store(target, source, found, kind="pingback", ctx=ctx)
    return f"Thanks: the pingback from {source} to {target_url} is registered."


def pingbacks_of(target_url: object) -> list[str]:
    """Return the sources of the published pingbacks to a page (pingback.extensions)."""
    url = _http_url(target_url)
    if url is None:
        raise InvalidTarget("The URL must be an http or https URL.", field="target")
    target = resolve_target(url)
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
    source, target_url = check_urls(source, target_url, ctx)
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
    except UpstreamError as error:
        raise queue.Retry(error.message) from None
    except ServiceError as error:
        _settle(mention, "rejected", error.message, None, ctx)
    except Exception:  # noqa: BLE001 - whatever the source did, the mention gets an answer
        db.session.rollback()
        log.exception("verifying Webmention %s failed", mention_id)
        _settle(mention, "rejected", "The source could not be read.", None, ctx)
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
        fetched = ctx.fetcher.get(comment.source_url, refuse=lambda url: is_own_page(url, ctx))
    except FetchError as error:
        return f"The source could not be fetched ({error.message}); the linkback is kept."
    found = find_link(fetched, target_url)
    if found is None:
        remove(target, comment.source_url, "the source no longer links here", ctx.now)
        return "The source no longer links here: the linkback was deleted."
    store(target, comment.source_url, found, kind=comment.kind, ctx=ctx)
    return "Verified again; the title and excerpt are up to date."
