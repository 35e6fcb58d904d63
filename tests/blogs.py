"""Other blogs: real HTTP servers on 127.0.0.1 whose pages a test sets up, good and hostile."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer


@dataclass
class Page:
    body: bytes | str = b""
    status: int = 200
    headers: dict[str, str] | list[tuple[str, str]] = field(
        default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"}
    )
    # Instead of a body: a function that writes the answer itself (drips, endless streams).
    writer: Callable | None = None


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The service hangs up on hostile pages on purpose; that is not an error here.
        pass


class Blog:
    """A web server on 127.0.0.1: blog.pages[path] = Page(...); blog.requests lists what came."""

    def __init__(self):
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, str, dict, bytes]] = []
        blog = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                blog.requests.append((self.command, self.path, dict(self.headers), body))
                page = blog.pages.get(self.path) or blog.pages.get(self.path.split("?")[0])
                if page is None:
                    page = Page(b"not here", status=404)
                if page.writer:
                    page.writer(self)
                    return
                data = page.body.encode() if isinstance(page.body, str) else page.body
                self.send_response(page.status)
                pairs = page.headers.items() if isinstance(page.headers, dict) else page.headers
                for name, value in pairs:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path: str, html: str = "", **kwargs) -> str:
        """Serve html (or a Page's worth of kwargs) at path; return its full URL."""
        self.pages[path] = Page(body=html, **kwargs)
        return self.url + path

    def hits(self, path: str) -> int:
        return sum(1 for _m, p, _h, _b in self.requests if p.split("?")[0] == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def post_linking_to(target: str, title: str = "A post that links", words: str = "") -> str:
    """Return a blog post whose text links to target."""
    return f"""<!doctype html><html><head><title>{title}</title></head><body>
<article class="h-entry"><h1 class="p-name">{title}</h1>
<div class="e-content"><p>{words or "I read something good today."} Have a look at
<a href="{target}">this post</a>, it says it well. More words follow the link here.</p></div>
</article></body></html>"""


def drip(seconds: int):
    """A writer that sends the headers, then one byte a second, for that many seconds."""

    def write(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(seconds))
        handler.end_headers()
        for _ in range(seconds):
            try:
                handler.wfile.write(b"x")
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(1)

    return write


def endless(chunk: bytes = b"<p>" + b"a" * 65536):
    """A writer that streams HTML without end (no Content-Length), until the client hangs up."""

    def write(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Connection", "close")
        handler.end_headers()
        try:
            for _ in range(100_000):
                handler.wfile.write(chunk)
        except OSError:
            return

    return write


def gzip_bomb(size: int = 200 * 1024 * 1024) -> bytes:
    """Return a gzip body that inflates to size bytes of HTML-ish text."""
    return gzip.compress(b"<p>" + b"\0" * size, 9)


def raw_answer(headers: list[tuple[str, str]], body: bytes):
    """Return a Page writer that answers 200 with exactly these headers, however odd."""

    def write(handler):
        handler.send_response(200)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)

    return write


def typed_answer(content_type: str, body: bytes, content_length: str | None = None):
    """Return a Page writer with this Content-Type and a Content-Length (true unless given)."""
    length = content_length or str(len(body))
    return raw_answer([("Content-Type", content_type), ("Content-Length", length)], body)
