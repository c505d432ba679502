"""Webhook benchmark: deliveries per second to a local receiver, event-to-delivery latency, and what the outbox
adds to finalizing invoices.

    .venv/bin/python bench/webhooks.py          # a few minutes; --help for the knobs

What it does, in one run on one machine:
1. drops and recreates a database (fluxbill_bench_webhooks on DATABASE_URL's server, else 127.0.0.1:5432) and
   migrates it (settings fluxbill.settings.local, DEBUG off, an in-memory broker: no worker runs here);
2. starts a receiver in its own process (http.server, threaded, keep-alive), which answers 200 and logs each
   request's webhook-id with the time it arrived;
3. throughput: --events events emitted in one transaction (webhooks.services.emit, one endpoint subscribed to
   every type), then one delivery run (webhooks.delivery.endpoint_deliver, the code the Celery task runs) sends
   them all; prints deliveries per second against the target (500/s);
4. latency: --steady events emitted at --rate per second, one per transaction, while a loop stands in for the
   worker (a run whenever something is due, as the sweep and the after-commit kick start them); prints p50 and
   p99 from the event's commit to its arrival at the receiver;
5. outbox cost: --invoices drafts finalized (invoices_finalize_due, each in its own transaction as beat runs it)
   with no endpoint, then as many again with one endpoint subscribed to everything; prints both times and the
   difference against the target (at most 10 % slower). It exits 0 either way: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import app_environment, database_urls, recreate_database  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TARGET_RATE = 500.0
TARGET_OVERHEAD = 0.10

RECEIVER = r"""
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = open(sys.argv[1], "a", buffering=1)

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, as a real server sends them

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        log.write(f"{self.headers['webhook-id']} {time.time():.6f}\n")
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=10_000, help="events for the throughput run (default 10000)")
    p.add_argument("--steady", type=int, default=2_000, help="events for the latency run (default 2000)")
    p.add_argument("--rate", type=float, default=200.0, help="events per second in the latency run (default 200)")
    p.add_argument("--invoices", type=int, default=10_000, help="drafts finalized per outbox-cost run (default 10000)")
    p.add_argument("--db-name", default="fluxbill_bench_webhooks", help="database to drop, create and use")
    p.add_argument("--keep-db", action="store_true", help="leave the benchmark database in place afterwards")
    return p.parse_args()


def start_receiver(log: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(log)], stdout=subprocess.PIPE, text=True)
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}/hooks"


def arrivals(log: Path) -> dict[str, float]:
    found = {}
    for line in log.read_text().splitlines():
        uid, at = line.split()
        found.setdefault(uid, float(at))
    return found


def throughput(endpoint, count: int) -> tuple[float, int]:
    from django.db import transaction

    from webhooks.delivery import endpoint_deliver
    from webhooks.services import emit

    with transaction.atomic():
        for n in range(count):
            emit("billing.error", data={"object": "bench", "n": n})
    started = time.perf_counter()
    delivered = 0
    while True:
        sent, _ = endpoint_deliver(endpoint.pk)
        delivered += sent
        if not sent:
            break
    return time.perf_counter() - started, delivered


def latency(endpoint, count: int, rate: float, log: Path) -> list[float]:
    import threading

    from django.db import connection, transaction

    from webhooks.delivery import endpoint_deliver, endpoints_due
    from webhooks.models import WebhookEvent
    from webhooks.services import emit

    committed: dict[str, float] = {}
    done = threading.Event()

    def produce():
        try:
            for n in range(count):
                due = start + n / rate
                time.sleep(max(0.0, due - time.time()))
                with transaction.atomic():
                    emit("billing.error", data={"object": "bench-steady", "n": n})
                    uid = WebhookEvent.objects.order_by("-id").values_list("uid", flat=True).first()
                committed[uid] = time.time()
        finally:
            connection.close()
            done.set()

    start = time.time()
    producer = threading.Thread(target=produce)
    producer.start()
    from django.utils import timezone

    while not done.is_set() or endpoints_due(now=timezone.now()):
        if endpoints_due(now=timezone.now()):
            endpoint_deliver(endpoint.pk)
        else:
            time.sleep(0.005)
    producer.join()
    seen = arrivals(log)
    return sorted(seen[uid] - at for uid, at in committed.items() if uid in seen)


def drafts(count: int, *, tag: str, now) -> list:
    """`count` DRAFT period invoices made by a real rollover of fixed-fee monthly subscriptions."""
    from decimal import Decimal

    from catalog.services import charge_create, plan_create
    from customers.models import Customer, Subscription
    from customers.services import billing_entity_default
    from invoicing.models import Invoice
    from invoicing.services import Actor, subscriptions_rollover

    plan = plan_create(name=f"Bench {tag}", lookup_id=f"bench-{tag}", type="FIXED", billing_interval="month", currency="USD")
    charge_create(plan=plan, type="FIXED", display_name="Platform fee", amount=Decimal("49.00"))
    entity = billing_entity_default()
    start = now - timedelta(days=40)
    customers = Customer.objects.bulk_create(
        [Customer(external_id=f"{tag}-{n}", name=f"Customer {tag} {n}", email=f"ap-{tag}-{n}@example.com",
                  billing_entity=entity) for n in range(count)]
    )
    Subscription.objects.bulk_create(
        [Subscription(customer=c, plan=plan, billing_interval="month", status="ACTIVE", start_date=start,
                      current_period_start=start, current_period_end=start + timedelta(days=31)) for c in customers]
    )
    subscriptions_rollover(now=now, actor=Actor.task("bench"))
    ids = list(Invoice.objects.filter(subscription__plan=plan, status="DRAFT").values_list("pk", flat=True))
    Invoice.objects.filter(pk__in=ids).update(finalize_at=now + timedelta(days=365))  # not due until timed
    return ids


def finalize(ids: list, now) -> float:
    from invoicing.models import Invoice
    from invoicing.services import Actor, invoices_finalize_due

    Invoice.objects.filter(pk__in=ids).update(finalize_at=now - timedelta(minutes=1))
    started = time.perf_counter()
    done = invoices_finalize_due(now=now, actor=Actor.task("bench"), limit=len(ids))
    elapsed = time.perf_counter() - started
    assert done == len(ids), (done, len(ids))
    return elapsed


def main() -> None:
    args = parse_args()
    maintenance_url, url = database_urls(args.db_name)
    recreate_database(maintenance_url, args.db_name)
    os.environ.update(app_environment(url))
    os.environ.update(CELERY_BROKER_URL="memory://", FLUXBILL_WEBHOOK_ALLOW_PRIVATE_URLS="true", EMAIL_URL="dummymail://")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from fluxbill.core.actors import Actor
    from webhooks.services import endpoint_create, endpoint_update

    call_command("migrate", interactive=False, verbosity=0)
    log = Path(f"/tmp/fluxbill-bench-webhooks-{os.getpid()}.log")
    log.unlink(missing_ok=True)
    receiver, receiver_url = start_receiver(log)
    try:
        endpoint = endpoint_create(url=receiver_url, actor=Actor.task("bench"))
        seconds, delivered = throughput(endpoint, args.events)
        rate = delivered / seconds
        print(f"throughput: {delivered:,} deliveries in {seconds:.2f} s = {rate:,.0f}/s "
              f"vs ≥ {TARGET_RATE:.0f}/s {'PASS' if rate >= TARGET_RATE else 'FAIL'}")
        waits = latency(endpoint, args.steady, args.rate, log)
        p50, p99 = statistics.median(waits), waits[int(len(waits) * 0.99) - 1]
        print(f"latency at {args.rate:.0f} events/s: {len(waits):,} events, event commit → arrival "
              f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")

        endpoint_update(endpoint=endpoint, data={"enabled": False})
        now = timezone.now()
        plain_ids = drafts(args.invoices, tag="plain", now=now)
        hooked_ids = drafts(args.invoices, tag="hooked", now=now)
        plain = finalize(plain_ids, now)
        endpoint_update(endpoint=endpoint, data={"enabled": True})
        hooked = finalize(hooked_ids, now)
        overhead = hooked / plain - 1
        print(f"finalize {args.invoices:,} invoices: {plain:.2f} s without endpoints, {hooked:.2f} s with one subscribed "
              f"to everything: {overhead * 100:+.1f} % vs ≤ +{TARGET_OVERHEAD * 100:.0f} % "
              f"{'PASS' if overhead <= TARGET_OVERHEAD else 'FAIL'}")
    finally:
        receiver.terminate()
        log.unlink(missing_ok=True)
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            recreate_database(maintenance_url, args.db_name, create=False)


if __name__ == "__main__":
    main()
