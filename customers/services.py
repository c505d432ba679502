"""Customers and subscriptions: every write and rule about them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q

from catalog.models import Charge, Plan
from catalog.taxes import tax_rate_codes_check
from fluxbill.core.bulk import rows_update
from fluxbill.core.db import unique_or_conflict
from fluxbill.core.errors import Conflict, InvalidInput, InvalidTransition

from .choices import SubscriptionStatus
from .models import Customer, Subscription
from .periods import period_at
from .selectors import customer_ids_by_external_id


# Rollover bills every period since the start, one invoice each: a start decades back is a typo, not a
# migration, and periods near year 9999 cannot be computed (nor years before 1000 written as RFC 3339).
MAX_BACKDATE_YEARS = 10
MAX_START_AHEAD_YEARS = 1


def _customer_conflict(external_id: str) -> dict:
    return {"external_id": (f"A customer with external_id '{external_id}' already exists", "external_id")}


def metadata_check(metadata) -> dict:
    """A customer's metadata: a JSON object (None: an empty one)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput(f"metadata must be a JSON object, got {type(metadata).__name__}", field="metadata")
    return metadata


@transaction.atomic
def customer_tax_check(*, tax_exempt: bool, reverse_charge: bool) -> None:
    if tax_exempt and reverse_charge:
        raise InvalidInput(
            "A customer is either tax_exempt or reverse_charge, not both (both bill no tax; reverse charge also "
            "prints the reverse-charge note)",
            field="reverse_charge",
        )


def customer_create(
    *,
    external_id: str,
    name: str = "",
    email: str = "",
    address: str = "",
    metadata: dict | None = None,
    tax_rates: list[str] | None = None,
    tax_exempt: bool = False,
    reverse_charge: bool = False,
) -> Customer:
    customer_tax_check(tax_exempt=tax_exempt, reverse_charge=reverse_charge)
    customer = Customer(
        external_id=external_id, name=name or "", email=email or "", address=address or "", metadata=metadata_check(metadata),
        tax_rates=tax_rate_codes_check(tax_rates), tax_exempt=bool(tax_exempt), reverse_charge=bool(reverse_charge),
    )
    with unique_or_conflict(_customer_conflict(external_id)):
        customer.save()
    return customer


def external_id_change_check(*, customer: Customer, external_id: str) -> None:
    """Raise if `external_id` would change the customer's: it is fixed once the customer exists.

    Events name customers by it, and every ingesting process keeps external_id → customer id in
    memory (metering.lookups): a renamed customer would go on taking the old id's events wherever
    that map is held. A deleted customer is caught at the write instead (StaleCustomer).
    """
    if external_id != customer.external_id:
        raise InvalidInput(
            "external_id cannot change: usage events name the customer by it. "
            "Create a new customer for the new id instead",
            field="external_id",
        )


@transaction.atomic
def customer_update(*, customer: Customer, **changes) -> Customer:
    """Change a customer's details (its external_id is fixed: see external_id_change_check)."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if "external_id" in changes:
        external_id_change_check(customer=locked, external_id=changes["external_id"])
    if "metadata" in changes:
        changes["metadata"] = metadata_check(changes["metadata"])
    if "tax_rates" in changes:
        changes["tax_rates"] = tax_rate_codes_check(changes["tax_rates"])
    customer_tax_check(
        tax_exempt=changes.get("tax_exempt", locked.tax_exempt),
        reverse_charge=changes.get("reverse_charge", locked.reverse_charge),
    )
    for key, value in changes.items():
        setattr(locked, key, value)
    locked.save()
    return locked


def subscription_start_check(
    *, plan: Plan, now: datetime, start_date: datetime | None = None, billing_interval: str | None = None
) -> datetime:
    """Whether `plan` takes a subscription starting at `start_date` (default: now); returns the start."""
    if not plan.active:
        raise InvalidInput(f"Plan '{plan.lookup_id}' is archived and takes no new subscriptions", field="plan_id")
    if billing_interval and billing_interval != plan.billing_interval:
        raise InvalidInput(
            f"billing_interval '{billing_interval}' does not match the plan's '{plan.billing_interval}'",
            field="billing_interval",
        )
    start = start_date or now
    if start < now - timedelta(days=366 * MAX_BACKDATE_YEARS):
        raise InvalidInput(f"start_date may be at most {MAX_BACKDATE_YEARS} years in the past", field="start_date")
    if start > now + timedelta(days=366 * MAX_START_AHEAD_YEARS):
        raise InvalidInput(f"start_date may be at most {MAX_START_AHEAD_YEARS} year in the future", field="start_date")
    return start


def _refuse_metered_twice(*, customer: Customer, plan: Plan, start: datetime) -> None:
    """Usage is billed once: events name a customer, not a subscription, so two of a customer's subscriptions
    that overlap in time may not charge the same meter (each would bill every event). A subscription ended
    (or set to end) before `start` does not overlap: a plan change ends one and starts the next."""
    meters = set(
        Charge.objects.filter(plan=plan, type="USAGE", meter__isnull=False).values_list("meter_id", flat=True)
    )
    if not meters:
        return
    overlapping = (
        Subscription.objects.filter(customer=customer)
        .filter(Q(ended_at__isnull=True, cancel_at__isnull=True) | Q(ended_at__gt=start) | Q(ended_at__isnull=True, cancel_at__gt=start))
        .filter(plan__charges__meter_id__in=meters, plan__charges__type="USAGE")
        .values_list("pk", "plan__name", "plan__charges__meter__name", "plan__charges__meter_id")
        .first()
    )
    if overlapping is not None:
        other, other_plan, meter_name, meter_id = overlapping
        raise Conflict(
            f"Meter '{meter_name}' is already charged by this customer's subscription {other} (plan '{other_plan}'), "
            "which overlaps this one: every event would be billed twice. End that subscription first "
            "(cancel it at period end and start this one then), or use a plan that does not charge this meter",
            field="plan_id",
            extra={"meter_id": str(meter_id), "subscription_id": str(other)},
        )


@transaction.atomic
def subscription_create(
    *,
    customer: Customer,
    plan: Plan,
    now: datetime,
    start_date: datetime | None = None,
    billing_interval: str | None = None,
) -> Subscription:
    """Subscribe a customer; the first period starts at `start_date` (default: now).

    A start in the past is allowed (backdating): the periods already over are billed by the
    next rollover, one invoice per period.
    """
    start = subscription_start_check(plan=plan, now=now, start_date=start_date, billing_interval=billing_interval)
    # The customer's row lock serializes its subscriptions being created, so two at once cannot both pass.
    Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True).first()
    _refuse_metered_twice(customer=customer, plan=plan, start=start)
    first_start, first_end = period_at(start, plan.billing_interval, start)
    trial_end = start + timedelta(days=plan.trial_days) if plan.trial_days else None
    in_trial = trial_end is not None and now < trial_end
    return Subscription.objects.create(
        customer=customer,
        plan=plan,
        billing_interval=plan.billing_interval,
        status=SubscriptionStatus.TRIAL if in_trial else SubscriptionStatus.ACTIVE,
        start_date=start,
        current_period_start=first_start,
        current_period_end=first_end,
        trial_end=trial_end,
    )


@transaction.atomic
def subscription_cancel(*, subscription: Subscription, now: datetime, at_period_end: bool) -> Subscription:
    """Cancel now (the current period is cut short at `now` and billed as such) or at period end."""
    locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if locked.status in (SubscriptionStatus.CANCELED, SubscriptionStatus.ENDED):
        raise InvalidTransition(
            f"Subscription is already {locked.status}",
            extra={"allowed_statuses": [SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE]},
        )
    locked.canceled_at = now
    if now <= locked.current_period_start:
        # Nothing has been used yet: the subscription ends without a period to bill.
        locked.cancel_at = now
        locked.status = SubscriptionStatus.ENDED
        locked.ended_at = now
    elif at_period_end:
        # The stored period lags while rollover is behind; the period that contains `now` runs out.
        locked.cancel_at = max(locked.current_period_end, period_at(locked.start_date, locked.billing_interval, now)[1])
    else:
        locked.cancel_at = now
        locked.current_period_end = min(now, locked.current_period_end)
        locked.status = SubscriptionStatus.CANCELED
    locked.save()
    return locked


def customer_ids_ensure(*, external_ids: list[str]) -> dict[str, uuid.UUID]:
    """{external id: id} for every one of `external_ids`, creating the customers that do not exist yet
    (blank name and email: `/sdk/track` meets them first). Two statements whatever the number of ids:
    the ingestion hot path calls this for every batch whose customers it has not cached, so no savepoint:
    the insert is one statement, atomic on its own."""
    with connection.cursor() as cursor:
        # ON CONFLICT makes concurrent first events for one new customer create it once.
        cursor.execute(
            """
            INSERT INTO customers_customer (id, external_id, name, email, address, metadata, created_at, updated_at)
            SELECT gen_random_uuid(), ext, '', '', '', '{}'::jsonb, now(), now()
            FROM unnest(%s::text[]) AS ext
            ON CONFLICT (external_id) DO NOTHING
            """,
            [external_ids],
        )
    return customer_ids_by_external_id(external_ids=external_ids)


# What billing moves on a subscription: its period walk and its failure bookkeeping.
BILLING_STATE_FIELDS = (
    "status", "current_period_start", "current_period_end", "ended_at", "updated_at",
    "billing_error", "billing_error_at", "billing_failures", "billing_retry_at",
)


def subscriptions_billing_state_save(*, subscriptions: list[Subscription]) -> None:
    """Store the billing state (BILLING_STATE_FIELDS) the rollover set on `subscriptions`, in one statement.

    The rollover moves a whole batch on at once, inside its transaction, with the rows already locked."""
    rows_update(model=Subscription, objs=subscriptions, field_names=list(BILLING_STATE_FIELDS))


def subscription_billing_failed(
    *, subscription: Subscription, error: str, failed_at: datetime, failures: int, retry_at: datetime
) -> None:
    """Record that billing `subscription` failed (its page, the API and the overview show it) and when to retry."""
    Subscription.objects.filter(pk=subscription.pk).update(
        billing_error=error, billing_error_at=failed_at, billing_failures=failures, billing_retry_at=retry_at
    )
