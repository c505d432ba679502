"""The void notice (issue 16 §5): voiding an issued invoice, alone or by a regenerate, emails the customer once,
naming the replacement; a voided draft sends nothing. Sent through a real SMTP server (aiosmtpd) and parsed."""

import email
from email import policy
from unittest import mock

import pytest

from invoicing import receivers
from invoicing.models import InvoiceEvent
from invoicing.services import (
    EmailResult,
    invoice_finalize,
    invoice_mark_uncollectible,
    invoice_regenerate,
    invoice_void,
    invoice_void_notice_send,
)
from invoicing.tasks import send_void_notice

from .builders import ACTOR, period_draft, utc
from .test_email_failures import smtp_server, smtp_settings  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

NOW = utc(2025, 2, 1, 2)
LATER = utc(2025, 2, 5, 9)


@pytest.fixture
def open_invoice():
    # $49.00 + 5 × $1.00 = $54.00, to the customer's invoice email with its accountant in copy.
    invoice, _, _ = period_draft(units=5, email="ap@acme.test", name="Acme Ltd", cc_emails=["books@acme.test"])
    return invoice_finalize(invoice=invoice, now=NOW, actor=ACTOR)


@pytest.fixture
def queued():
    """The void notices and invoice emails the receivers queue, by invoice id, instead of a broker."""
    with mock.patch.object(receivers.send_void_notice, "apply_async") as notices, \
            mock.patch.object(receivers.send_invoice_email, "apply_async") as emails:  # fmt: skip
        yield notices, emails


def _parsed(envelope):
    message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
    parts = {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
    return message, parts


def test_voiding_an_open_invoice_queues_the_notice_after_commit_and_a_draft_queues_nothing(
    open_invoice, queued, django_capture_on_commit_callbacks
):
    notices, _ = queued
    with django_capture_on_commit_callbacks(execute=True):
        invoice_void(invoice=open_invoice, now=LATER, actor=ACTOR, reason="duplicate")
        assert not notices.called  # not before commit
    notices.assert_called_once_with((str(open_invoice.pk),), retry=False)

    draft, _, _ = period_draft(units=1)
    notices.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_void(invoice=draft, now=LATER, actor=ACTOR)
    assert not notices.called
    assert invoice_void_notice_send(invoice=draft, now=LATER, actor=ACTOR) == (EmailResult.NOT_NEEDED, "")


def test_an_uncollectible_invoice_voided_is_announced_too(open_invoice, queued, django_capture_on_commit_callbacks):
    notices, _ = queued
    invoice_mark_uncollectible(invoice=open_invoice, now=LATER, actor=ACTOR)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_void(invoice=open_invoice, now=LATER, actor=ACTOR)
    notices.assert_called_once_with((str(open_invoice.pk),), retry=False)


def test_a_void_alone_emails_the_notice_once_with_the_voided_pdf(open_invoice, smtp_server):  # noqa: F811
    handler = smtp_server()
    invoice_void(invoice=open_invoice, now=LATER, actor=ACTOR, reason="billed by mistake")
    assert send_void_notice.apply(args=(str(open_invoice.pk),)).get() == "sent"
    assert send_void_notice.apply(args=(str(open_invoice.pk),)).get() == "already_sent"

    (envelope,) = handler.envelopes
    assert envelope.rcpt_tos == ["ap@acme.test", "books@acme.test"]
    message, parts = _parsed(envelope)
    assert message["Subject"] == "Invoice INV-2025-000001 has been voided"
    assert (message["To"], message["Cc"]) == ("ap@acme.test", "books@acme.test")
    text = parts["text/plain"].get_content()
    assert "invoice INV-2025-000001 of 2025-02-01" in text and "($54.00) has been voided" in text
    assert "replaced by" not in text
    assert parts["application/pdf"].get_filename() == "INV-2025-000001-void.pdf"
    assert [e.action for e in InvoiceEvent.objects.filter(invoice=open_invoice)][-2:] == ["voided", "void_notice_sent"]


def test_a_regenerate_names_the_replacement_in_the_notice(open_invoice, smtp_server, queued, django_capture_on_commit_callbacks):  # noqa: F811
    handler = smtp_server()
    notices, emails = queued
    with django_capture_on_commit_callbacks(execute=True):
        replacement = invoice_regenerate(invoice=open_invoice, now=LATER, actor=ACTOR)
    assert replacement.number == "INV-2025-000002"
    notices.assert_called_once_with((str(open_invoice.pk),), retry=False)  # the voided one's notice
    emails.assert_called_once_with((str(replacement.pk),), retry=False)  # and the replacement's own email

    assert invoice_void_notice_send(invoice=open_invoice, now=LATER, actor=ACTOR) == (EmailResult.SENT, "")
    (envelope,) = handler.envelopes
    message, parts = _parsed(envelope)
    assert message["Subject"] == "Invoice INV-2025-000001 has been voided"
    text = " ".join(parts["text/plain"].get_content().split())
    assert "It is replaced by invoice INV-2025-000002 ($54.00), which reaches you separately." in text
    assert "INV-2025-000002" in parts["text/html"].get_content()


def test_a_failed_notice_is_recorded_and_sent_on_the_retry(open_invoice, smtp_settings, smtp_server):  # noqa: F811
    invoice_void(invoice=open_invoice, now=LATER, actor=ACTOR)
    result, error = invoice_void_notice_send(invoice=open_invoice, now=LATER, actor=ACTOR)
    assert result is EmailResult.FAILED and ("Connection refused" in error or "ConnectionRefused" in error)
    open_invoice.refresh_from_db()
    assert open_invoice.email_claim_token is None  # the claim is given back
    handler = smtp_server()
    assert invoice_void_notice_send(invoice=open_invoice, now=LATER, actor=ACTOR) == (EmailResult.SENT, "")
    assert len(handler.envelopes) == 1
    assert [e.action for e in InvoiceEvent.objects.filter(invoice=open_invoice)][-3:] == [
        "voided", "void_notice_failed", "void_notice_sent",
    ]  # fmt: skip
