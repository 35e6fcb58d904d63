"""A stand-in fediverse server on 127.0.0.1: the Mastodon API's public endpoints for statuses
(statuses/:id, context, favourited_by, reblogged_by) with the documented JSON shapes, ETags
and 304s, and switches for a slow server, HTML answers and 500s."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class Mastodon:
    """server.post(...) and server.reply(...) make statuses; server.mode is "ok", "slow",
    "html" or "500"; server.requests lists (path, headers) of what came."""

    def __init__(self):
        self.statuses: dict[str, dict] = {}
        self.order: list[str] = []
        self.favourited: dict[str, list[dict]] = {}
        self.reblogged: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, dict]] = []
        self.mode = "ok"
        self.slow_seconds = 3.0
        self._next = 100
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                status, body, content_type = server.answer(self.path)
                if server.mode == "slow":
                    time.sleep(server.slow_seconds)
                if server.mode == "html":
                    status, body, content_type = 200, b"<html>Maintenance</html>", "text/html"
                if server.mode == "500":
                    status, body, content_type = 500, b'{"error":"oops"}', "application/json"
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if status == 200:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.host}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- making statuses ------------------------------------------------------------------------

    def account(self, username: str, display_name: str = "", acct: str | None = None) -> dict:
        return {
            "id": str(abs(hash(username)) % 10**9),
            "username": username,
            "acct": acct if acct is not None else username,
            "display_name": display_name or username.title(),
            "url": f"{self.url}/@{username}",
            "avatar": f"{self.url}/avatars/{username}.png",
            "avatar_static": f"{self.url}/avatars/{username}.png",
        }

    def post(self, username: str = "me", content: str = "<p>My new post</p>", **fields) -> dict:
        """Add a status (a reply when in_reply_to_id is given); return it."""
        self._next += 1
        status_id = str(self._next)
        account = fields.pop("account", None) or self.account(username)
        status = {
            "id": status_id,
            "created_at": "2026-11-28T10:00:00.000Z",
            "edited_at": None,
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "visibility": "public",
            "spoiler_text": "",
            "uri": f"{self.url}/users/{account['username']}/statuses/{status_id}",
            "url": f"{self.url}/@{account['username']}/{status_id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "content": content,
            "account": account,
            "emojis": [],
            "mentions": [],
            "tags": [],
        }
        status.update(fields)
        self.statuses[status_id] = status
        self.order.append(status_id)
        return status

    def reply(self, to: dict, username: str, content: str, **fields) -> dict:
        return self.post(username, content, in_reply_to_id=to["id"], **fields)

    def delete(self, status: dict) -> None:
        self.statuses.pop(status["id"], None)

    def edit(self, status: dict, content: str) -> None:
        status["content"] = content
        status["edited_at"] = "2026-11-28T11:00:00.000Z"

    def hits(self, fragment: str) -> int:
        return sum(1 for path, _h in self.requests if fragment in path)

    # --- answering ------------------------------------------------------------------------------

    def answer(self, path: str) -> tuple[int, bytes, str]:
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:3] != ["api", "v1", "statuses"] or len(parts) < 4:
            return 404, b'{"error":"Record not found"}', "application/json"
        status = self.statuses.get(parts[3])
        if status is None:
            return 404, b'{"error":"Record not found"}', "application/json"
        rest = parts[4:]
        if not rest:
            data = status
        elif rest == ["context"]:
            data = {"ancestors": [], "descendants": self._descendants(status["id"])}
        elif rest == ["favourited_by"]:
            data = self.favourited.get(status["id"], [])
        elif rest == ["reblogged_by"]:
            data = self.reblogged.get(status["id"], [])
        else:
            return 404, b'{"error":"Record not found"}', "application/json"
        return 200, json.dumps(data).encode(), "application/json; charset=utf-8"

    def _descendants(self, root: str) -> list[dict]:
        # Depth first, parents before children, as Mastodon gives them.
        found, stack = [], [root]
        children: dict[str, list[str]] = {}
        for status_id in self.order:
            status = self.statuses.get(status_id)
            if status and status["in_reply_to_id"]:
                children.setdefault(status["in_reply_to_id"], []).append(status_id)
        while stack:
            current = stack.pop()
            for child in reversed(children.get(current, [])):
                found.append(child)
                stack.append(child)
        found.sort(key=self.order.index)
        return [self.statuses[s] for s in found]
