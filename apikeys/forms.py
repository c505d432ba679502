"""Dashboard forms for API keys. They validate input; creating the key is the service's job."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone

from fluxbill.core.forms import DayField

from .scopes import ALL, SCOPES

# What each scope lets a key do, shown beside its checkbox so nobody has to read the API docs.
SCOPE_HELP = {
    "usage.write": "send usage events",
    "usage.read": "read events and usage totals",
    "features.read": "read meters",
    "features.write": "create and change meters",
    "plans.read": "read plans and charges",
    "plans.write": "create and change plans",
    "tax_rates.read": "read tax rates",
    "tax_rates.write": "create and change tax rates",
    "customers.read": "read customers",
    "customers.write": "create and change customers",
    "billing_entities.read": "read billing entities (who bills)",
    "billing_entities.write": "create and change billing entities",
    "subscriptions.read": "read subscriptions",
    "subscriptions.write": "create and cancel subscriptions",
    "invoices.read": "read invoices, their PDFs and receivables reports",
    "invoices.write": "finalize, void and mark invoices paid (in full)",
    "credit_notes.read": "read credit notes and their PDFs",
    "credit_notes.write": "issue and void credit notes",
    "payments.read": "read payments",
    "payments.write": "record and reverse payments",
    "webhooks.read": "read webhook endpoints and their deliveries",
    "webhooks.write": "add, change and remove webhook endpoints; resend, replay, send test events",
    "api_keys.read": "list API keys",
    "api_keys.write": "create and revoke API keys",
    ALL: "everything above, and any scope added later",
}


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        help_text="Where the key will be used, e.g. “Production backend”. Shown in the list; not secret.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope} — {SCOPE_HELP.get(scope, scope)}") for scope in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one scope: a key without scopes can do nothing."},
        help_text="Grant only what the integration needs; a backend that sends usage needs usage.write.",
    )
    expires_on = DayField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. The key stops working at 00:00 UTC on this date; leave empty for no expiry.",
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the key a name.")
        return name

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is not None and day <= timezone.now().date():
            raise forms.ValidationError("Pick a date after today (UTC), or leave it empty.")
        return day

    @property
    def expires_at(self) -> datetime.datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.timezone.utc)
