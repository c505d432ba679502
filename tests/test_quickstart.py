"""The seed quickstart (002), steps 1–5, request for request, with the cookie the docs use."""

import pytest
from rest_framework.test import APIClient

from apikeys.services import api_key_authenticate, hash_key
from django.utils import timezone


@pytest.fixture
def logged_in(staff_user):
    client = APIClient()
    response = client.post("/api/v1/auth/login", {"email": "finance@example.com", "password": "pass-word-123"}, format="json")
    assert response.status_code == 200, response.content
    token = response.cookies["access_token"].value
    # Send exactly what the docs send: `Cookie: access_token=<token>`, nothing else.
    fresh = APIClient()
    fresh.cookies["access_token"] = token
    return fresh


@pytest.mark.django_db
def test_quickstart_steps_1_to_5(logged_in):
    feature = logged_in.post(
        "/api/v1/features",
        {
            "name": "API Calls",
            "lookup_key": "api_calls",
            "type": "meter",
            "meter_name": "api_calls",
            "property_name": "call_count",
            "aggregation_type": "SUM",
            "unit": "calls",
        },
        format="json",
    )
    assert feature.status_code == 201, feature.content
    meter_id = feature.json()["meter_id"]
    assert feature.json()["meter_token"]
    assert feature.json()["aggregation_type"] == "SUM"

    plan = logged_in.post(
        "/api/v1/plans",
        {"name": "Starter", "lookup_id": "starter", "type": "USAGE", "billing_interval": "month", "currency": "USD"},
        format="json",
    )
    assert plan.status_code == 201, plan.content
    plan_id = plan.json()["id"]

    charge = logged_in.post(
        f"/api/v1/plans/{plan_id}/charges",
        {"type": "USAGE", "meter_id": meter_id, "unit_price": 0.001, "display_name": "API Call Charge"},
        format="json",
    )
    assert charge.status_code == 201, charge.content
    assert charge.json()["unit_price"] == "0.001"
    assert charge.json()["pricing_model"] == "per_unit"

    customer = logged_in.post(
        "/api/v1/customers",
        {"name": "Acme Corp", "email": "billing@acme.com", "external_id": "acme-corp-001"},
        format="json",
    )
    assert customer.status_code == 201, customer.content
    customer_id = customer.json()["id"]

    subscription = logged_in.post(
        "/api/v1/subscriptions",
        {"customer_id": customer_id, "plan_id": plan_id, "billing_interval": "month", "start_date": "2025-01-01T00:00:00Z"},
        format="json",
    )
    assert subscription.status_code == 201, subscription.content
    body = subscription.json()
    assert body["status"] == "ACTIVE"
    assert body["current_period_start"].startswith("2025-01-01T00:00:00")
    assert body["current_period_end"].startswith("2025-02-01T00:00:00")

    key = logged_in.post("/api/v1/api-keys", {"name": "Production SDK Key", "scopes": ["usage.write"]}, format="json")
    assert key.status_code == 201, key.content
    raw = key.json()["key"]
    assert raw.startswith("org_live_") and len(raw) >= len("org_live_") + 32
    assert api_key_authenticate(raw_key=raw, now=timezone.now()).scopes == ["usage.write"]

    listed = logged_in.get("/api/v1/api-keys").json()["results"]
    assert all("key" not in item for item in listed)
    assert raw not in str(listed) and hash_key(raw) not in str(listed)
