"""Rules PostgreSQL enforces by itself, whatever the Python above it does.

Rows are written straight through the ORM and factories (no services), so the only thing that
can refuse them is the database. Each violation is checked against the constraint that should
have fired, read from PostgreSQL's own diagnostics, so a different constraint failing by
accident does not make a test pass.
"""

import hashlib
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from apikeys.models import ApiKey
from catalog.choices import ChargeType, PricingModel
from catalog.models import Charge
from customers.models import Subscription
from invoicing.choices import InvoiceKind, InvoiceStatus
from invoicing.models import Invoice
from tests.factories import (
    default_entity,
    CustomerFactory,
    FixedChargeFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageChargeFactory,
    UsageEventFactory,
    make_api_key,
)

pytestmark = pytest.mark.django_db

JAN_1 = datetime(2025, 1, 1, tzinfo=UTC)
FEB_1 = datetime(2025, 2, 1, tzinfo=UTC)
MAR_1 = datetime(2025, 3, 1, tzinfo=UTC)


@contextmanager
def violates(*, constraint: str | tuple[str, ...] | None = None, column: str | None = None):
    """Expect the block to fail with an IntegrityError from `constraint` (exact name, or one of
    several) or from a unique constraint on `column`."""
    with pytest.raises(IntegrityError) as excinfo:
        with transaction.atomic():
            yield
    name = excinfo.value.__cause__.diag.constraint_name
    if isinstance(constraint, str):
        assert name == constraint
    elif constraint is not None:
        assert name in constraint
    if column is not None:
        assert column in name


# --- metering ------------------------------------------------------------------------------------


def test_meter_lookup_key_is_unique():
    MeterFactory(lookup_key="api_calls")
    with violates(column="lookup_key"):
        MeterFactory(lookup_key="api_calls")


def test_meter_event_name_is_unique():
    MeterFactory(event_name="api.call")
    with violates(column="event_name"):
        MeterFactory(event_name="api.call")


def test_meter_token_is_unique():
    first = MeterFactory()
    with violates(column="token"):
        MeterFactory(token=first.token)


def test_meters_with_different_keys_coexist():
    MeterFactory(lookup_key="a", event_name="a")
    MeterFactory(lookup_key="b", event_name="b")


def test_usage_event_idempotency_key_is_unique_per_meter_and_customer():
    meter, customer = MeterFactory(), CustomerFactory()
    UsageEventFactory(meter=meter, customer=customer, idempotency_key="evt-1")
    with violates(constraint="usage_event_unique_idempotency_key"):
        UsageEventFactory(meter=meter, customer=customer, idempotency_key="evt-1", quantity=Decimal("2"))


def test_usage_events_without_idempotency_key_are_never_duplicates():
    meter, customer = MeterFactory(), CustomerFactory()
    UsageEventFactory(meter=meter, customer=customer, idempotency_key=None)
    UsageEventFactory(meter=meter, customer=customer, idempotency_key=None)
    assert meter.events.filter(customer=customer, idempotency_key__isnull=True).count() == 2


def test_same_idempotency_key_for_another_customer_or_meter_is_allowed():
    meter, other_meter = MeterFactory(), MeterFactory()
    customer, other_customer = CustomerFactory(), CustomerFactory()
    UsageEventFactory(meter=meter, customer=customer, idempotency_key="evt-1")
    UsageEventFactory(meter=meter, customer=other_customer, idempotency_key="evt-1")
    UsageEventFactory(meter=other_meter, customer=customer, idempotency_key="evt-1")
    assert meter.events.count() + other_meter.events.count() == 3


# --- catalog -------------------------------------------------------------------------------------


def test_plan_lookup_id_is_unique():
    PlanFactory(lookup_id="pro")
    with violates(column="lookup_id"):
        PlanFactory(lookup_id="pro")


@pytest.mark.parametrize("currency", ["usd", "Usd", "US1", "U D"])
def test_plan_currency_must_be_three_capital_letters(currency):
    with violates(constraint="plan_currency_iso_format"):
        PlanFactory(currency=currency)


def test_plan_currency_in_iso_format_is_accepted():
    assert PlanFactory(currency="EUR").currency == "EUR"


def test_plan_type_must_be_known():
    with violates(constraint="plan_type_valid"):
        PlanFactory(type="METERED")


def test_plan_billing_interval_must_be_known():
    with violates(constraint="plan_billing_interval_valid"):
        PlanFactory(billing_interval="fortnight")


def test_fixed_charge_without_amount_is_refused():
    with violates(constraint="charge_fixed_has_amount_usage_has_meter"):
        FixedChargeFactory(amount=None)


def test_fixed_charge_with_negative_amount_is_refused():
    with violates(constraint="charge_fixed_has_amount_usage_has_meter"):
        FixedChargeFactory(amount=Decimal("-1.00"))


def test_fixed_charge_with_a_meter_is_refused():
    with violates(constraint="charge_fixed_has_amount_usage_has_meter"):
        FixedChargeFactory(meter=MeterFactory())


def test_usage_charge_without_meter_is_refused():
    with violates(constraint="charge_fixed_has_amount_usage_has_meter"):
        UsageChargeFactory(meter=None)


def test_charge_type_must_be_known():
    # An unknown type breaks both checks; PostgreSQL reports whichever it evaluates first.
    with violates(constraint=("charge_type_valid", "charge_fixed_has_amount_usage_has_meter")):
        FixedChargeFactory(type="ONEOFF")


def test_per_unit_usage_charge_without_unit_price_is_refused():
    with violates(constraint="charge_usage_pricing_complete"):
        UsageChargeFactory(pricing_model=PricingModel.PER_UNIT, unit_price=None)


def test_per_unit_usage_charge_with_negative_unit_price_is_refused():
    with violates(constraint="charge_usage_pricing_complete"):
        UsageChargeFactory(pricing_model=PricingModel.PER_UNIT, unit_price=Decimal("-0.01"))


@pytest.mark.parametrize("package_size", [Decimal("0"), Decimal("-10"), None])
def test_package_usage_charge_needs_a_positive_package_size(package_size):
    with violates(constraint="charge_usage_pricing_complete"):
        UsageChargeFactory(
            pricing_model=PricingModel.PACKAGE, unit_price=None, package_size=package_size, package_price=Decimal("5")
        )


def test_package_usage_charge_needs_a_package_price():
    with violates(constraint="charge_usage_pricing_complete"):
        UsageChargeFactory(
            pricing_model=PricingModel.PACKAGE, unit_price=None, package_size=Decimal("10"), package_price=None
        )


def test_complete_package_and_graduated_charges_are_accepted():
    UsageChargeFactory(
        pricing_model=PricingModel.PACKAGE, unit_price=None, package_size=Decimal("10"), package_price=Decimal("5")
    )
    UsageChargeFactory(
        pricing_model=PricingModel.GRADUATED, unit_price=None, tiers=[{"up_to": None, "unit_price": "1"}]
    )
    assert Charge.objects.filter(type=ChargeType.USAGE).count() == 2


def test_negative_free_units_are_refused():
    with violates(constraint="charge_free_units_not_negative"):
        UsageChargeFactory(free_units=Decimal("-1"))


# --- customers -----------------------------------------------------------------------------------


def test_customer_external_id_is_unique():
    CustomerFactory(external_id="acme")
    with violates(column="external_id"):
        CustomerFactory(external_id="acme")


def _subscription(**overrides):
    values = {"start_date": JAN_1, "current_period_start": JAN_1, "current_period_end": FEB_1}
    values.update(overrides)
    return SubscriptionFactory(**values)


def test_subscription_with_a_proper_period_is_accepted():
    assert _subscription().current_period_end == FEB_1


def test_subscription_period_end_equal_to_start_is_refused():
    with violates(constraint="subscription_period_not_empty"):
        _subscription(current_period_end=JAN_1)


def test_subscription_period_end_before_start_is_refused():
    with violates(constraint="subscription_period_not_empty"):
        _subscription(current_period_start=FEB_1, current_period_end=JAN_1)


def test_subscription_period_cannot_start_before_the_subscription():
    with violates(constraint="subscription_period_after_start"):
        _subscription(start_date=FEB_1, current_period_start=JAN_1, current_period_end=MAR_1)


def test_subscription_status_must_be_known():
    with violates(constraint="subscription_status_valid"):
        _subscription(status="PAUSED")


# --- invoicing -----------------------------------------------------------------------------------


_numbers = iter(range(1, 10_000))


def _invoice(subscription: Subscription, **overrides) -> Invoice:
    values = {
        "customer": subscription.customer,
        "subscription": subscription,
        "kind": InvoiceKind.PERIOD,
        "status": InvoiceStatus.DRAFT,
        "currency": "USD",
        "period_start": JAN_1,
        "period_end": FEB_1,
    }
    values.update(overrides)
    if values["status"] != InvoiceStatus.DRAFT and "number" not in values:
        values["number"] = f"TEST-{next(_numbers):05d}"
    return Invoice.objects.create(billing_entity=default_entity(), **values)


def test_second_period_invoice_for_the_same_period_is_refused():
    subscription = _subscription()
    _invoice(subscription)
    with violates(constraint="invoice_one_period_invoice_per_subscription_period"):
        _invoice(subscription)


@pytest.mark.parametrize("first_status", [InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE])
def test_second_period_invoice_is_refused_whatever_the_first_ones_live_status(first_status):
    subscription = _subscription()
    _invoice(subscription, status=first_status)
    with violates(constraint="invoice_one_period_invoice_per_subscription_period"):
        _invoice(subscription)


def test_a_replacement_period_invoice_is_allowed_once_the_first_is_void():
    subscription = _subscription()
    first = _invoice(subscription, status=InvoiceStatus.OPEN)
    first.status = InvoiceStatus.VOID
    first.voided_at = FEB_1
    first.save()

    replacement = _invoice(subscription, replaces=first)

    assert Invoice.objects.filter(subscription=subscription, kind=InvoiceKind.PERIOD).count() == 2
    assert replacement.replaces == first
    # The replacement now holds the slot: a third live one is refused again.
    with violates(constraint="invoice_one_period_invoice_per_subscription_period"):
        _invoice(subscription)


def test_voiding_cannot_be_undone_while_a_replacement_holds_the_period():
    subscription = _subscription()
    first = _invoice(subscription, status=InvoiceStatus.VOID)
    _invoice(subscription)
    first.status = InvoiceStatus.OPEN
    with violates(constraint="invoice_one_period_invoice_per_subscription_period"):
        first.save()


def test_interim_invoices_for_the_same_period_are_allowed():
    subscription = _subscription()
    _invoice(subscription)
    _invoice(subscription, kind=InvoiceKind.INTERIM)
    _invoice(subscription, kind=InvoiceKind.INTERIM)
    assert Invoice.objects.filter(subscription=subscription).count() == 3


def test_period_invoices_for_different_periods_or_subscriptions_are_allowed():
    subscription, other = _subscription(), _subscription()
    _invoice(subscription)
    _invoice(subscription, period_start=FEB_1, period_end=MAR_1)
    _invoice(other)
    assert Invoice.objects.filter(kind=InvoiceKind.PERIOD).count() == 3


@pytest.mark.parametrize("status", [InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE])
def test_an_issued_invoice_must_have_a_number(status):
    subscription = _subscription()
    with violates(constraint="invoice_number_once_finalized"):
        _invoice(subscription, status=status, number=None)


def test_a_draft_invoice_needs_no_number():
    assert _invoice(_subscription()).number is None


def test_a_voided_draft_needs_no_number():
    # A draft voided before finalization was never issued, so it never took a number.
    assert _invoice(_subscription(), status=InvoiceStatus.VOID, number=None).number is None


def test_invoice_numbers_are_unique():
    _invoice(_subscription(), status=InvoiceStatus.OPEN, number="FB-2025-00001")
    with violates(column="number"):
        _invoice(_subscription(), status=InvoiceStatus.OPEN, number="FB-2025-00001")


def test_invoice_period_must_not_be_empty():
    with violates(constraint="invoice_period_not_empty"):
        _invoice(_subscription(), period_start=FEB_1, period_end=FEB_1)


def test_invoice_status_must_be_known():
    with violates(constraint="invoice_status_valid"):
        _invoice(_subscription(), status="SENT", number="FB-X")


# --- apikeys -------------------------------------------------------------------------------------


def test_api_key_hash_is_unique():
    key, _ = make_api_key()
    with violates(column="key_hash"):
        ApiKey.objects.create(name="copy", prefix=key.prefix, key_hash=key.key_hash, scopes=["*"])


def test_api_keys_with_different_hashes_coexist():
    for raw in ("org_live_one", "org_live_two"):
        ApiKey.objects.create(name=raw, prefix=raw[:12], key_hash=hashlib.sha256(raw.encode()).hexdigest())
    assert ApiKey.objects.count() == 2


# --- model docstrings ----------------------------------------------------------------------------

PROJECT_APPS = ("metering", "catalog", "customers", "invoicing", "apikeys")


def _django_generated_doc(model) -> str:
    """What Django puts in __doc__ when a model has no docstring: 'Name(field, field, ...)'."""
    return f"{model.__name__}({', '.join(field.name for field in model._meta.fields)})"


def _project_models():
    return [model for label in PROJECT_APPS for model in apps.get_app_config(label).get_models()]


def test_the_project_models_are_all_found():
    names = {model.__name__ for model in _project_models()}
    expected = {
        "Meter",
        "UsageEvent",
        "Plan",
        "Charge",
        "Customer",
        "Subscription",
        "Invoice",
        "InvoiceLine",
        "InvoiceEvent",
        "ApiKey",
    }
    assert expected <= names


@pytest.mark.parametrize("model", _project_models(), ids=lambda m: m._meta.label)
def test_every_model_has_its_own_docstring(model):
    doc = (model.__doc__ or "").strip()
    assert doc, f"{model._meta.label} has no docstring"
    assert doc != _django_generated_doc(model), f"{model._meta.label} has only Django's generated signature"
    assert not doc.startswith(f"{model.__name__}("), f"{model._meta.label}: {doc[:60]!r}"
