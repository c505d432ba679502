"""What the customer's copy prints (invoicing.services.document): breakdown rows in the currency that add up to the
printed line, unit prices with their sub-cent digits, quantities with separators and the meter's unit, parties and
totals with fallbacks. Every expectation is worked out by hand in the comment beside it."""

from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from catalog.choices import PricingModel
from catalog.pricing import price_usage
from fluxbill.core.money import format_quantity, format_unit_price
from invoicing.choices import InvoiceStatus, LineKind
from invoicing.models import Invoice
from invoicing.services import invoice_finalize, invoice_mark_paid
from fluxbill.core.money import allocate
from invoicing.services.document import document_parties, document_period, document_totals, printed_line
from invoicing.services.lines import LineDraft
from tests.factories import MeterFactory, UsageChargeFactory, default_entity

from .builders import ACTOR, event, period_draft, plan_with, subscribe, utc

D = Decimal

# 1,000 units at 0.004692 = 4.692, 1,000 at 0.03 = 30.00, 1,000 at 0.029998 = 29.998; exactly 64.690 → $64.69.
TIERS = [
    {"up_to": "1000", "unit_price": "0.004692"},
    {"up_to": "2000", "unit_price": "0.03"},
    {"up_to": None, "unit_price": "0.029998"},
]


def test_largest_remainder_gives_the_missing_cent_to_the_row_that_lost_most():
    # The rule the document prints tier rows by (fluxbill.core.money.allocate):
    # floors 4.69 + 30.00 + 29.99 = 64.68, one cent short; remainders .002, 0, .008 → the third row gets it.
    assert allocate(D("64.69"), [D("4.692"), D("30.00"), D("29.998")], "USD") == [D("4.69"), D("30.00"), D("30.00")]


def test_largest_remainder_breaks_ties_in_row_order_and_works_in_yen():
    # 0.005 + 0.005 = 0.01: floors 0 + 0, one cent missing, equal remainders → the first row.
    assert allocate(D("0.01"), [D("0.005"), D("0.005")], "USD") == [D("0.01"), D("0.00")]
    # ¥0.5 × 3 = ¥1.5 → ¥2 (half up): floors 0, 0, 0, two yen missing → the first two rows.
    assert allocate(D("2"), [D("0.5"), D("0.5"), D("0.5")], "JPY") == [D("1"), D("1"), D("0")]
    # 1/3 each of $1.00: 0.333… floors to 0.33 × 3 = 0.99 → the first row gets the cent.
    third = D(1) / D(3)
    assert allocate(D("1.00"), [third, third, third], "USD") == [D("0.34"), D("0.33"), D("0.33")]


def test_unit_prices_keep_their_sub_cent_digits_and_quantities_their_separators():
    assert format_unit_price(D("0.002500000000"), "USD") == "$0.0025"
    assert format_unit_price(D("1"), "USD") == "$1.00"
    assert format_unit_price(D("0.5"), "JPY") == "¥0.5"
    assert format_unit_price(D("1200"), "JPY") == "¥1,200"
    assert format_quantity(D("1234567.5000000000")) == "1,234,567.5"
    assert format_quantity(D("150")) == "150"


def _graduated_line(quantity, *, unit="calls", free_units=D(0), amount=None, description="API calls"):
    priced = price_usage(pricing_model=PricingModel.GRADUATED, quantity=D(quantity), currency="USD", tiers=TIERS,
                         free_units=free_units)  # fmt: skip
    meter = MeterFactory.build(unit=unit)
    return LineDraft(
        kind=LineKind.USAGE, description=description, amount=priced.amount if amount is None else amount,
        quantity=priced.quantity, unit_price=priced.unit_price, breakdown=priced.breakdown,
        charge=UsageChargeFactory.build(meter=meter, free_units=free_units),
    )  # fmt: skip


def _rows(printed):
    return [(r.label, r.quantity, r.unit_price, r.amount) for r in printed.rows]


def test_graduated_rows_print_in_the_currency_and_add_up_to_the_line():
    line = _graduated_line("3000")
    assert line.amount == D("64.69")
    assert [t["amount"] for t in line.breakdown] == ["4.692000", "30.00", "29.998000"]  # billed as before
    printed = printed_line(line, "USD")
    assert (printed.quantity, printed.unit_price, printed.amount) == ("3,000 calls", "", D("64.69"))
    assert _rows(printed) == [
        ("0 – 1,000", "1,000 calls", "$0.004692", D("4.69")),
        ("1,000 – 2,000", "1,000 calls", "$0.03", D("30.00")),
        ("2,000 – ∞", "1,000 calls", "$0.029998", D("30.00")),
    ]
    assert sum(r.amount for r in printed.rows) == printed.amount


def test_free_units_get_a_row_so_the_quantities_add_up():
    # 3,500 with 500 free: the tiers price 3,000 → $64.69 as above, and the 500 free cost nothing.
    line = _graduated_line("3500", free_units=D(500), description="API calls (500 free units)")
    printed = printed_line(line, "USD")
    assert _rows(printed)[0] == ("Free units", "500 calls", "", D(0))
    assert [r.amount for r in printed.rows] == [D(0), D("4.69"), D("30.00"), D("30.00")]
    assert sum(r.amount for r in printed.rows) == printed.amount == D("64.69")


def test_what_interim_invoices_billed_is_a_negative_row_down_to_the_line():
    # The period prices 3,000 units at $64.69; $20.00 was billed on an interim invoice, so the line bills $44.69.
    line = _graduated_line("3000", amount=D("44.69"), description="API calls (less 20 billed on interim invoices)")
    printed = printed_line(line, "USD")
    assert _rows(printed)[-1] == ("Less billed on interim invoices", "", "", D("-20.00"))
    assert sum(r.amount for r in printed.rows) == printed.amount == D("44.69")


def test_per_unit_lines_with_free_units_or_interim_billing_show_how():
    meter = MeterFactory.build(unit="")
    charge = UsageChargeFactory.build(meter=meter, unit_price=D("0.01"), free_units=D(100))
    # 1,000 units, 100 free: 900 × $0.01 = $9.00.
    free = LineDraft(kind=LineKind.USAGE, description="Usage (100 free units)", amount=D("9.00"), quantity=D(1000),
                     unit_price=D("0.01"), charge=charge)  # fmt: skip
    assert _rows(printed_line(free, "USD")) == [
        ("Free units", "100", "", D(0)),
        ("Billable units", "900", "$0.01", D("9.00")),
    ]
    # 1,000 × $0.01 = $10.00 for the period, $4.00 of it on an interim invoice: the line bills $6.00.
    charge.free_units = D(0)
    less = LineDraft(kind=LineKind.USAGE, description="Usage (less 4 billed on interim invoices)", amount=D("6.00"),
                     quantity=D(1000), unit_price=D("0.01"), charge=charge)  # fmt: skip
    assert _rows(printed_line(less, "USD")) == [
        ("This period", "1,000", "$0.01", D("10.00")),
        ("Less billed on interim invoices", "", "", D("-4.00")),
    ]
    # A plain per-unit line needs no rows: 1,000 × $0.01 = $10.00 is on the line itself.
    plain = LineDraft(kind=LineKind.USAGE, description="Usage", amount=D("10.00"), quantity=D(1000),
                      unit_price=D("0.01"), charge=charge)  # fmt: skip
    assert printed_line(plain, "USD").rows == []


def test_package_rows_are_in_the_currency():
    priced = price_usage(pricing_model=PricingModel.PACKAGE, quantity=D(250), currency="JPY", package_size=D(100),
                         package_price=D("0.5"))  # fmt: skip
    # ceil(250 / 100) = 3 packages × ¥0.5 = ¥1.5 → ¥2.
    line = LineDraft(kind=LineKind.USAGE, description="Storage", amount=priced.amount, quantity=D(250),
                     breakdown=priced.breakdown)  # fmt: skip
    printed = printed_line(line, "JPY")
    assert _rows(printed) == [("3 packages of 100", "3", "¥0.5 per package", D(2))]


def test_a_real_rollover_line_prints_rows_that_add_up(db):
    # Through a real rollover: 3,000 calls in January on the graduated charge above.
    plan, _, (charge,) = plan_with(usage=[{"pricing_model": PricingModel.GRADUATED, "tiers": TIERS}])
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 3000, utc(2025, 1, 10))
    from invoicing.services import subscriptions_rollover

    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = Invoice.objects.get(subscription=sub)
    html = render_to_string("invoicing/invoice_document.html", {"invoice": invoice, "lines": list(invoice.lines.all())})
    assert "$64.69" in html and "$4.69" in html and "$29.998" not in html and "4.692" not in html
    assert "$0.004692" in html  # the tier's unit price, with its digits


def test_a_draft_prints_the_live_parties_and_an_issued_invoice_its_snapshots(db):
    entity = default_entity()
    entity.legal_name, entity.address_line1, entity.city, entity.postal_code = "Fluxbill GmbH", "Hauptstr. 1", "Berlin", "10115"
    entity.save()
    draft, _, _ = period_draft(units=5, name="Acme", legal_name="Acme Ltd", email="ap@acme.test", address_line1="1 Main St",
                               city="Springfield", country="US")  # fmt: skip
    seller, bill_to = document_parties(draft)
    assert (bill_to["legal_name"], bill_to["address_lines"]) == ("Acme Ltd", ["1 Main St", "Springfield", "United States of America"])
    assert (seller["legal_name"], seller["address_lines"]) == ("Fluxbill GmbH", ["Hauptstr. 1", "10115 Berlin"])
    invoice = invoice_finalize(invoice=draft, now=utc(2025, 2, 1, 2), actor=ACTOR)
    invoice.customer.legal_name = "Renamed Later"
    invoice.customer.save()
    entity.legal_name = "Renamed Seller"
    entity.save()
    seller, bill_to = document_parties(Invoice.objects.get(pk=invoice.pk))
    assert (bill_to["legal_name"], seller["legal_name"]) == ("Acme Ltd", "Fluxbill GmbH")  # issued: the snapshots
    html = render_to_string("invoicing/invoice_document.html", {"invoice": invoice, "lines": list(invoice.lines.all())})
    assert "Renamed" not in html and "Fluxbill GmbH" in html and "10115 Berlin" in html


def test_totals_are_the_pipelines_and_paid_means_nothing_due(db):
    draft, _, _ = period_draft(units=5)  # $49.00 + 5 × $1.00 = $54.00
    invoice = invoice_finalize(invoice=draft, now=utc(2025, 2, 1, 2), actor=ACTOR)
    totals = document_totals(invoice)
    assert (totals["subtotal"], totals["total"], totals["amount_paid"], totals["amount_due"]) == (
        D("54.00"), D("54.00"), D(0), D("54.00"))  # fmt: skip
    invoice = invoice_mark_paid(invoice=invoice, now=utc(2025, 2, 10), actor=ACTOR)
    totals = document_totals(invoice)
    assert (totals["amount_paid"], totals["amount_due"]) == (D("54.00"), D(0))
    assert invoice.status == InvoiceStatus.PAID


def test_the_billing_period_prints_first_and_last_day_or_instants():
    whole = Invoice(period_start=utc(2025, 1, 1), period_end=utc(2025, 2, 1))
    assert document_period(whole) == "2025-01-01 – 2025-01-31"
    interim = Invoice(period_start=utc(2025, 1, 1), period_end=utc(2025, 1, 15, 13, 42))
    assert document_period(interim) == "2025-01-01 00:00 – 2025-01-15 13:42 UTC"


@pytest.mark.parametrize(("status", "word"), [(InvoiceStatus.DRAFT, "DRAFT"), (InvoiceStatus.VOID, "VOID")])
def test_drafts_carry_the_watermark_and_voided_invoices_the_stamp(db, status, word):
    draft, _, _ = period_draft(units=5)
    draft.status, draft.voided_at = status, utc(2025, 2, 3) if status == InvoiceStatus.VOID else None
    html = render_to_string("invoicing/invoice_document.html", {"invoice": draft, "lines": list(draft.lines.all())})
    assert f">{word}<" in html or f">{word}<small>2025-02-03" in html
    assert "Interim" not in html and "End of period" not in html


def test_lines_taxed_at_their_rates_get_a_tax_column():
    line = LineDraft(kind=LineKind.FIXED, description="Platform fee", amount=D("49.00"), quantity=D(1),
                     unit_price=D("49.00"))  # fmt: skip
    html = render_to_string("invoicing/lines_table.html", {"lines": [line], "currency": "USD", "total": D("49.00")})
    assert "<th class=\"num\">Tax</th>" not in html  # no taxes computed: no column
    line.taxes = [{"code": "DE-VAT-19", "name": "VAT", "rate": "19", "amount": "9.31"}]
    html = render_to_string("invoicing/lines_table.html", {"lines": [line], "currency": "USD", "total": D("49.00")})
    assert "<th class=\"num\">Tax</th>" in html and '<td class="num">19%</td>' in html
    assert '<th colspan="4">Total</th>' in html


def test_a_period_line_after_an_interim_prints_the_tiers_and_what_the_interim_billed(db):
    from invoicing.services import subscription_generate_interim, subscriptions_rollover

    plan, _, (charge,) = plan_with(usage=[{"pricing_model": PricingModel.GRADUATED, "tiers": TIERS}])
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 1000, utc(2025, 1, 5))
    # The interim on Jan 10 prices 1,000 units in the first tier: 1,000 × 0.004692 = 4.692 → $4.69.
    interim = subscription_generate_interim(subscription=sub, now=utc(2025, 1, 10), actor=ACTOR)
    assert interim.total == D("4.69")
    event(charge, sub.customer, 2000, utc(2025, 1, 20))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    period = Invoice.objects.get(subscription=sub, kind="PERIOD")
    (line,) = period.lines.all()
    # The period prices all 3,000 units ($64.69, as above) and bills $64.69 − $4.69 = $60.00.
    assert line.amount == D("60.00")
    printed = printed_line(line, "USD")
    assert [(r.label, r.amount) for r in printed.rows] == [
        ("0 – 1,000", D("4.69")), ("1,000 – 2,000", D("30.00")), ("2,000 – ∞", D("30.00")),
        ("Less billed on interim invoices", D("-4.69")),
    ]  # fmt: skip
    assert sum(r.amount for r in printed.rows) == printed.amount == D("60.00")


def test_credit_carried_and_discounts_are_printed_when_there_are_some(db):
    draft, _, _ = period_draft(units=5)  # $54.00
    html = render_to_string("invoicing/invoice_document.html", {"invoice": draft, "lines": list(draft.lines.all())})
    assert "Discounts" not in html and "Credited to your balance" not in html and "Credits applied" not in html
    draft.discount_total, draft.credit_carried, draft.credit_applied = D("4.00"), D("2.50"), D("1.00")
    html = render_to_string("invoicing/invoice_document.html", {"invoice": draft, "lines": list(draft.lines.all())})
    assert "<th>Discounts</th><td class=\"num\">−$4.00</td>" in html
    assert "<th>Credits applied</th><td class=\"num\">−$1.00</td>" in html
    assert "<th>Credited to your balance</th><td class=\"num\">$2.50</td>" in html
