"""The customer and subscription filters: one FilterSet per resource, read by the dashboard list, its
CSV export and the API list alike; and how every list names a customer."""

from __future__ import annotations

import uuid

import django_filters
from django import forms
from django.db.models import Q

from catalog.models import Plan
from fluxbill.core.filters import BillingFailedFilter, FilterSet, SearchFilter

from .choices import SubscriptionStatus
from .models import BillingEntity, Customer, Subscription


class CustomerRefFilter(SearchFilter):
    """A customer named by its id, or by part of its name or external id, ignoring case.

    The invoice and subscription lists (pages, exports and API) read `customer` through this one filter, so
    an id pasted from the API and an external id typed on the dashboard find the same rows everywhere.
    An exact external id is the API's `external_customer_id`.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault("label", "Customer")
        kwargs.setdefault("widget", forms.TextInput(attrs={"placeholder": "Id, name or external id"}))
        super().__init__(fields=("customer__name", "customer__external_id"), **kwargs)

    def exact_condition(self, text: str) -> Q:
        try:
            return Q(customer_id=uuid.UUID(text))
        except ValueError:
            return super().exact_condition(text)


class CustomerFilterSet(FilterSet):
    q = SearchFilter(fields=("name", "email", "external_id"), widget=forms.TextInput(
        attrs={"type": "search", "placeholder": "Name, email or external id"}
    ))
    # The API's names: `search` is the same search as the dashboard's `q`.
    search = SearchFilter(fields=("name", "email", "external_id"))
    external_id = django_filters.CharFilter(max_length=255)
    email = django_filters.CharFilter(lookup_expr="iexact", max_length=254)

    class Meta:
        model = Customer
        fields = ["q", "search", "external_id", "email"]


class BillingEntityFilterSet(FilterSet):
    q = SearchFilter(fields=("name", "legal_name"), widget=forms.TextInput(
        attrs={"type": "search", "placeholder": "Name or legal name"}
    ))
    search = SearchFilter(fields=("name", "legal_name"))

    class Meta:
        model = BillingEntity
        fields = ["q", "search"]


class SubscriptionFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=SubscriptionStatus.choices, empty_label="Any status")
    plan = django_filters.ModelChoiceFilter(queryset=Plan.objects.order_by("name"), empty_label="Any plan")
    customer = CustomerRefFilter()
    billing_failed = BillingFailedFilter()

    class Meta:
        model = Subscription
        fields = ["status", "plan", "customer"]

