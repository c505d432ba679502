"""The webhook endpoint list's filters."""

import django_filters
from django import forms

from fluxbill.core.filters import FilterSet, SearchFilter

from .models import WebhookEndpoint


class EndpointFilterSet(FilterSet):
    q = SearchFilter(fields=("url", "description"), widget=forms.TextInput(attrs={"type": "search", "placeholder": "URL or description"}))
    enabled = django_filters.BooleanFilter(widget=forms.Select(choices=(("", "Any"), ("true", "Enabled"), ("false", "Disabled"))),
                                           label="Status")

    class Meta:
        model = WebhookEndpoint
        fields = ["q", "enabled"]
