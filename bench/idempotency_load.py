"""Idempotency under load, and under a PostgreSQL restart: nothing lost, nothing doubled.

    .venv/bin/python bench/idempotency_load.py                  # ~1 minute
    .venv/bin/python bench/idempotency_load.py --restart-postgres  # also restarts the local PostgreSQL mid-run

One run:
1. a fresh database (fluxbill_bench_idem on DATABASE_URL's server, else 127.0.0.1:5432), migrated, with a
   SUM meter, customers and a `*` key made through the project's own code (bench/ingest.py's helpers);
2. gunicorn on it (rate limits off);
3. a separate client process: N concurrent clients each send M events, ~30% of the sends being
   deliberate retries of an earlier idempotency key (same body), half through Fluxrate's /sdk/track
   and half in Flexprice /events/bulk batches. A failed request (503, a reset connection, a timeout)
   is retried with the same keys until it succeeds, as the seeds tell clients to do;
4. with --restart-postgres, `pg_ctlcluster … restart` while the clients run (needs the machine's own
   PostgreSQL at 127.0.0.1:5432 and root);
5. prints: sent, retried, stored, expected, lost, doubled, the stored SUM against the clients' own sum,
   and every status the server answered (a 500 is a bug; 503 is what an outage should give).

Exit status 1 when anything was lost, doubled, or answered 500 — this one is a check, not only figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import (  # noqa: E402  (bench/ingest.py's helpers)
    CUSTOMER_PREFIX,
    METER_EVENT,
    METER_PROPERTY,
    Server,
    app_environment,
    database_urls,
    prepare_fixtures,
    recreate_database,
)

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=12)
    p.add_argument("--events", type=int, default=400, help="sends per client, retries included (default 400)")
    p.add_argument("--retry-share", type=float, default=0.30)
    p.add_argument("--bulk-size", type=int, default=25)
    p.add_argument("--customers", type=int, default=20)
    p.add_argument("--restart-postgres", action="store_true")
    p.add_argument("--db-name", default="fluxbill_bench_idem")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--worker-class", default="gthread")
    p.add_argument("--client-config", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# --- The client process ------------------------------------------------------------------


class Client(threading.Thread):
    """One backend sending usage: new events, deliberate retries, and retries after failures."""

    def __init__(self, number: int, config: dict, statuses: Counter, lock: threading.Lock):
        super().__init__(daemon=True)
        self.number = number
        self.config = config
        self.statuses = statuses
        self.lock = lock
        self.random = random.Random(number)
        self.sent_keys: dict[str, Decimal] = {}
        self.sends = 0
        self.deliberate_retries = 0
        self.failure_retries = 0
        self.connection = None

    def _post(self, path: str, body: dict) -> None:
        """POST until the server says it has the event(s); same body, same keys every time."""
        payload = json.dumps(body)
        delay = 0.05
        deadline = time.monotonic() + 180
        while True:
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection("127.0.0.1", self.config["port"], timeout=15)
                self.connection.request(
                    "POST", path, body=payload,
                    headers={"Content-Type": "application/json", "X-API-Key": self.config["api_key"]},
                )  # fmt: skip
                response = self.connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = "connection error"
                self.connection = None
            with self.lock:
                self.statuses[status] += 1
            if status in (201, 202):
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"client {self.number}: gave up on {path} after 180 s (last: {status})")
            if status not in (503, "connection error", 502, 504):
                # 4xx or 500 would be a bug here (every event is valid): retry anyway, it is counted.
                pass
            self.failure_retries += 1
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _event(self) -> tuple[str, Decimal, bool]:
        if self.sent_keys and self.random.random() < self.config["retry_share"]:
            key = self.random.choice(list(self.sent_keys))
            return key, self.sent_keys[key], True
        key = f"c{self.number}-e{len(self.sent_keys)}"
        quantity = Decimal(self.random.randint(1, 100_000)) / 100
        self.sent_keys[key] = quantity
        return key, quantity, False

    def run(self) -> None:
        customer = f"{CUSTOMER_PREFIX}{self.number % self.config['customers']}"
        batch: list[dict] = []
        for _ in range(self.config["events"]):
            key, quantity, retry = self._event()
            self.sends += 1
            self.deliberate_retries += retry
            if self.random.random() < 0.5:
                self._post(
                    "/api/v1/sdk/track",
                    {
                        "meter_token": self.config["meter_token"],
                        "customer_external_id": customer,
                        "quantity": str(quantity),
                        "idempotency_key": key,
                    },
                )
            else:
                batch.append(
                    {
                        "event_name": METER_EVENT,
                        "external_customer_id": customer,
                        "event_id": key,
                        "properties": {METER_PROPERTY: str(quantity)},
                    }
                )
                if len(batch) >= self.config["bulk_size"]:
                    self._post("/api/v1/events/bulk", {"events": batch})
                    batch = []
        if batch:
            self._post("/api/v1/events/bulk", {"events": batch})


def run_clients(config: dict) -> None:
    statuses: Counter = Counter()
    lock = threading.Lock()
    clients = [Client(n, config, statuses, lock) for n in range(config["clients"])]
    began = time.monotonic()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    keys = {}
    for client in clients:
        customer = f"{CUSTOMER_PREFIX}{client.number % config['customers']}"
        for key, quantity in client.sent_keys.items():
            keys[f"{customer}|{key}"] = str(quantity)
    print(
        json.dumps(
            {
                "seconds": time.monotonic() - began,
                "sent": sum(c.sends for c in clients),
                "retried": sum(c.deliberate_retries for c in clients),
                "failure_retries": sum(c.failure_retries for c in clients),
                "statuses": {str(k): v for k, v in statuses.items()},
                "keys": keys,
            }
        )
    )


# --- The orchestrating process -----------------------------------------------------------


def restart_postgres(after_seconds: float, log: list) -> threading.Thread:
    def restart():
        time.sleep(after_seconds)
        version = sorted(os.listdir("/etc/postgresql"))[0]
        began = time.monotonic()
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"], check=True
        )
        log.append(time.monotonic() - began)

    thread = threading.Thread(target=restart, daemon=True)
    thread.start()
    return thread


def main() -> int:
    args = parse_args()
    if args.client_config:
        run_clients(json.loads(args.client_config))
        return 0

    maintenance_url, bench_url = database_urls(args.db_name)
    print(f"preparing database {args.db_name} …", flush=True)
    recreate_database(maintenance_url, args.db_name)
    environment = app_environment(bench_url)
    fixtures = prepare_fixtures(environment, args.customers)
    print("starting gunicorn …", flush=True)
    server = Server(args, environment)
    restart_log: list = []
    try:
        config = {
            "port": server.port,
            "api_key": fixtures["api_key"],
            "meter_token": fixtures["meter_token"],
            "clients": args.clients,
            "events": args.events,
            "retry_share": args.retry_share,
            "bulk_size": args.bulk_size,
            "customers": args.customers,
        }
        print(f"{args.clients} clients × {args.events} sends, {args.retry_share:.0%} deliberate retries …", flush=True)
        restarter = restart_postgres(3.0, restart_log) if args.restart_postgres else None
        client = subprocess.run(
            [sys.executable, __file__, "--client-config", json.dumps(config)],
            cwd=REPO, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if restarter:
            restarter.join(60)
        if client.returncode != 0:
            print(client.stdout, client.stderr)
            return 1
        result = json.loads(client.stdout.strip().splitlines()[-1])
    finally:
        server.stop()

    import psycopg

    with psycopg.connect(bench_url) as conn:
        rows = conn.execute(
            """
            SELECT c.external_id || '|' || e.idempotency_key, COUNT(*), SUM(e.quantity)
            FROM metering_usageevent e JOIN customers_customer c ON c.id = e.customer_id
            WHERE e.meter_id = %s GROUP BY 1
            """,
            [fixtures["meter_id"]],
        ).fetchall()
        stored_rows = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(quantity), 0) FROM metering_usageevent WHERE meter_id = %s",
            [fixtures["meter_id"]],
        ).fetchone()
    recreate_database(maintenance_url, args.db_name, create=False)

    expected = {key: Decimal(q) for key, q in result["keys"].items()}
    stored = {key: (count, total) for key, count, total in rows}
    lost = sorted(set(expected) - set(stored))
    doubled = sorted(key for key, (count, _) in stored.items() if count > 1)
    unexpected = sorted(set(stored) - set(expected))
    wrong_quantity = sorted(k for k, (count, total) in stored.items() if k in expected and total != expected[k] * count)
    expected_sum = sum(expected.values(), Decimal(0))

    print()
    print(f"sent       {result['sent']:>8}   requests' events, retries included ({result['seconds']:.1f} s)")
    print(f"retried    {result['retried']:>8}   deliberate re-sends of an earlier key")
    print(f"stored     {stored_rows[0]:>8}   rows for the meter")
    print(f"expected   {len(expected):>8}   distinct keys the clients sent")
    print(f"lost       {len(lost):>8}")
    print(f"doubled    {len(doubled):>8}")
    print(f"unexpected {len(unexpected):>8}   rows under keys no client sent")
    print(f"SUM stored {stored_rows[1]:>14}   vs the clients' own sum {expected_sum}")
    print(f"re-sends after failures {result['failure_retries']}; answers by status: {result['statuses']}")
    if args.restart_postgres:
        print(f"PostgreSQL restart took {restart_log[0]:.1f} s" if restart_log else "PostgreSQL restart did not finish")
    ok = (
        not lost
        and not doubled
        and not unexpected
        and not wrong_quantity
        and stored_rows[0] == len(expected)
        and Decimal(stored_rows[1]) == expected_sum
        and "500" not in result["statuses"]
    )
    print("PASS: nothing lost, nothing doubled, no 500" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
