"""HTTP load generator for bench/ingest.py, run as its own process so it never shares a GIL with the server.

Standard library only. One thread drives every connection through a selector: each client is an
HTTP/1.1 keep-alive connection with at most one request in flight (closed-loop, like `wrk -c N`),
so the measured rate is what N clients waiting for answers get, and latency is send-to-last-byte.

Usage: python bench/loadgen.py '<json config>'; prints one JSON object with the results.
"""

from __future__ import annotations

import json
import resource
import selectors
import socket
import sys
import time
from datetime import datetime, timedelta, timezone


class RequestFactory:
    """Builds each request's bytes; every event carries an idempotency key never used before."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.kind = cfg["kind"]
        self.counter = 0
        self.customers = [f"{cfg['customer_prefix']}{i}" for i in range(cfg["customers"])]
        host = f"Host: {cfg['host']}:{cfg['port']}\r\n"
        if self.kind == "plain":
            self.fixed = f"GET /bench/plain HTTP/1.1\r\n{host}\r\n".encode()
        else:
            path = "/api/v1/sdk/track" if self.kind == "track" else "/api/v1/events/bulk"
            self.head = (
                f"POST {path} HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                f"X-API-Key: {cfg['api_key']}\r\nContent-Length: "
            )
        # Bulk events carry an explicit recent timestamp, as Flexprice clients send them.
        stamp = datetime.now(timezone.utc) - timedelta(minutes=5)
        self.timestamp = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"

    def next(self) -> bytes:
        if self.kind == "plain":
            return self.fixed
        run = self.cfg["run_id"]
        if self.kind == "track":
            n = self.counter
            self.counter += 1
            body = (
                f'{{"meter_token":"{self.cfg["meter_token"]}","customer_external_id":"{self.customers[n % len(self.customers)]}",'
                f'"quantity":{n % 7 + 1},"idempotency_key":"{run}-t-{n}"}}'
            )
        else:
            start = self.counter
            size = self.cfg["batch"]
            self.counter += size
            name = self.cfg["event_name"]
            prop = self.cfg["property_name"]
            ts = self.timestamp
            customers = self.customers
            events = ",".join(
                f'{{"event_name":"{name}","external_customer_id":"{customers[n % len(customers)]}",'
                f'"event_id":"{run}-b-{n}","timestamp":"{ts}","source":"bench",'
                f'"properties":{{"{prop}":{n % 7 + 1},"model":"gpt-4o"}}}}'
                for n in range(start, start + size)
            )
            body = f'{{"events":[{events}]}}'
        raw = body.encode()
        return (self.head + f"{len(raw)}\r\n\r\n").encode() + raw


class Client:
    def __init__(self, gen: "LoadGenerator"):
        self.gen = gen
        self.sock: socket.socket | None = None
        self.out = memoryview(b"")
        self.inbuf = bytearray()
        self.started = 0.0
        self.header_end = -1
        self.body_length = -1
        self.closing = False

    def connect(self) -> None:
        sock = socket.create_connection((self.gen.cfg["host"], self.gen.cfg["port"]))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self.sock = sock
        self.gen.sel.register(sock, selectors.EVENT_READ, self)

    def close(self) -> None:
        if self.sock is not None:
            self.gen.sel.unregister(self.sock)
            self.sock.close()
            self.sock = None

    def start(self) -> None:
        if self.sock is None:
            self.connect()
        self.out = memoryview(self.gen.factory.next())
        self.inbuf.clear()
        self.header_end = -1
        self.body_length = -1
        self.closing = False
        self.started = time.perf_counter()
        self.send()

    def send(self) -> None:
        try:
            sent = self.sock.send(self.out)
        except BlockingIOError:
            sent = 0
        self.out = self.out[sent:]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        self.gen.sel.modify(self.sock, events, self)

    def receive(self) -> None:
        try:
            data = self.sock.recv(1 << 18)
        except BlockingIOError:
            return
        except ConnectionError:
            data = b""
        if not data:
            self.gen.failed(self, "connection closed by the server mid-request")
            return
        self.inbuf += data
        if self.header_end < 0:
            self.header_end = self.inbuf.find(b"\r\n\r\n")
            if self.header_end < 0:
                return
            headers = bytes(self.inbuf[: self.header_end]).lower()
            at = headers.find(b"\r\ncontent-length:")
            if at < 0:
                self.gen.failed(self, "response without Content-Length")
                return
            end = headers.find(b"\r\n", at + 2)
            self.body_length = int(headers[at + 17 : end if end >= 0 else len(headers)])
            self.closing = b"\r\nconnection: close" in headers
        if len(self.inbuf) >= self.header_end + 4 + self.body_length:
            status = int(self.inbuf[9:12])
            body = bytes(self.inbuf[self.header_end + 4 : self.header_end + 4 + self.body_length])
            self.gen.done(self, status, body, time.perf_counter() - self.started)


class LoadGenerator:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.sel = selectors.DefaultSelector()
        self.factory = RequestFactory(cfg)
        self.expected = {"plain": 200, "track": 201, "bulk": 202}[cfg["kind"]]
        self.measuring = False
        self.stopping = False
        self.latencies: list[float] = []
        self.requests = 0
        self.events = 0
        self.errors = 0
        self.error_samples: list[str] = []

    def failed(self, client: Client, why: str) -> None:
        if self.measuring:
            self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(why)
        client.close()
        if not self.stopping:
            client.start()

    def done(self, client: Client, status: int, body: bytes, elapsed: float) -> None:
        ok = status == self.expected
        accepted = 0
        if ok and self.cfg["kind"] == "bulk":
            answer = json.loads(body)
            accepted = int(answer["accepted"])
            ok = accepted == self.cfg["batch"]
        if self.measuring:
            if ok:
                self.requests += 1
                self.events += accepted
                self.latencies.append(elapsed)
            else:
                self.errors += 1
        if not ok and len(self.error_samples) < 5:
            self.error_samples.append(f"{status} {body[:300].decode(errors='replace')}")
        if client.closing:
            client.close()
        if not self.stopping:
            client.start()

    def run(self) -> dict:
        clients = [Client(self) for _ in range(self.cfg["clients"])]
        # Clients join one by one over the first quarter of the warm-up, as a fleet of clients would,
        # rather than in one burst: gunicorn's workers share one listening socket, and a burst of
        # connections tends to be accepted almost all by whichever worker wakes first (16 of 16 seen),
        # which then serves them on one GIL while the other worker idles.
        began = time.perf_counter()
        ramp = self.cfg["warmup"] / 4 / max(1, len(clients))
        waiting = list(clients)
        measure_from = began + self.cfg["warmup"]
        measure_to = measure_from + self.cfg["duration"]
        cpu_from = None
        while True:
            now = time.perf_counter()
            while waiting and now >= began + ramp * (len(clients) - len(waiting)):
                waiting.pop(0).start()
            if not self.measuring and now >= measure_from:
                self.measuring = True
                measure_from = now
                cpu_from = resource.getrusage(resource.RUSAGE_SELF)
                # Tells bench/ingest.py to read the server's and PostgreSQL's CPU counters now.
                print("MEASURING", flush=True)
            if now >= measure_to:
                break
            for key, mask in self.sel.select(timeout=min(0.2, ramp) if waiting else 0.2):
                client = key.data
                if client.sock is None:
                    continue
                if mask & selectors.EVENT_WRITE and client.out:
                    client.send()
                if mask & selectors.EVENT_READ:
                    client.receive()
        self.stopping = True
        elapsed = time.perf_counter() - measure_from
        cpu_to = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu_to.ru_utime + cpu_to.ru_stime) - (cpu_from.ru_utime + cpu_from.ru_stime) if cpu_from else 0.0
        for client in clients:
            client.close()
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else None

        return {
            "kind": self.cfg["kind"],
            "clients": self.cfg["clients"],
            "seconds": elapsed,
            "requests": self.requests,
            "events": self.events,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "requests_per_s": self.requests / elapsed,
            "events_per_s": self.events / elapsed,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": lat[-1] * 1000 if lat else None,
            "latencies_ms": [round(x * 1000, 3) for x in lat],
            "loadgen_cpu_s": cpu,
        }


if __name__ == "__main__":
    print(json.dumps(LoadGenerator(json.loads(sys.argv[1])).run()))
