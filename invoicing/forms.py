"""Dashboard forms for invoices: the inputs some actions take (the list's filters are invoicing.filters)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from catalog.choices import ChargeType
from catalog.models import Charge
from customers.models import Customer
from fluxbill.core.forms import DayField, MomentField

from .choices import CreditNoteReason


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


class PaymentForm(forms.Form):
    """Money received: any amount (partial, or more than remains: the rest goes to the customer's credit)."""

    amount = forms.DecimalField(max_digits=20, decimal_places=4, min_value=0, help_text="What arrived.")
    received_on = DayField(
        label="Received on", widget=forms.DateInput(attrs={"type": "date"}), help_text="The day it arrived (UTC)."
    )
    method = forms.CharField(max_length=50, required=False, help_text="Transfer, card, cheque…")
    reference = forms.CharField(max_length=200, required=False, help_text="Bank reference, cheque number…")

    def __init__(self, *args, initial=None, **kwargs):
        initial = {"received_on": timezone.now().date(), **(initial or {})}
        super().__init__(*args, initial=initial, **kwargs)


class PaymentReverseForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Recorded in the invoice's audit trail, e.g. cheque bounced.")


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


class CreditNoteForm(forms.Form):
    """Issue a credit note: the reason, a memo, which lines and how much of each, and (optionally) how the total
    is applied. Amounts are checked by the service (credit_notes.credit_note_compute), whose errors land on the
    field they name; this form only reads what was typed.

    Per line of the invoice: `line_<id>` (tick to credit it) and `amount_<id>` (before tax; blank: what is left).
    """

    reason = forms.ChoiceField(choices=(("", "Choose a reason"), *CreditNoteReason.choices))
    memo = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="Printed on the credit note.")
    offset_amount = forms.CharField(required=False, max_length=40, label="Take off this invoice",
                                    help_text="Lowers what remains to pay on the invoice.")
    credit_amount = forms.CharField(required=False, max_length=40, label="Add to credit balance",
                                    help_text="Used by the customer's next invoices.")
    refund_amount = forms.CharField(required=False, max_length=40, label="Refunded",
                                    help_text="Paid back outside Fluxbill; at most what was paid.")

    SPLIT = ("offset_amount", "credit_amount", "refund_amount")

    def __init__(self, data=None, *, rooms, **kwargs):
        super().__init__(data, **kwargs)
        self.rooms = rooms
        for room in rooms:
            key = room.line.pk
            self.fields[f"line_{key}"] = forms.BooleanField(required=False, label=room.line.description)
            self.fields[f"amount_{key}"] = forms.CharField(
                required=False, max_length=40, label=f"Amount for {room.line.description}",
                widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "all that is left", "size": 12}),
            )

    def line_rows(self):
        """Each line with its two fields and what it can still be credited."""
        return [(room, self[f"line_{room.line.pk}"], self[f"amount_{room.line.pk}"]) for room in self.rooms]

    def items(self) -> list[dict]:
        """The ticked lines as the service's items (an amount typed without a tick ticks its line)."""
        data = self.cleaned_data
        chosen = []
        for room in self.rooms:
            amount = (data.get(f"amount_{room.line.pk}") or "").strip()
            if data.get(f"line_{room.line.pk}") or amount:
                chosen.append({"invoice_line_id": room.line.pk, "amount": amount or None})
        return chosen

    def split(self) -> dict:
        return {name: self.cleaned_data.get(name) or None for name in self.SPLIT}

    def clean(self):
        data = super().clean()
        if self.is_bound and not any(name.startswith("amount_") for name in self.errors) and not self.items():
            raise forms.ValidationError("Tick at least one line to credit.")
        return data

    def show_error(self, exc) -> None:
        """Put the service's error on the field it names (`items[2].amount` is the third chosen line's amount)."""
        name = getattr(exc, "field", None) or ""
        if name.startswith("items["):
            index = int(name[len("items["):name.index("]")])
            chosen = self.items()
            if index < len(chosen):
                self.add_error(f"amount_{chosen[index]['invoice_line_id']}", exc.message)
                return
        self.add_error(name if name in self.fields else None, exc.message)


class CreditNoteVoidForm(forms.Form):
    reason = forms.CharField(
        max_length=500, required=False, help_text="Recorded in the invoice's audit trail.",
        widget=forms.TextInput(attrs={"placeholder": "Why (optional)"}),
    )
