"""Notifications: mail to the owner and to readers, and webhooks, all sent from the queue."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol
from urllib.parse import unquote
from urllib.parse import urlsplit

from flask import current_app
from flask import render_template
from markupsafe import Markup
from sqlalchemy import func
from sqlalchemy import select

from commentsvc import queue
from commentsvc import tokens
from commentsvc.db import db
from commentsvc.errors import Forbidden
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.models import Comment
from commentsvc.models import ModerationEvent
from commentsvc.models import Site

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(days=7)
MAIL_ACTIONS = ("approve", "spam", "delete")
WEBHOOK_EVENTS = ("new", "approved", "deleted")
# Controls, line and paragraph separators, format characters (bidi overrides) and lone
# surrogates; the zero-width joiner stays, as emoji are made with it.
UNSAFE_IN_HEADERS = ("Cc", "Cf", "Zl", "Zp", "Cs")
ZWJ = "\u200d"
MAX_HEADER_TEXT = 150  # characters of a title or name that go into a header
NO_PUBLIC_URL = (
    "mail is not sent: COMMENTSVC_SMTP_URL is set but COMMENTSVC_PUBLIC_URL is not "
    "(links in mail need the service's public address)"
)


# --- deciding what to send (inside the caller's transaction) -------------------------------------


def on_comment(comment: Comment, event: str, now: datetime, *, first: bool = True) -> None:
    """Queue the mail and webhooks that a comment's event calls for: new, approved, deleted.

    first is False when an approval publishes again a comment that was published before: the
    webhook hears of it, the parent's author is not mailed a second time.
    """
    site = db.session.get(Site, comment.thread.site_id)
    payload = {"comment": comment.id, "event": event}
    mail_on = bool(current_app.config["SMTP_URL"])
    if event == "new" and _owner_address(site) and mail_on:
        queue.enqueue("mail-owner", payload, now=now)
    published_now = (event == "new" and comment.status == "approved") or (
        event == "approved" and first
    )
    if published_now and comment.parent_id and mail_on:
        queue.enqueue("mail-reply", payload, now=now)
    if site.webhook_url and event in WEBHOOK_EVENTS:
        queue.enqueue("webhook", payload, now=now)


def _owner_address(site: Site) -> str:
    return site.owner_email or current_app.config["NOTIFY_EMAIL"]


def mail_warning(config) -> str:
    """Return why mail cannot be sent with these settings, or "" when it can (or is off)."""
    if config["SMTP_URL"] and not config["PUBLIC_URL"]:
        return NO_PUBLIC_URL
    return ""


def header_text(value: str, limit: int = MAX_HEADER_TEXT) -> str:
    """Return text fit for a mail header: line separators and controls become spaces, bounded."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in UNSAFE_IN_HEADERS and ch != ZWJ else ch for ch in value
    )
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "\u2026"


# --- signed links -----------------------------------------------------------------------------


def _comment_version(comment: Comment) -> int:
    """Return the id of the comment's last moderation event: any change moves it on."""
    latest = db.session.scalar(
        select(func.max(ModerationEvent.id)).where(ModerationEvent.comment_id == comment.id)
    )
    return latest or 0


def action_token(secret: str, comment: Comment, action: str, now: datetime) -> str:
    """Return a link token that lets the mail's reader act once on the comment, for 7 days.

    It is bound to the comment's status and its last change when the mail was sent: once
    anyone has acted on the comment (even back to the same status), the link is used up.
    """
    data = [
        comment.id,
        action,
        comment.status,
        _comment_version(comment),
        tokens.epoch(now + LINK_LIFETIME),
    ]
    return tokens.dump(secret, tokens.MAIL_ACTION, data)


def check_action_token(secret: str, token: str, now: datetime) -> tuple[Comment, str]:
    """Return the comment and action a mail link stands for.

    :raise Forbidden: for a forged, expired or used link.
    """
    try:
        comment_id, action, status, version, expires = tokens.load(
            secret, tokens.MAIL_ACTION, token, length=5
        )
        comment_id, expires = tokens.whole_number(comment_id), tokens.whole_number(expires)
    except tokens.BadToken:
        raise Forbidden("This link is not valid.") from None
    if tokens.epoch(now) > expires:
        raise Forbidden("This link has expired; act from the moderation page instead.")
    comment = db.session.get(Comment, comment_id)
    if (
        comment is None
        or action not in MAIL_ACTIONS
        or comment.status != status
        or _comment_version(comment) != version
    ):
        raise Forbidden("This link was used already: the comment has changed since the mail.")
    return comment, action


def _email_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def unsubscribe_token(secret: str, comment: Comment) -> str:
    """Return the token of a reader's unsubscribe link for replies to this comment."""
    return tokens.dump(secret, tokens.UNSUBSCRIBE, [comment.id, _email_key(comment.email)])


def check_unsubscribe_token(secret: str, token: str) -> Comment:
    """Return the comment an unsubscribe link stands for.

    :raise Forbidden: for a forged link, or one whose comment is gone or changed its address.
    """
    try:
        comment_id, key = tokens.load(secret, tokens.UNSUBSCRIBE, token, length=2)
        comment_id = tokens.whole_number(comment_id)
    except tokens.BadToken:
        raise Forbidden("This link is not valid.") from None
    comment = db.session.get(Comment, comment_id)
    if comment is None or not comment.email or key != _email_key(comment.email):
        raise Forbidden("This link is not valid.")
    return comment


# --- mail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SMTPMailer:
    """Send mail through the server named by COMMENTSVC_SMTP_URL.

    smtp://user:pass@host:25 (STARTTLS when offered), smtp+starttls://… (STARTTLS required),
    smtps://…:465 (TLS from the start).
    """

    url: str
    timeout: float = 15.0

    def send(self, message: EmailMessage) -> None:
        parts = urlsplit(self.url)
        scheme = parts.scheme.lower()
        host = parts.hostname or "localhost"
        context = ssl.create_default_context()
        if scheme == "smtps":
            client = smtplib.SMTP_SSL(
                host, parts.port or 465, timeout=self.timeout, context=context
            )
        else:
            client = smtplib.SMTP(host, parts.port or 25, timeout=self.timeout)
        with client:
            client.ehlo()
            if scheme != "smtps" and (scheme == "smtp+starttls" or client.has_extn("starttls")):
                client.starttls(context=context)
                client.ehlo()
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def default_sender(mail_from: str, public_url: str) -> str:
    """Return the sender of notifications: MAIL_FROM, or commentsvc@<PUBLIC_URL's host>."""
    if mail_from:
        return mail_from
    host = urlsplit(public_url).hostname or "localhost"
    return f"commentsvc@{host}"


@dataclass(frozen=True)
class Notifier:
    """Writes and sends the mail; everything it needs is given, nothing read from the HTTP request.

    public_url is the service's own address (COMMENTSVC_PUBLIC_URL), the only base of links.
    """

    public_url: str
    mailer: Mailer | None
    sender: str
    secret: str

    def _link(self, path: str) -> str:
        return self.public_url.rstrip("/") + path

    def _check_ready(self) -> Mailer:
        if not self.public_url:
            raise queue.Permanent(NO_PUBLIC_URL)
        if self.mailer is None:
            raise queue.Permanent("mail is not sent: COMMENTSVC_SMTP_URL is not set")
        return self.mailer

    def _send(self, message: EmailMessage) -> None:
        mailer = self._check_ready()
        message["From"] = self.sender
        message["Message-ID"] = make_msgid(domain=self.sender.split("@")[-1])
        try:
            mailer.send(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            if _permanent_smtp(exc):
                raise queue.Permanent(f"mail refused: {type(exc).__name__}: {exc}") from None
            raise queue.Retry(f"mail not sent: {type(exc).__name__}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise queue.Permanent(f"mail refused: {exc.smtp_code} {exc.smtp_error!r}") from None
            raise queue.Retry(f"mail not sent: {exc.smtp_code} {exc.smtp_error!r}") from None
        except (OSError, smtplib.SMTPException) as exc:
            # The queue tries again later: a mail server that is down loses no mail.
            raise queue.Retry(f"mail not sent: {type(exc).__name__}: {exc}") from None

    def mail_owner(self, comment_id: int, now: datetime) -> None:
        """Tell the site's owner about a new comment or linkback, with one-click links."""
        self._check_ready()
        comment = db.session.get(Comment, comment_id)
        if comment is None or comment.status == "deleted":
            return
        site = comment.thread.site
        links = {
            action: self._link(f"/admin/mail/{action_token(self.secret, comment, action, now)}")
            for action in MAIL_ACTIONS
        }
        state = "held for moderation" if comment.status == "pending" else comment.status
        title = header_text(comment.thread.title or comment.thread.uri)
        subject = f"[{header_text(site.name, 60)}] New {comment.kind} on {title} ({state})"
        self._send(
            _message(
                subject,
                _owner_address(site),
                "owner",
                comment=comment,
                site=site,
                state=state,
                links=links,
                page=comment_url(comment),
                admin=self._link(f"/admin/comments/{comment.id}"),
            )
        )

    def mail_reply(self, comment_id: int) -> None:
        """Tell the author of the comment replied to, when they asked to be told."""
        self._check_ready()
        reply = db.session.get(Comment, comment_id)
        if reply is None or reply.status != "approved" or reply.parent_id is None:
            return
        parent = db.session.get(Comment, reply.parent_id)
        if parent is None or not parent.notify or not parent.email or parent.email == reply.email:
            return
        unsubscribe = self._link(f"/unsubscribe/{unsubscribe_token(self.secret, parent)}")
        title = header_text(reply.thread.title or reply.thread.uri)
        message = _message(
            f"New reply to your comment on {title}",
            parent.email,
            "reply",
            reply=reply,
            parent=parent,
            page=comment_url(reply),
            unsubscribe=unsubscribe,
        )
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        self._send(message)

    def mail_data_link(self, comment_id: int, now: datetime) -> None:
        """Mail a reader the link to every comment they made with their address on the site."""
        from commentsvc import readers

        self._check_ready()
        comment = db.session.get(Comment, comment_id)
        if comment is None or not comment.email:
            return
        site = comment.thread.site
        link = self._link(f"/me/{readers.link_token(self.secret, comment, now)}")
        subject = f"Your comments on {header_text(site.name, 60)}"
        message = _message(
            subject,
            comment.email,
            "data",
            site=site,
            link=link,
            hours=int(readers.LINK_LIFETIME.total_seconds() // 3600),
        )
        self._send(message)


def _permanent_smtp(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    return 500 <= getattr(exc, "smtp_code", 0) < 600


def comment_url(comment: Comment) -> str:
    """Return the comment's address on the site's page: the page and the widget's anchor."""
    site = comment.thread.site
    base = site.url.rstrip("/")
    origin = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"
    return f"{origin}{comment.thread.uri}#csvc-comment-{comment.id}"


def _message(subject: str, to: str, template: str, **context) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = header_text(subject, 200)
    message["To"] = to
    # Both parts from our own templates; the commenter's text is escaped in the HTML part.
    message.set_content(render_template(f"mail/{template}.txt", **context))
    message.add_alternative(render_template(f"mail/{template}.html", **context), subtype="html")
    return message


def _comment_id(payload: dict) -> int:
    comment_id = payload.get("comment") if isinstance(payload, dict) else None
    if type(comment_id) is not int:
        raise queue.Permanent(f"malformed payload: no comment id in {payload!r:.200}")
    return comment_id


@queue.handler("mail-owner")
def mail_owner(payload: dict) -> None:
    """Queue handler: the owner's mail about a new comment."""
    notifier = current_app.extensions["notifier"]
    notifier.mail_owner(_comment_id(payload), current_app.extensions["clock"]())


@queue.handler("mail-reply")
def mail_reply(payload: dict) -> None:
    """Queue handler: a reader's mail about a reply."""
    current_app.extensions["notifier"].mail_reply(_comment_id(payload))


# --- webhooks -----------------------------------------------------------------------------------


@queue.handler("webhook")
def send_webhook(payload: dict) -> None:
    """POST the event as signed JSON to the site's webhook, through the hardened fetcher."""
    comment = db.session.get(Comment, _comment_id(payload))
    if comment is None:
        return
    site = comment.thread.site
    if not site.webhook_url:
        return
    body = json.dumps(
        {
            "event": payload.get("event"),
            "site": site.name,
            "uri": comment.thread.uri,
            "comment": {
                "id": comment.id,
                "kind": comment.kind,
                "status": comment.status,
                "author": comment.author,
                "html": comment.html,
                "source": comment.source_url,
                "created": comment.created.isoformat(timespec="seconds") + "Z",
            },
        },
        separators=(",", ":"),
    ).encode()
    signature = hmac.new(webhook_secret(site).encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Commentsvc-Signature": f"sha256={signature}"}
    try:
        answer = current_app.extensions["fetcher"].request(
            "POST", site.webhook_url, data=body, headers=headers
        )
    except FetchError as error:
        if error.kind == "refused":  # a forbidden address or scheme: trying again cannot help
            raise queue.Permanent(f"webhook not delivered: {error.message}") from None
        raise queue.Retry(f"webhook not delivered: {error.message}") from None
    if answer.status >= 500:
        raise queue.Retry(f"webhook answered {answer.status}")
    if answer.status >= 400:
        # The receiver refuses this request: sending it again would be refused again.
        raise queue.Permanent(f"webhook refused: answered {answer.status}")


def webhook_secret(site: Site) -> str:
    """Return the key a site's webhook receiver checks X-Commentsvc-Signature with."""
    key = current_app.config["SECRET_KEY"].encode() + b"\x00webhook\x00" + site.name.encode()
    return hashlib.sha256(key).hexdigest()


def html_text(text: str) -> Markup:
    """Return plain text as HTML paragraphs, escaped: never the commenter's markup."""
    paragraph = Markup("<p>{}</p>")  # format() escapes what goes in
    return Markup("").join(paragraph.format(p) for p in text.split("\n\n") if p.strip())
