"""Serializer fields for the API's conventions: decimals travel as strings, ids as strings."""

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .money import money_string


def decimal_to_string(value: Decimal | None) -> str | None:
    """'150', '0.001', '12.5' — no exponent, no trailing zeros."""
    if value is None:
        return None
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


class DecimalString(serializers.DecimalField):
    """Accepts a JSON number or numeric string; answers with a plain decimal string."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 28)
        kwargs.setdefault("decimal_places", 10)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return decimal_to_string(value)


@extend_schema_field(OpenApiTypes.STR)
class MoneyString(serializers.Field):
    """An amount in its currency: a string with exactly the currency's minor digits ("0.15", "100.00", "1200").

    The currency is the object's own `currency`, else the serializer context's `currency`, else the invoice
    the object belongs to (an invoice line)."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        currency = getattr(instance, "currency", None) if not isinstance(instance, dict) else instance.get("currency")
        currency = currency or self.context.get("currency") or getattr(getattr(instance, "invoice", None), "currency", None)
        return (super().get_attribute(instance), currency)

    def to_representation(self, value):
        amount, currency = value
        if amount is None:
            return None
        if not currency:
            raise ValueError("MoneyString needs the amount's currency")
        return money_string(amount, currency)


def _plain_json(value, path: str):
    """What the DecimalJSONParser made a Decimal goes back to a JSON int or float, as json.loads would
    give it, so a JSONField can store it; a number beyond float range cannot be stored at all."""
    if isinstance(value, dict):
        return {key: _plain_json(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_json(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 2**63:
            return int(value)
        as_float = float(value)
        if as_float in (float("inf"), float("-inf")):
            raise serializers.ValidationError(f"{path} holds a number too large to store")
        return as_float
    return value


class JSONObjectField(serializers.DictField):
    """A free-form JSON object stored in a JSONField (metadata)."""

    def to_internal_value(self, data):
        return _plain_json(super().to_internal_value(data), self.field_name)


class StrictFieldsMixin:
    """Refuse keys the serializer does not know, so a typo is a 400 instead of silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: [f"Unknown field: {unknown[0]}"]})
        return super().to_internal_value(data)


class InputSerializer(StrictFieldsMixin, serializers.Serializer):
    """Base for request bodies: shape and types only; rules live in services."""
