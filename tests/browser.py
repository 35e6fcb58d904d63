"""Real-browser helpers: Debian's Chromium driven by Playwright, and host pages to embed into."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.safety import xss_vectors

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (apt-get install chromium); .ci/run installs it",
)


class HostSite:
    """Another website on 127.0.0.1 that embeds the widget: path -> HTML."""

    def __init__(self, pages: dict[str, str] | None = None):
        self.pages = dict(pages or {})
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = site.pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def blog_page(
    service: str, title: str = "A post", script_attrs: str = 'data-site="blog"', extra: str = ""
) -> str:
    """Return a host blog page that embeds the widget from the service."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ background: #fff; color: #111; }}</style></head>
<body><main><h1>{title}</h1><p id="host">The host page's own text.</p></main>
<script src="{service}/embed.js" {script_attrs} async></script>
<div id="comments"></div>{extra}
<script>window.hostStillWorks = true;</script>
</body></html>"""


# --- the XSS vectors in a real browser (the widget and the server-rendered fragment) ----------

FORBIDDEN_IN_A_THREAD = (
    "script",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "style",
    "[style]",
    "img:not(.csvc-avatar)",
)


def post_xss_vectors(post) -> list[str]:
    """Post every shared XSS vector as a text and an author, and as a website.

    `post(n, body)` sends the body of vector number n and returns the response; none is a 500.
    """
    vectors = xss_vectors("payloadsallthethings")
    for n, vector in enumerate(vectors):
        for body in (
            {"text": vector, "author": vector[:100]},
            {"text": f"site {n}", "website": vector[:500]},
        ):
            assert post(n, body).status_code < 500, vector
    return vectors


def assert_nothing_injected(page, where: str = "", *, forms: tuple[str, ...] = (".csvc-form",)):
    """No element, handler or link scheme the sanitiser refuses made it into a shown thread.

    `forms` are the widget's own forms that a thread may hold.
    """
    allowed_forms = "".join(f":not({form})" for form in forms)
    forbidden = ", ".join(
        f".csvc-thread {selector}" for selector in (*FORBIDDEN_IN_A_THREAD, "form" + allowed_forms)
    )
    injected = page.evaluate(
        "s => Array.from(document.querySelectorAll(s)).map(e => e.outerHTML.slice(0, 80))",
        forbidden,
    )
    assert injected == [], where
    handlers = page.evaluate(
        """() => Array.from(document.querySelectorAll('.csvc-thread *')).flatMap(
            e => Array.from(e.attributes).map(a => a.name).filter(n => n.startsWith('on')))"""
    )
    assert handlers == [], where
    hrefs = page.eval_on_selector_all(".csvc-thread a[href]", "els => els.map(e => e.protocol)")
    assert set(hrefs) <= {"http:", "https:", "mailto:"}, where
