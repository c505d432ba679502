"""Email through real SMTP: first with nobody listening (the invoice stays OPEN, the failure is recorded),
then with an SMTP server (aiosmtpd) running in the test process, whose captured message is parsed."""

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from invoicing.choices import InvoiceStatus
from invoicing.models import InvoiceEvent
from invoicing.services import EmailResult, invoice_email_send, invoice_finalize
from invoicing.tasks import email_backoff, send_invoice_email

from .builders import ACTOR, period_draft, utc

pytestmark = pytest.mark.django_db

NOW = utc(2025, 2, 1, 2)


def free_port() -> int:
    """A port nobody listens on (bound and released again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collect:
    """aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 2
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "billing@fluxbill.test"
    return settings


@pytest.fixture
def smtp_server(smtp_settings):
    """Start an SMTP server on the configured port; yields the handler holding what it received."""

    def start():
        handler = Collect()
        controller = Controller(handler, hostname="127.0.0.1", port=smtp_settings.EMAIL_PORT)
        controller.start()
        started.append(controller)
        return handler

    started = []
    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def open_invoice():
    invoice, _, _ = period_draft(units=5, email="ap@acme.test", name="Acme Ltd")
    return invoice_finalize(invoice=invoice, now=NOW, actor=ACTOR)


def test_smtp_down_then_up(open_invoice, smtp_server, smtp_settings):
    result, error = invoice_email_send(invoice=open_invoice, now=NOW, actor=ACTOR)
    assert result is EmailResult.FAILED
    assert "Connection refused" in error or "ConnectionRefused" in error
    open_invoice.refresh_from_db()
    assert open_invoice.status == InvoiceStatus.OPEN
    assert open_invoice.email_attempts == 1
    assert open_invoice.email_last_error == error
    assert open_invoice.email_sent_at is None
    failed = InvoiceEvent.objects.get(invoice=open_invoice, action="email_failed")
    assert (failed.actor, failed.detail) == ("task:test", error)

    handler = smtp_server()
    later = utc(2025, 2, 1, 2, 10)
    assert invoice_email_send(invoice=open_invoice, now=later, actor=ACTOR) == (EmailResult.SENT, "")
    open_invoice.refresh_from_db()
    assert open_invoice.email_attempts == 2
    assert open_invoice.email_sent_at == later
    assert open_invoice.email_last_error == ""
    assert open_invoice.status == InvoiceStatus.OPEN
    assert [a.action for a in InvoiceEvent.objects.filter(invoice=open_invoice)] == [
        "created",
        "finalized",
        "email_failed",
        "email_sent",
    ]

    (envelope,) = handler.envelopes
    assert envelope.mail_from == "billing@fluxbill.test"
    assert envelope.rcpt_tos == ["ap@acme.test"]
    message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
    assert message["Subject"] == "Invoice INV-2025-000001"
    assert message["To"] == "ap@acme.test"
    parts = {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/html", "application/pdf"}
    assert "Total: $54.00\r\nAmount due: $54.00" in parts["text/plain"].get_content()
    assert "INV-2025-000001" in parts["text/html"].get_content()
    pdf = parts["application/pdf"]
    assert pdf.get_filename() == "INV-2025-000001.pdf"
    assert pdf.get_payload(decode=True).startswith(b"%PDF")

    # A retry after success sends nothing more.
    assert invoice_email_send(invoice=open_invoice, now=later, actor=ACTOR) == (EmailResult.ALREADY_SENT, "")
    assert len(handler.envelopes) == 1


def test_the_email_task_sends_once_and_a_rerun_finds_it_sent(open_invoice, smtp_server):
    handler = smtp_server()
    assert send_invoice_email.apply(args=(str(open_invoice.pk),)).get() == "sent"
    assert send_invoice_email.apply(args=(str(open_invoice.pk),)).get() == "already_sent"
    assert len(handler.envelopes) == 1
    open_invoice.refresh_from_db()
    assert open_invoice.email_attempts == 1


def test_the_email_task_gives_up_after_the_configured_attempts(open_invoice, smtp_settings):
    smtp_settings.FLUXBILL_EMAIL_MAX_ATTEMPTS = 1
    assert send_invoice_email.apply(args=(str(open_invoice.pk),)).get() == "failed"
    open_invoice.refresh_from_db()
    assert (open_invoice.status, open_invoice.email_attempts) == (InvoiceStatus.OPEN, 1)
    assert open_invoice.email_last_error


def test_send_email_endpoint_with_smtp_down_is_a_502_and_keeps_the_invoice_open(open_invoice, smtp_settings, admin_api):
    response = admin_api.post(f"/api/v1/invoices/{open_invoice.pk}/send-email")
    assert response.status_code == 502, response.content
    assert response.json()["error"].startswith("Email not sent:")
    open_invoice.refresh_from_db()
    assert open_invoice.status == InvoiceStatus.OPEN
    assert open_invoice.email_attempts == 1
    assert open_invoice.email_last_error


def test_retry_backoff_doubles_up_to_the_cap(settings):
    settings.FLUXBILL_EMAIL_RETRY_BASE_SECONDS = 30
    settings.FLUXBILL_EMAIL_RETRY_MAX_SECONDS = 3600
    assert [email_backoff(n) for n in range(9)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
