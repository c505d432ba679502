"""Tax on the dashboard: the tax-rate pages, tax rates ticked on plans and customers, and the customer's credit."""

from decimal import Decimal

import pytest

from catalog.models import Plan, TaxRate
from catalog.taxes import tax_rate_create
from customers.models import Customer
from invoicing.services import Actor
from invoicing.services.credit import credit_adjust
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_finance_creates_a_rate_and_a_new_percentage_archives_the_old(finance_client):
    response = finance_client.post("/tax-rates/new/", {"code": "VAT", "name": "VAT 19%", "rate": "19", "active": "on"})
    assert response.status_code == 302
    vat = TaxRate.objects.get(code="VAT")
    assert vat.rate == Decimal("19")

    listed = finance_client.get("/tax-rates/").content.decode()
    assert "VAT 19%" in listed and "19 %" in listed

    response = finance_client.post(f"/tax-rates/{vat.pk}/edit/", {"name": "VAT 16%", "rate": "16", "active": "on"})
    assert response.status_code == 302
    vat.refresh_from_db()
    current = TaxRate.objects.get(code="VAT", archived_at__isnull=True)
    assert (vat.archived_at is not None, current.rate, current.name) == (True, Decimal("16"), "VAT 16%")
    assert finance_client.get(f"/tax-rates/{vat.pk}/edit/").status_code == 404  # the archived row is the record


def test_bad_rate_is_shown_beside_the_field_and_nothing_is_stored(finance_client):
    response = finance_client.post("/tax-rates/new/", {"code": "BAD CODE", "name": "x", "rate": "5"})
    assert response.status_code == 200
    assert "letters, digits" in response.content.decode()
    assert not TaxRate.objects.exists()


def test_support_reads_the_rates_but_cannot_create_one(support_client):
    tax_rate_create(code="VAT", name="VAT 19%", rate="19")
    assert support_client.get("/tax-rates/").status_code == 200
    assert support_client.get("/tax-rates/new/").status_code == 403


def test_plan_and_customer_forms_take_tax_rates(finance_client):
    tax_rate_create(code="VAT", name="VAT 19%", rate="19")
    response = finance_client.post("/plans/new/", {
        "name": "Taxed", "lookup_id": "taxed", "type": "HYBRID", "billing_interval": "month", "currency": "EUR",
        "trial_days": "0", "active": "on", "tax_rates": ["VAT"], "tax_inclusive": "on",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = Plan.objects.get(lookup_id="taxed")
    assert (plan.tax_rates, plan.tax_inclusive) == (["VAT"], True)

    response = finance_client.post("/customers/new/", {"external_id": "exempt-co", "tax_exempt": "on"})
    assert response.status_code == 302
    assert Customer.objects.get(external_id="exempt-co").tax_exempt is True
    response = finance_client.post("/customers/new/", {"external_id": "both", "tax_exempt": "on", "reverse_charge": "on"})
    assert response.status_code == 200 and "either tax_exempt or reverse_charge" in response.content.decode()


def test_customer_page_shows_the_credit_balance_and_ledger(finance_client):
    customer = CustomerFactory()
    credit_adjust(customer=customer, currency="EUR", amount="12.67", reason="goodwill for the outage", actor=Actor.task("t"))
    page = finance_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "€12.67" in page and "goodwill for the outage" in page and "Manual adjustment" in page
