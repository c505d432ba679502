"""Dashboard forms for invoices: the list's filters and the inputs some actions take."""

from __future__ import annotations

import datetime as dt

from django import forms

from catalog.choices import ChargeType
from catalog.models import Charge
from customers.models import Customer
from fluxbill.core.forms import DayField, MomentField
from django.db.models import Q
from django.utils import timezone

from .choices import InvoiceStatus


class InvoiceFilterForm(forms.Form):
    """The invoice list's filters; the CSV export reads the same ones."""

    status = forms.ChoiceField(choices=[("", "Any status"), *InvoiceStatus.choices], required=False)
    customer = forms.CharField(
        required=False, max_length=255, widget=forms.TextInput(attrs={"placeholder": "Name or external id"})
    )
    customer_id = forms.UUIDField(required=False, widget=forms.HiddenInput)
    number = forms.CharField(required=False, max_length=32, widget=forms.TextInput(attrs={"placeholder": "INV-2026-…"}))
    period_from = DayField(
        label="Period from", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Periods starting on or after this day (UTC).",
    )
    period_to = DayField(
        label="Period to", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Periods ending by the end of this day (UTC).",
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("period_from"), data.get("period_to")
        if start and end and end < start:
            self.add_error("period_to", "The end of the range is before its start.")
        return data

    def filter(self, queryset):
        """Apply the filters that are valid; an invalid one is shown beside its field and ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        if data.get("status"):
            queryset = queryset.filter(status=data["status"])
        if data.get("customer_id"):
            queryset = queryset.filter(customer_id=data["customer_id"])
        if data.get("customer"):
            text = data["customer"].strip()
            queryset = queryset.filter(
                Q(customer__name__icontains=text) | Q(customer__external_id__icontains=text)
            )
        if data.get("number"):
            queryset = queryset.filter(number__icontains=data["number"].strip())
        if data.get("period_from"):
            queryset = queryset.filter(period_start__gte=_midnight(data["period_from"]))
        if data.get("period_to"):
            # Periods are half-open: one ending at midnight after the chosen day ends on that day.
            queryset = queryset.filter(period_end__lte=_midnight(data["period_to"] + dt.timedelta(days=1)))
        return queryset

    @property
    def active(self) -> bool:
        return any(self.data.get(name) for name in self.fields)


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
