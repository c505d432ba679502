"""End-of-period rollover (invoicing.services.subscriptions_rollover): drafts, periods, proration,
trials, pricing on one invoice, rounding, set-wise aggregation and concurrent runs.

`now` is passed in; no clock is patched. Every expected amount is worked out by hand in the comments.
"""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count

from catalog.choices import BillingInterval, PricingModel
from customers.choices import SubscriptionStatus
from customers.models import Subscription
from customers.services import subscription_cancel
from invoicing.choices import InvoiceKind, InvoiceStatus, LineKind
from invoicing.models import Invoice, InvoiceEvent
from invoicing.services import Actor, subscriptions_rollover
from metering.choices import AggregationType
from tests.factories import CustomerFactory, MeterFactory

from .builders import ACTOR, event, plan_with, subscribe, utc

pytestmark = pytest.mark.django_db

US = timedelta(microseconds=1)


def lines_by_name(invoice):
    return {line.description: line for line in invoice.lines.all()}


# --- one invoice per ended period, and the subscription moves on ------------------------------------------------


def test_ended_period_gets_one_draft_and_the_subscription_advances_jan31_feb28_mar31(settings):
    settings.FLUXBILL_INVOICE_GRACE_PERIOD = 7200
    plan, _, _ = plan_with(fixed="49.00")
    sub = subscribe(plan, utc(2025, 1, 31))
    assert (sub.current_period_start, sub.current_period_end) == (utc(2025, 1, 31), utc(2025, 2, 28))

    # One second before the period ends nothing happens.
    assert subscriptions_rollover(now=utc(2025, 2, 27, 23, 59, 59), actor=ACTOR) == 0
    assert Invoice.objects.count() == 0

    now = utc(2025, 2, 28, 0, 0, 30)
    assert subscriptions_rollover(now=now, actor=ACTOR) == 1
    invoice = Invoice.objects.get()
    assert invoice.kind == InvoiceKind.PERIOD
    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.subscription_id == sub.pk
    assert invoice.customer_id == sub.customer_id
    assert invoice.currency == "USD"
    assert (invoice.period_start, invoice.period_end) == (utc(2025, 1, 31), utc(2025, 2, 28))
    assert invoice.finalize_at == utc(2025, 2, 28, 2, 0, 30)  # now + 7200 s
    assert invoice.number is None
    assert invoice.total == Decimal("49.00")  # the whole period: no proration
    assert [(a.action, a.to_status, a.actor) for a in InvoiceEvent.objects.filter(invoice=invoice)] == [
        ("created", "DRAFT", "task:test")
    ]

    sub.refresh_from_db()
    assert (sub.current_period_start, sub.current_period_end) == (utc(2025, 2, 28), utc(2025, 3, 31))
    assert sub.status == SubscriptionStatus.ACTIVE

    # Running it again, even later in the same period, changes nothing.
    assert subscriptions_rollover(now=now, actor=ACTOR) == 0
    assert subscriptions_rollover(now=utc(2025, 3, 30, 23, 59), actor=ACTOR) == 0
    assert Invoice.objects.count() == 1

    assert subscriptions_rollover(now=utc(2025, 3, 31), actor=ACTOR) == 1
    second = Invoice.objects.exclude(pk=invoice.pk).get()
    assert (second.period_start, second.period_end) == (utc(2025, 2, 28), utc(2025, 3, 31))
    assert second.finalize_at == utc(2025, 3, 31, 2, 0, 0)
    sub.refresh_from_db()
    assert (sub.current_period_start, sub.current_period_end) == (utc(2025, 3, 31), utc(2025, 4, 30))


def test_default_grace_period_is_one_hour():
    plan, _, _ = plan_with(fixed="10.00")
    subscribe(plan, utc(2025, 5, 1))
    subscriptions_rollover(now=utc(2025, 6, 1, 8, 15), actor=ACTOR)
    assert Invoice.objects.get().finalize_at == utc(2025, 6, 1, 9, 15)


def test_a_week_of_missed_daily_periods_gives_one_invoice_per_period_contiguous():
    plan, _, (charge,) = plan_with(interval=BillingInterval.DAY, usage=[{"unit_price": Decimal("1.00")}])
    sub = subscribe(plan, utc(2025, 3, 1, 6))
    # One event per day, 2 units on day 3 and 5 units on the 7th; one event after the last ended period.
    for day in range(1, 8):
        event(charge, sub.customer, 1, utc(2025, 3, day, 12))
    event(charge, sub.customer, 1, utc(2025, 3, 3, 18))
    event(charge, sub.customer, 4, utc(2025, 3, 8, 5, 59, 59))  # still in [Mar 7 06:00, Mar 8 06:00)
    event(charge, sub.customer, 100, utc(2025, 3, 8, 6))  # the current, not yet ended period

    # The beat was down; it comes back on Mar 8 at 09:00: periods ending Mar 2..Mar 8 06:00 have ended.
    assert subscriptions_rollover(now=utc(2025, 3, 8, 9), actor=ACTOR) == 7
    invoices = list(Invoice.objects.order_by("period_start"))
    assert [(i.period_start, i.period_end) for i in invoices] == [
        (utc(2025, 3, d, 6), utc(2025, 3, d + 1, 6)) for d in range(1, 8)
    ]
    assert [i.total for i in invoices] == [
        Decimal("1.00"),
        Decimal("1.00"),
        Decimal("2.00"),
        Decimal("1.00"),
        Decimal("1.00"),
        Decimal("1.00"),
        Decimal("5.00"),
    ]
    assert {i.finalize_at for i in invoices} == {utc(2025, 3, 8, 10)}
    sub.refresh_from_db()
    assert (sub.current_period_start, sub.current_period_end) == (utc(2025, 3, 8, 6), utc(2025, 3, 9, 6))
    assert subscriptions_rollover(now=utc(2025, 3, 8, 9), actor=ACTOR) == 0
    assert Invoice.objects.count() == 7


# --- cancellation ------------------------------------------------------------------------------------------------


def test_cancel_at_period_end_bills_the_full_period_then_ends():
    plan, _, (charge,) = plan_with(fixed="49.00", usage=[{"unit_price": Decimal("0.10")}])
    sub = subscribe(plan, utc(2025, 1, 1))
    subscription_cancel(subscription=sub, now=utc(2025, 1, 11), at_period_end=True)
    event(charge, sub.customer, 30, utc(2025, 1, 20))

    assert subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR) == 1
    invoice = Invoice.objects.get()
    assert (invoice.period_start, invoice.period_end) == (utc(2025, 1, 1), utc(2025, 2, 1))
    assert invoice.total == Decimal("52.00")  # 49.00 + 30 × 0.10
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ENDED
    assert sub.ended_at == utc(2025, 2, 1)

    event(charge, sub.customer, 30, utc(2025, 2, 10))
    assert subscriptions_rollover(now=utc(2025, 6, 1), actor=ACTOR) == 0
    assert Invoice.objects.count() == 1


def test_cancel_now_bills_the_partial_period_with_the_fixed_fee_prorated_by_days():
    plan, _, (charge,) = plan_with(fixed="49.00", usage=[{"unit_price": Decimal("0.10")}])
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 20, utc(2025, 1, 5))
    event(charge, sub.customer, 500, utc(2025, 1, 11))  # after the cancellation: not billed

    sub = subscription_cancel(subscription=sub, now=utc(2025, 1, 11), at_period_end=False)
    assert sub.status == SubscriptionStatus.CANCELED
    assert sub.current_period_end == utc(2025, 1, 11)

    assert subscriptions_rollover(now=utc(2025, 1, 11, 0, 5), actor=ACTOR) == 1
    invoice = Invoice.objects.get()
    assert (invoice.period_start, invoice.period_end) == (utc(2025, 1, 1), utc(2025, 1, 11))
    lines = lines_by_name(invoice)
    fee = lines["Platform fee (prorated 10/31 days)"]
    assert fee.kind == LineKind.FIXED
    assert fee.amount == Decimal("15.81")  # 49.00 × 10/31 = 15.806… → 15.81
    assert lines["Usage"].quantity == Decimal("20")
    assert lines["Usage"].amount == Decimal("2.00")
    assert invoice.total == Decimal("17.81")
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ENDED
    assert sub.ended_at == utc(2025, 1, 11)

    assert subscriptions_rollover(now=utc(2025, 3, 1), actor=ACTOR) == 0
    assert Invoice.objects.count() == 1


def test_cancel_now_counts_a_started_day_as_a_whole_day():
    plan, _, _ = plan_with(fixed="30.00", interval=BillingInterval.MONTH)
    sub = subscribe(plan, utc(2025, 4, 1))  # April: 30 days
    subscription_cancel(subscription=sub, now=utc(2025, 4, 3, 0, 0, 1), at_period_end=False)
    subscriptions_rollover(now=utc(2025, 4, 5), actor=ACTOR)
    # 2 days and one second → 3 started days: 30.00 × 3/30 = 3.00
    assert Invoice.objects.get().total == Decimal("3.00")


def test_cancel_now_while_rollover_is_behind_bills_every_missed_period_then_the_partial_one():
    plan, _, _ = plan_with(fixed="31.00")
    sub = subscribe(plan, utc(2025, 1, 1))
    # The beat was down since January; the customer cancels on Mar 10 before it catches up.
    sub = subscription_cancel(subscription=sub, now=utc(2025, 3, 10), at_period_end=False)
    assert sub.cancel_at == utc(2025, 3, 10)

    assert subscriptions_rollover(now=utc(2025, 3, 10, 0, 1), actor=ACTOR) == 3
    invoices = list(Invoice.objects.order_by("period_start"))
    assert [(i.period_start, i.period_end, i.total) for i in invoices] == [
        (utc(2025, 1, 1), utc(2025, 2, 1), Decimal("31.00")),
        (utc(2025, 2, 1), utc(2025, 3, 1), Decimal("31.00")),
        (utc(2025, 3, 1), utc(2025, 3, 10), Decimal("9.00")),  # 31.00 × 9/31
    ]
    sub.refresh_from_db()
    assert (sub.status, sub.ended_at) == (SubscriptionStatus.ENDED, utc(2025, 3, 10))


def test_cancel_at_period_end_while_rollover_is_behind_lets_the_current_period_run_out():
    plan, _, _ = plan_with(fixed="2.00", interval=BillingInterval.DAY)
    sub = subscribe(plan, utc(2025, 3, 1, 6))
    # The beat has been down since Mar 1; on Mar 5 at 10:00 the customer cancels at the end of the period
    # they are in, [Mar 5 06:00, Mar 6 06:00). The days they used until then are owed.
    sub = subscription_cancel(subscription=sub, now=utc(2025, 3, 5, 10), at_period_end=True)
    assert sub.cancel_at == utc(2025, 3, 6, 6)

    assert subscriptions_rollover(now=utc(2025, 3, 6, 7), actor=ACTOR) == 5
    assert [(i.period_start, i.period_end) for i in Invoice.objects.order_by("period_start")] == [
        (utc(2025, 3, d, 6), utc(2025, 3, d + 1, 6)) for d in range(1, 6)
    ]
    sub.refresh_from_db()
    assert (sub.status, sub.ended_at) == (SubscriptionStatus.ENDED, utc(2025, 3, 6, 6))


# --- trials ------------------------------------------------------------------------------------------------------


def test_trial_no_fee_in_periods_inside_the_trial_full_fee_after_usage_always_billed():
    plan, _, (charge,) = plan_with(
        interval=BillingInterval.WEEK, trial_days=14, fixed="49.00", usage=[{"unit_price": Decimal("0.50")}]
    )
    sub = subscribe(plan, utc(2025, 3, 3))
    assert sub.status == SubscriptionStatus.TRIAL
    assert sub.trial_end == utc(2025, 3, 17)
    event(charge, sub.customer, 4, utc(2025, 3, 4))
    event(charge, sub.customer, 6, utc(2025, 3, 12))
    event(charge, sub.customer, 10, utc(2025, 3, 20))

    assert subscriptions_rollover(now=utc(2025, 3, 10), actor=ACTOR) == 1
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.TRIAL  # the trial runs until Mar 17
    assert subscriptions_rollover(now=utc(2025, 3, 17), actor=ACTOR) == 1
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert subscriptions_rollover(now=utc(2025, 3, 24), actor=ACTOR) == 1

    first, second, third = Invoice.objects.order_by("period_start")
    for trial_invoice, units, amount in ((first, "4", "2.00"), (second, "6", "3.00")):
        assert [(line.kind, line.quantity, line.amount) for line in trial_invoice.lines.all()] == [
            (LineKind.USAGE, Decimal(units), Decimal(amount))
        ]
        assert trial_invoice.total == Decimal(amount)
    assert [(line.kind, line.amount) for line in third.lines.all()] == [
        (LineKind.FIXED, Decimal("49.00")),
        (LineKind.USAGE, Decimal("5.00")),
    ]
    assert third.total == Decimal("54.00")


def test_trial_ending_inside_a_period_prorates_the_fee_for_that_period():
    plan, _, (charge,) = plan_with(trial_days=14, fixed="49.00", usage=[{"unit_price": Decimal("1.00")}])
    sub = subscribe(plan, utc(2025, 1, 1))
    assert sub.trial_end == utc(2025, 1, 15)
    event(charge, sub.customer, 3, utc(2025, 1, 2))  # inside the trial: usage is still billed

    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = Invoice.objects.get()
    lines = lines_by_name(invoice)
    # Billable Jan 15 → Feb 1: 17 of January's 31 days. 49.00 × 17/31 = 26.870… → 26.87
    assert lines["Platform fee (prorated 17/31 days)"].amount == Decimal("26.87")
    assert lines["Usage"].amount == Decimal("3.00")
    assert invoice.total == Decimal("29.87")


# --- amounts -----------------------------------------------------------------------------------------------------


def test_zero_usage_still_creates_an_invoice_marked_zero_total(admin_api):
    plan, _, _ = plan_with(usage=[{"unit_price": Decimal("0.25")}, {"unit_price": Decimal("3")}])
    sub = subscribe(plan, utc(2025, 1, 1))
    assert subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR) == 1
    invoice = Invoice.objects.get(subscription=sub)
    assert invoice.total == Decimal("0")
    assert invoice.lines.count() == 2

    body = admin_api.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert body["total"] == "0.00"
    assert body["zero_total"] is True
    assert [line["amount"] for line in body["lines"]] == ["0.00", "0.00"]


def test_hybrid_plan_prices_every_model_on_one_invoice_with_half_open_periods():
    tiers_graduated = [
        {"up_to": "100", "unit_price": "1.00", "flat_amount": "0"},
        {"up_to": "200", "unit_price": "0.50", "flat_amount": "5"},
        {"up_to": None, "unit_price": "0.25", "flat_amount": "0"},
    ]
    tiers_volume = [
        {"up_to": "10", "unit_price": "2.00", "flat_amount": "0"},
        {"up_to": "100", "unit_price": "1.50", "flat_amount": "3"},
        {"up_to": None, "unit_price": "1.00", "flat_amount": "0"},
    ]
    plan, _, (per_unit, graduated, volume, package) = plan_with(
        fixed="49.00",
        usage=[
            {"display_name": "API calls", "unit_price": Decimal("0.05")},
            {"display_name": "Storage", "pricing_model": PricingModel.GRADUATED, "tiers": tiers_graduated},
            {"display_name": "Seats", "pricing_model": PricingModel.VOLUME, "tiers": tiers_volume},
            {
                "display_name": "SMS",
                "pricing_model": PricingModel.PACKAGE,
                "package_size": Decimal("10"),
                "package_price": Decimal("3.00"),
                "free_units": Decimal("5"),
            },
        ],
    )
    sub = subscribe(plan, utc(2025, 3, 1))
    c = sub.customer
    start, end = utc(2025, 3, 1), utc(2025, 4, 1)
    other = CustomerFactory()
    for charge in (per_unit, graduated, volume, package):
        event(charge, c, 1000, start - US)  # the previous period
        event(charge, c, 7000, end)  # exactly at period_end: the next period
        event(charge, other, 9999, utc(2025, 3, 15))  # someone else's usage
    event(per_unit, c, 100, start)  # exactly at period_start: counts
    event(per_unit, c, 50, end - US)
    event(graduated, c, 200, start)
    event(graduated, c, 50, end - US)
    event(volume, c, 40, utc(2025, 3, 10))
    event(package, c, 25, utc(2025, 3, 31, 23, 59, 59))

    assert subscriptions_rollover(now=end, actor=ACTOR) == 1
    invoice = Invoice.objects.get(subscription=sub)
    lines = lines_by_name(invoice)
    assert lines["Platform fee"].amount == Decimal("49.00")
    # per unit: 150 × 0.05 = 7.50
    assert (lines["API calls"].quantity, lines["API calls"].unit_price, lines["API calls"].amount) == (
        Decimal("150"),
        Decimal("0.05"),
        Decimal("7.50"),
    )
    # graduated, 250 units: 100 × 1.00 + (100 × 0.50 + 5 flat) + 50 × 0.25 = 100 + 55 + 12.50 = 167.50
    storage = lines["Storage"]
    assert storage.quantity == Decimal("250")
    assert storage.amount == Decimal("167.50")
    assert [(Decimal(t["units"]), Decimal(t["amount"])) for t in storage.breakdown] == [
        (Decimal("100"), Decimal("100")),
        (Decimal("100"), Decimal("55")),
        (Decimal("50"), Decimal("12.5")),
    ]
    # volume, 40 units fall in the second tier: 40 × 1.50 + 3 flat = 63.00
    assert lines["Seats"].amount == Decimal("63.00")
    assert lines["Seats"].unit_price == Decimal("1.50")
    # package: 25 − 5 free = 20 → exactly 2 packages of 10 → 6.00
    sms = lines["SMS (5 free units)"]
    assert (sms.quantity, sms.amount) == (Decimal("25"), Decimal("6.00"))
    assert invoice.total == Decimal("293.00")  # 49 + 7.50 + 167.50 + 63 + 6

    # The events stamped exactly at Apr 1 00:00 open the next period's invoice.
    assert subscriptions_rollover(now=utc(2025, 5, 1), actor=ACTOR) == 1
    april = lines_by_name(Invoice.objects.get(subscription=sub, period_start=end))
    assert april["API calls"].quantity == Decimal("7000")
    assert april["API calls"].amount == Decimal("350.00")  # 7000 × 0.05
    # graduated 7000: 100 + 55 + 6800 × 0.25 = 1855.00
    assert april["Storage"].amount == Decimal("1855.00")
    # volume 7000: last tier 7000 × 1.00 = 7000.00
    assert april["Seats"].amount == Decimal("7000.00")
    # package (7000 − 5) / 10 = 699.5 → 700 packages × 3.00 = 2100.00
    assert april["SMS (5 free units)"].amount == Decimal("2100.00")


def test_jpy_lines_are_rounded_half_up_to_whole_yen():
    plan, _, (calls, minutes) = plan_with(
        currency="JPY",
        fixed="1000",
        usage=[
            {"display_name": "Calls", "unit_price": Decimal("0.5")},
            {"display_name": "Minutes", "unit_price": Decimal("1.25")},
        ],
    )
    sub = subscribe(plan, utc(2025, 1, 1))
    event(calls, sub.customer, 5, utc(2025, 1, 2))  # 2.5 → 3 (half-up, not half-even's 2)
    event(minutes, sub.customer, 3, utc(2025, 1, 2))  # 3.75 → 4
    subscription_cancel(subscription=sub, now=utc(2025, 1, 11), at_period_end=False)

    subscriptions_rollover(now=utc(2025, 1, 12), actor=ACTOR)
    invoice = Invoice.objects.get()
    assert invoice.currency == "JPY"
    lines = lines_by_name(invoice)
    assert lines["Platform fee (prorated 10/31 days)"].amount == Decimal("323")  # 1000 × 10/31 = 322.58 → 323
    assert lines["Calls"].amount == Decimal("3")
    assert lines["Minutes"].amount == Decimal("4")
    assert invoice.total == Decimal("330")
    assert all(line.amount == line.amount.to_integral_value() for line in invoice.lines.all())


def test_every_aggregation_type_is_billed_from_the_period_events_only():
    start, end = utc(2025, 1, 1), utc(2025, 2, 1)
    plan, _, charges = plan_with(
        usage=[
            {"display_name": kind, "unit_price": Decimal("2.00"), "aggregation_type": kind}
            for kind in (
                AggregationType.COUNT,
                AggregationType.MAX,
                AggregationType.MIN,
                AggregationType.AVG,
                AggregationType.LATEST,
                AggregationType.UNIQUE_COUNT,
            )
        ]
    )
    sub = subscribe(plan, start)
    c = sub.customer
    for charge in charges:
        event(charge, c, 1, utc(2025, 1, 3), value="a")
        event(charge, c, 9, utc(2025, 1, 20), value="b")
        event(charge, c, 2, utc(2025, 1, 10), value="a")
        event(charge, c, 4, end - US)  # the latest inside the period, no property
        event(charge, c, 50, end, value="z")  # next period
        event(charge, c, 0.5, start - US, value="y")  # previous period
    subscriptions_rollover(now=end, actor=ACTOR)
    lines = lines_by_name(Invoice.objects.get())
    expected = {
        "COUNT": ("4", "8.00"),  # 4 events
        "MAX": ("9", "18.00"),
        "MIN": ("1", "2.00"),
        "AVG": ("4", "8.00"),  # (1 + 9 + 2 + 4) / 4
        "LATEST": ("4", "8.00"),  # stamped one microsecond before the end
        "UNIQUE_COUNT": ("2", "4.00"),  # "a", "b"; the event without the property is not a value
    }
    assert {name: (line.quantity, line.amount) for name, line in lines.items()} == {
        name: (Decimal(q), Decimal(a)) for name, (q, a) in expected.items()
    }


# --- set-wise aggregation ----------------------------------------------------------------------------------------


def test_rollover_of_40_subscriptions_with_3_usage_charges_uses_a_constant_number_of_queries(
    django_assert_max_num_queries,
):
    start, end = utc(2025, 1, 1), utc(2025, 2, 1)
    subs = []
    for n in range(40):
        # Each its own plan and meters, of three aggregation types: nothing shared to hide an N+1.
        plan, _, charges = plan_with(
            usage=[
                {"unit_price": Decimal("1.00"), "aggregation_type": AggregationType.SUM},
                {"unit_price": Decimal("0.10"), "aggregation_type": AggregationType.COUNT},
                {"unit_price": Decimal("2.00"), "aggregation_type": AggregationType.MAX},
            ]
        )
        sub = subscribe(plan, start)
        sum_charge, count_charge, max_charge = charges
        event(sum_charge, sub.customer, n, utc(2025, 1, 10))
        event(sum_charge, sub.customer, 1, utc(2025, 1, 20))
        event(count_charge, sub.customer, 1, utc(2025, 1, 10))
        event(count_charge, sub.customer, 1, utc(2025, 1, 11))
        event(max_charge, sub.customer, 3, utc(2025, 1, 12))
        event(max_charge, sub.customer, 7, utc(2025, 1, 13))
        subs.append(sub)

    # 40 subscriptions × 3 meters answered by one statement per aggregation type (and one each for the
    # customers' tax details, the tax rates and the credit balances; the drafts' webhook events, read back
    # with their lines and written in one statement); an N+1 would be 40+.
    with django_assert_max_num_queries(25):
        assert subscriptions_rollover(now=end, actor=ACTOR) == 40

    assert Invoice.objects.count() == 40
    # Subscription n: (n + 1) × 1.00 + 2 × 0.10 + 7 × 2.00 = n + 15.20
    for n in (0, 1, 17, 39):
        invoice = Invoice.objects.get(subscription=subs[n])
        assert invoice.total == Decimal(n) + Decimal("15.20")
    assert Subscription.objects.filter(current_period_start=end).count() == 40


# --- concurrency -------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_rollovers_make_exactly_one_invoice_per_subscription_period():
    plan, _, (charge,) = plan_with(fixed="5.00", interval=BillingInterval.DAY, usage=[{"unit_price": Decimal("1")}])
    subs = [subscribe(plan, utc(2025, 6, 1)) for _ in range(30)]
    for sub in subs:
        event(charge, sub.customer, 2, utc(2025, 6, 1, 12))
    now = utc(2025, 6, 3, 1)  # two ended periods each: Jun 1 and Jun 2

    barrier = threading.Barrier(2)
    results, errors = [], []

    def run(name):
        try:
            barrier.wait(timeout=10)
            results.append(subscriptions_rollover(now=now, actor=Actor.task(name), batch_size=4))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"rollover-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert sum(results) == 60
    assert Invoice.objects.count() == 60
    per_period = Invoice.objects.values("subscription_id", "period_start").annotate(n=Count("id"))
    assert {row["n"] for row in per_period} == {1}
    assert len(per_period) == 60
    assert Invoice.objects.filter(period_start=utc(2025, 6, 1), total=Decimal("7.00")).count() == 30
    assert Invoice.objects.filter(period_start=utc(2025, 6, 2), total=Decimal("5.00")).count() == 30
    assert Subscription.objects.filter(current_period_start=utc(2025, 6, 3)).count() == 30
