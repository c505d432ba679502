from rest_framework import serializers

from fluxbill.core.fields import InputSerializer
from metering.models import Meter


class FeatureInput(InputSerializer):
    name = serializers.CharField(max_length=200)
    lookup_key = serializers.SlugField(max_length=100)
    type = serializers.ChoiceField(choices=["meter"], default="meter")
    meter_name = serializers.CharField(max_length=200)
    property_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    aggregation_type = serializers.CharField(max_length=20)
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
    aggregation_type = serializers.CharField(max_length=20, required=False)


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
