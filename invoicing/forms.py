"""Dashboard forms for invoices: the inputs some actions take (the list's filters are invoicing.filters)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from catalog.choices import ChargeType
from catalog.models import Charge
from customers.models import Customer
from fluxbill.core.forms import DayField, MomentField


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


class MarkPaidForm(forms.Form):
    paid_on = DayField(
        label="Paid on", widget=forms.DateInput(attrs={"type": "date"}), help_text="The day the payment arrived (UTC)."
    )
    reference = forms.CharField(
        max_length=200, required=False, help_text="Bank transfer reference, cheque number … shown in the audit trail."
    )

    def clean_paid_on(self):
        day = self.cleaned_data["paid_on"]
        if day > timezone.now().date():
            raise forms.ValidationError("A payment cannot arrive in the future.")
        return day

    def paid_at(self, now: dt.datetime) -> dt.datetime:
        """Today means now; an earlier day means its start (00:00 UTC)."""
        day = self.cleaned_data["paid_on"]
        return now if day == now.date() else _midnight(day)


class VoidForm(forms.Form):
    reason = forms.CharField(
        max_length=500, required=False, help_text="Recorded in the audit trail.",
        widget=forms.TextInput(attrs={"placeholder": "Why (optional)"}),
    )


class UsageWindowForm(forms.Form):
    """Which events a preview's usage line priced: the customer, the charge (its meter) and [start, end)."""

    customer = forms.ModelChoiceField(queryset=Customer.objects.all(), to_field_name="pk")
    charge = forms.ModelChoiceField(
        queryset=Charge.objects.filter(type=ChargeType.USAGE, meter__isnull=False).select_related("meter", "plan")
    )
    start = MomentField()
    end = MomentField()

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "end must be after start.")
        return data
