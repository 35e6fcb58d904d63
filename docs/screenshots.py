"""Make the README's screenshots of the widget: .venv/bin/python docs/screenshots.py.

Serves the demo blog from a fresh instance folder, writes a small conversation (replies deep
enough to go flat, a like, a Webmention from the demo's second post), and photographs the thread
with Debian's Chromium: light and dark at 720 px, German at 720 px, and a phone at 390 px.
"""

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SHOTS = [
    # file, query, viewport width, colour scheme
    ("widget-light.png", "?theme=light", 720, "light"),
    ("widget-dark.png", "?theme=dark", 720, "dark"),
    ("widget-de.png", "?lang=de&theme=light", 720, "light"),
    ("widget-phone.png", "", 390, "dark"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(port: int) -> subprocess.Popen:
    env = {
        "COMMENTSVC_INSTANCE_PATH": tempfile.mkdtemp(),
        "COMMENTSVC_DEMO": "on",
        "COMMENTSVC_GUARD": "off",
        # The demo's second post links here from 127.0.0.1: let verification fetch it.
        "COMMENTSVC_FETCH_ALLOW_PRIVATE": "on",
        "PATH": "/usr/bin:/bin",
    }
    command = [sys.executable, "-m", "commentsvc", "serve", "--port", str(port)]
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(150):
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the demo service did not start")


def write_conversation(url: str) -> None:
    def post(**body):
        response = requests.post(
            url + "/api/comments", json={"site": "demo", "uri": "/", **body}, timeout=5
        )
        return response.json()["id"]

    first = post(
        author="Ada",
        website="https://ada.example.org",
        text="What a lovely idea: the comments of a blog, **without** a platform.",
    )
    second = post(author="Grace", parent=first, text="Agreed. And pingbacks too, like in 2005!")
    third = post(author="Ada", parent=second, text="Webmentions as well: see below.")
    post(author="Linus", parent=third, text="Deep threads go flat, and say whom they answer.")
    post(author="Linus", text="Does it do `code`?\n\n```\nyes = True\n```")
    like = {"visitor": "screenshot-visitor-01"}
    requests.post(url + f"/api/comments/{first}/like", json=like, timeout=5)
    requests.post(url + "/api/likes", json={"site": "demo", "uri": "/", **like}, timeout=5)
    status = requests.post(
        url + "/webmention",
        data={"source": url + "/demo/second-post", "target": url + "/"},
        timeout=5,
    ).headers["Location"]
    for _ in range(100):
        state = requests.get(status, headers={"Accept": "application/json"}, timeout=5).json()
        if state["status"] != "pending":
            return
        time.sleep(0.2)


def main() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_service(port)
    try:
        write_conversation(url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for name, query, width, scheme in SHOTS:
                page = browser.new_page(
                    viewport={"width": width, "height": 900}, color_scheme=scheme
                )
                page.goto(url + "/" + query)
                page.wait_for_selector(".csvc-thread:not([aria-busy])")
                page.locator(".csvc-thread").screenshot(path=ROOT / "docs" / name)
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
