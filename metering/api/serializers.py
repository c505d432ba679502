from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fluxbill.core.fields import InputSerializer
from fluxbill.core.fields import decimal_to_string
from metering.choices import AggregationType
from metering.models import Meter, UsageEvent


@extend_schema_field(serializers.ChoiceField(choices=AggregationType.choices))
class AggregationName(serializers.CharField):
    """Checked by the service, which also takes lowercase and LAST; the schema lists the canonical names."""


class FeatureInput(InputSerializer):
    name = serializers.CharField(max_length=200)
    lookup_key = serializers.SlugField(max_length=100)
    type = serializers.ChoiceField(choices=["meter"], default="meter")
    meter_name = serializers.CharField(max_length=200)
    property_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    aggregation_type = AggregationName(max_length=20)
    unit = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")

    def validate_type(self, value):
        return value


class FeatureUpdate(InputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    unit = serializers.CharField(max_length=50, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    lookup_key = serializers.CharField(max_length=100, required=False)
    meter_name = serializers.CharField(max_length=200, required=False, source="event_name")
    property_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    aggregation_type = AggregationName(max_length=20, required=False)


class FeatureOutput(serializers.ModelSerializer):
    """A metered feature, as the Fluxrate API shows it: the meter behind it is the feature."""

    type = serializers.SerializerMethodField()
    meter_name = serializers.CharField(source="event_name")
    meter_id = serializers.UUIDField(source="id")
    meter_token = serializers.UUIDField(source="token")

    class Meta:
        model = Meter
        fields = [
            "id",
            "name",
            "lookup_key",
            "type",
            "meter_name",
            "event_name",
            "property_name",
            "aggregation_type",
            "unit",
            "meter_id",
            "meter_token",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_type(self, obj) -> str:
        return "meter"


# Request shapes for the OpenAPI schema; the ingestion views validate with metering.validation.
class TrackRequest(serializers.Serializer):
    meter_token = serializers.UUIDField()
    customer_external_id = serializers.CharField(max_length=255)
    quantity = serializers.DecimalField(max_digits=28, decimal_places=10, coerce_to_string=True)
    timestamp = serializers.DateTimeField(required=False)
    idempotency_key = serializers.CharField(max_length=255, required=False, allow_null=True)
    metadata = serializers.DictField(required=False)


class UsageRequest(serializers.Serializer):
    meter_id = serializers.UUIDField()
    customer_id = serializers.CharField(help_text="The customer's id or external_id.")
    quantity = serializers.DecimalField(max_digits=28, decimal_places=10, coerce_to_string=True)
    timestamp = serializers.DateTimeField(required=False)
    idempotency_key = serializers.CharField(max_length=255, required=False, allow_null=True)
    metadata = serializers.DictField(required=False)


class FlexpriceEventRequest(serializers.Serializer):
    event_name = serializers.CharField()
    external_customer_id = serializers.CharField(max_length=255)
    properties = serializers.DictField(required=False)
    event_id = serializers.CharField(max_length=255, required=False)
    timestamp = serializers.DateTimeField(required=False)
    source = serializers.CharField(max_length=100, required=False)


class BulkEventsRequest(serializers.Serializer):
    events = FlexpriceEventRequest(many=True)


class UsageEventOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    event_id = serializers.CharField(source="idempotency_key", allow_null=True)
    event_name = serializers.CharField(source="meter.event_name")
    meter_id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    external_customer_id = serializers.CharField(source="customer.external_id")
    quantity = serializers.SerializerMethodField()

    class Meta:
        model = UsageEvent
        fields = [
            "id",
            "event_id",
            "event_name",
            "meter_id",
            "customer_id",
            "external_customer_id",
            "quantity",
            "timestamp",
            "properties",
            "source",
            "created_at",
        ]
        read_only_fields = fields

    def get_quantity(self, obj) -> str:
        return decimal_to_string(obj.quantity)


class UsageQuery(InputSerializer):
    customer = serializers.CharField(required=False, help_text="Customer id or external_id.")
    group_by = serializers.ChoiceField(choices=["hour", "day", "week", "month"], default="day")
    # `from` is a Python keyword; declared below.


UsageQuery._declared_fields["from"] = serializers.DateTimeField()
UsageQuery._declared_fields["to"] = serializers.DateTimeField()
