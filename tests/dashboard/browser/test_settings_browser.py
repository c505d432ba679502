"""Settings → Billing entities in a real browser: Finance adds a seller with its logo, a customer is moved to it,
and the customer's next invoice is numbered and headed by it."""

import base64

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import BillingEntity
from invoicing.services import Actor, invoice_finalize, subscription_generate_interim
from tests.factories import CustomerFactory, MeterFactory, PlanFactory, SubscriptionFactory, UsageChargeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def test_finance_adds_a_billing_entity_and_bills_a_customer_from_it(finance_page, screenshot, tmp_path):
    page = finance_page
    customer = CustomerFactory(name="Kunde AG", external_id="kunde")
    plan = PlanFactory(name="Growth")
    UsageChargeFactory(plan=plan, meter=MeterFactory())
    subscription = SubscriptionFactory(customer=customer, plan=plan)
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings · Billing entities")
    page.get_by_role("link", name="New billing entity").click()
    page.locator("#id_name").fill("EU")
    page.locator("#id_legal_name").fill("Acme Europe GmbH")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Tax ID").fill("136 695 976")
    page.locator("#id_invoice_prefix").fill("eu")
    page.locator("#id_net_days").fill("14")
    page.get_by_label("Logo", exact=True).set_input_files(str(logo))
    page.get_by_role("button", name="Create billing entity").click()

    expect(page.get_by_text("Billing entity EU saved.")).to_be_visible()
    expect(page.get_by_role("img", name="Logo of Acme Europe GmbH")).to_be_visible()
    screenshot(page, "billing-entity-created")
    entity = BillingEntity.objects.get(name="EU")
    assert (entity.tax_id, entity.invoice_prefix) == ("DE136695976", "EU")

    page.goto(f"/customers/{customer.pk}/edit/")
    page.get_by_label("Billed by").select_option(label="EU")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Customer Kunde AG saved.")).to_be_visible()

    invoice = subscription_generate_interim(subscription=subscription, now=timezone.now(), actor=Actor.task("test"))
    invoice = invoice_finalize(invoice=invoice, now=timezone.now(), actor=Actor.task("test"))
    page.goto(f"/invoices/{invoice.pk}/")
    expect(page.get_by_role("heading", name=f"Invoice EU-{timezone.now().year}-000001")).to_be_visible()
    expect(page.locator(".doc-seller")).to_contain_text("Acme Europe GmbH")
    expect(page.locator(".doc-seller")).to_contain_text("Tax ID: DE136695976")
    screenshot(page, "invoice-from-billing-entity")
