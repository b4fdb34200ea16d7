"""A fake Slack on 127.0.0.1: records incoming-webhook posts and answers chat.postMessage with a ts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class FakeSlack:
    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)  # {"path", "body"}

    @property
    def webhook(self) -> str:
        return self.url + "/services/T000/B000/XXXX"

    @property
    def api(self) -> str:
        return self.url + "/api/"

    def wait_for(self, n: int, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.posts) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.posts) >= n, f"Slack got {len(self.posts)} posts within {timeout_s}s, expected {n}"
        return self.posts


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack("")
    counter = {"ts": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            ctype = self.headers.get("content-type", "")
            body = json.loads(raw) if "json" in ctype else {k: v[0] for k, v in parse_qs(raw).items()}
            if isinstance(body.get("blocks"), str):
                body["blocks"] = json.loads(body["blocks"])
            slack.posts.append({"path": self.path, "body": body})
            if self.path.startswith("/api/chat.postMessage"):
                counter["ts"] += 1
                out = json.dumps({"ok": True, "channel": body.get("channel"), "ts": f"1700000000.{counter['ts']:06d}"})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(out.encode())
                return
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    slack.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield slack
    finally:
        server.shutdown()
        server.server_close()
