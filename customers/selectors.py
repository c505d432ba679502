"""Reads of customers and subscriptions that pages, API and exports share."""

from __future__ import annotations

import uuid

from django.db import connection
from django.db.models import Q, QuerySet

from django_countries import countries

from .models import BillingEntity, Customer, Subscription

SEARCH_LIMIT = 20


def customer_list() -> QuerySet:
    return Customer.objects.all()


def billing_entity_list() -> QuerySet:
    return BillingEntity.objects.all()


def address_lines(party) -> list[str]:
    """A customer's or an entity's address as printed: the non-empty lines, "postal code city" on one
    (with the state after a comma), the country's name last."""
    town = " ".join(part for part in (party.postal_code, party.city) if part)
    if party.state:
        town = f"{town}, {party.state}" if town else party.state
    country = str(countries.name(party.country)) if party.country else ""
    return [line for line in (party.address_line1, party.address_line2, town, country) if line]


def customer_bill_to(customer: Customer) -> dict:
    """Who an invoice is to, as snapshotted at finalization and shown on drafts: the invoice email
    (the customer's email when none is set), the cc addresses, the address lines and the tax id."""
    return {
        "name": customer.name or customer.external_id,
        "legal_name": customer.legal_name or customer.name or customer.external_id,
        "email": customer.invoice_email or customer.email,
        "cc_emails": list(customer.cc_emails or []),
        "address_lines": address_lines(customer),
        "country": str(customer.country or ""),
        "tax_id": customer.tax_id,
        "external_id": customer.external_id,
    }


def entity_seller(entity: BillingEntity) -> dict:
    """Who bills, as snapshotted at finalization and shown on drafts."""
    return {
        "name": entity.name,
        "legal_name": entity.legal_name,
        "address_lines": address_lines(entity),
        "country": str(entity.country or ""),
        "tax_id": entity.tax_id,
        "email": entity.email,
        "phone": entity.phone,
        "payment_instructions": entity.payment_instructions,
        "footer": entity.invoice_footer,
        "logo": entity.logo_data_uri,
    }


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
