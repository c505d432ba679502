"""The document a customer receives (issue 16 §5), looked at: a few representative invoices are built through the
real services, their PDFs rendered, and every page turned into a PNG (poppler's pdftoppm) in
test-artifacts/screenshots/invoices/, beside the PDFs, for people to look at. The dashboard page of one is
screenshotted in Chromium. The text pypdf extracts is asserted: seller, bill-to, totals, tax rows, stamps.

The seller is the default billing entity, filled in through its service; taxes, credit and reverse charge come
from the money pipeline. Amounts are worked out by hand beside them.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from catalog.choices import PricingModel
from catalog.taxes import tax_rate_create
from invoicing.models import Invoice
from invoicing.services import (
    invoice_finalize,
    invoice_mark_paid,
    invoice_pdf_render,
    invoice_regenerate,
    subscriptions_rollover,
)
from invoicing.services.credit import credit_adjust
from invoicing.services.document import printed_lines
from customers.services import billing_entity_update
from tests.factories import default_entity
from tests.invoicing.builders import ACTOR, event, plan_with, subscribe, utc

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUT = SCREENSHOTS / "invoices"
JAN, FEB = utc(2025, 1, 1), utc(2025, 2, 1)
ISSUED = utc(2025, 2, 1, 2)
D = Decimal

LOGO = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40"><rect width="40" height="40" rx="8" fill="#2f6fed"/>'
    b'<text x="50" y="28" font-family="DejaVu Sans" font-size="22" fill="#1b1f24">Fluxbill</text></svg>'
).decode()
SELLER = {
    "legal_name": "Fluxbill Software GmbH", "address_line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin",
    "country": "DE", "tax_id": "DE136695976", "email": "billing@fluxbill.example", "phone": "+49 30 1234567",
    "payment_instructions": "Bank transfer to IBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX.\nReference: the invoice number.",
    "invoice_footer": "Fluxbill Software GmbH · Amtsgericht Berlin HRB 123456 · Managing director: A. Example", "logo": LOGO,
}  # fmt: skip


@pytest.fixture(autouse=True)
def seller(transactional_db):
    """The default billing entity, as Finance would fill it in on the Settings page."""
    return billing_entity_update(entity=default_entity(), data=SELLER)


def _draft(plan, units: dict, **customer_fields):
    """A subscription for January 2025 with usage on each charge, rolled over: the DRAFT invoice."""
    sub = subscribe(plan, JAN, **customer_fields)
    for charge, quantity in units.items():
        event(charge, sub.customer, quantity, utc(2025, 1, 15))
    subscriptions_rollover(now=FEB, actor=ACTOR)
    return Invoice.objects.get(subscription=sub, period_start=JAN)


def _bill(plan, units: dict, **customer_fields):
    """The same, finalized: the OPEN invoice."""
    return invoice_finalize(invoice=_draft(plan, units, **customer_fields), now=ISSUED, actor=ACTOR)


def _render(invoice, name: str) -> tuple[str, int]:
    """The PDF and one PNG per page in OUT; (the PDF's text, its page count)."""
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in [OUT / f"{name}.pdf", *OUT.glob(f"{name}-[0-9]*.png")]:
        stale.unlink(missing_ok=True)
    pdf = invoice_pdf_render(invoice)
    (OUT / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(OUT / f"{name}.pdf"), str(OUT / name)], check=True, timeout=120)
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(list(OUT.glob(f"{name}-[0-9]*.png"))) == len(pages)
    return "\n".join(page.extract_text() for page in pages), len(pages)


def _flat(text: str) -> str:
    """The text without whitespace: pypdf's spacing follows the glyphs' positions ("T ax", "Amount due$54.00"),
    so snippets are compared squashed (see `_has`)."""
    return re.sub(r"\s+", "", text)


def _has(flat: str, *snippets: str) -> bool:
    missing = [s for s in snippets if _flat(s) not in flat]
    assert not missing, f"not in the PDF text: {missing}"
    return True


@pytest.fixture(autouse=True)
def _pdftoppm():
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is missing: apt-get install -y poppler-utils (.ci/run does)")


def test_forty_lines_three_tax_rates_run_to_several_pages_with_seller_bill_to_and_totals():
    tax_rate_create(code="VAT19", name="VAT", rate="19")
    tax_rate_create(code="VAT7", name="VAT reduced", rate="7")
    tax_rate_create(code="VAT0", name="VAT zero-rated", rate="0")
    rate_of = {1: "VAT7", 2: "VAT0", 0: "VAT19"}
    # Charge i (1…40) at $0.0025 per call with 1,000·i + 500 calls: 2.5·i + 1.25 dollars, $3.75 … $101.25.
    # Σ = 2.5 · 820 + 40 · 1.25 = $2,100.00. Each charge is taxed at the rate of i mod 3.
    usage = [{"unit_price": D("0.0025"), "display_name": f"API calls, region {i:02d}", "tax_rates": [rate_of[i % 3]]}
             for i in range(1, 41)]  # fmt: skip
    plan, _, charges = plan_with(usage=usage)
    for charge in charges:
        charge.meter.unit = "calls"
        charge.meter.save()
    draft = _draft(plan, {c: 1000 * i + 500 for i, c in enumerate(charges, start=1)},
                   name="Acme Corp", email="ap@acme.example", address_line1="1 Main Street",
                   city="Springfield", state="IL", postal_code="62701", country="US")  # fmt: skip
    text, pages = _render(draft, "draft-forty-lines")
    assert pages > 1 and text.count("DRAFT") == pages  # the watermark on every page
    credit_adjust(customer=draft.customer, currency="USD", amount="100.00", reason="goodwill", actor=ACTOR)
    invoice = invoice_finalize(invoice=draft, now=ISSUED, actor=ACTOR)
    # 7 % on i = 1, 4 … 40 (Σi = 287): 2.5·287 + 14·1.25 = $735.00 → $51.45;
    # 0 % on i = 2 … 38 (Σi = 260): $666.25 → $0.00; 19 % on i = 3 … 39 (Σi = 273): $698.75 → $132.7625 → $132.76.
    # Tax $184.21, total $2,284.21, the $100.00 of credit applied: $2,184.21 due.
    assert (invoice.subtotal, invoice.tax_total, invoice.total, invoice.credit_applied, invoice.amount_due) == (
        D("2100.00"), D("184.21"), D("2284.21"), D("100.00"), D("2184.21"))  # fmt: skip
    text, pages = _render(invoice, "forty-lines")
    flat = _flat(text)
    assert pages > 1
    assert _has(flat, f"Page 1 of {pages}", f"Page {pages} of {pages}")
    assert text.count("Description") == pages  # the table header on every page
    assert _has(flat, "Fluxbill Software GmbH", "DE136695976", "Hauptstraße 1")
    assert _has(flat, "Acme Corp", "1 Main Street", "62701 Springfield, IL", "United States of America")
    assert _has(flat, "INV-2025-000001", "2025-01-01 – 2025-01-31", "USD")
    # Each line with its rate in the Tax column.
    assert _has(flat, "1,500 calls $0.0025 7% $3.75", "2,500 calls $0.0025 0% $6.25", "3,500 calls $0.0025 19% $8.75",
                "40,500 calls $0.0025 7% $101.25")  # fmt: skip
    assert _has(flat, "Subtotal $2,100.00")
    assert _has(flat, "VAT 19% $698.75 $132.76", "VAT reduced 7% $735.00 $51.45", "VAT zero-rated 0% $666.25 $0.00")
    assert _has(flat, "Tax $184.21", "Total $2,284.21", "Credits applied −$100.00", "Amount due $2,184.21")
    assert _has(flat, "IBAN DE89", "Amtsgericht Berlin")
    assert "Open" not in flat and "Endofperiod" not in flat  # no internal words


def test_tiers_in_the_currency_add_up_to_their_lines_and_paid_is_stamped_with_its_date():
    tiers = [{"up_to": "1000", "unit_price": "0.004692"}, {"up_to": "2000", "unit_price": "0.03"},
             {"up_to": None, "unit_price": "0.029998"}]  # fmt: skip
    plan, _, (graduated, volume, package) = plan_with(fixed="49.00", usage=[
        {"pricing_model": PricingModel.GRADUATED, "tiers": tiers, "free_units": D(500), "display_name": "API calls"},
        {"pricing_model": PricingModel.VOLUME, "display_name": "Seats",
         "tiers": [{"up_to": "10", "unit_price": "12.00"}, {"up_to": None, "unit_price": "9.50", "flat_amount": "5.00"}]},
        {"pricing_model": PricingModel.PACKAGE, "package_size": D(100), "package_price": D("2.50"), "display_name": "Storage"},
    ])  # fmt: skip
    # API calls: 3,500 less 500 free = 3,000 → 4.692 + 30.00 + 29.998 = $64.69, printed 4.69 + 30.00 + 30.00.
    # Seats: 25 in the open tier: 25 × 9.50 + 5.00 = $242.50. Storage: ceil(1,234,567.5 / 100) = 12,346 × 2.50 = $30,865.00.
    # With the $49.00 fee: $31,221.19.
    invoice = _bill(plan, {graduated: 3500, volume: 25, package: "1234567.5"}, name="Tiered Ltd", email="ap@tiered.example")
    assert invoice.total == D("31221.19")
    invoice = invoice_mark_paid(invoice=invoice, now=utc(2025, 2, 20), actor=ACTOR, paid_at=utc(2025, 2, 20))
    text, _ = _render(invoice, "tiers-paid")
    flat = _flat(text)
    assert _has(flat, "Free units 500 units $0.00")
    assert _has(flat, "0 – 1,000 1,000 units $0.004692 $4.69")
    assert _has(flat, "1,000 – 2,000 1,000 units $0.03 $30.00", "2,000 – ∞ 1,000 units $0.029998 $30.00")
    assert _has(flat, "API calls (500 free units) 3,500 units $64.69")
    assert "4.692" not in flat and "29.998$" not in flat and "$29.998" not in flat  # no unrounded tier amounts
    assert _has(flat, "10 – ∞ 25 units $9.50 + $5.00 flat $242.50")
    assert _has(flat, "1,234,567.5 units", "12,346 packages of 100 units 12,346 $2.50 per package $30,865.00")
    assert _has(flat, "Total $31,221.19", "Amount paid −$31,221.19", "Amount due $0.00")
    assert _has(flat, "PAID", "2025-02-20")
    invoice.refresh_from_db()
    for line in printed_lines(invoice.lines.select_related("meter", "charge"), "USD"):
        if line.rows:
            assert sum(row.amount for row in line.rows) == line.amount, line.description


def test_reverse_charge_in_euros_names_both_tax_ids():
    tax_rate_create(code="VAT_DE", name="USt", rate="19")
    plan, _, (charge,) = plan_with(currency="EUR", fixed="500.00", tax_rates=["VAT_DE"],
                                   usage=[{"unit_price": D("0.12"), "display_name": "Compute hours"}])  # fmt: skip
    # 500.00 + 1,250 × 0.12 = 150.00 → €650.00; the customer accounts for the VAT: none is charged.
    invoice = _bill(plan, {charge: 1250}, name="Exemple", legal_name="Société Exemple SAS", email="compta@exemple.fr",
                    address_line1="12 rue de la Paix", postal_code="75002", city="Paris", country="FR",
                    tax_id="FR40303265045", reverse_charge=True)  # fmt: skip
    assert (invoice.reverse_charge, invoice.tax_total, invoice.total) == (True, D(0), D("650.00"))
    text, _ = _render(invoice, "reverse-charge-eur")
    flat = _flat(text)
    assert _has(flat, "Reverse charge: VAT to be accounted for by the recipient")
    assert _has(flat, "FR40303265045", "DE136695976", "France")
    assert _has(flat, "Subtotal €650.00", "Total €650.00", "Amount due €650.00", "EUR")


def test_yen_with_a_sub_yen_price_and_a_replacement_that_names_the_voided_invoice():
    tax_rate_create(code="JCT", name="Consumption tax", rate="10")
    plan, _, (charge,) = plan_with(currency="JPY", fixed="1200", tax_rates=["JCT"], tax_inclusive=True,
                                   usage=[{"unit_price": D("0.5"), "display_name": "API calls"}])  # fmt: skip
    # ¥1,200 + 12,345 × ¥0.5 = ¥6,172.5 → ¥6,173 (half up): ¥7,373, tax included: per line net = gross ÷ 1.1,
    # 1,090.9 → ¥1,091 and 5,611.8 → ¥5,612, so ¥6,703 taxable and ¥7,373 − ¥6,703 = ¥670 of tax inside.
    original = _bill(plan, {charge: 12345}, name="Tanaka Trading K.K.", email="keiri@tanaka.example",
                     address_line1="1-2-3 Marunouchi",
                     city="Chiyoda-ku, Tokyo", postal_code="100-0005", country="JP")  # fmt: skip
    assert (original.total, original.tax_total) == (D("7373"), D("670"))
    event(charge, original.customer, 1, utc(2025, 1, 20))  # late usage: 12,346 × 0.5 = ¥6,173, the same total
    replacement = invoice_regenerate(invoice=original, now=utc(2025, 2, 3), actor=ACTOR)
    original.refresh_from_db()
    text, _ = _render(original, "jpy-voided")
    assert _has(_flat(text), "VOID", "2025-02-03", "Amount due ¥0")
    text, _ = _render(replacement, "jpy-replacement")
    flat = _flat(text)
    assert _has(flat, f"Replaces {original.number}", f"Invoice {replacement.number}")
    assert _has(flat, "12,346 units ¥0.5 10% ¥6,173", "Total ¥7,373") and "¥7,373.00" not in flat
    assert _has(flat, "Consumption tax 10% ¥6,703 ¥670", "Tax (included) ¥670", "Prices include tax")


def test_a_very_long_address_and_a_draft_watermark(finance_page, screenshot):
    plan, _, (charge,) = plan_with(fixed="99.00", usage=[{"unit_price": D("0.001"), "display_name": "Events"}])
    sub = subscribe(plan, JAN, name="The Extraordinarily Long-Named International Consolidated Holdings Group "
                                       "Limited Liability Partnership of Greater Metropolitan Areas",
                    email="accounts-payable-department@extraordinarily-long-domain-name.example",
                    address_line1="Building 7, Floor 23, Suite 2301-2317, Attention: Accounts Payable Department, Invoice Desk",
                    address_line2="The Very Long Business Park Avenue of the Americas and Surrounding Territories 1234567",
                    city="Northwest Industrial and Commercial Development District Number Fourteen, Springfield",
                    state="State of Somewhere", postal_code="12345-6789", country="US")  # fmt: skip
    event(charge, sub.customer, 123456, utc(2025, 1, 15))  # 123,456 × $0.001 = $123.456 → $123.46; + $99.00 = $222.46
    subscriptions_rollover(now=FEB, actor=ACTOR)
    draft = Invoice.objects.get(subscription=sub)
    text, _ = _render(draft, "long-address-draft")
    flat = _flat(text)
    assert _has(flat, "Draft invoice", "DRAFT", "not issued yet")
    assert _has(flat, "Surrounding Territories 1234567", "State of Somewhere", "United States of America")
    assert _has(flat, "123,456 units $0.001 $123.46", "Total $222.46", "Amount due $222.46")

    # The same draft on the dashboard: the document inside the page, the status in the page's own chrome.
    finance_page.goto(f"/invoices/{draft.pk}/")
    document = finance_page.locator("article.invoice-document")
    expect(document.locator(".doc-watermark")).to_have_text("DRAFT")
    expect(document.locator("tr.doc-due")).to_contain_text("$222.46")
    expect(finance_page.locator(".badge.DRAFT")).to_be_visible()
    screenshot(finance_page, "invoices/dashboard-long-address-draft")
