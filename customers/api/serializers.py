from rest_framework import serializers

from catalog.choices import BillingInterval
from customers.models import Customer, Subscription
from fluxbill.core.fields import InputSerializer, JSONObjectField


class CustomerInput(InputSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    external_id = serializers.CharField(max_length=255)
    address = serializers.CharField(required=False, allow_blank=True, default="")
    metadata = JSONObjectField(required=False, default=dict)
    tax_rates = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=5)
    tax_exempt = serializers.BooleanField(required=False, default=False)
    reverse_charge = serializers.BooleanField(required=False, default=False)


class CustomerUpdate(CustomerInput):
    external_id = serializers.CharField(
        max_length=255,
        help_text="Fixed once the customer exists (usage events name the customer by it): the current value, or 400.",
    )


class CustomerOutput(serializers.ModelSerializer):
    # Not format: email: customers created by ingestion have none, and "" is not an email address.
    email = serializers.CharField(read_only=True, help_text="Billing email address; empty when there is none.")

    class Meta:
        model = Customer
        fields = ["id", "name", "email", "external_id", "address", "metadata", "tax_rates", "tax_exempt", "reverse_charge",
                  "created_at", "updated_at"]
        read_only_fields = fields


class SubscriptionInput(InputSerializer):
    customer_id = serializers.CharField(help_text="The customer's id or external_id.")
    plan_id = serializers.CharField(help_text="The plan's id or lookup_id.")
    billing_interval = serializers.ChoiceField(choices=BillingInterval.choices, required=False)
    start_date = serializers.DateTimeField(required=False)


class SubscriptionCancelInput(InputSerializer):
    at_period_end = serializers.BooleanField(default=False)


class SubscriptionOutput(serializers.ModelSerializer):
    customer_id = serializers.UUIDField(read_only=True)
    plan_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "customer_id",
            "plan_id",
            "status",
            "billing_interval",
            "start_date",
            "current_period_start",
            "current_period_end",
            "trial_end",
            "cancel_at",
            "canceled_at",
            "ended_at",
            # Why billing this failed, when, how often, and when it is tried again ("" and nulls when fine).
            "billing_error",
            "billing_error_at",
            "billing_failures",
            "billing_retry_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
