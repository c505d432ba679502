"""Step 7 of the quickstart end to end: a real Celery worker on Redis, a real SMTP server in this process.

Events go in through the API; the subscription's first daily period has already ended (that is how
"time passes" without touching the clock); the tasks draft, finalize and email the invoice.
"""

import datetime as dt
import email
import socket
import threading
import time
from decimal import Decimal

import pytest
import redis
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from fluxbill.celery import app
from invoicing import tasks
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from tests.celery_broker import celery_broker
from tests.factories import CustomerFactory, FixedChargeFactory, MeterFactory, PlanFactory, SubscriptionFactory, UsageChargeFactory

REDIS_URL = settings.FLUXBILL_TEST_REDIS_URL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages: list[bytes] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content)
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield inbox
    controller.stop()


@pytest.fixture
def redis_worker(settings):
    settings.FLUXBILL_INVOICE_GRACE_PERIOD = 0
    redis.Redis.from_url(REDIS_URL).flushdb()
    with celery_broker(REDIS_URL):
        assert app.connection_for_write().as_uri().startswith("redis://")
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
            yield app


def _wait_for(predicate, timeout=60.0, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_period_end_is_drafted_finalized_and_emailed_by_the_worker(smtp_server, redis_worker, key_client):
    now = timezone.now()
    meter = MeterFactory(event_name="api.calls", property_name="calls", aggregation_type="SUM")
    plan = PlanFactory(billing_interval="day", currency="USD")
    FixedChargeFactory(plan=plan, amount=Decimal("5.00"), display_name="Daily fee")
    UsageChargeFactory(plan=plan, meter=meter, unit_price=Decimal("0.25"), display_name="API calls")
    customer = CustomerFactory(external_id="acme-corp-001", name="Acme Corp", email="billing@acme.example")
    start = now - dt.timedelta(days=1, minutes=1)
    subscription = SubscriptionFactory(
        customer=customer,
        plan=plan,
        start_date=start,
        current_period_start=start,
        current_period_end=start + dt.timedelta(days=1),
    )

    client = key_client("usage.write")
    for n, (minutes_after_start, calls) in enumerate([(10, 4), (600, 6), (1430, 2)]):
        response = client.post(
            "/api/v1/events",
            {
                "event_name": "api.calls",
                "external_customer_id": "acme-corp-001",
                "properties": {"calls": calls},
                "timestamp": (start + dt.timedelta(minutes=minutes_after_start)).isoformat(),
                "event_id": f"evt-{n}",
            },
            format="json",
        )
        assert response.status_code == 202, response.content

    tasks.rollover_subscriptions.delay()
    draft = _wait_for(lambda: Invoice.objects.filter(subscription=subscription).first())
    assert draft.status == InvoiceStatus.DRAFT

    tasks.finalize_due_invoices.delay()
    assert smtp_server.arrived.wait(60), "no email reached the SMTP server"

    invoice = _wait_for(
        lambda: Invoice.objects.filter(pk=draft.pk, email_sent_at__isnull=False).first()
    )
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.number == f"INV-{invoice.issued_at.year}-000001"
    # 5.00 fixed + 12 calls × 0.25
    assert invoice.total == Decimal("8.00")
    subscription.refresh_from_db()
    assert subscription.current_period_start == start + dt.timedelta(days=1)

    assert len(smtp_server.messages) == 1
    message = email.message_from_bytes(smtp_server.messages[0])
    assert message["To"] == "billing@acme.example"
    assert invoice.number in message["Subject"]
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "text/plain" in parts and "text/html" in parts
    assert "$8.00" in parts["text/plain"].get_payload(decode=True).decode()
    pdf = parts["application/pdf"].get_payload(decode=True)
    assert pdf.startswith(b"%PDF")

    # The tasks really travelled through Redis.
    assert redis.Redis.from_url(REDIS_URL).exists("_kombu.binding.celery")

    # A second sweep after success sends nothing more.
    tasks.send_pending_emails.delay()
    time.sleep(2)
    assert len(smtp_server.messages) == 1
