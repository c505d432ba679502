"""Small builders the invoicing tests share: plans with charges, subscriptions through the real
service, usage events at exact instants. Expected amounts are never computed here."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from catalog.choices import BillingInterval, PricingModel
from customers.services import subscription_create
from invoicing.services import Actor
from metering.choices import AggregationType
from tests.factories import (
    CustomerFactory,
    FixedChargeFactory,
    MeterFactory,
    PlanFactory,
    UsageChargeFactory,
    UsageEventFactory,
)

ACTOR = Actor.task("test")


def utc(year, month, day, hour=0, minute=0, second=0, microsecond=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def plan_with(
    *, currency="USD", interval=BillingInterval.MONTH, trial_days=0, fixed: str | None = None, usage=(), **kwargs
):
    """A plan with an optional fixed fee and usage charges.

    `usage` is a list of dicts of Charge fields (pricing_model, unit_price, tiers, …); each gets its own SUM meter
    unless it names `meter`. Returns (plan, fixed charge or None, [usage charges]).
    """
    plan = PlanFactory(currency=currency, billing_interval=interval, trial_days=trial_days, **kwargs)
    fixed_charge = FixedChargeFactory(plan=plan, amount=Decimal(fixed)) if fixed is not None else None
    charges = []
    for spec in usage:
        spec = dict(spec)
        meter = spec.pop("meter", None) or MeterFactory(aggregation_type=spec.pop("aggregation_type", AggregationType.SUM))
        spec.setdefault("pricing_model", PricingModel.PER_UNIT)
        if spec["pricing_model"] != PricingModel.PER_UNIT:
            spec.setdefault("unit_price", None)
        charges.append(UsageChargeFactory(plan=plan, meter=meter, **spec))
    return plan, fixed_charge, charges


def subscribe(plan, start: datetime, customer=None, **customer_fields):
    """Subscribe through customers.services, as of `start` (so a trial starts in TRIAL)."""
    customer = customer or CustomerFactory(**customer_fields)
    return subscription_create(customer=customer, plan=plan, now=start, start_date=start)


def event(charge_or_meter, customer, quantity, timestamp: datetime, **properties):
    meter = getattr(charge_or_meter, "meter", charge_or_meter)
    return UsageEventFactory(
        meter=meter, customer=customer, quantity=Decimal(str(quantity)), timestamp=timestamp, properties=properties
    )


def keyed_client(*scopes):
    """(APIClient sending a new key with these scopes, the ApiKey row) — the row names the audit actor."""
    from rest_framework.test import APIClient

    from tests.factories import make_api_key

    key, raw = make_api_key(scopes=scopes or ("*",))
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client, key


def period_draft(*, fixed="49.00", unit_price="1.00", start=None, end=None, units=None, **customer_fields):
    """A DRAFT PERIOD invoice made by a real rollover of a monthly subscription (January 2025 by default).

    Returns (invoice, subscription, usage charge)."""
    from invoicing.models import Invoice
    from invoicing.services import subscriptions_rollover

    start = start or utc(2025, 1, 1)
    end = end or utc(2025, 2, 1)
    _, _, (charge,) = plan = plan_with(fixed=fixed, usage=[{"unit_price": Decimal(unit_price)}])
    sub = subscribe(plan[0], start, **customer_fields)
    if units is not None:
        event(charge, sub.customer, units, start + (end - start) / 2)
    subscriptions_rollover(now=end, actor=ACTOR)
    return Invoice.objects.get(subscription=sub, period_start=start), sub, charge
