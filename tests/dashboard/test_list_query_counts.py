"""Every list page, and every CSV export, runs the same number of queries for N rows as for 3N rows.

A column that reads a relation without the selector loading it (an N+1) makes the 3N count larger.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invoicing.models import CreditNote
from tests.factories import (
    CustomerFactory,
    FixedChargeFactory,
    InvoiceFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageChargeFactory,
    make_api_key,
)

pytestmark = pytest.mark.django_db

N = 4


def _plan():
    plan = PlanFactory()
    UsageChargeFactory(plan=plan)
    FixedChargeFactory(plan=plan)
    return plan


def _api_key(user):
    make_api_key(created_by=user)


def _credit_note(user):
    invoice = InvoiceFactory()
    CreditNote.objects.create(
        number=f"CN-{invoice.number}", invoice=invoice, customer=invoice.customer, billing_entity=invoice.billing_entity,
        currency="USD", reason="other", subtotal=Decimal("1.00"), total=Decimal("1.00"), credit_amount=Decimal("1.00"),
        issued_at=timezone.now(), actor="test",
    )


PAGES = {
    "/meters/": lambda user: MeterFactory(),
    "/plans/": lambda user: _plan(),
    "/customers/": lambda user: CustomerFactory(),
    "/subscriptions/": lambda user: SubscriptionFactory(),
    "/invoices/": lambda user: InvoiceFactory(),
    "/api-keys/": _api_key,
    "/credit-notes/": _credit_note,
}
EXPORTS = ["/invoices/export.csv", "/customers/export.csv", "/subscriptions/export.csv", "/plans/export.csv"]


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    assert b"[invalid name]" not in body  # every filter has a label
    return len(queries)


@pytest.mark.parametrize("url", PAGES)
def test_list_page_query_count_does_not_grow_with_rows(finance_client, url):
    build = PAGES[url]
    for _ in range(N):
        build(finance_client.user)
    few = _queries(finance_client, url)
    for _ in range(2 * N):
        build(finance_client.user)
    many = _queries(finance_client, url)
    assert many == few, f"{url}: {few} queries for {N} rows, {many} for {3 * N}"
    assert few <= 8


@pytest.mark.parametrize("url", EXPORTS)
def test_export_query_count_does_not_grow_with_rows(finance_client, url):
    for _ in range(N):
        InvoiceFactory(customer=SubscriptionFactory(plan=_plan()).customer)
    few = _queries(finance_client, url)
    for _ in range(2 * N):
        InvoiceFactory(customer=SubscriptionFactory(plan=_plan()).customer)
    many = _queries(finance_client, url)
    assert many == few, f"{url}: {few} queries for {N} rows, {many} for {3 * N}"
