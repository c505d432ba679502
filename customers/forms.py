"""Dashboard forms: input shape only. Rules (unique external ids, archived plans …) live in services,
whose DomainErrors the views put back on the field they name."""

from __future__ import annotations

import datetime as dt

from django import forms

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

    def clean_external_id(self):
        value = self.cleaned_data["external_id"].strip()
        if not value:
            raise forms.ValidationError("Enter the customer's external id.")
        return value


class SubscriptionForm(forms.Form):
    customer = forms.CharField(
        label="Customer external id",
        max_length=255,
        help_text='The id shown on the customer\'s page; "New subscription" there fills it in.',
    )
    plan = forms.ModelChoiceField(queryset=Plan.objects.filter(active=True).order_by("name"), empty_label="Choose a plan")
    start_date = DayField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Periods start at 00:00 UTC on this day. Leave empty to start now; a past day is billed by the next rollover.",
    )

    def clean_customer(self):
        external_id = self.cleaned_data["customer"].strip()
        customer = Customer.objects.filter(external_id=external_id).first()
        if customer is None:
            raise forms.ValidationError(f"No customer has the external id '{external_id}'.")
        return customer

    def start(self) -> dt.datetime | None:
        day = self.cleaned_data.get("start_date")
        return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc) if day else None


class CancelForm(forms.Form):
    when = forms.ChoiceField(choices=[("period_end", "At the end of the current period"), ("now", "Now")])
