"""The meter filters: one FilterSet, read by the dashboard list and the API's feature list."""

import django_filters
from django import forms

from fluxbill.core.filters import ActiveFilter, FilterSet, SearchFilter

from .models import Meter

_SEARCHED = ("name", "event_name", "lookup_key")


class MeterFilterSet(FilterSet):
    q = SearchFilter(fields=_SEARCHED, widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or event name"}))
    status = ActiveFilter(field_name="active")
    # The API's names: `search` is the dashboard's `q`, `active` its `status`, `meter_name` the event name.
    search = SearchFilter(fields=_SEARCHED)
    active = django_filters.BooleanFilter()
    lookup_key = django_filters.CharFilter(max_length=100)
    meter_name = django_filters.CharFilter(field_name="event_name", max_length=200)
    aggregation_type = django_filters.CharFilter(max_length=20)

    class Meta:
        model = Meter
        fields = ["q", "status", "search", "active", "lookup_key", "meter_name", "aggregation_type"]
