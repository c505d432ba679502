"""Reads of customers and subscriptions that pages, API and exports share."""

from __future__ import annotations

import uuid

from django.db import connection
from django.db.models import Q, QuerySet

from .models import Customer, Subscription

SEARCH_LIMIT = 20


def customer_list() -> QuerySet:
    return Customer.objects.all()


def subscription_list() -> QuerySet:
    """Each row names its customer and plan: both joined, so a page or an export is one query."""
    return Subscription.objects.select_related("customer", "plan")


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


def customer_ids_by_external_id(*, external_ids: list[str]) -> dict[str, uuid.UUID]:
    """{external id: id} of the customers that exist among `external_ids`, in one statement
    (the ingestion hot path asks this for every batch whose customers it has not cached)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT external_id, id FROM customers_customer WHERE external_id = ANY(%s)", [external_ids])
        return dict(cursor.fetchall())


def customer_id_by_pk(*, customer_id: uuid.UUID) -> uuid.UUID | None:
    return Customer.objects.filter(pk=customer_id).values_list("pk", flat=True).first()
