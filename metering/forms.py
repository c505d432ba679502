"""Dashboard forms for meters and the event debugger. They shape input; services decide."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django import forms

from fluxbill.core.forms import DayField

from .aggregation import BUCKETS
from .choices import AggregationType
from .models import Meter


class MeterCreateForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Shown on invoices, e.g. “API calls”.")
    lookup_key = forms.SlugField(max_length=100, help_text="A stable key for the API, e.g. api_calls.")
    event_name = forms.CharField(max_length=200, help_text="Events sent with this name feed the meter.")
    aggregation_type = forms.ChoiceField(choices=AggregationType.choices, initial=AggregationType.COUNT)
    property_name = forms.CharField(
        max_length=200,
        required=False,
        help_text="The event property to aggregate; required for SUM, MAX, MIN, AVG and LATEST.",
    )
    unit = forms.CharField(max_length=50, required=False, help_text="e.g. calls, GB, tokens.")

    # The service (and the API) call the event name `meter_name`.
    service_aliases = {"meter_name": "event_name"}


class MeterUpdateForm(forms.Form):
    name = forms.CharField(max_length=200)
    unit = forms.CharField(max_length=50, required=False)

    service_aliases: dict[str, str] = {}


GROUP_BY_CHOICES = [(bucket, bucket.capitalize()) for bucket in BUCKETS]
# Bars a chart may hold: an hourly chart over a year would be 8,760 slivers nobody can read.
MAX_BUCKETS = 750


class UsageChartForm(forms.Form):
    """The meter page's chart controls, read from the query string; every field has a default."""

    group_by = forms.ChoiceField(choices=GROUP_BY_CHOICES)
    start = DayField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = DayField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    customer = forms.CharField(
        max_length=255, required=False, label="Customer external id", help_text="Blank for every customer."
    )

    @staticmethod
    def with_defaults(query, today: dt.date):
        """The query with blanks filled in, so the controls show what the chart shows:
        daily buckets over the 30 days up to `end` (default: today), both included."""
        data = query.copy()
        data["group_by"] = data.get("group_by") or "day"
        data["end"] = data.get("end") or today.isoformat()
        if not data.get("start"):
            try:
                last = dt.date.fromisoformat(data["end"])
            except ValueError:
                last = today  # the end field reports its own error
            data["start"] = (last - dt.timedelta(days=29)).isoformat()
        return data

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None or end is None:
            return cleaned
        if start > end:
            self.add_error("end", "The end date must not be before the start date.")
        return cleaned


class EventFilterForm(forms.Form):
    meter = forms.ModelChoiceField(queryset=Meter.objects.order_by("name"), required=False, empty_label="Any meter")
    customer = forms.CharField(max_length=255, required=False, label="Customer external id")
    source = forms.CharField(max_length=100, required=False)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows here.")


class SendEventForm(forms.Form):
    """A Flexprice `/events` body, built from fields: the service judges it exactly as the API would."""

    event_name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"list": "event-names"}))
    external_customer_id = forms.CharField(max_length=255, help_text="The customer must exist.")
    properties = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"value": 3}'}),
        help_text="A JSON object; SUM/MAX/… meters read their property from it.",
    )
    timestamp = forms.CharField(
        required=False, help_text="ISO 8601, e.g. 2025-08-22T07:05:49Z; blank for now.", max_length=64
    )
    event_id = forms.CharField(max_length=255, required=False, help_text="Idempotency key; blank for none.")
    source = forms.CharField(max_length=100, required=False, initial="dashboard")

    def clean_properties(self):
        raw = self.cleaned_data["properties"].strip()
        if not raw:
            return {}
        try:
            # Decimals, as the API's parser reads them; NaN and Infinity are refused there too.
            value = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).")
        except ValueError as exc:
            raise forms.ValidationError(str(exc))
        return value

    def payload(self) -> dict:
        data = self.cleaned_data
        body = {
            "event_name": data["event_name"],
            "external_customer_id": data["external_customer_id"],
            "properties": data["properties"],
        }
        for key in ("timestamp", "event_id", "source"):
            if data.get(key):
                body[key] = data[key]
        return body
