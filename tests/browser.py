"""Real-browser helpers: Debian's Chromium driven by Playwright, and host pages to embed into."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

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
