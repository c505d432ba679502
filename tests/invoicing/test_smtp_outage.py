"""SMTP down while invoices are finalized: they stay OPEN, the worker retries with backoff, and once the
server is back every invoice is emailed exactly once. Real worker on Redis, real SMTP server."""

import datetime as dt
import socket
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
import redis
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from customers.models import Customer, Subscription
from invoicing import tasks
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from tests.celery_broker import celery_broker
from tests.factories import FixedChargeFactory, PlanFactory

REDIS_URL = "redis://127.0.0.1:6379/13"
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
def test_invoices_stay_open_and_are_emailed_once_smtp_is_back(settings):
    port = _free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.FLUXBILL_INVOICE_GRACE_PERIOD = 0
    settings.FLUXBILL_EMAIL_RETRY_BASE_SECONDS = 1
    settings.FLUXBILL_EMAIL_RETRY_MAX_SECONDS = 2

    now = timezone.now()
    start = now - dt.timedelta(days=1, minutes=1)
    plan = PlanFactory(billing_interval="day")
    FixedChargeFactory(plan=plan, amount=Decimal("3.00"))
    for i in range(INVOICES):
        customer = Customer.objects.create(external_id=f"smtp-{i}", name=f"S {i}", email=f"s{i}@example.com")
        Subscription.objects.create(
            customer=customer, plan=plan, billing_interval="day", status="ACTIVE", start_date=start,
            current_period_start=start, current_period_end=start + dt.timedelta(days=1),
        )
    redis.Redis.from_url(REDIS_URL).flushdb()
    inbox = Inbox()
    with celery_broker(REDIS_URL) as app, start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ):
        tasks.rollover_subscriptions.delay()
        tasks.finalize_due_invoices.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and Invoice.objects.filter(email_attempts__gte=1).count() < INVOICES:
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

    attempts = list(Invoice.objects.values_list("email_attempts", flat=True))
    per_recipient = Counter(inbox.recipients)
    print(f"invoices {INVOICES}, emailed {len(per_recipient)}, duplicates {sum(n - 1 for n in per_recipient.values())}, "
          f"attempts {sorted(attempts)}")
    assert Invoice.objects.filter(status=InvoiceStatus.OPEN, email_sent_at__isnull=False).count() == INVOICES
    assert sorted(per_recipient) == [f"s{i}@example.com" for i in range(INVOICES)]
    assert set(per_recipient.values()) == {1}
    assert min(attempts) >= 2
