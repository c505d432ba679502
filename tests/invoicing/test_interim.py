"""Interim invoices and previews: an INTERIM draft for the period so far, then the period-end invoice
charges the whole period minus what interim invoices already charged, charge by charge, with tiers
priced on the whole period's usage.

Plan used throughout: a 49.00 fixed fee and graduated usage, tiers 0–100 @ 1.00, 101+ @ 0.50.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.choices import PricingModel
from fluxbill.core.errors import InvalidTransition
from invoicing.choices import InvoiceKind, InvoiceStatus
from invoicing.models import Invoice
from invoicing.services import (
    invoice_finalize,
    invoice_preview,
    invoice_void,
    subscription_generate_interim,
    subscriptions_rollover,
)

from .builders import ACTOR, event, keyed_client, plan_with, subscribe, utc

pytestmark = pytest.mark.django_db

TIERS = [
    {"up_to": "100", "unit_price": "1.00", "flat_amount": "0"},
    {"up_to": None, "unit_price": "0.50", "flat_amount": "0"},
]


def graduated_plan():
    plan, _, (charge,) = plan_with(
        fixed="49.00", usage=[{"display_name": "Requests", "pricing_model": PricingModel.GRADUATED, "tiers": TIERS}]
    )
    return plan, charge


def amounts(invoice):
    return [(line.kind, line.amount) for line in invoice.lines.all()]


# --- through the services, with `now` injected -------------------------------------------------------------------


def test_period_invoice_charges_the_whole_period_minus_the_interim_per_charge():
    plan, charge = graduated_plan()
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 80, utc(2025, 1, 5))

    interim = subscription_generate_interim(subscription=sub, now=utc(2025, 1, 10), actor=ACTOR)
    assert (interim.kind, interim.status) == (InvoiceKind.INTERIM, InvoiceStatus.DRAFT)
    assert (interim.period_start, interim.period_end) == (utc(2025, 1, 1), utc(2025, 1, 10))
    assert amounts(interim) == [("FIXED", Decimal("49.00")), ("USAGE", Decimal("80.00"))]
    assert interim.total == Decimal("129.00")
    sub.refresh_from_db()
    assert (sub.current_period_start, sub.current_period_end) == (utc(2025, 1, 1), utc(2025, 2, 1))  # unchanged

    event(charge, sub.customer, 60, utc(2025, 1, 20))
    assert subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR) == 1
    period = Invoice.objects.get(kind=InvoiceKind.PERIOD)
    # Whole period: 140 units = 100 × 1.00 + 40 × 0.50 = 120.00; less 80.00 already billed = 40.00.
    # The fee: 49.00 less 49.00 = 0.00.
    assert amounts(period) == [("FIXED", Decimal("0.00")), ("USAGE", Decimal("40.00"))]
    assert period.total == Decimal("40.00")
    usage = period.lines.get(kind="USAGE")
    assert usage.quantity == Decimal("140")
    assert "less 80 billed on interim invoices" in usage.description
    assert [(Decimal(t["units"]), Decimal(t["amount"])) for t in usage.breakdown] == [
        (Decimal("100"), Decimal("100")),
        (Decimal("40"), Decimal("20")),
    ]

    # Finalizing both (the interim first, as their grace periods fall) keeps the figures: 129 + 40 = 49 + 120.
    interim = invoice_finalize(invoice=interim, now=utc(2025, 1, 10, 1), actor=ACTOR)
    period = invoice_finalize(invoice=period, now=utc(2025, 2, 1, 1), actor=ACTOR)
    assert (interim.total, period.total) == (Decimal("129.00"), Decimal("40.00"))
    assert (interim.number, period.number) == ("INV-2025-000001", "INV-2025-000002")


def test_two_interims_and_a_late_event_nothing_billed_twice_nothing_lost():
    plan, charge = graduated_plan()
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 80, utc(2025, 1, 5))
    first = subscription_generate_interim(subscription=sub, now=utc(2025, 1, 10), actor=ACTOR)
    event(charge, sub.customer, 40, utc(2025, 1, 12))
    second = subscription_generate_interim(subscription=sub, now=utc(2025, 1, 15), actor=ACTOR)
    # 120 units so far = 100 + 20 × 0.50 = 110.00, less the first interim's 80.00 = 30.00; the fee was billed.
    assert amounts(second) == [("FIXED", Decimal("0.00")), ("USAGE", Decimal("30.00"))]
    assert second.total == Decimal("30.00")

    event(charge, sub.customer, 10, utc(2025, 1, 25))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    period = Invoice.objects.get(kind=InvoiceKind.PERIOD)
    # 130 units = 100 + 30 × 0.50 = 115.00, less 80.00 + 30.00 = 5.00
    assert amounts(period) == [("FIXED", Decimal("0.00")), ("USAGE", Decimal("5.00"))]
    assert first.total + second.total + period.total == Decimal("164.00")  # 49.00 + 115.00


def test_a_void_interim_is_not_subtracted():
    plan, charge = graduated_plan()
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 80, utc(2025, 1, 5))
    interim = subscription_generate_interim(subscription=sub, now=utc(2025, 1, 10), actor=ACTOR)
    invoice_void(invoice=interim, now=utc(2025, 1, 10, 0, 5), actor=ACTOR, reason="made by mistake")

    event(charge, sub.customer, 60, utc(2025, 1, 20))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    period = Invoice.objects.get(kind=InvoiceKind.PERIOD)
    assert amounts(period) == [("FIXED", Decimal("49.00")), ("USAGE", Decimal("120.00"))]
    assert period.total == Decimal("169.00")
    assert "interim" not in period.lines.get(kind="USAGE").description


def test_an_interim_while_rollover_lags_covers_the_period_that_contains_now():
    # The stored period (January) ended before rollover ran: the interim is February's so far, and
    # January is left whole to its PERIOD invoice, with nothing subtracted from it.
    plan, charge = graduated_plan()
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 30, utc(2025, 1, 20))
    event(charge, sub.customer, 5, utc(2025, 2, 3))

    window, money = invoice_preview(subscription=sub, now=utc(2025, 2, 10))
    lines = money.lines
    interim = subscription_generate_interim(subscription=sub, now=utc(2025, 2, 10), actor=ACTOR)

    assert (window.start, window.usage_end) == (utc(2025, 2, 1), utc(2025, 2, 10))
    assert (interim.period_start, interim.period_end) == (utc(2025, 2, 1), utc(2025, 2, 10))
    assert amounts(interim) == [("FIXED", Decimal("49.00")), ("USAGE", Decimal("5.00"))]
    assert [line.amount for line in lines] == [Decimal("49.00"), Decimal("5.00")]
    sub.refresh_from_db()
    assert sub.current_period_start == utc(2025, 1, 1)  # moving it on is rollover's job

    assert subscriptions_rollover(now=utc(2025, 2, 10), actor=ACTOR) == 1
    january = Invoice.objects.get(kind=InvoiceKind.PERIOD)
    assert (january.period_start, january.period_end) == (utc(2025, 1, 1), utc(2025, 2, 1))
    assert amounts(january) == [("FIXED", Decimal("49.00")), ("USAGE", Decimal("30.00"))]


def test_no_interim_for_a_subscription_whose_last_period_ended_before_rollover_ran():
    plan, _ = graduated_plan()
    sub = subscribe(plan, utc(2025, 1, 1))
    sub.cancel_at = utc(2025, 2, 1)
    sub.save()

    with pytest.raises(InvalidTransition, match="ended at 2025-02-01"):
        subscription_generate_interim(subscription=sub, now=utc(2025, 2, 10), actor=ACTOR)
    assert not Invoice.objects.exists()


def test_preview_matches_the_interim_and_stores_nothing():
    plan, charge = graduated_plan()
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 130, utc(2025, 1, 5))
    now = utc(2025, 1, 10)

    window, money = invoice_preview(subscription=sub, now=now)
    lines = money.lines
    assert (window.start, window.usage_end) == (utc(2025, 1, 1), now)
    # 130 units = 100 + 30 × 0.50 = 115.00
    assert [(line.kind, line.amount) for line in lines] == [("FIXED", Decimal("49.00")), ("USAGE", Decimal("115.00"))]
    assert Invoice.objects.count() == 0

    interim = subscription_generate_interim(subscription=sub, now=now, actor=ACTOR)
    assert amounts(interim) == [(line.kind, line.amount) for line in lines]


# --- through the API (the endpoints use the real clock, so the period is around today) ---------------------------


@pytest.fixture
def running_subscription():
    """A monthly subscription that started five days ago, with 80 units used so far."""
    plan, charge = graduated_plan()
    start = timezone.now().replace(microsecond=0) - timedelta(days=5)
    sub = subscribe(plan, start)
    event(charge, sub.customer, 30, start + timedelta(days=1))
    event(charge, sub.customer, 50, start + timedelta(days=2))
    return sub, charge


def test_generate_invoice_endpoint_then_period_end_invoice(running_subscription):
    sub, charge = running_subscription
    client, _ = keyed_client("invoices.write")
    response = client.post(f"/api/v1/subscriptions/{sub.pk}/generate-invoice")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["status"], body["subscription_id"]) == ("INTERIM", "DRAFT", str(sub.pk))
    assert body["total"] == "129.00"
    assert [(line["kind"], line["amount"]) for line in body["lines"]] == [("FIXED", "49.00"), ("USAGE", "80.00")]
    assert body["audit"][0]["action"] == "created"

    event(charge, sub.customer, 60, sub.current_period_start + timedelta(days=20))  # later in the period
    subscriptions_rollover(now=sub.current_period_end, actor=ACTOR)
    period = Invoice.objects.get(kind=InvoiceKind.PERIOD)
    assert amounts(period) == [("FIXED", Decimal("0.00")), ("USAGE", Decimal("40.00"))]


def test_preview_endpoint_returns_the_same_figures_and_stores_nothing(running_subscription):
    sub, _ = running_subscription
    reader, _ = keyed_client("invoices.read")
    preview = reader.get(f"/api/v1/subscriptions/{sub.pk}/preview-invoice")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["subscription_id"] == str(sub.pk)
    assert body["currency"] == "USD"
    assert body["total"] == "129.00"
    assert [(line["kind"], line["amount"], line["quantity"]) for line in body["lines"]] == [
        ("FIXED", "49.00", "1"),
        ("USAGE", "80.00", "80"),
    ]
    assert Decimal(body["lines"][1]["breakdown"][0]["units"]) == Decimal("80")
    assert Invoice.objects.count() == 0

    writer, _ = keyed_client("invoices.write")
    created = writer.post(f"/api/v1/subscriptions/{sub.pk}/generate-invoice").json()
    assert created["total"] == body["total"]
    assert [line["amount"] for line in created["lines"]] == [line["amount"] for line in body["lines"]]

    # After the interim, the preview shows what is left to bill: nothing so far.
    after = reader.get(f"/api/v1/subscriptions/{sub.pk}/preview-invoice").json()
    assert after["total"] == "0.00"
    assert Invoice.objects.count() == 1


def test_generate_needs_invoices_write_and_preview_needs_invoices_read(running_subscription):
    sub, _ = running_subscription
    url = f"/api/v1/subscriptions/{sub.pk}"
    for scopes in (("subscriptions.write",), ("invoices.read",), ("subscriptions.write", "subscriptions.read")):
        client, _ = keyed_client(*scopes)
        response = client.post(f"{url}/generate-invoice")
        assert response.status_code == 403, scopes
        assert "invoices.write" in response.json()["error"]
    for scopes in (("subscriptions.read",), ("invoices.write",)):
        client, _ = keyed_client(*scopes)
        response = client.get(f"{url}/preview-invoice")
        assert response.status_code == 403, scopes
        assert "invoices.read" in response.json()["error"]
    assert Invoice.objects.count() == 0

    assert keyed_client("invoices.read")[0].get(f"{url}/preview-invoice").status_code == 200
    assert keyed_client("invoices.write")[0].post(f"{url}/generate-invoice").status_code == 201
