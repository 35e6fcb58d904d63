"""Guards against abuse, and the moderation decision for each new comment or linkback."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import bindparam
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import tuple_

from commentsvc import fields
from commentsvc import tokens
from commentsvc.db import db
from commentsvc.errors import Conflict
from commentsvc.errors import RateLimited
from commentsvc.models import Ban
from commentsvc.models import Comment
from commentsvc.models import Site
from commentsvc.models import Thread
from commentsvc.ratelimit import Limiter
from commentsvc.sanitize import count_links

# The flood window (one post per address per few seconds), then the wider rate limits.
POST_LIMITS = ("1 per 5 seconds", "10 per 10 minutes", "60 per day")
LIKE_LIMITS = ("30 per minute", "500 per day")
# Previews and edits render Markdown for anyone who asks: a share of a worker, not all of it.
RENDER_LIMITS = ("30 per minute", "500 per day")
# Each sign-in makes the service ask a provider (discovery, keys, token): a stranger may start it.
SIGN_IN_LIMITS = ("10 per minute", "60 per hour")
TIME_TRAP_MIN = timedelta(seconds=2)
TIME_TRAP_MAX = timedelta(days=2)
DUPLICATE_WINDOW = timedelta(days=1)
DUPLICATE_RECENT = 50  # the client's comments in the thread that a new one is compared with


@dataclass(frozen=True)
class Guard:
    """The guard's edges, one bundle for comments, likes and linkbacks: the shared limiter,
    whether the guard is on (off in tests and benchmarks), and the app's signing secret."""

    limiter: Limiter | None
    enabled: bool
    secret: str

    @classmethod
    def of(cls, app) -> Guard:
        """Return the guard of a Flask app (its limiter, GUARD setting and SECRET_KEY)."""
        return cls(
            limiter=app.extensions.get("limiter"),
            enabled=app.config["GUARD"],
            secret=app.config["SECRET_KEY"],
        )

    @property
    def limits(self) -> Limiter | None:
        """The limiter when the guard is on; None when nothing is to be limited."""
        return self.limiter if self.enabled else None


@dataclass(frozen=True)
class Submission:
    """What the moderation rules look at in a new comment."""

    text: str
    html: str
    author: str = ""
    email: str = ""
    website: str = ""
    address: str = ""  # the keyed hash of the client address, never the address itself
    honeypot: str = ""
    form_token: str | None = None
    handle: str = ""  # a fediverse reply's author, user@host
    # A signed-in reader: their identity's id, and "provider:subject" as bans name it.
    identity_id: int | None = None
    identity: str = ""


@dataclass(frozen=True)
class Decision:
    """A status (approved, pending or spam) and why."""

    status: str
    reason: str


def limit_posts(limiter: Limiter, address: str) -> None:
    """Count a post from the address against the flood window and the rate limits.

    :raise RateLimited: when one of them is exceeded.
    """
    _limit(limiter, "post", address, POST_LIMITS, "You are posting too fast.")


def limit_likes(limiter: Limiter, address: str) -> None:
    """Count a like from the address against the like limits."""
    _limit(limiter, "like", address, LIKE_LIMITS, "Too many likes from your address.")


def limit_renders(limiter: Limiter, address: str) -> None:
    """Count a preview or an edit from the address against the render limits."""
    _limit(limiter, "render", address, RENDER_LIMITS, "Too many previews and edits.")


def limit_sign_ins(limiter: Limiter, address: str) -> None:
    """Count a sign-in (outbound requests to a provider) from the address against its limits."""
    _limit(limiter, "sign-in", address, SIGN_IN_LIMITS, "Too many sign-ins from your address.")


def _limit(limiter: Limiter, scope: str, address: str, limits: tuple[str, ...], message: str):
    for limit in limits:
        wait = limiter.hit(limit, scope, address)
        if wait:
            raise RateLimited(f"{message} Try again in {wait} seconds.", retry_after=wait)


def refuse_duplicate(thread: Thread | None, submission: Submission, now: datetime) -> None:
    """Refuse a text the same client address posted to the same thread within a day (among
    its last DUPLICATE_RECENT comments there).

    Only the address hash counts, never the email: otherwise the 409 would tell anyone who
    posts a text with a guessed email whether that email posted it.

    :raise Conflict: when it is a duplicate.
    """
    if thread is None or not submission.address:
        return
    values = {
        "thread_id": thread.id,
        "text": submission.text,
        "since": now - DUPLICATE_WINDOW,
        "address": submission.address,
    }
    if db.session.scalar(_DUPLICATE, values):
        raise Conflict("You have posted this comment already.", field="text", code="duplicate")


# Built once (as the other statements of every post below): building one costs more than
# running it. Only the client's last DUPLICATE_RECENT comments in the thread are compared, from
# the index, newest first: the check runs under the write lock, and an address that has
# posted thousands of times in a day must not make every write wait longer.
_RECENT_TEXTS = (
    select(Comment.text)
    .where(
        Comment.thread_id == bindparam("thread_id"),
        Comment.remote_hash == bindparam("address"),
        Comment.created > bindparam("since"),
        Comment.status != "deleted",
    )
    .order_by(Comment.created.desc(), Comment.id.desc())  # posting order when times tie
    .limit(DUPLICATE_RECENT)
    .subquery()
)
_DUPLICATE = select(exists().where(_RECENT_TEXTS.c.text == bindparam("text")))


def assess(
    site: Site, submission: Submission, *, now: datetime, guard: bool, form_check: str | None
) -> Decision:
    """Decide a new comment's status by the site's rules; the first rule that applies wins.

    form_check is the time trap's finding (see check_form_token), used only when guard is on.
    """
    ban = find_ban(site, submission)
    if ban:
        return Decision("spam", f"ban: {ban.kind} {ban.value}")
    if submission.honeypot:
        return Decision("spam", "honeypot: the hidden field was filled in")
    word = _find_word(site.disallowed_words, submission)
    if word:
        return Decision("spam", f"disallowed word: {word}")
    if guard and form_check:
        return Decision("pending", f"time trap: {form_check}")
    word = _find_word(site.moderation_words, submission)
    if word:
        return Decision("pending", f"moderation word: {word}")
    return _policy(site, submission)


def _policy(site: Site, submission: Submission) -> Decision:
    if site.moderation == "all":
        return Decision("pending", "policy: every comment is held")
    if site.moderation == "links":
        links = count_links(submission.html)
        if links >= site.link_limit:
            return Decision("pending", f"links: {links} links (limit {site.link_limit})")
    if site.moderation == "first-time" and submission.handle:
        if not _has_approved(site, submission.handle, Comment.handle):
            return Decision("pending", "first-time: no approved reply from this handle yet")
        return Decision("approved", f"policy: {site.moderation} (known handle)")
    if site.moderation == "first-time" and submission.identity_id is not None:
        # A verified reader is known by their identity, whatever email they give.
        if not _has_approved_identity(site, submission.identity_id):
            return Decision("pending", "first-time: no approved comment from this identity yet")
        return Decision("approved", f"policy: {site.moderation} (known identity)")
    if site.moderation == "first-time":
        if not submission.email:
            return Decision("pending", "first-time: no email address given")
        if not _has_approved(site, submission.email):
            return Decision("pending", "first-time: no approved comment from this email yet")
    return Decision("approved", f"policy: {site.moderation}")


def _has_approved(site: Site, email: str, column=Comment.email) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    column == email,
                    Comment.status == "approved",
                    Comment.thread_id.in_(select(Thread.id).where(Thread.site_id == site.id)),
                )
            )
        )
    )


def _has_approved_identity(site: Site, identity_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Comment.identity_id == identity_id,
                    Comment.status == "approved",
                    Comment.thread_id.in_(select(Thread.id).where(Thread.site_id == site.id)),
                )
            )
        )
    )


def find_ban(site: Site, submission: Submission) -> Ban | None:
    """Return the ban that matches the submission's email, address or website domain."""
    candidates = []
    if submission.email:
        candidates.append(("email", normal_email(submission.email)))
    if submission.address:
        candidates.append(("address", submission.address))
    hosts = [fields.url_host(submission.website) if submission.website else ""]
    if submission.handle:
        candidates.append(("handle", submission.handle))
        # A server ban is a domain ban on the handle's host (and the profile's).
        hosts.append(fields.url_host("https://" + submission.handle.rpartition("@")[2]))
    for host in filter(None, set(hosts)):
        labels = host.split(".")
        candidates += [("domain", ".".join(labels[i:])) for i in range(len(labels) - 1)]
    if submission.identity:
        candidates.append(("identity", submission.identity))
    if not candidates:
        return None
    return db.session.scalar(_BAN_OF, {"site_id": site.id, "candidates": candidates})


_BAN_OF = (
    select(Ban)
    .where(
        or_(Ban.site_id.is_(None), Ban.site_id == bindparam("site_id")),
        tuple_(Ban.kind, Ban.value).in_(bindparam("candidates", expanding=True)),
    )
    .limit(1)
)


def normal_email(email: str) -> str:
    """Return an email in the form bans compare: lower case, its domain a normal host."""
    local, at, domain = email.strip().lower().rpartition("@")
    return f"{local}{at}{fields.normal_host(domain)}" if at else domain


def _find_word(words: str, submission: Submission) -> str | None:
    if not words:
        return None
    haystack = " ".join(
        (submission.text, submission.author, submission.email, submission.website)
    ).lower()
    for word in words.split("\n"):
        if word and re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", haystack):
            return word
    return None


# --- the time trap -----------------------------------------------------------------------------


def make_form_token(secret: str, site: str, uri: str, now: datetime) -> str:
    """Return a token that says when the thread was loaded, signed and bound to the thread."""
    return _form_token(secret, site, uri, tokens.epoch(now))


@functools.lru_cache(maxsize=1024)
def _form_token(secret: str, site: str, uri: str, stamp: int) -> str:
    # The same inputs sign to the same token (whole seconds, nothing per reader): signed once
    # per thread and second, not once per read of a busy thread.
    return tokens.dump(secret, tokens.FORM, [stamp, _thread_key(site, uri)])


def check_form_token(token: str | None, secret: str, site: str, uri: str, now: datetime):
    """Return why the time trap fires (too fast, too old, missing, forged), or None."""
    if not token:
        return "no form token"
    try:
        stamp, thread = tokens.load(secret, tokens.FORM, token, length=2)
        stamp = tokens.whole_number(stamp)
    except tokens.BadToken:
        return "invalid form token"
    if thread != _thread_key(site, uri):
        return "invalid form token"
    age = now - tokens.from_epoch(stamp)
    if age < TIME_TRAP_MIN:
        return f"posted {age.total_seconds():.1f} s after the thread loaded"
    if age > TIME_TRAP_MAX:
        return f"the thread was loaded {age.days} days before the post"
    return None


def _thread_key(site: str, uri: str) -> str:
    return hashlib.sha256(f"{site}\x00{uri}".encode()).hexdigest()[:32]


def address_hash(secret: str, address: str) -> str:
    """Return the keyed hash of a client address (IPv6 by its /64), never reversible."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        network = address or "unknown"
    else:
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        # One IPv6 host usually holds a whole /64: counting addresses there would count nothing.
        network = (
            str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
        )
    message = f"address\x00{network}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
