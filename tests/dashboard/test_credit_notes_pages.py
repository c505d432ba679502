"""Credit notes in the dashboard: issued from the invoice page with per-line amounts and a live preview, listed,
shown, voided, resent — all through the credit-note services the API uses.

The invoice (as in tests/invoicing/test_credit_notes.py): a 49.00 fee and 130 units at 0.25 = 32.50, VAT 19 %:
81.50 × 0.19 = 15.485 → 15.49, 9.31 on the fee and 6.18 on the usage. Total 96.99.
"""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.taxes import tax_rate_create
from invoicing.choices import CreditNoteStatus, InvoiceKind, InvoiceStatus
from invoicing.models import CreditNote, Invoice
from invoicing.services import invoice_finalize, subscriptions_rollover
from invoicing.services.credit_notes import credit_note_issue
from tests.dashboard.helpers import csv_rows
from tests.invoicing.builders import ACTOR, event, plan_with, subscribe, utc

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def invoice():
    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    plan, _, (charge,) = plan_with(fixed="49.00", usage=[{"unit_price": D("0.25")}], tax_rates=["VAT19"])
    sub = subscribe(plan, utc(2025, 1, 1), email="billing@example.com")
    event(charge, sub.customer, 130, utc(2025, 1, 9))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    draft = Invoice.objects.get(subscription=sub, kind=InvoiceKind.PERIOD, period_start=utc(2025, 1, 1))
    return invoice_finalize(invoice=draft, now=utc(2025, 2, 1, 1), actor=ACTOR)


def _lines(invoice):
    return list(invoice.lines.order_by("position", "id"))


def _new(invoice):
    return reverse("invoicing:invoice-credit-note-new", args=[invoice.pk])


def _form(invoice, **amounts):
    """The form's POST: reason, and per line `amount_<id>` (a value ticks the line)."""
    data = {"reason": "order_change", "memo": ""}
    fee, usage = _lines(invoice)
    for name, line in (("fee", fee), ("usage", usage)):
        if name in amounts:
            data[f"line_{line.pk}"] = "on"
            data[f"amount_{line.pk}"] = amounts[name]
    return data


def test_the_invoice_page_offers_issue_credit_note_to_finance_on_an_issued_invoice(finance_client, support_client, invoice):
    page = finance_client.get(reverse("invoicing:invoice-detail", args=[invoice.pk])).content.decode()
    assert f'href="{_new(invoice)}"' in page
    assert 'id="credit-notes"' in page and "None." in page
    # Support reads invoices but may not credit them: no button.
    assert f'href="{_new(invoice)}"' not in support_client.get(reverse("invoicing:invoice-detail", args=[invoice.pk])).content.decode()


def test_a_draft_cannot_be_credited_the_form_sends_back_with_why(finance_client, invoice):
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.DRAFT)
    response = finance_client.get(_new(invoice), follow=True)
    assert response.redirect_chain[-1][0] == reverse("invoicing:invoice-detail", args=[invoice.pk])
    assert "is Draft" in response.content.decode()


def test_the_form_lists_every_line_with_what_it_can_still_be_credited(finance_client, invoice):
    body = finance_client.get(_new(invoice)).content.decode()
    fee, usage = _lines(invoice)
    assert f'name="amount_{fee.pk}"' in body and f'name="amount_{usage.pk}"' in body
    # Before tax and its tax: 49.00 + 9.31 and 32.50 + 6.18.
    assert re.search(r"\$49\.00.{0,80}\+ \$9\.31 tax", body, re.S)
    assert re.search(r"\$32\.50.{0,80}\+ \$6\.18 tax", body, re.S)


def test_the_no_javascript_preview_shows_tax_and_totals_and_stores_nothing(finance_client, invoice):
    fee, usage = _lines(invoice)
    response = finance_client.post(_new(invoice), {**_form(invoice, usage="10.00"), "preview": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    # 10.00 at 19 % = 1.90; total 11.90, all of it off what remains (96.99).
    assert re.search(r"data-preview-subtotal>\$10\.00<", body)
    assert re.search(r"data-preview-tax>\$1\.90<", body)
    assert re.search(r"data-preview-total>\$11\.90<", body)
    assert re.search(r"data-preview-offset>\$11\.90 ", body)
    assert CreditNote.objects.count() == 0


def test_the_live_preview_answers_with_the_box_only_and_a_limit_as_400(finance_client, invoice):
    fee, usage = _lines(invoice)
    url = reverse("invoicing:invoice-credit-note-preview", args=[invoice.pk])
    ok = finance_client.get(url, {**_form(invoice, fee=""), "fragment": "1"})  # the whole fee: 49.00 + 9.31
    assert ok.status_code == 200
    fragment = ok.content.decode()
    assert "<html" not in fragment
    assert re.search(r"data-preview-total>\$58\.31<", fragment)
    # No reason chosen yet: the preview still computes (the reason is asked when issuing).
    nothing = finance_client.get(url, {"fragment": "1"})
    assert nothing.status_code == 200 and "Tick the lines" in nothing.content.decode()
    over = finance_client.get(url, {**_form(invoice, usage="32.51"), "fragment": "1"})
    assert over.status_code == 400
    assert "at most 32.50 USD before tax" in over.content.decode()
    assert CreditNote.objects.count() == 0


def test_issuing_from_the_form_stores_the_note_and_the_invoice_page_lists_it(finance_client, invoice):
    fee, usage = _lines(invoice)
    response = finance_client.post(_new(invoice), {**_form(invoice, usage="10.00"), "memo": "Ten units refunded"})
    note = CreditNote.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("invoicing:credit-note-detail", args=[note.pk])
    assert (note.subtotal, note.tax_total, note.total, note.offset_amount, note.credit_amount) == (
        D("10.00"), D("1.90"), D("11.90"), D("11.90"), D("0"),
    )
    assert note.actor == "user:fiona" and note.memo == "Ten units refunded"
    invoice.refresh_from_db()
    assert (invoice.amount_credited, invoice.amount_remaining, invoice.status) == (D("11.90"), D("85.09"), InvoiceStatus.OPEN)

    page = finance_client.get(reverse("invoicing:invoice-detail", args=[invoice.pk])).content.decode()
    assert f'href="{reverse("invoicing:credit-note-detail", args=[note.pk])}">{note.number}</a>' in page
    # The invoice document: the notes' offset on its own row, then what is due: 96.99 − 11.90 = 85.09.
    assert re.search(r'class="doc-credit-notes"><th>Credit notes</th><td class="num">−\$11\.90<', page)
    assert re.search(r'class="doc-due"><th>Amount due</th><td class="num">\$85\.09<', page)

    detail = finance_client.get(reverse("invoicing:credit-note-detail", args=[note.pk])).content.decode()
    assert f"Credit note for {invoice.number}" in detail and "Ten units refunded" in detail


def test_a_split_that_does_not_add_up_is_shown_on_its_field_and_nothing_is_stored(finance_client, invoice):
    data = {**_form(invoice, usage="10.00"), "offset_amount": "5.00", "credit_amount": "5.00"}
    response = finance_client.post(_new(invoice), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert re.search(r'data-field="offset_amount">.*?must add up to the note.{1,6}s total 11\.90 USD', body, re.S)
    assert CreditNote.objects.count() == 0


def test_an_amount_beyond_the_line_is_shown_beside_that_line(finance_client, invoice):
    fee, usage = _lines(invoice)
    response = finance_client.post(_new(invoice), _form(invoice, fee="1.00", usage="abc"))
    assert response.status_code == 400
    row = re.search(rf'<tr data-line="{usage.pk}" class="has-error">.*?</tr>', response.content.decode(), re.S)
    assert row and "must be a decimal string" in row.group(0)
    assert CreditNote.objects.count() == 0


def test_nothing_ticked_and_no_reason_are_form_errors(finance_client, invoice):
    response = finance_client.post(_new(invoice), {"reason": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Tick at least one line to credit." in body
    assert re.search(r'data-field="reason">.*?This field is required', body, re.S)


def test_voiding_from_the_note_page_puts_the_offset_back(finance_client, invoice):
    fee, usage = _lines(invoice)
    note = credit_note_issue(invoice=invoice, reason="other", items=[{"invoice_line_id": usage.pk, "amount": "10.00"}],
                             now=utc(2025, 2, 10), actor=ACTOR)
    response = finance_client.post(reverse("invoicing:credit-note-void", args=[note.pk]), {"reason": "issued by mistake"})
    assert response.status_code == 302
    note.refresh_from_db()
    invoice.refresh_from_db()
    assert (note.status, note.void_reason) == (CreditNoteStatus.VOID, "issued by mistake")
    assert (invoice.amount_credited, invoice.amount_remaining) == (D("0"), D("96.99"))
    # A second void is refused by the service and said on the page, not a 500.
    again = finance_client.post(reverse("invoicing:credit-note-void", args=[note.pk]), {}, follow=True)
    assert "only an ISSUED note can be voided" in again.content.decode()


def test_the_list_filters_and_exports_credit_notes(finance_client, invoice):
    fee, usage = _lines(invoice)
    first = credit_note_issue(invoice=invoice, reason="other", items=[{"invoice_line_id": usage.pk, "amount": "10.00"}],
                              now=utc(2025, 2, 10), actor=ACTOR)
    second = credit_note_issue(invoice=invoice, reason="duplicate", items=[{"invoice_line_id": fee.pk}],
                               now=utc(2025, 2, 11), actor=ACTOR)
    listing = finance_client.get(reverse("invoicing:credit-note-list")).content.decode()
    assert first.number in listing and second.number in listing
    only_duplicates = finance_client.get(reverse("invoicing:credit-note-list"), {"reason": "duplicate"}).content.decode()
    assert second.number in only_duplicates and first.number not in only_duplicates
    rows = csv_rows(finance_client.get(reverse("invoicing:credit-note-export"), {"sort": "issued"}), "credit-notes")
    header = rows[0]
    assert [dict(zip(header, row))["total"] for row in rows[1:]] == ["11.90", "58.31"]
    assert [dict(zip(header, row))["invoice_number"] for row in rows[1:]] == [invoice.number, invoice.number]


def test_the_pdf_and_the_resend_go_through_the_note_services(finance_client, invoice, mailoutbox):
    fee, usage = _lines(invoice)
    note = credit_note_issue(invoice=invoice, reason="other", items=[{"invoice_line_id": usage.pk, "amount": "10.00"}],
                             now=utc(2025, 2, 10), actor=ACTOR)
    pdf = finance_client.get(reverse("invoicing:credit-note-pdf", args=[note.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    response = finance_client.post(reverse("invoicing:credit-note-resend", args=[note.pk]))
    assert response.status_code == 302
    assert [m.subject for m in mailoutbox] == [f"Credit note {note.number} for invoice {invoice.number}"]
    assert mailoutbox[0].to == ["billing@example.com"]
