"""The plan and tax-rate filters: one FilterSet each, read by the dashboard list and the API list."""

import django_filters
from django import forms

from fluxbill.core.filters import ActiveFilter, FilterSet, SearchFilter

from .models import Plan, TaxRate

_NAME_OR_LOOKUP_ID = ("name", "lookup_id")


class PlanFilterSet(FilterSet):
    q = SearchFilter(
        fields=_NAME_OR_LOOKUP_ID, widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or lookup id"})
    )
    status = ActiveFilter(field_name="active")
    # The API's names: `search` is the dashboard's `q`, `active` its `status`.
    search = SearchFilter(fields=_NAME_OR_LOOKUP_ID)
    active = django_filters.BooleanFilter()
    lookup_id = django_filters.CharFilter(max_length=100)
    currency = django_filters.CharFilter(lookup_expr="iexact", max_length=3)

    class Meta:
        model = Plan
        fields = ["q", "status", "search", "active", "lookup_id", "type", "billing_interval", "currency"]


class TaxRateFilterSet(FilterSet):
    q = SearchFilter(fields=("code", "name"), widget=forms.TextInput(attrs={"type": "search", "placeholder": "Code or name"}))
    status = ActiveFilter(field_name="active")
    search = SearchFilter(fields=("code", "name"))
    active = django_filters.BooleanFilter()
    code = django_filters.CharFilter(max_length=50)

    class Meta:
        model = TaxRate
        fields = ["q", "status", "search", "active", "code"]
