"""The one way the service fetches other people's pages: hardened against abuse.

Addresses: requests-hardened resolves each hop's host, refuses loopback, private, link-local,
multicast, reserved, CGNAT, NAT64, 6to4 and IPv4-mapped forms, and connects to the very address
it checked (no DNS rebinding between check and connect). Here: http(s) only, at most 5 redirects
each checked again, one deadline for the whole fetch, a cap on decoded bytes (compressed bodies
are inflated in bounded steps), proxies from the environment ignored.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests
from requests_hardened import Config
from requests_hardened import Manager
from requests_hardened.ip_filter import InvalidIPAddress

MAX_REDIRECTS = 5
DEADLINE_SECONDS = 10.0
MAX_BYTES = 1024 * 1024
CHUNK = 16 * 1024


class FetchError(Exception):
    """A fetch that did not give a usable answer; kind says why."""

    def __init__(self, kind: str, message: str, status: int | None = None):
        super().__init__(message)
        self.kind = kind  # refused, unreachable, timeout, too_large, http
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Fetched:
    """A fetched page: where it ended up, its status, headers and (capped) body."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    history: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class Fetcher:
    """Fetch http(s) URLs under the rules above; allow_loopback is for tests and the demo."""

    def __init__(
        self,
        *,
        user_agent: str,
        allow_loopback: bool = False,
        deadline: float = DEADLINE_SECONDS,
        max_bytes: int = MAX_BYTES,
    ):
        self.user_agent = user_agent
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.manager = Manager(
            Config(
                ip_filter_enable=True,
                ip_filter_allow_loopback_ips=allow_loopback,
                never_redirect=True,  # followed here, one checked hop at a time
                default_timeout=(3, 3),
            )
        )

    def get(self, url: str, *, requested_by: str = "") -> Fetched:
        """Fetch url, following redirects; raise FetchError unless it answers 2xx."""
        return self.request("GET", url, requested_by=requested_by, accept_errors=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        data: dict | bytes | None = None,
        headers: dict[str, str] | None = None,
        requested_by: str = "",
        accept_errors: bool = True,
    ) -> Fetched:
        """Send one request (GET follows redirects); answer whatever status comes back."""
        started = time.monotonic()
        history: list[str] = []
        with self.manager.get_session() as session:
            session.trust_env = False  # no proxies, netrc or CA bundle from the environment
            session.headers.update(self._headers(requested_by))
            session.headers.update(headers or {})
            for _hop in range(MAX_REDIRECTS + 1):
                _check_scheme(url)
                response = self._send(session, method, url, data, started)
                try:
                    location = response.headers.get("location")
                    if (
                        method == "GET"
                        and response.status_code in (301, 302, 303, 307, 308)
                        and location
                    ):
                        history.append(url)
                        url = urljoin(url, location)
                        continue
                    body = self._read(response, started)
                finally:
                    response.close()
                fetched = Fetched(
                    url=url,
                    status=response.status_code,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    body=body,
                    history=tuple(history),
                )
                if not accept_errors and not 200 <= fetched.status < 300:
                    raise FetchError("http", f"{url} answered {fetched.status}", fetched.status)
                return fetched
        raise FetchError("refused", f"more than {MAX_REDIRECTS} redirects")

    def _headers(self, requested_by: str) -> dict[str, str]:
        agent = self.user_agent
        if requested_by:
            agent += f" (verifying a linkback sent from {requested_by})"
        return {
            "User-Agent": agent,
            "Accept": "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
            "Accept-Encoding": "gzip, deflate",
        }

    def _send(self, session, method, url, data, started):
        remaining = self.deadline - (time.monotonic() - started)
        if remaining <= 0:
            raise FetchError("timeout", f"no answer within {self.deadline:.0f} seconds")
        timeout = min(3.0, remaining)
        try:
            return session.request(
                method,
                url,
                data=data,
                stream=True,
                allow_redirects=False,
                timeout=(timeout, timeout),
            )
        except InvalidIPAddress:
            # Which address it is stays unsaid: the answer must not map a stranger's network.
            raise FetchError(
                "refused", f"{urlsplit(url).hostname} resolves to a forbidden address"
            ) from None
        except requests.Timeout:
            raise FetchError(
                "timeout", f"{urlsplit(url).hostname} did not answer in time"
            ) from None
        except (requests.RequestException, OSError, ValueError) as exc:
            raise FetchError(
                "unreachable", f"cannot reach {urlsplit(url).hostname}: {type(exc).__name__}"
            ) from None

    def _read(self, response, started) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes * 4:
            raise FetchError("too_large", f"the page is {int(declared)} bytes long")
        decoder = _decoder(response.headers.get("content-encoding", ""))
        body = bytearray()
        try:
            while True:
                if time.monotonic() - started > self.deadline:
                    raise FetchError(
                        "timeout", f"the page took longer than {self.deadline:.0f} seconds"
                    )
                chunk = response.raw.read1(CHUNK, decode_content=False)
                if not chunk:
                    break
                body += decoder(chunk, self.max_bytes + 1 - len(body))
                if len(body) > self.max_bytes:
                    raise FetchError("too_large", f"the page is larger than {self.max_bytes} bytes")
        except (requests.RequestException, OSError) as exc:
            if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                raise FetchError("timeout", "the page stopped arriving") from None
            raise FetchError("unreachable", f"the connection broke: {type(exc).__name__}") from None
        except zlib.error:
            raise FetchError("unreachable", "the page's compression is broken") from None
        return bytes(body)


# Names that never belong to a real blog (RFC 2606, RFC 6761): refused before any DNS lookup,
# so documentation examples and test fixtures never reach out to the network.
RESERVED_NAMES = (
    "invalid",
    "test",
    "example",
    "localhost",
    "example.org",
    "example.com",
    "example.net",
)


def _check_scheme(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("refused", f"only http and https URLs are fetched, not {url[:100]!r}")
    host = parts.hostname.rstrip(".").lower()
    if any(host == name or host.endswith("." + name) for name in RESERVED_NAMES):
        raise FetchError("refused", f"{host} is a reserved name, never fetched")


def _decoder(encoding: str):
    """Return a function that inflates a chunk, never producing more than asked for."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return lambda chunk, room: chunk
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError("unreachable", f"unsupported content encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=47 if "gzip" in encoding else 15)

    def inflate(chunk: bytes, room: int) -> bytes:
        # max_length bounds the output: a gzip bomb stops growing at the cap.
        out = inflater.decompress(chunk, max(room, 1))
        if inflater.unconsumed_tail and len(out) >= room:
            return out + b"\0"  # over the cap: the caller refuses the page
        while inflater.unconsumed_tail and len(out) < room:
            out += inflater.decompress(inflater.unconsumed_tail, room - len(out))
        return out

    return inflate
