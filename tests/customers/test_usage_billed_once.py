"""Usage is billed once (issue 16 §7). Found: a customer with two active subscriptions whose plans both charge the
same meter was billed twice for the same events (10 units → 10.00 on each invoice)."""

from decimal import Decimal

import pytest

from customers.services import subscription_cancel, subscription_create
from fluxbill.core.errors import Conflict
from invoicing.models import Invoice
from invoicing.services import subscriptions_rollover
from tests.factories import CustomerFactory, PlanFactory, UsageChargeFactory
from tests.invoicing.builders import ACTOR, event, plan_with, utc

pytestmark = pytest.mark.django_db


def test_a_second_overlapping_subscription_charging_the_same_meter_is_refused():
    plan, _, (charge,) = plan_with(usage=[{"unit_price": Decimal("1.00")}])
    other = PlanFactory(type="USAGE")
    UsageChargeFactory(plan=other, meter=charge.meter, unit_price=Decimal("1.00"))
    customer = CustomerFactory()
    first = subscription_create(customer=customer, plan=plan, now=utc(2025, 1, 1), start_date=utc(2025, 1, 1))

    with pytest.raises(Conflict) as refused:
        subscription_create(customer=customer, plan=other, now=utc(2025, 1, 2), start_date=utc(2025, 1, 2))

    assert refused.value.field == "plan_id"
    assert refused.value.extra == {"meter_id": str(charge.meter_id), "subscription_id": str(first.pk)}
    assert charge.meter.name in refused.value.message
    # Without the rule both invoices billed the same 10 units: now there is one subscription, one line of 10.00.
    event(charge, customer, 10, utc(2025, 1, 10))
    subscriptions_rollover(now=utc(2025, 2, 1, 0, 5), actor=ACTOR)
    assert [i.total for i in Invoice.objects.all()] == [Decimal("10.00")]


def test_the_api_answers_409_naming_the_meter_and_the_other_subscription(admin_api):
    plan, _, (charge,) = plan_with(usage=[{"unit_price": Decimal("1.00")}])
    customer = CustomerFactory()
    first = admin_api.post("/api/v1/subscriptions", {"customer_id": str(customer.pk), "plan_id": str(plan.pk)}, format="json")
    assert first.status_code == 201, first.content

    again = admin_api.post("/api/v1/subscriptions", {"customer_id": str(customer.pk), "plan_id": str(plan.pk)}, format="json")

    assert again.status_code == 409, again.content
    body = again.json()
    assert body["field"] == "plan_id" and first.json()["id"] in body["error"] and charge.meter.name in body["error"]


def test_a_plan_change_ends_one_and_starts_the_next():
    plan, _, (charge,) = plan_with(usage=[{"unit_price": Decimal("1.00")}])
    bigger = PlanFactory(type="USAGE")
    UsageChargeFactory(plan=bigger, meter=charge.meter, unit_price=Decimal("0.50"))
    customer = CustomerFactory()
    old = subscription_create(customer=customer, plan=plan, now=utc(2025, 1, 1), start_date=utc(2025, 1, 1))
    subscription_cancel(subscription=old, now=utc(2025, 1, 15), at_period_end=True)  # ends Feb 1

    with pytest.raises(Conflict):
        subscription_create(customer=customer, plan=bigger, now=utc(2025, 1, 15), start_date=utc(2025, 1, 20))
    new = subscription_create(customer=customer, plan=bigger, now=utc(2025, 1, 15), start_date=utc(2025, 2, 1))

    assert new.start_date == utc(2025, 2, 1)


def test_plans_with_other_meters_and_other_customers_are_not_affected():
    plan, _, _ = plan_with(usage=[{"unit_price": Decimal("1.00")}])
    elsewhere, _, _ = plan_with(usage=[{"unit_price": Decimal("2.00")}])  # its own meter
    fixed_only = PlanFactory(type="FIXED")
    customer = CustomerFactory()
    subscription_create(customer=customer, plan=plan, now=utc(2025, 1, 1))
    subscription_create(customer=customer, plan=elsewhere, now=utc(2025, 1, 1))
    subscription_create(customer=customer, plan=fixed_only, now=utc(2025, 1, 1))
    subscription_create(customer=CustomerFactory(), plan=plan, now=utc(2025, 1, 1))
    assert customer.subscriptions.count() == 3
