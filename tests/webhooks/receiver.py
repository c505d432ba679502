"""A webhook receiver in the test process: a real HTTP server that verifies every request's signature with the
`standardwebhooks` library (as any Standard Webhooks receiver would), and answers what the test scripts."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    headers: dict
    body: bytes
    verified: bool
    payload: dict | None


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    # Scripted answers, first in first out: (status, headers, body); when empty, 200 "ok".
    answers: deque = field(default_factory=deque)
    server: ThreadingHTTPServer | None = None
    delay: float = 0.0  # seconds each answer waits (a slow receiver)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def answer(self, status: int, body: str = "", headers: dict | None = None, times: int = 1) -> None:
        for _ in range(times):
            self.answers.append((status, headers or {}, body))

    def verified(self, secret: str | None = None) -> list[dict]:
        return [r.payload for r in self.requests if r.verified]

    def delivered_ids(self) -> list[str]:
        """webhook-id of every request answered 2xx, in arrival order."""
        return [r.headers["webhook-id"] for r in self.requests if r.verified and r.headers.get("x-answered") == "2xx"]


def start_receiver() -> Receiver:
    receiver = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once, as a real server sends them

        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if receiver.delay:
                time.sleep(receiver.delay)
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified, payload = False, None
            for secret in receiver.secrets:
                try:
                    payload = Webhook(secret).verify(body, headers)
                    verified = True
                    break
                except WebhookVerificationError:
                    continue
            with lock:
                status, extra, text = receiver.answers.popleft() if receiver.answers else (200, {}, "ok")
                headers["x-answered"] = "2xx" if 200 <= status < 300 else str(status)
                receiver.requests.append(Received(headers, body, verified, payload))
            data = text.encode()
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    receiver.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.server.daemon_threads = True
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    return receiver


def payload_types(receiver: Receiver) -> list[str]:
    return [json.loads(r.body)["type"] for r in receiver.requests]
