"""Django admin under the Content-Security-Policy: its pages and scripts work, and Chromium reports no
violation (the page fixture fails a test on any CSP console error)."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from invoicing.models import Invoice
from tests.factories import CustomerFactory, PlanFactory, make_api_key, default_entity

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_changelist_change_form_and_action_confirmation_work(page):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    customer = CustomerFactory(name="Acme Corp")
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # The index is grouped by what finance does; a model's link is its own admin URL.
    expect(page.locator("caption").first).to_have_text("Catalog")
    expect(page.locator("#customers-customer").get_by_role("link", name="Customers")).to_be_visible()

    key, _ = make_api_key(name="Backend")
    page.goto("/admin/apikeys/apikey/")
    expect(page.get_by_role("link", name="Backend")).to_be_visible()
    # The admin's own JavaScript (actions.js) runs: ticking a row counts it.
    page.locator(f'input[name="_selected_action"][value="{key.pk}"]').check()
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")

    page.goto(f"/admin/customers/customer/{customer.pk}/change/")
    expect(page.locator("#id_name")).to_have_value("Acme Corp")
    assert page.js_errors == []


def test_admin_tier_rows_and_the_void_page_work_under_the_csp(page):
    from django.utils import timezone
    import datetime as dt

    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    PlanFactory(name="Usage plan", type="USAGE")
    now = timezone.now()
    invoice = Invoice.objects.create(billing_entity=default_entity(), customer=CustomerFactory(), currency="USD", period_start=now - dt.timedelta(days=30), period_end=now)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto("/admin/catalog/charge/add/")
    page.get_by_label("tiers[0] up to").fill("1000")
    page.get_by_label("tiers[1] unit price").fill("0.008")
    expect(page.locator('input[name="tiers-7-flat_amount"]')).to_be_visible()

    page.goto("/admin/invoicing/invoice/")
    page.locator(f'input[name="_selected_action"][value="{invoice.pk}"]').check()
    page.locator('select[name="action"]').select_option("void")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("heading", name="Void these invoices?")).to_be_visible()
    page.get_by_label("Reason").fill("Browser check")
    page.get_by_role("button", name="Void them").click()
    expect(page.locator(".messagelist")).to_contain_text("Voided: 1 invoice(s).")
    invoice.refresh_from_db()
    assert invoice.status == "VOID"
    assert page.js_errors == []
