"""The invoice filters: one FilterSet, read by the dashboard list, its CSV export and the API list."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from catalog.models import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from customers.filters import CustomerRefFilter
from fluxbill.core.filters import BillingFailedFilter, DayFilter, DayOrInstantFilter, FilterSet

from .choices import CreditNoteReason, CreditNoteStatus, InvoiceKind, InvoiceStatus, PaymentStatus
from .models import CreditNote, Invoice, Payment

DAY = forms.DateInput(attrs={"type": "date"})


def default_ordering(status: str | None) -> tuple[str, ...]:
    """Drafts are worked through by their period, oldest first; every other list shows the newest first."""
    if status == InvoiceStatus.DRAFT:
        return ("period_start", "id")
    return ("-created_at", "-id")


class InvoiceFilterForm(forms.Form):
    """Ranges must not run backwards."""

    RANGES = (("period_from", "period_to"), ("issued_from", "issued_to"), ("due_from", "due_to"), ("amount_min", "amount_max"))

    def clean(self):
        data = super().clean()
        for low, high in self.RANGES:
            if data.get(low) is not None and data.get(high) is not None and data[high] < data[low]:
                self.add_error(high, "The end of the range is before its start.")
        return data


class InvoiceFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=InvoiceStatus.choices, empty_label="Any status")
    customer = CustomerRefFilter()
    customer_id = django_filters.UUIDFilter(field_name="customer_id", widget=forms.HiddenInput)
    external_customer_id = django_filters.CharFilter(field_name="customer__external_id", max_length=255)
    number = django_filters.CharFilter(
        lookup_expr="icontains", max_length=32, label="Number", widget=forms.TextInput(attrs={"placeholder": "INV-2026-…"})
    )
    kind = django_filters.ChoiceFilter(choices=InvoiceKind.choices, empty_label="Any kind")
    subscription = django_filters.UUIDFilter(field_name="subscription_id")
    period_from = DayOrInstantFilter(
        field_name="period_start", lookup_expr="gte", label="Period from", help_text="Periods starting on or after this day (UTC)."
    )
    period_to = DayOrInstantFilter(
        # Periods are half-open: one ending at midnight after the chosen day ends on that day.
        field_name="period_end", lookup_expr="lte", end_of_day=True, label="Period to",
        help_text="Periods ending by the end of this day (UTC).",
    )
    issued_from = DayOrInstantFilter(field_name="issued_at", lookup_expr="gte", label="Issued from")
    issued_to = DayOrInstantFilter(field_name="issued_at", lookup_expr="lt", end_of_day=True, label="Issued to")
    due_from = DayFilter(field_name="due_date", lookup_expr="gte", label="Due from", widget=DAY)
    due_to = DayFilter(field_name="due_date", lookup_expr="lte", label="Due to", widget=DAY)
    overdue = django_filters.ChoiceFilter(
        choices=(("true", "Yes"), ("false", "No")), empty_label="Any", method="filter_overdue", label="Overdue"
    )
    amount_min = django_filters.NumberFilter(
        field_name="total", lookup_expr="gte", label="Total from",
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES,
    )
    amount_max = django_filters.NumberFilter(
        field_name="total", lookup_expr="lte", label="Total to",
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES,
    )
    currency = django_filters.CharFilter(
        lookup_expr="iexact", max_length=3, widget=forms.TextInput(attrs={"placeholder": "USD", "size": 4})
    )
    billing_failed = BillingFailedFilter()

    class Meta:
        model = Invoice
        form = InvoiceFilterForm
        fields = ["status", "kind", "customer", "subscription", "number", "currency"]


    def filter_overdue(self, queryset, name, value):
        """Open past its due date (UTC today): what is owed and late. Paid, void or uncollectible is not."""
        late = Q(status=InvoiceStatus.OPEN, due_date__lt=timezone.now().date())
        return queryset.filter(late) if value == "true" else queryset.exclude(late)

    def chosen_status(self) -> str | None:
        """The status asked for, when valid (it decides the default order)."""
        if not self.is_bound:
            return None
        self.errors  # validates the form
        return self.form.cleaned_data.get("status")


class CreditNoteFilterForm(forms.Form):
    def clean(self):
        data = super().clean()
        if data.get("issued_from") is not None and data.get("issued_to") is not None and data["issued_to"] < data["issued_from"]:
            self.add_error("issued_to", "The end of the range is before its start.")
        return data


class CreditNoteFilterSet(FilterSet):
    """The credit-note list's filters: the dashboard list and the API list."""

    status = django_filters.ChoiceFilter(choices=CreditNoteStatus.choices, empty_label="Any status")
    reason = django_filters.ChoiceFilter(choices=CreditNoteReason.choices, empty_label="Any reason")
    invoice = django_filters.UUIDFilter(field_name="invoice_id", label="Invoice id")
    customer = CustomerRefFilter()
    number = django_filters.CharFilter(lookup_expr="icontains", max_length=40, label="Number")
    issued_from = DayOrInstantFilter(field_name="issued_at", lookup_expr="gte", label="Issued from")
    issued_to = DayOrInstantFilter(field_name="issued_at", lookup_expr="lt", end_of_day=True, label="Issued to")
    currency = django_filters.CharFilter(
        lookup_expr="iexact", max_length=3, widget=forms.TextInput(attrs={"placeholder": "USD", "size": 4})
    )

    class Meta:
        model = CreditNote
        form = CreditNoteFilterForm
        fields = ["status", "reason", "invoice", "customer", "number", "currency"]


class PaymentFilterForm(forms.Form):
    def clean(self):
        data = super().clean()
        low, high = data.get("received_from"), data.get("received_to")
        if low is not None and high is not None and high < low:
            self.add_error("received_to", "The end of the range is before its start.")
        return data


class PaymentFilterSet(FilterSet):
    """The payment list's filters: the dashboard list and the API list."""

    status = django_filters.ChoiceFilter(choices=PaymentStatus.choices, empty_label="Any status")
    invoice = django_filters.UUIDFilter(field_name="invoice_id", label="Invoice id")
    customer = CustomerRefFilter()
    received_from = DayFilter(field_name="received_at", lookup_expr="gte", label="Received from", widget=DAY)
    received_to = DayFilter(field_name="received_at", lookup_expr="lte", label="Received to", widget=DAY)
    currency = django_filters.CharFilter(
        lookup_expr="iexact", max_length=3, widget=forms.TextInput(attrs={"placeholder": "USD", "size": 4})
    )

    class Meta:
        model = Payment
        form = PaymentFilterForm
        fields = ["status", "invoice", "customer", "currency"]
