"""A finance user corrects an issued invoice with a credit note in real Chromium: the live preview computes the
note's tax and totals as amounts are typed (app.js, the credit-note preview fragment), issuing stores it, the
invoice shows what remains, voiding undoes it.

The invoice (as in tests/invoicing/test_credit_notes.py): a 49.00 fee and 130 units at 0.25 = 32.50, VAT 19 %
15.49 (9.31 on the fee, 6.18 on the usage). Total 96.99.
"""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.taxes import tax_rate_create
from fluxbill.core.roles import FINANCE
from invoicing.choices import CreditNoteStatus, InvoiceKind
from invoicing.models import CreditNote, Invoice
from invoicing.services import invoice_finalize, subscriptions_rollover
from tests.invoicing.builders import ACTOR, event, plan_with, subscribe, utc

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


def _issued_invoice():
    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    plan, _, (charge,) = plan_with(fixed="49.00", usage=[{"unit_price": D("0.25")}], tax_rates=["VAT19"])
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 130, utc(2025, 1, 9))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    draft = Invoice.objects.get(subscription=sub, kind=InvoiceKind.PERIOD, period_start=utc(2025, 1, 1))
    return invoice_finalize(invoice=draft, now=utc(2025, 2, 1, 1), actor=ACTOR)


def test_finance_issues_a_credit_note_with_a_live_preview_then_voids_it(login_as, screenshot):
    invoice = _issued_invoice()
    usage = invoice.lines.order_by("position", "id")[1]
    page = login_as("fiona", FINANCE)
    page.goto(f"/invoices/{invoice.pk}/")
    page.get_by_role("link", name="Issue credit note…").click()
    expect(page.get_by_role("heading", name=f"Issue a credit note for {invoice}")).to_be_visible()

    # An amount typed against a line credits it (its tick box is for "all that is left"). The preview follows, at 19 %.
    page.locator(f'input[name="amount_{usage.pk}"]').fill("10.00")
    preview = page.locator("#credit-note-preview")
    expect(preview.locator("[data-preview-tax]")).to_have_text("$1.90")
    expect(preview.locator("[data-preview-total]")).to_have_text("$11.90")
    # Beyond what the line holds: the preview says the limit before anything is submitted.
    page.locator(f'input[name="amount_{usage.pk}"]').fill("40.00")
    expect(preview).to_contain_text("at most 32.50 USD before tax")
    page.locator(f'input[name="amount_{usage.pk}"]').fill("10.00")
    expect(preview.locator("[data-preview-total]")).to_have_text("$11.90")
    # A split: 5.00 off the invoice, the rest to the customer's credit balance.
    page.get_by_label("Take off this invoice").fill("5.00")
    page.get_by_label("Add to credit balance").fill("6.90")
    expect(preview.locator("[data-preview-credit]")).to_have_text("$6.90")
    page.get_by_label(re.compile(r"^Reason")).select_option("product_unsatisfactory")
    screenshot(page, "credit-note-form")
    page.get_by_role("button", name="Issue credit note").click()

    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Credit note INV-CN-\d{4}-000001 issued"))
    note = CreditNote.objects.get()
    assert (note.total, note.offset_amount, note.credit_amount, note.reason) == (
        D("11.90"), D("5.00"), D("6.90"), "product_unsatisfactory",
    )
    expect(page.get_by_role("heading", name=f"Credit note {note.number}")).to_be_visible()
    screenshot(page, "credit-note-page")

    page.get_by_role("link", name=str(invoice)).first.click()
    expect(page.locator("#credit-notes")).to_contain_text(note.number)
    expect(page.locator(".doc-due")).to_contain_text("$91.99")  # 96.99 − 5.00

    page.get_by_role("link", name=note.number).click()
    page.locator("summary", has_text="Void…").click()
    page.get_by_label("Reason").fill("wrong line")
    page.get_by_role("button", name="Void credit note").click()
    expect(page.get_by_role("status")).to_contain_text(f"Credit note {note.number} voided")
    note.refresh_from_db()
    assert note.status == CreditNoteStatus.VOID
    assert Invoice.objects.get(pk=invoice.pk).amount_remaining == D("96.99")
