"""factory-boy factories for every model; tests build data through these."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from apikeys.services import api_key_create
from catalog.choices import BillingInterval, ChargeType, PlanType, PricingModel
from catalog.models import Charge, Plan
from customers.models import BillingEntity, Customer, Subscription
from customers.periods import period_at
from invoicing.choices import InvoiceKind, InvoiceStatus
from invoicing.models import Invoice
from metering.choices import AggregationType
from metering.models import Meter, UsageEvent


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pass-word-123")
    is_staff = False


class StaffFactory(UserFactory):
    is_staff = True


class MeterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Meter

    name = factory.Sequence(lambda n: f"Meter {n}")
    lookup_key = factory.Sequence(lambda n: f"meter_{n}")
    event_name = factory.Sequence(lambda n: f"event.{n}")
    aggregation_type = AggregationType.SUM
    property_name = "value"
    unit = "units"


def default_entity() -> BillingEntity:
    """The default billing entity the migration created (the test database keeps it)."""
    return BillingEntity.objects.get(is_default=True)


class BillingEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingEntity

    name = factory.Sequence(lambda n: f"Entity {n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} Ltd")
    invoice_prefix = factory.Sequence(lambda n: f"E{n}")
    net_days = 30


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    billing_entity = factory.LazyFunction(default_entity)

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.LazyAttribute(lambda o: f"billing+{o.external_id}@example.com")
    external_id = factory.Sequence(lambda n: f"cust-{n}")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    name = factory.Sequence(lambda n: f"Plan {n}")
    lookup_id = factory.Sequence(lambda n: f"plan_{n}")
    type = PlanType.HYBRID
    billing_interval = BillingInterval.MONTH
    currency = "USD"


class UsageChargeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Charge

    plan = factory.SubFactory(PlanFactory)
    type = ChargeType.USAGE
    meter = factory.SubFactory(MeterFactory)
    pricing_model = PricingModel.PER_UNIT
    unit_price = Decimal("0.01")
    display_name = "Usage"


class FixedChargeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Charge

    plan = factory.SubFactory(PlanFactory)
    type = ChargeType.FIXED
    amount = Decimal("49.00")
    pricing_model = ""
    display_name = "Platform fee"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    customer = factory.SubFactory(CustomerFactory)
    plan = factory.SubFactory(PlanFactory)
    billing_interval = factory.LazyAttribute(lambda o: o.plan.billing_interval)
    start_date = factory.LazyFunction(lambda: timezone.now().replace(microsecond=0) - datetime.timedelta(days=1))
    current_period_start = factory.LazyAttribute(lambda o: period_at(o.start_date, o.billing_interval, o.start_date)[0])
    current_period_end = factory.LazyAttribute(lambda o: period_at(o.start_date, o.billing_interval, o.start_date)[1])


class UsageEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsageEvent

    meter = factory.SubFactory(MeterFactory)
    customer = factory.SubFactory(CustomerFactory)
    quantity = Decimal("1")
    timestamp = factory.LazyFunction(timezone.now)


class InvoiceFactory(factory.django.DjangoModelFactory):
    """A manual invoice written straight to the table (no lines): for lists and filters."""

    class Meta:
        model = Invoice

    customer = factory.SubFactory(CustomerFactory)
    billing_entity = factory.LazyAttribute(lambda o: o.customer.billing_entity)
    kind = InvoiceKind.MANUAL
    status = InvoiceStatus.OPEN
    number = factory.LazyAttributeSequence(lambda o, n: None if o.status == InvoiceStatus.DRAFT else f"INV-F-{n:06d}")
    currency = "USD"
    period_start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    period_end = factory.LazyAttribute(lambda o: o.period_start + datetime.timedelta(days=31))
    total = Decimal("10.00")
    subtotal = factory.LazyAttribute(lambda o: o.total)


def pending_event(meter, customer, *, key, quantity="1", properties=None):
    """A validated event ready for the store (metering.services.PendingEvent), a minute old."""
    from metering import lookups
    from metering.services import PendingEvent

    return PendingEvent(
        meter=lookups.meter_by_id(meter.id),
        external_customer_id=customer.external_id,
        quantity=Decimal(quantity),
        timestamp=timezone.now() - datetime.timedelta(minutes=1),
        idempotency_key=key,
        properties={"n": key} if properties is None else properties,
        customer_id=customer.id,
    )


def make_api_key(scopes=("*",), **kwargs):
    """A real key through the service; returns (ApiKey, raw key)."""
    return api_key_create(name=kwargs.pop("name", "test key"), scopes=list(scopes), now=timezone.now(), **kwargs)
