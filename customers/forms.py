"""Dashboard forms: input shape only. Rules (unique external ids, archived plans …) live in services,
whose DomainErrors the views put back on the field they name."""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms
from django.urls import reverse_lazy

from django_countries import countries

from catalog.forms import tax_rates_field
from catalog.models import Plan
from fluxbill.core.forms import DayField

from .details import LOGO_MAX_BYTES, NET_DAYS_MAX
from .models import BillingEntity, Customer

COUNTRY_CHOICES = [("", "—"), *countries]


class AddressFields(forms.Form):
    """The structured address customers and billing entities share; the services check it."""

    address_line1 = forms.CharField(label="Address line 1", max_length=200, required=False)
    address_line2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    state = forms.CharField(label="State / region", max_length=100, required=False)
    postal_code = forms.CharField(max_length=20, required=False)
    country = forms.ChoiceField(choices=COUNTRY_CHOICES, required=False)
    tax_id = forms.CharField(
        label="Tax ID", max_length=50, required=False,
        help_text="VAT or tax number, checked for the country (an EU VAT number with or without its prefix).",
    )  # fmt: skip


class CustomerForm(AddressFields):
    name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(required=False, help_text="Invoices are emailed here.")
    external_id = forms.CharField(
        label="External id",
        max_length=255,
        help_text="Your system's id for this customer; usage events name the customer by it, so it is fixed once the customer exists.",
    )
    billing_entity = forms.ModelChoiceField(
        queryset=BillingEntity.objects.all(), empty_label=None, label="Billed by", required=False,
        help_text="The billing entity on this customer's invoices; it numbers them.",
    )  # fmt: skip
    legal_name = forms.CharField(max_length=200, required=False, help_text="Printed on invoices; blank: the name.")
    invoice_email = forms.EmailField(required=False, help_text="Invoices are emailed here; blank: the email above.")
    cc_emails = forms.CharField(
        label="Cc emails", required=False, help_text="Copied on invoice emails; separate them with commas."
    )
    net_days = forms.IntegerField(
        min_value=0, max_value=NET_DAYS_MAX, required=False, help_text="Days from issue to due date; blank: the entity's."
    )
    tax_rates = tax_rates_field("For charges and plans that name none. None ticked: the billing entity's defaults.")
    tax_exempt = forms.BooleanField(required=False, help_text="No tax is charged to this customer.")
    reverse_charge = forms.BooleanField(
        required=False, help_text="No tax is charged and the invoice carries the reverse-charge note (EU B2B)."
    )
    field_order = [
        "name", "email", "external_id", "billing_entity", "legal_name", "invoice_email", "cc_emails",
        "address_line1", "address_line2", "city", "state", "postal_code", "country", "tax_id", "net_days",
        "tax_rates", "tax_exempt", "reverse_charge",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["billing_entity"].initial = BillingEntity.objects.filter(is_default=True).first()

    def service_fields(self) -> dict:
        """The cleaned data for customer_create / customer_update; no entity picked keeps the default (or the current)."""
        data = dict(self.cleaned_data)
        if data.get("billing_entity") is None:
            data.pop("billing_entity", None)
        return data

    def clean_external_id(self):
        value = self.cleaned_data["external_id"].strip()
        if not value:
            raise forms.ValidationError("Enter the customer's external id.")
        return value


class BillingEntityForm(AddressFields):
    name = forms.CharField(max_length=100, help_text="Short internal name, e.g. “EU”.")
    legal_name = forms.CharField(max_length=200, help_text="As printed on invoices.")
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=50, required=False)
    logo_file = forms.FileField(
        label="Logo", required=False, help_text=f"PNG, JPEG or SVG, at most {LOGO_MAX_BYTES // 1024} KiB; printed on invoices."
    )
    logo_remove = forms.BooleanField(label="Remove the logo", required=False)
    payment_instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
    invoice_footer = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000)
    invoice_prefix = forms.CharField(
        max_length=16, help_text="Invoice numbers read <prefix>-<year>-000001; fixed once an invoice was numbered."
    )
    net_days = forms.IntegerField(min_value=0, max_value=NET_DAYS_MAX, help_text="Days from issue to due date.")
    is_default = forms.BooleanField(
        label="Default entity", required=False, help_text="New customers belong to it unless another is chosen."
    )
    tax_rates = tax_rates_field("Default tax rates of its customers' invoices, where charge, plan and customer name none.")
    field_order = [
        "name", "legal_name", "address_line1", "address_line2", "city", "state", "postal_code", "country", "tax_id",
        "email", "phone", "logo_file", "logo_remove", "payment_instructions", "invoice_footer", "invoice_prefix",
        "net_days", "is_default", "tax_rates",
    ]

    def clean_logo_file(self):
        upload = self.cleaned_data.get("logo_file")
        if upload and upload.size > LOGO_MAX_BYTES:
            raise forms.ValidationError(f"At most {LOGO_MAX_BYTES // 1024} KiB.")
        return upload


class SubscriptionForm(forms.Form):
    """Customer and plan are picked by search: the fields offer matches as one types (static/fluxbill/picker.js
    fills their lists from the search endpoints) and take an external id / lookup id, or an id."""

    customer = forms.CharField(
        label="Customer",
        max_length=255,
        widget=forms.TextInput(attrs={"list": "customer-options", "autocomplete": "off", "data-search-url": reverse_lazy("customers:customer-search"),
                                      "placeholder": "Type a name, email or external id"}),
        help_text="Matches appear as you type; the field keeps the customer's external id.",
    )  # fmt: skip
    plan = forms.CharField(
        label="Plan",
        max_length=255,
        widget=forms.TextInput(attrs={"list": "plan-options", "autocomplete": "off", "data-search-url": reverse_lazy("catalog:plan-search"),
                                      "placeholder": "Type a plan's name or lookup id"}),
    )  # fmt: skip
    start_date = DayField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Periods start at 00:00 UTC on this day. Leave empty to start now; a past day is billed by the next rollover.",
    )

    def clean_customer(self):
        raw = self.cleaned_data["customer"].strip()
        customer = Customer.objects.filter(external_id=raw).first()
        if customer is None and (as_uuid := _uuid(raw)):
            customer = Customer.objects.filter(pk=as_uuid).first()
        if customer is None:
            raise forms.ValidationError(f"No customer has the external id '{raw}'. Type part of a name to search.")
        return customer

    def clean_plan(self):
        raw = self.cleaned_data["plan"].strip()
        active = Plan.objects.filter(active=True)
        plan = active.filter(lookup_id=raw).first()
        if plan is None and (as_uuid := _uuid(raw)):
            plan = active.filter(pk=as_uuid).first()
        if plan is None:
            named = list(active.filter(name__iexact=raw)[:2])
            plan = named[0] if len(named) == 1 else None
        if plan is None:
            raise forms.ValidationError(f"No active plan has the lookup id or name '{raw}'.")
        return plan

    def start(self) -> dt.datetime | None:
        day = self.cleaned_data.get("start_date")
        return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc) if day else None


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


class CancelForm(forms.Form):
    when = forms.ChoiceField(choices=[("period_end", "At the end of the current period"), ("now", "Now")])
