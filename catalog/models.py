import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from fluxbill.core.history import tracked

from .choices import BillingInterval, ChargeType, PlanType, PricingModel

# Prices can be fractions of a cent (e.g. 0.00002 per token); amounts billed are rounded per line.
PRICE_MAX_DIGITS = 24
PRICE_DECIMAL_PLACES = 12
AMOUNT_MAX_DIGITS = 20
AMOUNT_DECIMAL_PLACES = 4
# A tax rate is a percentage with up to four decimals: 19, 7.5, 8.875.
TAX_RATE_MAX_DIGITS = 7
TAX_RATE_DECIMAL_PLACES = 4
MAX_TAX_RATES = 5


def tax_rate_codes_field(**kwargs) -> ArrayField:
    """The codes of the tax rates that apply here; empty means "what the next level up says" (see README, Tax)."""
    return ArrayField(models.CharField(max_length=50), default=list, blank=True, size=MAX_TAX_RATES, **kwargs)


@tracked()
class TaxRate(models.Model):
    """A tax (VAT 19 %, a state sales tax) charged on invoice lines, referred to by its code.

    Never changed in place once its rate changes: the old row is archived and a new one takes the code, so an
    issued invoice's snapshot (the code, name and rate on its lines) always says what was charged.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=50, help_text="What charges, plans, customers and entities name it by.")
    name = models.CharField(max_length=200, help_text="Printed on invoices, e.g. 'VAT 19%'.")
    rate = models.DecimalField(max_digits=TAX_RATE_MAX_DIGITS, decimal_places=TAX_RATE_DECIMAL_PLACES)
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True, help_text="Inactive rates are not charged on new invoices.")
    archived_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaces"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0) & Q(rate__lte=100), name="tax_rate_percentage"),
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Za-z0-9_.-]+$"), name="tax_rate_code_format"),
            # One current rate per code; archived versions keep theirs for the record.
            models.UniqueConstraint(fields=["code"], condition=Q(archived_at__isnull=True), name="tax_rate_code_current"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.rate.normalize():f}%)"


@tracked()
class Plan(models.Model):
    """What a customer pays for, per billing interval, in one currency. Holds the charges."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    lookup_id = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    type = models.CharField(max_length=10, choices=PlanType.choices, default=PlanType.USAGE)
    billing_interval = models.CharField(max_length=10, choices=BillingInterval.choices, default=BillingInterval.MONTH)
    currency = models.CharField(max_length=3)
    trial_days = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    tax_rates = tax_rate_codes_field()
    tax_inclusive = models.BooleanField(default=False, help_text="Prices include their tax rates.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(type__in=PlanType.values), name="plan_type_valid"),
            models.CheckConstraint(
                condition=Q(billing_interval__in=BillingInterval.values), name="plan_billing_interval_valid"
            ),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="plan_currency_iso_format"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.lookup_id})"


@tracked()
class Charge(models.Model):
    """One priced component of a plan: a fixed fee per period, or usage of a meter priced by a model.

    `tiers` is a list of {"up_to", "unit_price", "flat_amount"} with decimal strings, `up_to`
    inclusive and null on the last tier; used by the graduated and volume models.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="charges")
    type = models.CharField(max_length=10, choices=ChargeType.choices)
    display_name = models.CharField(max_length=200, blank=True, default="")
    amount = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, null=True, blank=True
    )
    meter = models.ForeignKey("metering.Meter", on_delete=models.PROTECT, null=True, blank=True, related_name="charges")
    pricing_model = models.CharField(
        max_length=20, choices=PricingModel.choices, default=PricingModel.PER_UNIT, blank=True
    )
    unit_price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    tiers = models.JSONField(default=list, blank=True)
    package_size = models.DecimalField(max_digits=28, decimal_places=10, null=True, blank=True)
    package_price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    free_units = models.DecimalField(max_digits=28, decimal_places=10, default=0)
    tax_rates = tax_rate_codes_field()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(type__in=ChargeType.values), name="charge_type_valid"),
            models.CheckConstraint(
                condition=Q(type=ChargeType.FIXED, amount__isnull=False, amount__gte=0, meter__isnull=True)
                | Q(type=ChargeType.USAGE, meter__isnull=False),
                name="charge_fixed_has_amount_usage_has_meter",
            ),
            models.CheckConstraint(condition=Q(free_units__gte=0), name="charge_free_units_not_negative"),
            models.CheckConstraint(
                condition=~Q(type=ChargeType.USAGE)
                | Q(pricing_model=PricingModel.PER_UNIT, unit_price__isnull=False, unit_price__gte=0)
                | Q(pricing_model__in=[PricingModel.GRADUATED, PricingModel.VOLUME])
                | Q(
                    pricing_model=PricingModel.PACKAGE,
                    # NULL > 0 is unknown, which a CHECK lets through: exclude it explicitly.
                    package_size__isnull=False,
                    package_size__gt=0,
                    package_price__isnull=False,
                    package_price__gte=0,
                ),
                name="charge_usage_pricing_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or f"{self.get_type_display()} charge"
