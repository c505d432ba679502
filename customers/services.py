"""Customers and subscriptions: every write and rule about them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Q

from catalog.models import Charge, Plan
from catalog.taxes import tax_rate_codes_check
from fluxbill.core.bulk import rows_update
from fluxbill.core.db import unique_or_conflict
from fluxbill.core.errors import Conflict, InvalidInput, InvalidTransition
from webhooks.services import emit

from . import details
from .choices import SubscriptionStatus
from .models import BillingEntity, Customer, Subscription
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


# The billing details a customer carries besides name, email and external id (printed on its invoices).
CUSTOMER_DETAIL_FIELDS = (
    "legal_name", "invoice_email", "cc_emails", "address_line1", "address_line2", "city", "state", "postal_code",
    "country", "tax_id", "net_days",
)
# The structured address's text fields and their lengths (the model's).
ADDRESS_FIELDS = {"address_line1": 200, "address_line2": 200, "city": 100, "state": 100, "postal_code": 20}


def _text(value, *, field: str, max_length: int) -> str:
    value = "" if value is None else value
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field=field)
    value = value.strip()
    if len(value) > max_length:
        raise InvalidInput(f"{field}: at most {max_length} characters", field=field)
    return value


def billing_details_clean(values: dict, *, current=None) -> dict:
    """The billing details among `values`, each checked; the tax id for the country it will have
    (the one given, else `current`'s), and checked again when only the country changes."""
    cleaned = {}
    for name, max_length in {**ADDRESS_FIELDS, "legal_name": 200, "phone": 50}.items():
        if name in values:
            cleaned[name] = _text(values[name], field=name, max_length=max_length)
    for name in ("email", "invoice_email"):
        if name in values:
            cleaned[name] = details.email_clean(values[name], field=name)
    if "cc_emails" in values:
        cleaned["cc_emails"] = details.cc_emails_clean(values["cc_emails"])
    if "country" in values:
        cleaned["country"] = details.country_clean(values["country"])
    if "tax_id" in values or "country" in values:
        country = cleaned.get("country", getattr(current, "country", "") if current is not None else "")
        tax_id = values["tax_id"] if "tax_id" in values else getattr(current, "tax_id", "")
        cleaned["tax_id"] = details.tax_id_clean(tax_id, str(country or ""))
    return cleaned


def billing_entity_default_ensure(sender=None, using: str = "default", apps=None, **kwargs) -> None:
    """post_migrate: create the default billing entity when none is (a flushed database); no-op otherwise."""
    try:
        model = apps.get_model("customers", "BillingEntity") if apps is not None else BillingEntity
    except LookupError:
        return  # migrated back past the model
    if model._meta.db_table not in connections[using].introspection.table_names():
        return
    if model.objects.using(using).filter(is_default=True).exists():
        return
    model.objects.using(using).create(
        name="Default", legal_name=getattr(settings, "FLUXBILL_LEGAL_NAME", "") or "Fluxbill", invoice_prefix="INV",
        net_days=settings.FLUXBILL_INVOICE_NET_DAYS, is_default=True,
    )


def billing_entity_default() -> BillingEntity:
    """The entity customers belong to unless set otherwise (a migration creates it; there is always one)."""
    return BillingEntity.objects.get(is_default=True)


def customer_tax_check(*, tax_exempt: bool, reverse_charge: bool) -> None:
    if tax_exempt and reverse_charge:
        raise InvalidInput(
            "A customer is either tax_exempt or reverse_charge, not both (both bill no tax; reverse charge also "
            "prints the reverse-charge note)",
            field="reverse_charge",
        )


@transaction.atomic
def customer_create(
    *,
    external_id: str,
    name: str = "",
    email: str = "",
    metadata: dict | None = None,
    billing_entity: BillingEntity | None = None,
    tax_rates: list[str] | None = None,
    tax_exempt: bool = False,
    reverse_charge: bool = False,
    **billing_details,
) -> Customer:
    """A new customer, billed by `billing_entity` (default: the default entity). `billing_details` are
    CUSTOMER_DETAIL_FIELDS: legal name, invoice email, cc emails, address, country, tax id, net days."""
    unknown = set(billing_details) - set(CUSTOMER_DETAIL_FIELDS)
    if unknown:
        raise TypeError(f"customer_create() got unexpected fields {sorted(unknown)}")
    customer_tax_check(tax_exempt=tax_exempt, reverse_charge=reverse_charge)
    cleaned = billing_details_clean(billing_details)
    if "net_days" in billing_details:
        cleaned["net_days"] = details.net_days_clean(billing_details["net_days"], allow_none=True)
    customer = Customer(
        external_id=external_id,
        name=name or "",
        email=details.email_clean(email, field="email"),
        metadata=metadata_check(metadata),
        billing_entity=billing_entity or billing_entity_default(),
        tax_rates=tax_rate_codes_check(tax_rates),
        tax_exempt=bool(tax_exempt),
        reverse_charge=bool(reverse_charge),
        **cleaned,
    )
    with unique_or_conflict(_customer_conflict(external_id)):
        customer.save()
    emit("customer.created", customer)
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
    changes.update(billing_details_clean(changes, current=locked))
    if "net_days" in changes:
        changes["net_days"] = details.net_days_clean(changes["net_days"], allow_none=True)
    if "billing_entity" in changes and changes["billing_entity"] is None:
        raise InvalidInput("billing_entity_id: a customer belongs to a billing entity", field="billing_entity_id")
    if "tax_rates" in changes:
        changes["tax_rates"] = tax_rate_codes_check(changes["tax_rates"])
    customer_tax_check(
        tax_exempt=changes.get("tax_exempt", locked.tax_exempt),
        reverse_charge=changes.get("reverse_charge", locked.reverse_charge),
    )
    for key, value in changes.items():
        setattr(locked, key, value)
    locked.save()
    emit("customer.updated", locked)
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
    subscription = Subscription.objects.create(
        customer=customer,
        plan=plan,
        billing_interval=plan.billing_interval,
        status=SubscriptionStatus.TRIAL if in_trial else SubscriptionStatus.ACTIVE,
        start_date=start,
        current_period_start=first_start,
        current_period_end=first_end,
        trial_end=trial_end,
    )
    emit("subscription.created", subscription, now=now)
    return subscription


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
    emit("subscription.canceled", locked, now=now)
    if locked.status == SubscriptionStatus.ENDED:
        emit("subscription.ended", locked, now=now)
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
            INSERT INTO customers_customer (
                id, external_id, name, email, metadata, created_at, updated_at, billing_entity_id, legal_name,
                invoice_email, cc_emails, address_line1, address_line2, city, state, postal_code, country, tax_id
            )
            SELECT gen_random_uuid(), ext, '', '', '{}'::jsonb, now(), now(), entity.id, '', '', '{}', '', '', '', '', '', '', ''
            FROM unnest(%s::text[]) AS ext, (SELECT id FROM customers_billingentity WHERE is_default) AS entity
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
    emit("billing.error", data={"object": "subscription", "id": str(subscription.pk), "action": "rollover_failed",
                                "error": error, "failures": failures, "retry_at": retry_at}, now=failed_at)


# --- billing entities: who bills ------------------------------------------------------------------

BILLING_ENTITY_FIELDS = (
    "name", "legal_name", "address_line1", "address_line2", "city", "state", "postal_code", "country", "email",
    "phone", "tax_id", "logo", "payment_instructions", "invoice_footer", "invoice_prefix", "net_days", "is_default",
    "tax_rates",
)


def _entity_conflicts(data: dict) -> dict:
    return {
        "customers_billingentity_name_key": (f"A billing entity named '{data.get('name')}' already exists", "name"),
        "customers_billingentity_invoice_prefix_key": (
            f"Another billing entity numbers its invoices with '{data.get('invoice_prefix')}'", "invoice_prefix"
        ),
        "billing_entity_one_default": ("Another billing entity was made the default meanwhile; try again", "is_default"),
    }


def billing_entity_clean(data: dict, *, current: BillingEntity | None = None) -> dict:
    unknown = set(data) - set(BILLING_ENTITY_FIELDS)
    if unknown:
        raise TypeError(f"unexpected billing entity fields {sorted(unknown)}")
    cleaned = billing_details_clean(data, current=current)
    if "name" in data:
        cleaned["name"] = _text(data["name"], field="name", max_length=100)
        if not cleaned["name"]:
            raise InvalidInput("Missing required field: name", field="name")
    if "legal_name" in cleaned and not cleaned["legal_name"]:
        raise InvalidInput("Missing required field: legal_name", field="legal_name")
    for name in ("payment_instructions", "invoice_footer"):
        if name in data:
            cleaned[name] = _text(data[name], field=name, max_length=5000)
    if "logo" in data:
        cleaned["logo"] = details.logo_clean(data["logo"])
    if "invoice_prefix" in data:
        cleaned["invoice_prefix"] = details.invoice_prefix_clean(data["invoice_prefix"])
    if "net_days" in data:
        cleaned["net_days"] = details.net_days_clean(data["net_days"])
    if "is_default" in data:
        cleaned["is_default"] = bool(data["is_default"])
    if "tax_rates" in data:
        cleaned["tax_rates"] = tax_rate_codes_check(data["tax_rates"])
    return cleaned


def _default_take(entity: BillingEntity) -> None:
    """Make `entity` the only default: the other one stops being it first (the partial unique index allows one).

    Two entities made the default at once queue on a transaction-scoped advisory lock, so the second's UPDATE
    runs after the first committed and sees its new default (otherwise both would pass, and the index refuse one)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('customers:billing-entity-default', 0))")
    BillingEntity.objects.filter(is_default=True).exclude(pk=entity.pk).update(is_default=False)


@transaction.atomic
def billing_entity_create(*, data: dict) -> BillingEntity:
    """A new seller. `data` holds BILLING_ENTITY_FIELDS; name, legal_name and invoice_prefix are required."""
    for required in ("name", "legal_name", "invoice_prefix"):
        if not data.get(required):
            raise InvalidInput(f"Missing required field: {required}", field=required)
    cleaned = billing_entity_clean(data)
    entity = BillingEntity(**cleaned)
    if entity.is_default:
        _default_take(entity)
    with unique_or_conflict(_entity_conflicts(cleaned)):
        entity.save()
    return entity


@transaction.atomic
def billing_entity_update(*, entity: BillingEntity, data: dict) -> BillingEntity:
    """Change `entity`'s `data` (BILLING_ENTITY_FIELDS). The default is moved by making another entity the
    default, never by unsetting it; the invoice prefix is fixed once an invoice was numbered with it."""
    locked = BillingEntity.objects.select_for_update().get(pk=entity.pk)
    cleaned = billing_entity_clean(data, current=locked)
    if cleaned.get("is_default") is False and locked.is_default:
        raise InvalidInput(
            "is_default: there is always a default billing entity; make another one the default instead",
            field="is_default",
        )
    if "invoice_prefix" in cleaned and cleaned["invoice_prefix"] != locked.invoice_prefix:
        # The reverse relation invoicing declares: no import of a higher layer, the rows tell.
        if locked.invoices.filter(number__isnull=False).exists():
            raise InvalidInput(
                "invoice_prefix cannot change once invoices were numbered with it; create another billing entity",
                field="invoice_prefix",
            )
    if cleaned.get("is_default") and not locked.is_default:
        _default_take(locked)
    for key, value in cleaned.items():
        setattr(locked, key, value)
    with unique_or_conflict(_entity_conflicts(cleaned)):
        locked.save()
    return locked
