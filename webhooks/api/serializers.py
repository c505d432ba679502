from rest_framework import serializers

from fluxbill.core.fields import InputSerializer
from webhooks.choices import EVENT_TYPES
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookEndpointOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "enabled", "disabled_reason", "failing_since", "created_by",
                  "created_at", "updated_at"]


class WebhookEndpointCreatedOutput(WebhookEndpointOutput):
    """The endpoint with its signing secret: shown here, at creation and rotation, and never again."""

    secret = serializers.CharField()
    previous_secret_until = serializers.DateTimeField(allow_null=True)

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret", "previous_secret_until"]


class WebhookEndpointInput(InputSerializer):
    url = serializers.CharField(max_length=2000)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), required=False, default=list,
                                        help_text="The types sent to this endpoint; [] (the default) for every type.")
    enabled = serializers.BooleanField(required=False, default=True)


class WebhookReplayInput(InputSerializer):
    since = serializers.DateTimeField(help_text="Every event created at or after this moment is delivered again, in order.")


class WebhookAttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["attempted_at", "duration_ms", "status_code", "error", "response_body"]


class WebhookDeliveryOutput(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.uid")
    event_type = serializers.CharField(source="event.type")
    endpoint_id = serializers.UUIDField()

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint_id", "event_id", "event_type", "status", "attempts", "next_attempt_at", "last_status_code",
                  "last_error", "delivered_at", "created_at"]


class WebhookDeliveryDetailOutput(WebhookDeliveryOutput):
    attempts_log = WebhookAttemptOutput(many=True, source="attempt_log")
    data = serializers.JSONField(source="event.data")

    class Meta(WebhookDeliveryOutput.Meta):
        fields = [*WebhookDeliveryOutput.Meta.fields, "data", "attempts_log"]
