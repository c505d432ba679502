"""Reads of customers that pages share."""

from __future__ import annotations

from django.db.models import Q

from .models import Customer

SEARCH_LIMIT = 20


def customer_search(query: str, *, limit: int = SEARCH_LIMIT) -> list[Customer]:
    """Customers whose name, email or external id contains `query` (the trigram indexes answer it),
    exact external-id matches first, then by name."""
    query = query.strip()
    if not query:
        return []
    found = Customer.objects.filter(
        Q(external_id__icontains=query) | Q(name__icontains=query) | Q(email__icontains=query)
    ).only("id", "name", "email", "external_id")
    exact = [c for c in found.filter(external_id=query)[:1]]
    rest = list(found.exclude(external_id=query).order_by("name", "external_id")[: limit - len(exact)])
    return exact + rest
