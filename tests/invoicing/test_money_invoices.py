"""The money pipeline on real invoices: the negative-invoice repros of issue 16, customer credit carried and
applied, tax rates through the API, money as strings with the currency's digits, the balance endpoints.

Every expected amount is worked out by hand in the comments.
"""

from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.taxes import tax_rate_create, tax_rate_update
from customers.services import subscription_cancel
from invoicing.choices import InvoiceKind, InvoiceStatus
from invoicing.models import CreditEntry, Invoice
from invoicing.services import (
    invoice_finalize,
    invoice_regenerate,
    invoice_void,
    subscription_generate_interim,
    subscriptions_rollover,
)
from invoicing.services.credit import credit_adjust, credit_balance
from metering.choices import AggregationType
from tests.factories import MeterFactory

from .builders import ACTOR, event, keyed_client, plan_with, subscribe, utc

pytestmark = pytest.mark.django_db
D = Decimal


def period_invoice(sub, start):
    return Invoice.objects.get(subscription=sub, kind=InvoiceKind.PERIOD, period_start=start)


def finalize(invoice, now):
    return invoice_finalize(invoice=invoice, now=now, actor=ACTOR)


# --- the repros: nothing may come out negative --------------------------------------------------------------------


def test_a_latest_meter_that_fell_after_an_interim_bills_zero_and_carries_the_excess_to_credit():
    # LATEST at 1.00 a unit: 100 on Jan 5, an interim on Jan 10 bills 100.00; the value falls to 40 on Jan 20.
    # January comes to 40.00, 100.00 was billed: the period line is 0.00 (not −60.00) and 60.00 is credit.
    meter = MeterFactory(aggregation_type=AggregationType.LATEST)
    plan, _, (charge,) = plan_with(usage=[{"meter": meter, "unit_price": D("1.00")}])
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 100, utc(2025, 1, 5))
    interim = subscription_generate_interim(subscription=sub, now=utc(2025, 1, 10), actor=ACTOR)
    finalize(interim, utc(2025, 1, 10, 1))
    event(charge, sub.customer, 40, utc(2025, 1, 20))

    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    january = period_invoice(sub, utc(2025, 1, 1))
    assert [line.amount for line in january.lines.all()] == [D("0.00")]
    assert (january.total, january.credit_carried) == (D("0.00"), D("60.00"))
    january = finalize(january, utc(2025, 2, 1, 1))
    assert (january.status, january.amount_due) == (InvoiceStatus.PAID, D("0.00"))  # nothing due
    assert credit_balance(customer_id=sub.customer_id, currency="USD") == D("60.00")

    # February: LATEST 50 → 50.00, all of it from credit (balance 10.00 left); March: 30 → 30.00 − 10.00 = 20.00 due.
    event(charge, sub.customer, 50, utc(2025, 2, 10))
    subscriptions_rollover(now=utc(2025, 3, 1), actor=ACTOR)
    february = finalize(period_invoice(sub, utc(2025, 2, 1)), utc(2025, 3, 1, 1))
    assert (february.total, february.credit_applied, february.amount_due, february.status) == (
        D("50.00"), D("50.00"), D("0.00"), InvoiceStatus.PAID,
    )
    event(charge, sub.customer, 30, utc(2025, 3, 10))
    subscriptions_rollover(now=utc(2025, 4, 1), actor=ACTOR)
    march = finalize(period_invoice(sub, utc(2025, 3, 1)), utc(2025, 4, 1, 1))
    assert (march.total, march.credit_applied, march.amount_due, march.status) == (
        D("30.00"), D("10.00"), D("20.00"), InvoiceStatus.OPEN,
    )
    ledger = list(CreditEntry.objects.filter(customer=sub.customer).order_by("id").values_list("kind", "amount", "balance_after"))
    assert ledger == [
        ("carried", D("60.00"), D("60.00")),
        ("applied", D("-50.00"), D("10.00")),
        ("applied", D("-10.00"), D("0.00")),
    ]


def test_cancel_now_after_an_interim_never_gives_a_negative_period_invoice():
    # A 90.00 monthly fee billed whole on an interim on Jan 5; cancelled now at Jan 11 00:00 the period's fee is
    # 10 of 31 days: 90 × 10/31 = 29.032… → 29.03. 90.00 was billed: the period invoice is 0.00, 60.97 is credit.
    plan, _, _ = plan_with(fixed="90.00")
    sub = subscribe(plan, utc(2025, 1, 1))
    interim = subscription_generate_interim(subscription=sub, now=utc(2025, 1, 5), actor=ACTOR)
    finalize(interim, utc(2025, 1, 5, 1))
    assert interim.total == D("90.00")
    subscription_cancel(subscription=sub, now=utc(2025, 1, 11), at_period_end=False)

    subscriptions_rollover(now=utc(2025, 1, 11, 0, 1), actor=ACTOR)
    last = period_invoice(sub, utc(2025, 1, 1))
    assert (last.subtotal, last.total, last.amount_due, last.credit_carried) == (D("0.00"), D("0.00"), D("0.00"), D("60.97"))
    assert all(line.amount >= 0 for line in last.lines.all())
    finalize(last, utc(2025, 1, 12))
    assert credit_balance(customer_id=sub.customer_id, currency="USD") == D("60.97")


def test_no_invoice_row_can_hold_a_negative_total():
    from django.db import IntegrityError, transaction

    plan, _, _ = plan_with(fixed="10.00")
    sub = subscribe(plan, utc(2025, 1, 1))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    draft = period_invoice(sub, utc(2025, 1, 1))
    with pytest.raises(IntegrityError, match="invoice_amounts_not_negative"), transaction.atomic():
        Invoice.objects.filter(pk=draft.pk).update(total=D("-44.26"), amount_due=D("-44.26"), credit_applied=D("-50"))


# --- tax on real invoices, money strings --------------------------------------------------------------------------


def test_taxed_invoice_json_carries_every_step_as_strings_in_the_currency_digits():
    # Fee 49.00 and 130 units at 0.25 = 32.50; plan taxes VAT 19 %: 81.50 × 0.19 = 15.485 → 15.49 (half up).
    # Per line: 9.31 and 6.175 → floors 9.31 + 6.17 = 15.48, the cent goes to the 6.175 line: 6.18.
    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    plan, _, (charge,) = plan_with(fixed="49.00", usage=[{"unit_price": D("0.25")}], tax_rates=["VAT19"])
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 130, utc(2025, 1, 9))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))

    client, _ = keyed_client("invoices.read")
    body = client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert {k: body[k] for k in ("subtotal", "discount_total", "tax_total", "total", "credit_applied", "amount_due",
                                 "amount_paid", "amount_remaining")} == {
        "subtotal": "81.50", "discount_total": "0.00", "tax_total": "15.49", "total": "96.99", "credit_applied": "0.00",
        "amount_due": "96.99", "amount_paid": "0.00", "amount_remaining": "96.99",
    }
    assert body["tax_summary"] == [
        {"code": "VAT19", "name": "VAT 19%", "rate": "19", "taxable_amount": "81.50", "tax_amount": "15.49"}
    ]
    lines = [(ln["charge_id"] is not None, ln["amount"], ln["taxable_amount"], ln["tax_amount"]) for ln in body["lines"]]
    assert lines == [(True, "49.00", "49.00", "9.31"), (True, "32.50", "32.50", "6.18")]
    assert body["lines"][1]["taxes"] == [{"code": "VAT19", "name": "VAT 19%", "rate": "19", "amount": "6.18"}]


def test_jpy_invoice_json_has_no_decimals_and_the_preview_carries_the_same_steps():
    tax_rate_create(code="JCT", name="Consumption tax 10%", rate="10")
    plan, _, (charge,) = plan_with(currency="JPY", usage=[{"unit_price": D("12")}], tax_rates=["JCT"])
    now = timezone.now()
    sub = subscribe(plan, now - (now - now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)))
    event(charge, sub.customer, 100, sub.current_period_start)
    client, _ = keyed_client("subscriptions.read", "invoices.read")
    preview = client.get(f"/api/v1/subscriptions/{sub.pk}/preview-invoice").json()
    # 100 × ¥12 = ¥1,200; 10 % = ¥120.
    assert (preview["subtotal"], preview["tax_total"], preview["total"], preview["amount_due"]) == ("1200", "120", "1320", "1320")
    assert preview["lines"][0]["charge_id"] == str(charge.pk)
    assert preview["lines"][0]["taxes"][0]["amount"] == "120"


def test_reverse_charge_customer_is_billed_no_tax_and_the_invoice_says_so():
    tax_rate_create(code="VAT_DE", name="USt 19%", rate="19")
    plan, _, _ = plan_with(currency="EUR", fixed="100.00", tax_rates=["VAT_DE"])
    sub = subscribe(plan, utc(2025, 1, 1), reverse_charge=True)
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))
    assert (invoice.tax_total, invoice.total, invoice.reverse_charge, invoice.tax_summary) == (D("0"), D("100.00"), True, [])


def test_tax_inclusive_plan_total_is_the_price():
    # 119.00 incl. 19 %: net 100.00, tax 19.00; the customer pays 119.00.
    tax_rate_create(code="VAT", name="VAT 19%", rate="19")
    plan, _, _ = plan_with(currency="EUR", fixed="119.00", tax_rates=["VAT"], tax_inclusive=True)
    sub = subscribe(plan, utc(2025, 1, 1))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = period_invoice(sub, utc(2025, 1, 1))
    assert (invoice.subtotal, invoice.tax_total, invoice.total, invoice.tax_inclusive) == (D("119.00"), D("19.00"), D("119.00"), True)
    assert invoice.lines.get().taxable_amount == D("100.00")


def test_changing_a_rate_archives_it_issued_invoices_keep_what_they_were_taxed_at():
    vat = tax_rate_create(code="VAT", name="VAT", rate="19")
    plan, _, _ = plan_with(fixed="100.00", tax_rates=["VAT"])
    sub = subscribe(plan, utc(2025, 1, 1))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    january = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))
    successor = tax_rate_update(tax_rate=vat, data={"rate": "16"}, now=utc(2025, 2, 2))
    vat.refresh_from_db()
    assert (vat.active, vat.archived_at is not None, vat.replaced_by_id) == (False, True, successor.pk)
    assert (successor.code, successor.rate) == ("VAT", D("16"))

    subscriptions_rollover(now=utc(2025, 3, 1), actor=ACTOR)
    february = period_invoice(sub, utc(2025, 2, 1))
    assert february.tax_total == D("16.00")
    january.refresh_from_db()
    assert (january.tax_total, january.tax_summary[0]["rate"]) == (D("19.00"), "19")


def test_tax_rates_api_create_list_patch_and_bad_input():
    client, _ = keyed_client("tax_rates.read", "tax_rates.write")
    created = client.post("/api/v1/tax-rates", {"code": "NY", "name": "NY sales tax", "rate": "8.875"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["rate"] == "8.875"
    assert client.post("/api/v1/tax-rates", {"code": "NY", "name": "again", "rate": "1"}, format="json").status_code == 409
    bad = client.post("/api/v1/tax-rates", {"code": "X", "name": "x", "rate": "101"}, format="json")
    assert (bad.status_code, bad.json()["field"]) == (400, "rate")
    bad = client.post("/api/v1/tax-rates", {"code": "X", "name": "x", "rate": "1.00001"}, format="json")
    assert (bad.status_code, bad.json()["field"]) == (400, "rate")
    bad = client.post("/api/v1/tax-rates", {"code": "has space", "name": "x", "rate": "1"}, format="json")
    assert (bad.status_code, bad.json()["field"]) == (400, "code")

    renamed = client.patch(f"/api/v1/tax-rates/{created.json()['id']}", {"name": "New York"}, format="json").json()
    assert (renamed["id"], renamed["name"]) == (created.json()["id"], "New York")
    changed = client.patch(f"/api/v1/tax-rates/{created.json()['id']}", {"rate": "9"}, format="json").json()
    assert changed["id"] != created.json()["id"] and changed["rate"] == "9"
    listed = client.get("/api/v1/tax-rates").json()["results"]
    assert [(r["code"], r["rate"]) for r in listed] == [("NY", "9")]
    assert len(client.get("/api/v1/tax-rates?archived=true").json()["results"]) == 2
    stale = client.patch(f"/api/v1/tax-rates/{created.json()['id']}", {"rate": "10"}, format="json")
    assert stale.status_code == 400

    readonly, _ = keyed_client("tax_rates.read")
    assert readonly.post("/api/v1/tax-rates", {"code": "Z", "name": "z", "rate": "1"}, format="json").status_code == 403


def test_unknown_tax_codes_are_refused_where_they_are_named():
    client, _ = keyed_client("plans.write", "customers.write")
    plan = client.post(
        "/api/v1/plans", {"name": "P", "lookup_id": "p1", "currency": "USD", "tax_rates": ["NOPE"]}, format="json"
    )
    assert (plan.status_code, plan.json()["field"]) == (400, "tax_rates[0]")
    customer = client.post(
        "/api/v1/customers", {"external_id": "c1", "tax_exempt": True, "reverse_charge": True}, format="json"
    )
    assert (customer.status_code, customer.json()["field"]) == (400, "reverse_charge")


# --- the credit ledger --------------------------------------------------------------------------------------------


def test_balance_endpoints_and_manual_adjustments():
    plan, _, _ = plan_with(fixed="10.00")
    sub = subscribe(plan, utc(2025, 1, 1))
    client, _ = keyed_client("customers.read", "invoices.write")
    url = f"/api/v1/customers/{sub.customer.external_id}"
    assert client.get(f"{url}/balance").json() == []

    added = client.post(f"{url}/balance-transactions", {"currency": "USD", "amount": "25.00", "reason": "goodwill"}, format="json")
    assert added.status_code == 201, added.content
    assert (added.json()["amount"], added.json()["balance_after"]) == ("25.00", "25.00")
    for body, field in [
        ({"currency": "USD", "amount": "-30.00", "reason": "too much"}, "amount"),  # only 25.00 to take back
        ({"currency": "USD", "amount": "0", "reason": "nothing"}, "amount"),
        ({"currency": "JPY", "amount": "1.5", "reason": "yen have no decimals"}, "amount"),
        ({"currency": "XXX", "amount": "1", "reason": "no such currency"}, "currency"),
        ({"currency": "USD", "amount": "1.00", "reason": " "}, "reason"),
    ]:
        refused = client.post(f"{url}/balance-transactions", body, format="json")
        assert (refused.status_code, refused.json()["field"]) == (400, field), (body, refused.content)
    assert client.get(f"{url}/balance").json() == [{"currency": "USD", "balance": "25.00"}]

    # The next invoice (10.00) uses 10.00 of it: 15.00 left, listed newest first.
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))
    assert (invoice.credit_applied, invoice.amount_due, invoice.status) == (D("10.00"), D("0.00"), InvoiceStatus.PAID)
    entries = client.get(f"{url}/balance-transactions").json()["results"]
    assert [(e["kind"], e["amount"], e["balance_after"], e["invoice_number"]) for e in entries] == [
        ("applied", "-10.00", "15.00", invoice.number),
        ("adjustment", "25.00", "25.00", None),
    ]
    readonly, _ = keyed_client("customers.read")
    assert readonly.post(f"{url}/balance-transactions", {"currency": "USD", "amount": "1", "reason": "x"}, format="json").status_code == 403


def test_voiding_an_invoice_gives_back_the_credit_it_used():
    plan, _, _ = plan_with(fixed="30.00")
    sub = subscribe(plan, utc(2025, 1, 1))
    credit_adjust(customer=sub.customer, currency="USD", amount="10.00", reason="promo", actor=ACTOR)
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))
    assert (invoice.credit_applied, invoice.amount_due) == (D("10.00"), D("20.00"))
    assert credit_balance(customer_id=sub.customer_id, currency="USD") == D("0")
    invoice_void(invoice=invoice, now=utc(2025, 2, 2), actor=ACTOR, reason="wrong")
    assert credit_balance(customer_id=sub.customer_id, currency="USD") == D("10.00")


def test_regenerating_an_invoice_that_used_credit_moves_the_credit_to_the_replacement():
    plan, _, (charge,) = plan_with(fixed="30.00", usage=[{"unit_price": D("1.00")}])
    sub = subscribe(plan, utc(2025, 1, 1))
    credit_adjust(customer=sub.customer, currency="USD", amount="10.00", reason="promo", actor=ACTOR)
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))
    event(charge, sub.customer, 5, utc(2025, 1, 31))  # late: the replacement bills 35.00
    replacement = invoice_regenerate(invoice=invoice, now=utc(2025, 2, 3), actor=ACTOR)
    assert (replacement.total, replacement.credit_applied, replacement.amount_due) == (D("35.00"), D("10.00"), D("25.00"))
    kinds = list(CreditEntry.objects.filter(customer=sub.customer).order_by("id").values_list("kind", "amount", "balance_after"))
    assert kinds == [
        ("adjustment", D("10.00"), D("10.00")),
        ("applied", D("-10.00"), D("0.00")),
        ("restored", D("10.00"), D("10.00")),
        ("applied", D("-10.00"), D("0.00")),
    ]


def test_the_billing_entitys_default_rates_apply_when_nothing_more_specific_names_any():
    # The entity taxes at 20 %; a 50.00 fee comes to 60.00. A customer naming its own 5 % pays 52.50 instead.
    from customers.services import billing_entity_default, billing_entity_update

    tax_rate_create(code="UKVAT", name="VAT 20%", rate="20")
    tax_rate_create(code="LOW", name="Reduced 5%", rate="5")
    billing_entity_update(entity=billing_entity_default(), data={"tax_rates": ["UKVAT"]})
    plan, _, _ = plan_with(currency="GBP", fixed="50.00")
    plain = subscribe(plan, utc(2025, 1, 1))
    own = subscribe(plan, utc(2025, 1, 1), tax_rates=["LOW"])
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    assert period_invoice(plain, utc(2025, 1, 1)).total == D("60.00")
    assert period_invoice(own, utc(2025, 1, 1)).total == D("52.50")


def test_billing_entity_tax_rates_over_the_api():
    from customers.services import billing_entity_default

    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    client, _ = keyed_client("billing_entities.read", "billing_entities.write")
    url = f"/api/v1/billing-entities/{billing_entity_default().pk}"
    refused = client.patch(url, {"tax_rates": ["VAT19", "NOPE"]}, format="json")
    assert (refused.status_code, refused.json()["field"]) == (400, "tax_rates[1]")
    changed = client.patch(url, {"tax_rates": ["VAT19"]}, format="json")
    assert (changed.status_code, changed.json()["tax_rates"]) == (200, ["VAT19"])


# --- found in review: credit must not be made out of nothing ------------------------------------------------------


def _latest_plan():
    meter = MeterFactory(aggregation_type=AggregationType.LATEST)
    plan, _, (charge,) = plan_with(usage=[{"meter": meter, "unit_price": D("1.00")}])
    return plan, charge


def test_two_interims_and_the_period_carry_an_excess_once():
    # LATEST at 1.00: 100 → interim 1 bills 100.00; falls to 40 → interim 2 bills 0.00 and carries 60.00.
    # The period comes to 40.00, of which 100.00 − 60.00 = 40.00 is already billed: 0.00, nothing carried again.
    plan, charge = _latest_plan()
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 100, utc(2025, 1, 5))
    finalize(subscription_generate_interim(subscription=sub, now=utc(2025, 1, 10), actor=ACTOR), utc(2025, 1, 10, 1))
    event(charge, sub.customer, 40, utc(2025, 1, 12))
    second = finalize(subscription_generate_interim(subscription=sub, now=utc(2025, 1, 15), actor=ACTOR), utc(2025, 1, 15, 1))
    assert (second.total, second.credit_carried) == (D("0.00"), D("60.00"))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    period = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))
    assert (period.total, period.credit_carried) == (D("0.00"), D("0.00"))
    assert credit_balance(customer_id=sub.customer_id, currency="USD") == D("60.00")


def test_an_interim_the_issued_period_invoice_subtracted_cannot_be_voided():
    # Voiding it would leave its 100.00 billed by nobody while the period invoice's 60.00 of credit stands.
    from fluxbill.core.errors import InvalidTransition

    plan, charge = _latest_plan()
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 100, utc(2025, 1, 5))
    interim = subscription_generate_interim(subscription=sub, now=utc(2025, 1, 10), actor=ACTOR)
    event(charge, sub.customer, 40, utc(2025, 1, 20))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    period = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))
    with pytest.raises(InvalidTransition, match=period.number):
        invoice_void(invoice=interim, now=utc(2025, 2, 2), actor=ACTOR)
    interim.refresh_from_db()
    assert interim.status == InvoiceStatus.DRAFT


def test_an_invoice_settled_by_credit_can_be_regenerated_and_gets_its_credit_back():
    # Balance 50.00; the 10.00 invoice is PAID by credit (40.00 left). A late 5 units: regenerate voids it
    # (10.00 back: 50.00) and the 15.00 replacement uses 15.00 of it: 35.00 left.
    plan, _, (charge,) = plan_with(fixed="10.00", usage=[{"unit_price": D("1.00")}])
    sub = subscribe(plan, utc(2025, 1, 1))
    credit_adjust(customer=sub.customer, currency="USD", amount="50.00", reason="promo", actor=ACTOR)
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))
    assert (invoice.status, invoice.credit_applied) == (InvoiceStatus.PAID, D("10.00"))
    event(charge, sub.customer, 5, utc(2025, 1, 31))
    replacement = invoice_regenerate(invoice=invoice, now=utc(2025, 2, 3), actor=ACTOR)
    assert (replacement.total, replacement.credit_applied, replacement.status) == (D("15.00"), D("15.00"), InvoiceStatus.PAID)
    assert credit_balance(customer_id=sub.customer_id, currency="USD") == D("35.00")


def test_an_invoice_paid_with_money_still_cannot_be_voided():
    from fluxbill.core.errors import InvalidTransition
    from invoicing.services import invoice_mark_paid

    plan, _, _ = plan_with(fixed="10.00")
    sub = subscribe(plan, utc(2025, 1, 1))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = finalize(period_invoice(sub, utc(2025, 1, 1)), utc(2025, 2, 1, 1))
    invoice = invoice_mark_paid(invoice=invoice, now=utc(2025, 2, 2), actor=ACTOR)
    assert invoice.amount_paid == D("10.00")
    with pytest.raises(InvalidTransition, match="PAID"):
        invoice_void(invoice=invoice, now=utc(2025, 2, 3), actor=ACTOR)


def test_a_new_percentage_keeps_an_inactive_rate_inactive():
    old = tax_rate_create(code="OLD", name="old", rate="5", active=False)
    assert tax_rate_update(tax_rate=old, data={"rate": "6"}, now=utc(2025, 1, 1)).active is False


def test_the_ledger_filter_refuses_a_currency_that_is_not_a_code():
    # Found trying odd input: "x\0" reached PostgreSQL and was a 500.
    customer = subscribe(plan_with(fixed="1.00")[0], utc(2025, 1, 1)).customer
    client, _ = keyed_client("customers.read")
    refused = client.get(f"/api/v1/customers/{customer.pk}/balance-transactions?currency=x%00")
    assert (refused.status_code, refused.json()["field"]) == (400, "currency")
    assert client.get(f"/api/v1/customers/{customer.pk}/balance-transactions?currency=usd").status_code == 200
