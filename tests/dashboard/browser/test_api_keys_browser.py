"""API keys in a real browser: create one (shown once, copied), use it from outside, revoke it."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from apikeys.models import ApiKey
from metering.models import UsageEvent
from tests.factories import CustomerFactory, MeterFactory

from .helpers import api_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_finance_creates_copies_uses_and_revokes_a_key(finance_page, absolute, screenshot):
    page = finance_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    MeterFactory(event_name="api.calls", property_name="value")
    customer = CustomerFactory(external_id="cust_browser")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    page.get_by_role("link", name="Create your first API key").click()

    # Forgetting the scopes keeps what was typed and says what is missing, beside the scopes.
    page.get_by_label("Name").fill("Ingest backend")
    page.get_by_role("button", name="Create key").click()
    scopes = page.get_by_role("group", name="Scopes")
    expect(scopes.get_by_text("Pick at least one scope")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Ingest backend")
    screenshot(page, "api-key-form-errors")

    scopes.get_by_role("checkbox", name=re.compile(r"^usage\.write")).check()
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_role("heading", name="API key “Ingest backend” created")).to_be_visible()
    raw_key = page.get_by_label("Your new API key").inner_text().strip()
    assert raw_key.startswith("org_live_")
    assert raw_key not in page.url
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == raw_key
    screenshot(page, "api-key-created")

    # The key works from the customer's side of the API.
    status, body = api_post(
        absolute("/api/v1/events"),
        {"event_name": "api.calls", "external_customer_id": "cust_browser", "properties": {"value": 3}},
        api_key=raw_key,
    )
    assert status == 202, body
    assert UsageEvent.objects.get(customer=customer).quantity == Decimal("3")

    # Shown once: a reload lands on the list, which says so and holds only the prefix.
    page.reload()
    expect(page).to_have_url(re.compile(r"/api-keys/$"))
    expect(page.get_by_role("status")).to_contain_text("cannot be shown again")
    assert raw_key not in page.content()
    key = ApiKey.objects.get()
    row = page.get_by_role("row", name=re.compile("Ingest backend"))
    expect(row).to_contain_text(f"{key.prefix}…")
    expect(row).to_contain_text("usage.write")
    expect(row).to_contain_text("Active")
    expect(row.get_by_role("cell").nth(4)).not_to_have_text("Never")  # last used
    screenshot(page, "api-keys")

    row.get_by_role("link", name="Revoke Ingest backend").click()
    expect(page.get_by_role("heading", name="Revoke “Ingest backend”?")).to_be_visible()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status")).to_contain_text("Revoked “Ingest backend”")
    expect(page.get_by_role("row", name=re.compile("Ingest backend"))).to_contain_text("Revoked")

    status, body = api_post(
        absolute("/api/v1/events"), {"event_name": "api.calls", "external_customer_id": "cust_browser"}, api_key=raw_key
    )
    assert status == 401
    assert "revoked" in body["error"]


def test_support_sees_keys_but_cannot_create_them(support_page):
    page = support_page
    page.goto("/api-keys/")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_text("Ask someone in Finance")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Create"))).to_have_count(0)

    response = page.goto("/api-keys/new/")
    assert response.status == 403
