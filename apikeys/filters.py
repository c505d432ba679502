"""The API key filters: one FilterSet, read by the dashboard list and the API list."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from fluxbill.core.filters import FilterSet, SearchFilter

from .models import ApiKey

STATES = (("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked"))


def state_condition(state: str, now) -> Q:
    """Keys in `state` at `now`: revoked wins over expired, and a key with neither is active."""
    if state == "revoked":
        return Q(revoked_at__isnull=False)
    if state == "expired":
        return Q(revoked_at__isnull=True, expires_at__lte=now)
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ApiKeyFilterSet(FilterSet):
    q = SearchFilter(fields=("name", "prefix"), widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or prefix"}))
    status = django_filters.ChoiceFilter(choices=STATES, empty_label="Any", method="filter_status", label="Status")

    class Meta:
        model = ApiKey
        fields = ["q", "status"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(state_condition(value, timezone.now()))
