"""Real servers the fault tests start in or beside the test process, and freeze or stop without
touching the machine's shared Redis: a private redis-server on a free port, an aiosmtpd whose
handler can hang mid-conversation."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own: SIGSTOP freezes it (connections are accepted, nothing answers)."""

    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.thaw()
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    yield server
    server.stop()


class HangingInbox:
    """aiosmtpd handler. While `hang` is set, a session reaching DATA waits (as a frozen server does)
    until `release` is set, then keeps the message and answers 250 (`accept_on_release`, a server that
    thawed) or answers 451 and keeps nothing; without `hang` it keeps the message."""

    def __init__(self, accept_on_release: bool = True):
        self.accept_on_release = accept_on_release
        self.envelopes = []
        self.hang = threading.Event()
        self.release = threading.Event()
        self.hanging = threading.Event()  # a session is waiting in DATA now

    async def handle_DATA(self, server, session, envelope):
        if self.hang.is_set():
            self.hanging.set()
            # Poll instead of blocking: a blocked event loop could not be stopped at teardown.
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            self.hanging.clear()
            if not self.accept_on_release:
                return "451 4.3.0 Try again later"
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"
