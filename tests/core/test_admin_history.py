"""Admin's History page of a tracked model (fluxbill.core.admin.HistoryAdmin) shows the trigger-written
history, so changes made through the API, a task, a shell or raw SQL appear beside admin's own log."""

import datetime as dt

import pytest
from django.contrib import admin
from django.db import connection
from django.utils import timezone

from apikeys.models import ApiKey
from fluxbill.core.admin import HistoryAdmin
from invoicing.models import Invoice
from invoicing.services.lifecycle import invoice_void
from tests.dashboard.conftest import finance_client, nobody_client, support_client  # noqa: F401 (fixtures)
from tests.factories import (
    default_entity,
    CustomerFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageChargeFactory,
    make_api_key,
)
from tests.invoicing.builders import ACTOR

pytestmark = pytest.mark.django_db


def _history_page(client, obj) -> str:
    opts = obj._meta
    response = client.get(f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/history/")
    assert response.status_code == 200
    body = response.content.decode()
    return body[body.index('id="recorded-history"'):]


def test_every_tracked_model_admin_shows_the_recorded_history():
    tracked = {model for model in admin.site._registry if hasattr(model, "pgh_event_model")}
    assert {model.__name__ for model in tracked} == {"Meter", "Plan", "Charge", "TaxRate", "Customer", "BillingEntity", "Subscription", "ApiKey", "Invoice", "CreditNote", "Payment"}
    for model in tracked:
        assert isinstance(admin.site._registry[model], HistoryAdmin), model


def test_raw_sql_and_api_changes_appear_for_finance(finance_client, admin_api):
    customer = CustomerFactory(external_id="acme", name="Acme", address_line1="1 Old Road")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customer SET address_line1 = %s WHERE id = %s", ["3 Raw Lane", customer.pk])
    response = admin_api.patch(f"/api/v1/customers/{customer.pk}", {"name": "Acme Corp"}, format="json")
    assert response.status_code == 200, response.content
    page = _history_page(finance_client, customer)
    raw_row = page[page.index("address line 1: 1 Old Road → 3 Raw Lane") - 400:page.index("address line 1: 1 Old Road → 3 Raw Lane")]
    api_row = page[page.index("name: Acme → Acme Corp") - 400:page.index("name: Acme → Acme Corp")]
    assert "system (no actor recorded)" in raw_row
    assert f"API key {ApiKey.objects.get().prefix}" in api_row
    assert page.index("name: Acme → Acme Corp") < page.index("address line 1: 1 Old Road → 3 Raw Lane")  # newest first
    assert "Changes made in this admin" in page  # Django's log stays below


def test_each_tracked_model_has_a_history_page(finance_client):
    plan = PlanFactory(name="Pro")
    charge = UsageChargeFactory(plan=plan, display_name="API calls")
    key, _ = make_api_key()
    for obj in (MeterFactory(), plan, charge, CustomerFactory(), SubscriptionFactory(), key, _invoice()):
        assert "Created" in _history_page(finance_client, obj), obj
    # the plan's page also lists its charges' rows, as the dashboard's plan page does
    assert "Charge “API calls”" in _history_page(finance_client, plan)


def _invoice() -> Invoice:
    now = timezone.now()
    return Invoice.objects.create(
        billing_entity=default_entity(),
        customer=CustomerFactory(), currency="USD", period_start=now - dt.timedelta(days=30), period_end=now
    )


def test_the_reason_of_a_void_is_shown(finance_client):
    invoice = _invoice()
    invoice_void(invoice=invoice, now=timezone.now(), actor=ACTOR, reason="made by mistake")
    page = _history_page(finance_client, invoice)
    assert "status: DRAFT → VOID" in page and "made by mistake" in page


def test_support_may_read_it_and_a_staff_member_in_no_group_may_not(support_client, nobody_client):
    customer = CustomerFactory(name="Acme")
    assert "Created" in _history_page(support_client, customer)
    response = nobody_client.get(f"/admin/customers/customer/{customer.pk}/history/")
    assert response.status_code == 403
    assert "recorded-history" not in response.content.decode()
