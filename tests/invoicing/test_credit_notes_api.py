"""Credit notes through the API, their PDF and their email (a real SMTP server in the test process).

The invoice: a 49.00 fee and 130 units at 0.25 = 32.50, VAT 19 %: tax 9.31 + 6.18 = 15.49, total 96.99.
"""

import email
import subprocess
from email import policy
from unittest import mock

import pytest
from django.utils import timezone

from catalog.taxes import tax_rate_create
from invoicing import receivers
from invoicing.choices import InvoiceStatus
from invoicing.models import CreditNote, Invoice
from invoicing.services import EmailResult, Actor
from invoicing.services.credit_note_delivery import credit_note_email_send, credit_note_pdf
from invoicing.tasks import send_credit_note_email

from .builders import ACTOR, keyed_client, plan_with, utc
from .test_credit_notes import _issued
from .test_email_failures import smtp_server, smtp_settings  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
NOW = utc(2025, 2, 10)


@pytest.fixture
def invoice():
    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    plan, _, (charge,) = plan_with(fixed="49.00", usage=[{"unit_price": "0.25"}], tax_rates=["VAT19"])
    from tests.factories import CustomerFactory

    customer = CustomerFactory(email="ap@acme.test", name="Acme Ltd")
    return _issued(plan, [(charge, 130)], customer=customer)


@pytest.fixture
def client():
    return keyed_client("credit_notes.read", "credit_notes.write", "invoices.read")[0]


def _line_ids(client, invoice):
    body = client.get(f"/api/v1/invoices/{invoice.pk}").json()
    return [line["id"] for line in body["lines"]]


def test_issue_read_list_and_void_through_the_api(client, invoice, django_capture_on_commit_callbacks):
    fee, usage = _line_ids(client, invoice)
    preview = client.post(f"/api/v1/invoices/{invoice.pk}/credit-notes/preview",
                          {"reason": "order_change", "items": [{"invoice_line_id": fee, "amount": "10.00"}]}, format="json")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    # 10.00 of the fee: 1.90 tax, 11.90, offset against the 96.99 remaining.
    assert {k: body[k] for k in ("subtotal", "tax_total", "total", "offset_amount", "credit_amount", "offset_max", "refund_max")} == {
        "subtotal": "10.00", "tax_total": "1.90", "total": "11.90", "offset_amount": "11.90", "credit_amount": "0.00",
        "offset_max": "96.99", "refund_max": "0.00",
    }
    assert body["lines"][0] == {"invoice_line_id": fee, "description": body["lines"][0]["description"],
                                "creditable_amount": "49.00", "creditable_tax": "9.31", "creditable_total": "58.31"}
    assert body["items"][0]["taxes"] == [{"code": "VAT19", "name": "VAT 19%", "rate": "19", "amount": "1.90"}]
    assert CreditNote.objects.count() == 0

    with mock.patch.object(receivers.send_credit_note_email, "apply_async") as emails, \
            django_capture_on_commit_callbacks(execute=True):  # fmt: skip
        created = client.post("/api/v1/credit-notes", {
            "invoice_id": str(invoice.pk), "reason": "product_unsatisfactory", "memo": "Outage on Jan 12",
            "items": [{"invoice_line_id": fee, "amount": "10.00"}, {"invoice_line_id": usage}],
            "offset_amount": "40.00", "credit_amount": "10.58",
        }, format="json")
    assert created.status_code == 201, created.content
    note = created.json()
    # 10.00 + 32.50 = 42.50 before tax; 1.90 + 6.18 = 8.08 tax; 50.58 = 40.00 offset + 10.58 credit.
    assert {k: note[k] for k in ("number", "invoice_number", "status", "subtotal", "tax_total", "total",
                                 "offset_amount", "credit_amount", "refund_amount")} == {
        "number": f"INV-CN-{timezone.now().year}-000001", "invoice_number": invoice.number, "status": "ISSUED", "subtotal": "42.50",
        "tax_total": "8.08", "total": "50.58", "offset_amount": "40.00", "credit_amount": "10.58", "refund_amount": "0.00",
    }
    assert [(i["invoice_line_id"], i["amount"], i["tax_amount"], i["total"]) for i in note["items"]] == [
        (fee, "10.00", "1.90", "11.90"), (usage, "32.50", "6.18", "38.68"),
    ]
    assert note["actor"].startswith("api-key:")
    emails.assert_called_once()
    invoice_json = client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (invoice_json["amount_credited"], invoice_json["amount_remaining"]) == ("40.00", "56.99")

    listed = client.get("/api/v1/credit-notes", {"invoice": str(invoice.pk), "status": "ISSUED"}).json()
    assert [n["number"] for n in listed["results"]] == [note["number"]]
    assert client.get("/api/v1/credit-notes", {"status": "VOID"}).json()["results"] == []
    assert client.get("/api/v1/credit-notes", {"issued_to": "2025-02-11"}).json()["results"] == []
    assert client.get(f"/api/v1/credit-notes/{note['id']}").json()["memo"] == "Outage on Jan 12"

    voided = client.post(f"/api/v1/credit-notes/{note['id']}/void", {"reason": "issued in error"}, format="json")
    assert voided.status_code == 200, voided.content
    assert (voided.json()["status"], voided.json()["void_reason"]) == ("VOID", "issued in error")
    again = client.post(f"/api/v1/credit-notes/{note['id']}/void", {}, format="json")
    assert again.status_code == 409
    assert client.get(f"/api/v1/invoices/{invoice.pk}").json()["amount_remaining"] == "96.99"


def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(client, invoice):
    fee, _ = _line_ids(client, invoice)
    base = {"invoice_id": str(invoice.pk), "reason": "other", "items": [{"invoice_line_id": fee}]}
    cases = [
        ({**base, "reason": "whim"}, "reason"),
        ({**base, "invoice_id": "not-a-uuid"}, "invoice_id"),
        ({**base, "invoice_id": "00000000-0000-0000-0000-000000000000"}, "invoice_id"),
        ({**base, "items": []}, "items"),
        ({**base, "items": [{"invoice_line_id": fee, "amount": "99.00"}]}, "items[0].amount"),
        ({**base, "items": [{"invoice_line_id": "999999999"}]}, "items[0].invoice_line_id"),
        ({**base, "items": [{"invoice_line_id": fee, "amount": "1,00"}]}, "items[0].amount"),
        ({**base, "refund_amount": "58.31"}, "refund_amount"),
        ({**base, "offset_amount": "100.00"}, "offset_amount"),
        ({**base, "memo": "x" * 5001}, "memo"),
        ({**base, "surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/credit-notes", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["field"] == field, (body, response.json())
    assert CreditNote.objects.count() == 0
    assert client.post(f"/api/v1/invoices/{invoice.pk}/credit-notes/preview", {"reason": "other", "items": "x"},
                       format="json").status_code == 400


def test_scopes_and_statuses(invoice):
    reader, _ = keyed_client("credit_notes.read", "invoices.read")
    fee = _line_ids(reader, invoice)[0]
    body = {"invoice_id": str(invoice.pk), "reason": "other", "items": [{"invoice_line_id": fee}]}
    assert reader.post("/api/v1/credit-notes", body, format="json").status_code == 403
    preview = {"reason": "other", "items": [{"invoice_line_id": fee}]}
    assert reader.post(f"/api/v1/invoices/{invoice.pk}/credit-notes/preview", preview, format="json").status_code == 200
    invoices_only, _ = keyed_client("invoices.read", "invoices.write")
    assert invoices_only.get("/api/v1/credit-notes").status_code == 403
    writer, _ = keyed_client("credit_notes.write", "credit_notes.read")
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.VOID)
    conflict = writer.post("/api/v1/credit-notes", body, format="json")
    assert conflict.status_code == 409 and "VOID" in conflict.json()["error"], conflict.content
    assert writer.get("/api/v1/credit-notes/00000000-0000-0000-0000-000000000000").status_code == 404


def _note(invoice, **split):
    from invoicing.services.credit_notes import credit_note_issue

    fee, usage = invoice.lines.order_by("position", "id")
    return credit_note_issue(invoice=invoice, reason="order_change", memo="Sorry for the outage",
                             items=[{"invoice_line_id": fee.pk, "amount": "10.00"}, {"invoice_line_id": usage.pk}],
                             split=split, now=NOW, actor=ACTOR)


def test_the_pdf_names_seller_invoice_items_taxes_and_how_the_total_was_applied(invoice, tmp_path, client):
    note = _note(invoice, offset_amount="40.00", credit_amount="10.58")
    response = client.get(f"/api/v1/credit-notes/{note.pk}/pdf")
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    pdf = tmp_path / "note.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for printed in (f"Credit note {note.number}", f"Credit note for {invoice.number}", "Acme Ltd", "Order change",
                    "$10.00", "$1.90", "$11.90", "VAT 19%", "$8.08", "$50.58", f"Taken off {invoice.number}", "$40.00",
                    "Added to your credit balance", "$10.58", "Sorry for the outage"):
        assert printed in text, printed
    assert "Refunded" not in text


def test_the_email_goes_once_with_the_pdf_and_a_resend_sends_again(invoice, smtp_server):
    received = smtp_server()
    note = _note(invoice)
    assert send_credit_note_email.apply(args=(str(note.pk),)).get() == "sent"
    assert credit_note_email_send(credit_note=note, now=NOW, actor=ACTOR)[0] is EmailResult.ALREADY_SENT
    assert len(received.envelopes) == 1
    envelope = received.envelopes[0]
    message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
    assert message["Subject"] == f"Credit note {note.number} for invoice {invoice.number}"
    assert envelope.rcpt_tos == ["ap@acme.test"]
    attachments = [part.get_filename() for part in message.iter_attachments()]
    assert attachments == [f"{note.number}.pdf"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "$50.58 credited" in body and f"$50.58 taken off invoice {invoice.number}" in body
    result, _ = credit_note_email_send(credit_note=note, now=NOW, actor=Actor.task("resend"), force=True)
    assert result is EmailResult.SENT and len(received.envelopes) == 2
    note.refresh_from_db()
    assert (note.email_attempts, note.email_last_error) == (2, "")
    assert invoice.audit.filter(action="credit_note_email_sent").count() == 2


def test_a_failed_send_is_recorded_and_retried(invoice, smtp_settings):
    note = _note(invoice)  # no SMTP server listening on the port
    result, error = credit_note_email_send(credit_note=note, now=NOW, actor=ACTOR)
    assert result is EmailResult.FAILED and "Connection refused" in error
    note.refresh_from_db()
    assert note.email_sent_at is None and "Connection refused" in note.email_last_error
    result, _ = credit_note_email_send(credit_note=note, now=NOW, actor=ACTOR)
    assert result is EmailResult.FAILED  # not stuck "in progress"
    note.refresh_from_db()
    assert note.email_attempts == 2


def test_the_outbox_sweep_finds_notes_whose_email_task_was_lost(invoice, smtp_server, settings):
    from datetime import timedelta

    from invoicing.services.credit_note_delivery import credit_notes_email_pending
    from invoicing.services.credit_notes import credit_note_void

    received = smtp_server()
    note = _note(invoice)  # issued, its on-commit enqueue never ran (as if the broker was down)
    now = timezone.now()
    assert credit_notes_email_pending(now=now) == [note.pk]
    # A send under way is left to its worker until the claim window passes; then it is taken up again.
    CreditNote.objects.filter(pk=note.pk).update(email_last_error="sending", updated_at=now)
    assert credit_notes_email_pending(now=now) == []
    later = now + timedelta(seconds=settings.FLUXBILL_EMAIL_CLAIM_SECONDS + 1)
    assert credit_notes_email_pending(now=later) == [note.pk]
    CreditNote.objects.filter(pk=note.pk).update(email_last_error="", updated_at=now - timedelta(hours=1))
    assert send_credit_note_email.apply(args=(str(note.pk),)).get() == "sent"
    assert credit_notes_email_pending(now=now) == [] and len(received.envelopes) == 1
    # A void note is never swept.
    from invoicing.services.credit_notes import credit_note_issue

    fee = invoice.lines.order_by("position", "id").first()
    other = credit_note_issue(invoice=invoice, reason="other", items=[{"invoice_line_id": fee.pk, "amount": "1.00"}],
                              now=NOW, actor=ACTOR)
    assert credit_notes_email_pending(now=now) == [other.pk]
    credit_note_void(credit_note=other, now=NOW, actor=ACTOR)
    assert credit_notes_email_pending(now=now) == []
