"""Notifications: mail to the owner and to readers, and webhooks, all sent from the queue."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote
from urllib.parse import urlsplit

from flask import current_app
from flask import has_request_context
from flask import render_template
from flask import request
from markupsafe import Markup

from commentsvc import fields
from commentsvc import queue
from commentsvc.db import db
from commentsvc.errors import Forbidden
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.models import Comment
from commentsvc.models import Site

LINK_LIFETIME = timedelta(days=7)
MAIL_ACTIONS = ("approve", "spam", "delete")
WEBHOOK_EVENTS = ("new", "approved", "deleted")
_MAX_ID = 2**31 - 1  # the range of the id columns: larger numbers overflow the database


# --- deciding what to send (inside the caller's transaction) -------------------------------------


def on_comment(comment: Comment, event: str, now: datetime) -> None:
    """Queue the mail and webhooks that a comment's event calls for: new, approved, deleted."""
    site = db.session.get(Site, comment.thread.site_id)
    base = _base_url()
    payload = {"comment": comment.id, "base": base, "event": event}
    if event == "new" and _owner_address(site) and _mail_on():
        queue.enqueue("mail-owner", payload, now=now)
    published_now = (event == "new" and comment.status == "approved") or event == "approved"
    if published_now and comment.parent_id and _mail_on():
        queue.enqueue("mail-reply", payload, now=now)
    if site.webhook_url and event in WEBHOOK_EVENTS:
        queue.enqueue("webhook", payload, now=now)


def _mail_on() -> bool:
    return bool(current_app.config["SMTP_URL"])


def _owner_address(site: Site) -> str:
    return site.owner_email or current_app.config["NOTIFY_EMAIL"]


def _base_url() -> str:
    configured = current_app.config["PUBLIC_URL"].rstrip("/")
    if configured:
        return configured
    return request.host_url.rstrip("/") if has_request_context() else "http://127.0.0.1:8080"


# --- signed links -----------------------------------------------------------------------------


def _mac(*parts: object) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = "\x00".join(str(p) for p in parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def action_token(comment: Comment, action: str, now: datetime) -> str:
    """Return a link token that lets the mail's reader act once on the comment, for 7 days.

    It is bound to the comment's status when the mail was sent: once anyone has acted on the
    comment, the link is used up.
    """
    expires = int((now + LINK_LIFETIME).replace(tzinfo=UTC).timestamp())
    body = f"{comment.id}.{action}.{comment.status}.{expires}"
    return f"{body}.{_mac('mail-action', body)}"


def check_action_token(token: str, now: datetime) -> tuple[Comment, str]:
    """Return the comment and action a mail link stands for.

    :raise Forbidden: for a forged, expired or used link.
    """
    parts = token.split(".")
    if len(parts) != 5:
        raise Forbidden("This link is not valid.")
    comment_id = fields.parse_decimal(parts[0], maximum=_MAX_ID)
    expires = fields.parse_decimal(parts[3], maximum=2**33)
    body, mac = ".".join(parts[:4]), parts[4]
    if (
        comment_id is None
        or expires is None
        or not hmac.compare_digest(mac.encode(), _mac("mail-action", body).encode())
    ):
        raise Forbidden("This link is not valid.")
    action, status = parts[1], parts[2]
    if now.replace(tzinfo=UTC).timestamp() > expires:
        raise Forbidden("This link has expired; act from the moderation page instead.")
    comment = db.session.get(Comment, comment_id)
    if comment is None or comment.status != status or action not in MAIL_ACTIONS:
        raise Forbidden("This link was used already: the comment has changed since the mail.")
    return comment, action


def unsubscribe_token(comment: Comment) -> str:
    """Return the token of a reader's unsubscribe link for replies to this comment."""
    return f"{comment.id}.{_mac('unsubscribe', comment.id, comment.email)}"


def check_unsubscribe_token(token: str) -> Comment:
    """Return the comment an unsubscribe link stands for."""
    comment_id, _, mac = token.partition(".")
    number = fields.parse_decimal(comment_id, maximum=_MAX_ID)
    comment = db.session.get(Comment, number) if number else None
    if comment is None or not hmac.compare_digest(
        mac.encode(), _mac("unsubscribe", comment.id, comment.email).encode()
    ):
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


def _sender() -> str:
    configured = current_app.config["MAIL_FROM"]
    if configured:
        return configured
    host = urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"
    return f"commentsvc@{host}"


def _send(message: EmailMessage) -> None:
    message["From"] = _sender()
    message["Message-ID"] = make_msgid(domain=_sender().split("@")[-1])
    try:
        current_app.extensions["mailer"].send(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The queue tries again later: a mail server that is down loses no mail.
        raise queue.Retry(f"mail not sent: {type(exc).__name__}: {exc}") from None


def _page_url(comment: Comment) -> str:
    site = comment.thread.site
    base = site.url.rstrip("/")
    origin = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"
    return f"{origin}{comment.thread.uri}#csvc-comment-{comment.id}"


def _message(subject: str, to: str, template: str, **context) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject.replace("\n", " ")[:200]
    message["To"] = to
    # Both parts from our own templates; the commenter's text is escaped in the HTML part.
    message.set_content(render_template(f"mail/{template}.txt", **context))
    message.add_alternative(render_template(f"mail/{template}.html", **context), subtype="html")
    return message


@queue.handler("mail-owner")
def mail_owner(payload: dict) -> None:
    """Tell the site's owner about a new comment or linkback, with one-click links."""
    comment = db.session.get(Comment, payload["comment"])
    if comment is None or comment.status == "deleted":
        return
    site = comment.thread.site
    now = current_app.extensions["clock"]()
    links = {
        action: f"{payload['base']}/admin/mail/{action_token(comment, action, now)}"
        for action in MAIL_ACTIONS
    }
    state = "held for moderation" if comment.status == "pending" else comment.status
    title = comment.thread.title or comment.thread.uri
    subject = f"[{site.name}] New {comment.kind} on {title} ({state})"
    _send(
        _message(
            subject,
            _owner_address(site),
            "owner",
            comment=comment,
            site=site,
            state=state,
            links=links,
            page=_page_url(comment),
            admin=f"{payload['base']}/admin/comments/{comment.id}",
        )
    )


@queue.handler("mail-reply")
def mail_reply(payload: dict) -> None:
    """Tell the author of the comment replied to, when they asked to be told."""
    reply = db.session.get(Comment, payload["comment"])
    if reply is None or reply.status != "approved" or reply.parent_id is None:
        return
    parent = db.session.get(Comment, reply.parent_id)
    if parent is None or not parent.notify or not parent.email or parent.email == reply.email:
        return
    unsubscribe = f"{payload['base']}/unsubscribe/{unsubscribe_token(parent)}"
    title = reply.thread.title or reply.thread.uri
    message = _message(
        f"New reply to your comment on {title}",
        parent.email,
        "reply",
        reply=reply,
        parent=parent,
        page=_page_url(reply),
        unsubscribe=unsubscribe,
    )
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    _send(message)


# --- webhooks -----------------------------------------------------------------------------------


@queue.handler("webhook")
def send_webhook(payload: dict) -> None:
    """POST the event as signed JSON to the site's webhook, through the hardened fetcher."""
    comment = db.session.get(Comment, payload["comment"])
    if comment is None:
        return
    site = comment.thread.site
    if not site.webhook_url:
        return
    body = json.dumps(
        {
            "event": payload["event"],
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
        raise queue.Retry(f"webhook not delivered: {error.message}") from None
    if answer.status >= 500:
        raise queue.Retry(f"webhook answered {answer.status}")


def webhook_secret(site: Site) -> str:
    """Return the key a site's webhook receiver checks X-Commentsvc-Signature with."""
    key = current_app.config["SECRET_KEY"].encode() + b"\x00webhook\x00" + site.name.encode()
    return hashlib.sha256(key).hexdigest()


def html_text(text: str) -> Markup:
    """Return plain text as HTML paragraphs, escaped: never the commenter's markup."""
    paragraph = Markup("<p>{}</p>")  # format() escapes what goes in
    return Markup("").join(paragraph.format(p) for p in text.split("\n\n") if p.strip())
