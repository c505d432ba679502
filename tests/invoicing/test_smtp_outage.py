"""SMTP down while invoices are finalized: they stay OPEN, the worker retries with backoff, and once the
server is back every invoice is emailed exactly once. Real worker on Redis, real SMTP server."""

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from django.utils import timezone

from customers.models import Customer, Subscription
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from tests.celery_broker import celery_broker
from tests.factories import FixedChargeFactory, PlanFactory, default_entity

REDIS_URL = settings.FLUXBILL_TEST_REDIS_URL
ROOT = Path(__file__).resolve().parents[2]
INVOICES = 5


class Inbox:
    def __init__(self):
        self.recipients: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_invoices_stay_open_and_are_emailed_once_smtp_is_back():
    port = _free_port()

    now = timezone.now()
    start = now - dt.timedelta(days=1, minutes=1)
    plan = PlanFactory(billing_interval="day")
    FixedChargeFactory(plan=plan, amount=Decimal("3.00"))
    for i in range(INVOICES):
        customer = Customer.objects.create(
            external_id=f"smtp-{i}", name=f"S {i}", email=f"s{i}@example.com", billing_entity=default_entity()
        )
        Subscription.objects.create(
            customer=customer, plan=plan, billing_interval="day", status="ACTIVE", start_date=start,
            current_period_start=start, current_period_end=start + dt.timedelta(days=1),
        )
    redis.Redis.from_url(REDIS_URL).flushdb()
    inbox = Inbox()
    # The worker is its own process, configured from the environment like a deployed one.
    s = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="fluxbill.settings.local",
        DATABASE_URL=f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
        CELERY_BROKER_URL=REDIS_URL,
        EMAIL_URL=f"smtp://127.0.0.1:{port}",
        FLUXBILL_INVOICE_GRACE_PERIOD="0",
        FLUXBILL_EMAIL_RETRY_BASE_SECONDS="1",
        FLUXBILL_EMAIL_RETRY_MAX_SECONDS="2",
        # Retries every 1-2 s while the test waits for all five failures: never let one run out of attempts.
        FLUXBILL_EMAIL_MAX_ATTEMPTS="1000",
        DEBUG="false",
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fluxbill", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    with celery_broker(REDIS_URL) as app:
        app.send_task("invoicing.rollover_subscriptions")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Invoice.objects.exists():
            time.sleep(0.2)
        app.send_task("invoicing.finalize_due_invoices")
        deadline = time.monotonic() + 60
        # An attempt is counted when the send is claimed, before SMTP answers: wait for the recorded failure.
        failed = Invoice.objects.filter(email_attempts__gte=1, email_claim_token__isnull=True).exclude(email_last_error="")
        while time.monotonic() < deadline and failed.count() < INVOICES:
            time.sleep(0.2)
        down = list(Invoice.objects.values_list("status", "email_sent_at", "email_last_error"))
        assert len(down) == INVOICES
        assert all(status == InvoiceStatus.OPEN and sent is None and error for status, sent, error in down)

        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and Invoice.objects.filter(email_sent_at__isnull=False).count() < INVOICES:
                time.sleep(0.2)
            time.sleep(3)  # later retries, if any were still queued, would arrive now
        finally:
            controller.stop()
            worker.terminate()
            worker.wait(15)

    attempts = list(Invoice.objects.values_list("email_attempts", flat=True))
    per_recipient = Counter(inbox.recipients)
    print(f"invoices {INVOICES}, emailed {len(per_recipient)}, duplicates {sum(n - 1 for n in per_recipient.values())}, "
          f"attempts {sorted(attempts)}")
    assert Invoice.objects.filter(status=InvoiceStatus.OPEN, email_sent_at__isnull=False).count() == INVOICES
    assert sorted(per_recipient) == [f"s{i}@example.com" for i in range(INVOICES)]
    assert set(per_recipient.values()) == {1}
    assert min(attempts) >= 2
