"""Sending linkbacks for one of the site's pages: discover each target's endpoint, send, record."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin
from urllib.parse import urlsplit

import defusedxml.ElementTree
from bs4 import BeautifulSoup
from requests.utils import parse_header_links
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.errors import ValidationError
from commentsvc.linkbacks.fetch import Fetched
from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.linkbacks.markup import tidy_html
from commentsvc.linkbacks.urls import normalise_url
from commentsvc.linkbacks.verify import decode_html
from commentsvc.models import SentLink
from commentsvc.sites import list_sites
from commentsvc.sites import thread_uri


@dataclass(frozen=True)
class Endpoint:
    protocol: str  # webmention or pingback
    url: str


@dataclass(frozen=True)
class Outcome:
    target: str
    action: str  # sent, failed, skipped, no-endpoint
    detail: str


def _soup(fetched: Fetched) -> BeautifulSoup:
    # Targets' pages are strangers' pages: read through the bounded tidy copy (see markup).
    text = decode_html(fetched.body, fetched.headers.get("content-type", ""))
    return BeautifulSoup(tidy_html(text).html, "html.parser")


def _join(base: str, href: str) -> str | None:
    """Return href resolved against base, or None when it is no URL at all."""
    try:
        url = urljoin(base, href.strip())
        urlsplit(url).port  # noqa: B018 - raises on a malformed host or port
    except ValueError:
        return None
    return url


def discover(fetched: Fetched) -> Endpoint | None:
    """Return the target's Webmention endpoint, else its Pingback server, else None.

    Webmention: the HTTP Link header first, then the first <link> or <a> with rel=webmention in
    document order; relative URLs resolve against the final URL, the query is kept, an empty
    href means the page itself. Pingback: X-Pingback, then <link rel="pingback">.
    """
    for link in parse_header_links(fetched.headers.get("link", "")):
        if "webmention" in link.get("rel", "").lower().split():
            url = _join(fetched.url, link.get("url", ""))
            if url:
                return Endpoint("webmention", url)
    is_html = fetched.content_type in ("text/html", "application/xhtml+xml")
    soup = _soup(fetched) if is_html else None
    if soup is not None:
        for tag in soup.find_all(["link", "a"]):
            rels = [r.lower() for r in tag.get("rel") or []]
            url = _join(fetched.url, tag["href"]) if tag.has_attr("href") else None
            if "webmention" in rels and url:
                return Endpoint("webmention", url)
    header = _join(fetched.url, fetched.headers.get("x-pingback", ""))
    if fetched.headers.get("x-pingback") and header:
        return Endpoint("pingback", header)
    if soup is not None:
        tag = soup.find("link", rel="pingback", href=True)
        url = _join(fetched.url, tag["href"]) if tag else None
        if url:
            return Endpoint("pingback", url)
    return None


def outgoing_links(fetched: Fetched) -> list[str]:
    """Return the page's outgoing http(s) links, in order, once each (the post's content only
    when it marks it up as an h-entry's e-content)."""
    soup = _soup(fetched)
    scope = soup.select_one(".h-entry .e-content") or soup.body or soup
    page = normalise_url(fetched.url)
    links: list[str] = []
    for tag in scope.find_all("a", href=True):
        url = _join(fetched.url, tag["href"])
        try:
            url = normalise_url(url) if url else None
        except ValueError:
            continue
        if url and urlsplit(url).scheme in ("http", "https") and url != page and url not in links:
            links.append(url)
    return links


def send_linkbacks(
    source: str,
    fetcher: Fetcher,
    *,
    now: datetime,
    everything: bool = False,
    progress: Callable[[Outcome], None] = lambda outcome: None,
) -> list[Outcome]:
    """Send linkbacks for the links of one of the site's pages; only what changed, unless
    everything. Links that were removed get one more Webmention, so that receivers drop them."""
    try:
        source = normalise_url(source)
    except ValueError:
        raise ValidationError(f"{source[:200]} is not a URL.", field="url") from None
    if not any(thread_uri(site, source) is not None for site in list_sites()):
        raise ValidationError(f"{source} is not a page of any site here.", field="url")
    try:
        page = fetcher.get(source)
    except FetchError as error:
        raise ValidationError(
            f"{source} could not be fetched: {error.message}", field="url"
        ) from None
    current = outgoing_links(page)
    known = {
        row.target: row
        for row in db.session.scalars(select(SentLink).where(SentLink.source == source))
    }
    outcomes = []
    for target in current + [t for t, row in known.items() if row.present and t not in current]:
        row = known.get(target)
        present = target in current
        if not everything and present and row is not None and row.present and row.ok:
            outcome = Outcome(target, "skipped", "unchanged since the last send")
        else:
            outcome, endpoint = _send_one(source, target, fetcher)
            _record(source, target, endpoint, outcome, present, now)
        progress(outcome)
        outcomes.append(outcome)
    return outcomes


def _send_one(source: str, target: str, fetcher: Fetcher) -> tuple[Outcome, Endpoint | None]:
    try:
        endpoint = discover(fetcher.get(target))
    except FetchError as error:
        return Outcome(target, "failed", f"could not fetch the target: {error.message}"), None
    if endpoint is None:
        return Outcome(target, "no-endpoint", "the target accepts no linkbacks"), None
    try:
        if endpoint.protocol == "webmention":
            answer = fetcher.request(
                "POST", endpoint.url, data={"source": source, "target": target}
            )
            ok = 200 <= answer.status < 300
            detail = f"webmention to {endpoint.url}: {answer.status}"
        else:
            ok, detail = _pingback(source, target, endpoint.url, fetcher)
    except FetchError as error:
        return Outcome(
            target, "failed", f"{endpoint.protocol} to {endpoint.url}: {error.message}"
        ), endpoint
    return Outcome(target, "sent" if ok else "failed", detail), endpoint


def _pingback(source: str, target: str, server: str, fetcher: Fetcher) -> tuple[bool, str]:
    body = xmlrpc.client.dumps((source, target), "pingback.ping").encode()
    answer = fetcher.request("POST", server, data=body, headers={"Content-Type": "text/xml"})
    try:
        defusedxml.ElementTree.fromstring(answer.body, forbid_dtd=True)
        (result,), _ = xmlrpc.client.loads(answer.body)
    except xmlrpc.client.Fault as fault:
        # Already registered is as good as sent.
        return fault.faultCode == 0x30, f"pingback to {server}: {_explain(fault)}"
    except Exception:  # noqa: BLE001 - whatever the server answered, it was no XML-RPC answer
        return False, f"pingback to {server}: answered {answer.status} without an XML-RPC reply"
    return True, f"pingback to {server}: {str(result)[:200]}"


# What the Pingback 1.0 fault codes mean for the sender, in its words.
PINGBACK_FAULTS = {
    0: "refused without a reason (WordPress answers so to every refusal but 'already registered')",
    0x10: "the receiver could not fetch this page",
    0x11: "the receiver found no link to it in this page",
    0x20: "the target does not exist",
    0x21: "the target takes no pingbacks",
    0x30: "already registered",
    0x31: "access denied",
    0x32: "the receiver's own fetch failed",
}


def _explain(fault: xmlrpc.client.Fault) -> str:
    meaning = PINGBACK_FAULTS.get(fault.faultCode, "refused")
    said = str(fault.faultString)[:200].strip()
    return f"{meaning} (fault {fault.faultCode}{': ' + said if said else ''})"


def _record(source, target, endpoint, outcome: Outcome, present: bool, now: datetime) -> None:
    with write_transaction() as session:
        row = session.scalar(
            select(SentLink).where(SentLink.source == source, SentLink.target == target)
        )
        if row is None:
            row = SentLink(source=source, target=target)
            session.add(row)
        row.protocol = endpoint.protocol if endpoint else ""
        row.endpoint = endpoint.url if endpoint else ""
        row.result = outcome.detail[:500]
        row.ok = outcome.action in ("sent", "no-endpoint")
        row.present = present
        row.sent = now
