"""Every dashboard detail page (meter, plan, customer, subscription, invoice) is built on one frame,
templates/partials/detail_page.html, whose History panel says who changed what, from what to what;
the invoice page's audit trail (InvoiceEvent rows) sits beside it. The panel is one query, however
long the history."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys.models import ApiKey
from catalog.models import Charge, Plan
from customers.models import Customer, Subscription
from invoicing.models import Invoice
from metering.models import Meter
from tests.dashboard.test_invoices_pages import _open
from tests.factories import CustomerFactory, MeterFactory, PlanFactory, SubscriptionFactory, UsageChargeFactory

pytestmark = pytest.mark.django_db


def _panel(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    assert "partials/detail_page.html" in [t.name for t in response.templates]
    body = response.content.decode()
    return body[body.index('id="history"'):]


def _pages():
    """One object per detail page: (url, a queryset updating the object, a field it can be set to)."""
    meter = MeterFactory()
    plan = PlanFactory()
    UsageChargeFactory(plan=plan)
    customer = CustomerFactory()
    subscription = SubscriptionFactory()
    invoice = _open()
    return [
        (f"/meters/{meter.pk}/", lambda i: Meter.objects.filter(pk=meter.pk).update(name=f"m{i}")),
        (f"/plans/{plan.pk}/", lambda i: (Plan.objects.filter(pk=plan.pk).update(name=f"p{i}"),
                                          Charge.objects.filter(plan=plan).update(display_name=f"c{i}"))),
        (f"/customers/{customer.pk}/", lambda i: Customer.objects.filter(pk=customer.pk).update(name=f"c{i}")),
        (f"/subscriptions/{subscription.pk}/",
         lambda i: Subscription.objects.filter(pk=subscription.pk).update(billing_failures=i)),
        (f"/invoices/{invoice.pk}/", lambda i: Invoice.objects.filter(pk=invoice.pk).update(email_attempts=i)),
    ]


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_every_detail_page_keeps_its_query_count_however_long_the_history(finance_client):
    for url, change in _pages():
        change(0)
        before = _queries(finance_client, url)
        for i in range(1, 31):
            change(i)
        assert _queries(finance_client, url) == before, url
        assert "The latest 20 changes." in _panel(finance_client, url), url


def test_meter_page_shows_a_dashboard_edit(finance_client):
    meter = MeterFactory(name="Calls", unit="calls")
    assert finance_client.post(f"/meters/{meter.pk}/edit/", {"name": "API calls", "unit": "requests"}).status_code == 302
    panel = _panel(finance_client, f"/meters/{meter.pk}/")
    assert finance_client.user.email in panel
    assert "name: Calls → API calls" in panel and "unit: calls → requests" in panel


def test_plan_page_shows_the_plan_and_its_charges_changes(admin_api, finance_client):
    plan = PlanFactory(name="Pro")
    charge = UsageChargeFactory(plan=plan, display_name="API calls", unit_price=Decimal("0.002"))
    response = admin_api.patch(f"/api/v1/plans/{plan.pk}", {"name": "Pro 2026"}, format="json")
    assert response.status_code == 200, response.content
    Charge.objects.filter(pk=charge.pk).update(unit_price=Decimal("0.0025"))
    panel = _panel(finance_client, f"/plans/{plan.pk}/")
    assert f"API key {ApiKey.objects.get().prefix}" in panel
    assert "name: Pro → Pro 2026" in panel
    # the charge's row: named, with the amount as written (a Decimal, not a float)
    assert "Charge “API calls”" in panel and "unit price: 0.002 → 0.0025" in panel


def test_subscription_page_shows_a_cancel(finance_client):
    subscription = SubscriptionFactory()
    end = subscription.current_period_end
    finance_client.post(f"/subscriptions/{subscription.pk}/cancel/", {"when": "period_end"})
    panel = _panel(finance_client, f"/subscriptions/{subscription.pk}/")
    assert finance_client.user.email in panel
    assert f"cancel at: — → {end.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC" in panel


def test_invoice_page_shows_a_void_with_its_reason_beside_the_audit_trail(finance_client):
    invoice = _open()
    finance_client.post(f"/invoices/{invoice.pk}/void/", {"reason": "duplicate"})
    body = finance_client.get(f"/invoices/{invoice.pk}/").content.decode()
    side = body[body.index('class="detail-side"'):]
    audit, panel = side[side.index('id="audit"'):side.index('id="history"')], side[side.index('id="history"'):]
    assert "voided" in audit and "duplicate" in audit
    assert finance_client.user.email in panel
    assert "status: OPEN → VOID" in panel and "duplicate" in panel


def test_customer_page_shows_an_api_change(admin_api, finance_client):
    customer = CustomerFactory(external_id="acme", name="Acme", email="")
    response = admin_api.patch(f"/api/v1/customers/{customer.pk}", {"email": "billing@acme.io"}, format="json")
    assert response.status_code == 200, response.content
    panel = _panel(finance_client, f"/customers/{customer.pk}/")
    assert f"API key {ApiKey.objects.get().prefix}" in panel and "email: — → billing@acme.io" in panel


def test_a_raw_sql_change_shows_as_system(finance_client):
    meter = MeterFactory(unit="calls")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE metering_meter SET unit = 'hits' WHERE id = %s", [meter.pk])
    panel = _panel(finance_client, f"/meters/{meter.pk}/")
    assert "system (no actor recorded)" in panel and "unit: calls → hits" in panel
