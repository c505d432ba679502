"""Reads of plans that pages and the API share."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import Charge, Plan

SEARCH_LIMIT = 20


def plan_list_rows() -> QuerySet:
    """The dashboard list's rows: the number of charges to sort by, and the charges (with meters) to name."""
    charges = Prefetch("charges", queryset=Charge.objects.select_related("meter").order_by("created_at", "id"))
    return Plan.objects.annotate(charge_count=Count("charges")).prefetch_related(charges)


def plan_search(query: str, *, limit: int = SEARCH_LIMIT) -> list[Plan]:
    """Active plans whose name or lookup id contains `query`, by name; all active plans for an empty query."""
    plans = Plan.objects.filter(active=True).only("id", "name", "lookup_id", "currency", "billing_interval")
    query = query.strip()
    if query:
        plans = plans.filter(Q(name__icontains=query) | Q(lookup_id__icontains=query))
    return list(plans.order_by("name")[:limit])
