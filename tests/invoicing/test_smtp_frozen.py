"""A frozen SMTP server in the middle of an invoice's email: staff actions on that invoice go on (the
send holds no row lock while it talks SMTP), and the email goes out exactly once when the server thaws.
Real aiosmtpd in the test process, real PostgreSQL, the send in its own thread and connection."""

import datetime as dt
import threading

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from fluxbill.core.errors import Conflict
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from invoicing.services import EmailResult, invoice_email_send, invoice_finalize, invoice_mark_paid, invoices_email_pending
from tests.servers import HangingInbox, free_port

from .builders import ACTOR, period_draft, utc

NOW = utc(2025, 2, 1, 2)
# Long enough that the stuck send is still waiting for its reply when the staff action runs.
EMAIL_TIMEOUT = 20


@pytest.fixture
def smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = EMAIL_TIMEOUT
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    inbox = HangingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=settings.EMAIL_PORT)
    controller.start()
    yield inbox
    inbox.release.set()
    controller.stop()


def _in_thread(target, results: dict, name: str) -> threading.Thread:
    def run():
        try:
            results[name] = target()
        except Exception as exc:  # noqa: BLE001 — reported by the test
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_mark_paid_completes_while_the_email_is_stuck_in_smtp_and_the_email_goes_out_once(smtp):
    draft, _, _ = period_draft(units=5, email="ap@acme.test", name="Acme Ltd")
    invoice = invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
    smtp.hang.set()
    results = {}
    sender = _in_thread(lambda: invoice_email_send(invoice=Invoice(pk=invoice.pk), now=NOW, actor=ACTOR), results, "send")
    assert smtp.hanging.wait(EMAIL_TIMEOUT / 2), "the send never reached DATA"

    # The same service the API's and the dashboard's mark-paid call. On a send holding the row lock it would
    # wait for the SMTP reply: the stuck server has not answered, so finishing at all proves it did not wait.
    paid_at = NOW + dt.timedelta(minutes=5)
    staff = _in_thread(
        lambda: invoice_mark_paid(invoice=Invoice(pk=invoice.pk), now=paid_at, actor=ACTOR, reference="wire 42"),
        results, "paid",
    )  # fmt: skip
    staff.join(EMAIL_TIMEOUT / 2)
    paid_while_stuck = not staff.is_alive() and smtp.hanging.is_set()
    smtp.hang.clear()
    smtp.release.set()
    staff.join(EMAIL_TIMEOUT)
    sender.join(EMAIL_TIMEOUT * 2)
    assert paid_while_stuck, "mark paid waited for the SMTP server"
    assert isinstance(results.get("paid"), Invoice), results
    assert results["send"] == (EmailResult.SENT, "")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.email_sent_at == NOW
    assert invoice.email_attempts == 1
    assert invoice.email_claim_token is None
    assert [e.rcpt_tos for e in smtp.envelopes] == [["ap@acme.test"]]
    # Whatever runs next (the task's retry, the sweep) finds it sent.
    assert invoice_email_send(invoice=invoice, now=paid_at, actor=ACTOR) == (EmailResult.ALREADY_SENT, "")
    assert len(smtp.envelopes) == 1


@pytest.mark.django_db
def test_a_live_claim_is_left_alone_and_a_stale_one_is_taken_over(smtp, settings):
    settings.FLUXBILL_EMAIL_CLAIM_SECONDS = 300
    draft, _, _ = period_draft(units=5, email="ap@acme.test", name="Acme Ltd")
    invoice = invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
    # A worker claimed the send a minute ago and is still talking to the server.
    Invoice.objects.filter(pk=invoice.pk).update(
        email_claim_token="00000000-0000-0000-0000-000000000001", email_claimed_at=NOW, email_attempts=1
    )
    a_minute_later = NOW + dt.timedelta(minutes=1)
    assert invoice_email_send(invoice=invoice, now=a_minute_later, actor=ACTOR) == (EmailResult.IN_PROGRESS, "")
    assert invoices_email_pending(now=a_minute_later) == []
    with pytest.raises(Conflict):
        invoice_email_send(invoice=invoice, now=a_minute_later, actor=ACTOR, force=True)
    assert smtp.envelopes == []

    # That worker died: after the claim bound the sweep queues it and the next send takes the claim over.
    later = NOW + dt.timedelta(seconds=301)
    assert invoices_email_pending(now=later) == [invoice.pk]
    assert invoice_email_send(invoice=invoice, now=later, actor=ACTOR) == (EmailResult.SENT, "")
    invoice.refresh_from_db()
    assert (invoice.email_attempts, invoice.email_sent_at, invoice.email_claim_token) == (2, later, None)
    assert len(smtp.envelopes) == 1
    assert invoices_email_pending(now=later) == []


@pytest.mark.django_db
def test_the_outbox_lists_an_issued_invoice_whose_email_was_never_queued(settings):
    draft, _, _ = period_draft(units=5, email="ap@acme.test", name="Acme Ltd")
    invoice = invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
    assert invoices_email_pending(now=NOW) == [invoice.pk]
    settings.FLUXBILL_EMAIL_MAX_ATTEMPTS = 0
    assert invoices_email_pending(now=NOW) == []
