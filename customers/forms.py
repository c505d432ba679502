"""Dashboard forms: input shape only. Rules (unique external ids, archived plans …) live in services,
whose DomainErrors the views put back on the field they name."""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms
from django.urls import reverse_lazy

from catalog.forms import tax_rates_field
from catalog.models import Plan
from fluxbill.core.forms import DayField

from .models import Customer


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(required=False, help_text="Invoices are emailed here.")
    external_id = forms.CharField(
        label="External id",
        max_length=255,
        help_text="Your system's id for this customer; usage events name the customer by it, so it is fixed once the customer exists.",
    )
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="Printed on invoices.")
    tax_rates = tax_rates_field("For charges and plans that name none. None ticked: the billing entity's defaults.")
    tax_exempt = forms.BooleanField(required=False, help_text="No tax is charged to this customer.")
    reverse_charge = forms.BooleanField(
        required=False, help_text="No tax is charged and the invoice carries the reverse-charge note (EU B2B)."
    )

    def clean_external_id(self):
        value = self.cleaned_data["external_id"].strip()
        if not value:
            raise forms.ValidationError("Enter the customer's external id.")
        return value


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
