"""Django admin under the Content-Security-Policy: its pages and scripts work, and Chromium reports no
violation (the page fixture fails a test on any CSP console error)."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.factories import CustomerFactory, make_api_key

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_changelist_change_form_and_action_confirmation_work(page):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    customer = CustomerFactory(name="Acme Corp")
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Customers", exact=True)).to_be_visible()

    key, _ = make_api_key(name="Backend")
    page.goto("/admin/apikeys/apikey/")
    expect(page.get_by_role("link", name="Backend")).to_be_visible()
    # The admin's own JavaScript (actions.js) runs: ticking a row counts it.
    page.locator(f'input[name="_selected_action"][value="{key.pk}"]').check()
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")

    page.goto(f"/admin/customers/customer/{customer.pk}/change/")
    expect(page.locator("#id_name")).to_have_value("Acme Corp")
    assert page.js_errors == []
