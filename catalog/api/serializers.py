from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.choices import BillingInterval, ChargeType, PlanType, PricingModel
from catalog.models import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_MAX_DIGITS,
    MAX_TAX_RATES,
    PRICE_DECIMAL_PLACES,
    PRICE_MAX_DIGITS,
    TAX_RATE_DECIMAL_PLACES,
    TAX_RATE_MAX_DIGITS,
    Charge,
    Plan,
    TaxRate,
)
from fluxbill.core.fields import DecimalString, InputSerializer
from fluxbill.core.money import active_currencies


def _price(**kwargs):
    return DecimalString(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, min_value=0, required=False, allow_null=True, **kwargs
    )


@extend_schema_field({"type": "string", "enum": sorted(active_currencies())})
class CurrencyCode(serializers.CharField):
    """Checked by the service (any case); the schema lists the active ISO 4217 codes it accepts."""


class PlanInput(InputSerializer):
    name = serializers.CharField(max_length=200)
    lookup_id = serializers.SlugField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=PlanType.choices, default=PlanType.USAGE)
    billing_interval = serializers.ChoiceField(choices=BillingInterval.choices, default=BillingInterval.MONTH)
    currency = CurrencyCode(max_length=3, min_length=3)
    trial_days = serializers.IntegerField(min_value=0, max_value=3650, default=0)
    active = serializers.BooleanField(default=True)
    tax_rates = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=MAX_TAX_RATES)
    tax_inclusive = serializers.BooleanField(default=False)


class PlanUpdate(PlanInput):
    pass


class TaxRateInput(InputSerializer):
    code = serializers.CharField(max_length=50)
    name = serializers.CharField(max_length=200)
    rate = DecimalString(max_digits=TAX_RATE_MAX_DIGITS, decimal_places=TAX_RATE_DECIMAL_PLACES, min_value=0, max_value=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    active = serializers.BooleanField(default=True)


class TaxRateUpdate(InputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    rate = DecimalString(
        max_digits=TAX_RATE_MAX_DIGITS, decimal_places=TAX_RATE_DECIMAL_PLACES, min_value=0, max_value=100, required=False
    )
    description = serializers.CharField(required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class TaxRateOutput(serializers.ModelSerializer):
    rate = DecimalString(read_only=True)
    replaced_by_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = TaxRate
        fields = ["id", "code", "name", "rate", "description", "active", "archived_at", "replaced_by_id",
                  "created_at", "updated_at"]
        read_only_fields = fields


class ChargeInput(InputSerializer):
    type = serializers.ChoiceField(choices=ChargeType.choices)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    amount = DecimalString(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, min_value=0, required=False, allow_null=True
    )
    meter_id = serializers.UUIDField(required=False, allow_null=True)
    pricing_model = serializers.ChoiceField(choices=PricingModel.choices, required=False, allow_null=True)
    unit_price = _price()
    tiers = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True, max_length=100)
    package_size = DecimalString(min_value=0, required=False, allow_null=True)
    package_price = _price()
    free_units = DecimalString(min_value=0, required=False, allow_null=True)
    tax_rates = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=MAX_TAX_RATES)


class TierOutput(serializers.Serializer):
    up_to = serializers.CharField(allow_null=True)
    unit_price = serializers.CharField()
    flat_amount = serializers.CharField()


class ChargeOutput(serializers.ModelSerializer):
    plan_id = serializers.UUIDField(read_only=True)
    meter_id = serializers.UUIDField(read_only=True, allow_null=True)
    amount = DecimalString(read_only=True, allow_null=True)
    unit_price = DecimalString(read_only=True, allow_null=True)
    package_size = DecimalString(read_only=True, allow_null=True)
    package_price = DecimalString(read_only=True, allow_null=True)
    free_units = DecimalString(read_only=True)
    tiers = TierOutput(many=True, read_only=True)
    pricing_model = serializers.SerializerMethodField()

    class Meta:
        model = Charge
        fields = [
            "id",
            "plan_id",
            "type",
            "display_name",
            "amount",
            "meter_id",
            "pricing_model",
            "unit_price",
            "tiers",
            "package_size",
            "package_price",
            "free_units",
            "tax_rates",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_pricing_model(self, obj) -> str | None:
        return obj.pricing_model or None


class PlanOutput(serializers.ModelSerializer):
    charges = ChargeOutput(many=True, read_only=True)

    class Meta:
        model = Plan
        fields = [
            "id",
            "name",
            "lookup_id",
            "description",
            "type",
            "billing_interval",
            "currency",
            "trial_days",
            "active",
            "tax_rates",
            "tax_inclusive",
            "charges",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
