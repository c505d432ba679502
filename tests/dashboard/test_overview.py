import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from tests.factories import CustomerFactory, UsageEventFactory


def _invoice(customer, *, status, total, currency="USD", issued_days_ago=0, due_days=30, number=None):
    now = timezone.now()
    return Invoice.objects.create(
        customer=customer,
        kind="MANUAL",
        status=status,
        currency=currency,
        period_start=now - dt.timedelta(days=30),
        period_end=now - dt.timedelta(days=1),
        subtotal=Decimal(total),
        total=Decimal(total),
        number=number,
        issued_at=None if status == InvoiceStatus.DRAFT else now - dt.timedelta(days=issued_days_ago),
        due_date=(now + dt.timedelta(days=due_days)).date(),
        finalize_at=now + dt.timedelta(minutes=30),
    )


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


@pytest.mark.django_db
def test_user_without_role_is_refused(nobody_client):
    assert nobody_client.get("/").status_code == 403


@pytest.mark.django_db
def test_overview_figures(finance_client, django_assert_max_num_queries):
    customer = CustomerFactory(name="Acme Corp")
    _invoice(customer, status=InvoiceStatus.OPEN, total="120.50", number="INV-2026-000001")
    _invoice(customer, status=InvoiceStatus.PAID, total="80.00", number="INV-2026-000002")
    _invoice(customer, status=InvoiceStatus.OPEN, total="999.00", number="INV-2026-000003", due_days=-3)
    _invoice(customer, status=InvoiceStatus.DRAFT, total="10.00")
    UsageEventFactory.create_batch(3, customer=customer)
    with django_assert_max_num_queries(12):
        response = finance_client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    # Billed this month: 120.50 + 80.00 + 999.00; open: 120.50 + 999.00
    assert "$1,199.50" in body
    assert "$1,119.50" in body
    assert "INV-2026-000003" in body  # overdue
    assert "Acme Corp" in body  # awaiting finalization
    assert response.context["events_today"] == 3


@pytest.mark.django_db
def test_overview_empty_state(support_client):
    body = support_client.get("/").content.decode()
    assert "No invoices issued yet" in body
    assert "No drafts waiting" in body
