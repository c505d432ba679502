from rest_framework import serializers

from catalog.choices import BillingInterval
from customers.details import NET_DAYS_MAX
from customers.models import BillingEntity, Customer, Subscription
from fluxbill.core.fields import InputSerializer, JSONObjectField


def _text(max_length: int, help_text: str = "", **kwargs):
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, help_text=help_text, **kwargs)


class AddressInput(InputSerializer):
    """The structured address customers and billing entities share."""

    address_line1 = _text(200)
    address_line2 = _text(200)
    city = _text(100)
    state = _text(100, "State, region or province.")
    postal_code = _text(20)
    country = _text(2, "ISO 3166-1 alpha-2 code (DE, US); checked.")


class CustomerInput(AddressInput):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    external_id = serializers.CharField(max_length=255)
    metadata = JSONObjectField(required=False, default=dict)
    tax_rates = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=5)
    tax_exempt = serializers.BooleanField(required=False, default=False)
    reverse_charge = serializers.BooleanField(required=False, default=False)
    billing_entity_id = serializers.CharField(
        required=False, help_text="The billing entity's id or name (default: the default entity); must exist."
    )
    legal_name = _text(200, "Printed on invoices; blank: the name.")
    invoice_email = serializers.EmailField(required=False, allow_blank=True, help_text="Invoices go here; blank: email.")
    cc_emails = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, help_text="Copied (Cc) on invoice emails."
    )
    tax_id = _text(50, "VAT or tax number, checked for the country (EU VAT with or without its prefix).")
    net_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=NET_DAYS_MAX, help_text="Null: the billing entity's."
    )


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
        fields = [
            "id", "name", "email", "external_id", "billing_entity_id", "legal_name", "invoice_email", "cc_emails",
            "address_line1", "address_line2", "city", "state", "postal_code", "country", "tax_id", "net_days",
            "tax_rates", "tax_exempt", "reverse_charge", "metadata", "created_at", "updated_at",
        ]
        read_only_fields = fields

    billing_entity_id = serializers.UUIDField(read_only=True)
    country = serializers.CharField(read_only=True, help_text="ISO 3166-1 alpha-2 code; empty when none.")
    invoice_email = serializers.CharField(read_only=True, help_text="Empty: invoices go to email.")


class BillingEntityInput(AddressInput):
    name = serializers.CharField(max_length=100, help_text="Short internal name, unique.")
    legal_name = serializers.CharField(max_length=200, help_text="As printed on invoices.")
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = _text(50)
    tax_id = _text(50, "VAT or tax number, checked for the country.")
    logo = serializers.CharField(
        required=False, allow_blank=True,  # its size is checked by the service, which says the limit in KiB
        help_text="A base64 data URI (data:image/png;base64,…): PNG, JPEG or SVG, at most 256 KiB; \"\" removes it.",
    )
    payment_instructions = _text(5000)
    invoice_footer = _text(5000)
    invoice_prefix = serializers.CharField(
        max_length=16, help_text="Invoice numbers read <prefix>-<year>-000001; letters, digits, dashes; unique."
    )
    net_days = serializers.IntegerField(required=False, min_value=0, max_value=NET_DAYS_MAX)
    is_default = serializers.BooleanField(required=False, help_text="Make this the default (the other stops being it).")
    tax_rates = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=5,
        help_text="Default tax rate codes for its customers' invoices where charge, plan and customer name none.",
    )


class BillingEntityOutput(serializers.ModelSerializer):
    country = serializers.CharField(read_only=True, help_text="ISO 3166-1 alpha-2 code; empty when none.")
    email = serializers.CharField(read_only=True)
    logo = serializers.CharField(read_only=True, help_text="The logo as a data URI; empty when none.")

    class Meta:
        model = BillingEntity
        fields = [
            "id", "name", "legal_name", "address_line1", "address_line2", "city", "state", "postal_code", "country",
            "email", "phone", "tax_id", "logo", "payment_instructions", "invoice_footer", "invoice_prefix", "net_days",
            "tax_rates", "is_default", "created_at", "updated_at",
        ]
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
