"""Make the README's screenshots of the widget: python docs/screenshots.py (needs chromium)."""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
PORT = 8099
URL = f"http://127.0.0.1:{PORT}"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> None:
    instance = tempfile.mkdtemp()
    env = {"COMMENTSVC_INSTANCE_PATH": instance, "COMMENTSVC_DEMO": "on", "COMMENTSVC_GUARD": "off",
           "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([sys.executable, "-m", "commentsvc", "serve", "--port", str(PORT)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                requests.get(URL + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        post = lambda **body: requests.post(URL + "/api/comments", timeout=5,  # noqa: E731
                                            json={"site": "demo", "uri": "/", **body}).json()
        first = post(author="Ada", website="https://ada.example.org",
                     text="What a lovely idea: the comments of a blog, **without** a platform.")
        post(author="Grace", parent=first["id"], text="Agreed. And pingbacks too, like in 2005!")
        post(author="Linus", text="Does it do `code`?\n\n    yes = True")
        requests.post(URL + f"/api/comments/{first['id']}/like", timeout=5)
        requests.post(URL + "/api/likes", json={"site": "demo", "uri": "/"}, timeout=5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for theme in ("light", "dark"):
                page = browser.new_page(viewport={"width": 720, "height": 900})
                page.goto(f"{URL}/?theme={theme}")
                page.wait_for_selector(".csvc-thread:not([aria-busy])")
                page.locator(".csvc-thread").screenshot(path=ROOT / "docs" / f"widget-{theme}.png")
            browser.close()
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
