"""Reads of plans that pages share."""

from __future__ import annotations

from django.db.models import Q

from .models import Plan

SEARCH_LIMIT = 20


def plan_search(query: str, *, limit: int = SEARCH_LIMIT) -> list[Plan]:
    """Active plans whose name or lookup id contains `query`, by name; all active plans for an empty query."""
    plans = Plan.objects.filter(active=True).only("id", "name", "lookup_id", "currency", "billing_interval")
    query = query.strip()
    if query:
        plans = plans.filter(Q(name__icontains=query) | Q(lookup_id__icontains=query))
    return list(plans.order_by("name")[:limit])
