"""Every main page opens in a real browser with data on it, without JavaScript errors; each leaves a
screenshot in test-artifacts/screenshots/ for people to look at."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from catalog.choices import ChargeType, PlanType, PricingModel
from catalog.services import charge_create
from fluxbill.core.roles import SUPPORT
from invoicing.services import Actor, invoice_finalize, subscription_generate_interim
from tests.factories import (
    CustomerFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageEventFactory,
    make_api_key,
)

from .helpers import page_exists

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAV = [
    ("Overview", "overview"),
    ("Features", "meters"),
    ("Plans", "plans"),
    ("Customers", "customers"),
    ("Subscriptions", "subscriptions"),
    ("Invoices", "invoices"),
    ("API keys", "api-keys"),
    ("Event debugger", "event-debugger"),
    ("Settings", "settings-billing-entities"),
]


@pytest.fixture
def billed_customer():
    """A customer on a plan with a graduated charge, some usage and a finalized invoice."""
    meter = MeterFactory(name="API calls", lookup_key="api_calls", event_name="api.calls", property_name="value", unit="calls")
    plan = PlanFactory(name="Growth", lookup_id="growth", type=PlanType.USAGE)
    charge_create(
        plan=plan,
        type=ChargeType.USAGE,
        meter=meter,
        pricing_model=PricingModel.GRADUATED,
        tiers=[{"up_to": "10", "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.50"}],
    )
    customer = CustomerFactory(name="Acme Corp", external_id="acme", email="billing@acme.test")
    subscription = SubscriptionFactory(customer=customer, plan=plan)
    for quantity in ("10", "10", "5"):
        UsageEventFactory(meter=meter, customer=customer, quantity=Decimal(quantity), source="api")
    invoice = subscription_generate_interim(subscription=subscription, now=timezone.now(), actor=Actor.task("test"))
    invoice = invoice_finalize(invoice=invoice, now=timezone.now(), actor=Actor.task("test"))
    make_api_key(name="Production backend", scopes=["usage.write"])
    return {"meter": meter, "plan": plan, "customer": customer, "subscription": subscription, "invoice": invoice}


def _open(page, screenshot, name):
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    screenshot(page, name)


def test_every_main_page_renders(finance_page, login_as, billed_customer, screenshot):
    page = finance_page
    nav = page.get_by_role("navigation", name="Main")
    for label, name in NAV:
        nav.get_by_role("link", name=label, exact=True).click()
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_attribute("aria-current", "page")
        _open(page, screenshot, name)

    details = [
        ("metering:meter-detail", billed_customer["meter"].pk, "meter"),
        ("catalog:plan-detail", billed_customer["plan"].pk, "plan"),
        ("customers:customer-detail", billed_customer["customer"].pk, "customer"),
        ("customers:subscription-detail", billed_customer["subscription"].pk, "subscription"),
        ("invoicing:invoice-detail", billed_customer["invoice"].pk, "invoice"),
        ("customers:billing-entity-edit", billed_customer["customer"].billing_entity_id, "billing-entity"),
    ]
    for url_name, pk, name in details:
        if not page_exists(url_name, pk):
            continue
        response = page.goto(reverse(url_name, args=[pk]))
        assert response.status == 200, url_name
        _open(page, screenshot, name)

    # Support reads every page too (without Finance's buttons).
    support = login_as("sam", SUPPORT)
    nav = support.get_by_role("navigation", name="Main")
    for label, _ in NAV:
        nav.get_by_role("link", name=label, exact=True).click()
        expect(support.get_by_role("heading", level=1).first).to_be_visible()
    if page_exists("invoicing:invoice-detail", billed_customer["invoice"].pk):
        support.goto(reverse("invoicing:invoice-detail", args=[billed_customer["invoice"].pk]))
        expect(support.get_by_role("button", name="Regenerate")).to_be_visible()
        expect(support.get_by_role("button", name="Void invoice")).to_have_count(0)
        _open(support, screenshot, "invoice-as-support")
