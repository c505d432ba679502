"""The bad-input catalogue: every hostile or broken request gets a 4xx that says what is wrong,
and leaves no row behind."""

import json

import pytest

from catalog.models import Charge, Plan
from customers.models import Customer
from metering.models import Meter, UsageEvent
from tests.factories import MeterFactory, PlanFactory

ENDPOINTS = ["/api/v1/features", "/api/v1/plans", "/api/v1/customers", "/api/v1/subscriptions", "/api/v1/api-keys",
             "/api/v1/sdk/track", "/api/v1/usage", "/api/v1/events", "/api/v1/events/bulk"]


def _row_counts():
    return (Meter.objects.count(), Plan.objects.count(), Charge.objects.count(), Customer.objects.count(),
            UsageEvent.objects.count())


@pytest.fixture
def client(admin_api):
    return admin_api


def _assert_clear_4xx(response, status):
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ENDPOINTS)
def test_oversized_body_is_413(client, settings, url):
    settings.FLUXBILL_MAX_BODY_BYTES = 10_000
    before = _row_counts()
    payload = json.dumps({"name": "x" * 20_000})
    _assert_clear_4xx(client.post(url, payload, content_type="application/json"), 413)
    assert _row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("url", ENDPOINTS)
def test_deeply_nested_json_is_400(client, url):
    payload = "[" * 50_000 + "]" * 50_000
    _assert_clear_4xx(client.post(url, payload, content_type="application/json"), 400)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ENDPOINTS)
def test_wrong_content_type_is_415(client, url):
    before = _row_counts()
    response = client.post(url, "name=x", content_type="application/x-www-form-urlencoded")
    _assert_clear_4xx(response, 415)
    assert "application/x-www-form-urlencoded" in response.json()["error"]
    assert _row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("url", ENDPOINTS)
def test_invalid_utf8_is_400(client, url):
    response = client.post(url, b'{"name": "\xff\xfe"}', content_type="application/json")
    _assert_clear_4xx(response, 400)
    assert "utf-8" in response.json()["error"].lower()


@pytest.mark.django_db
@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("body", ['{"a": "\\u0000"}', '{"a": "\\ud800"}', "null", "[]", '"text"', "12", "{"])
def test_unstorable_or_malformed_json_is_400(client, url, body):
    before = _row_counts()
    _assert_clear_4xx(client.post(url, body, content_type="application/json"), 400)
    assert _row_counts() == before


@pytest.mark.django_db
def test_injection_strings_are_stored_verbatim_and_returned_as_data(client):
    nasty = "Robert'); DROP TABLE customers_customer;-- <script>alert(1)</script>"
    created = client.post("/api/v1/customers", {"external_id": "bobby", "name": nasty}, format="json")
    assert created.status_code == 201
    assert client.get("/api/v1/customers/bobby").json()["name"] == nasty
    assert Customer.objects.get(external_id="bobby").name == nasty
    found = client.get("/api/v1/customers", {"search": "'); DROP"}).json()["results"]
    assert [c["external_id"] for c in found] == ["bobby"]


@pytest.mark.django_db
def test_injection_in_event_properties_is_stored_verbatim(client):
    MeterFactory(event_name="evil.event", aggregation_type="COUNT", property_name="")
    client.post("/api/v1/customers", {"external_id": "c1"}, format="json")
    props = {"q": "1' OR '1'='1", "html": "<img src=x onerror=alert(1)>", "nested": {"k": ["$where", "{{7*7}}"]}}
    response = client.post("/api/v1/events", {"event_name": "evil.event", "external_customer_id": "c1", "properties": props}, format="json")
    assert response.status_code == 202
    assert UsageEvent.objects.get().properties == props


@pytest.mark.django_db
@pytest.mark.parametrize(
    "quantity",
    [10**30, "1e400", "-0.0000000001", "0.00000000001", "1" * 5000, True, [], {}],
)
def test_absurd_numbers_are_400_naming_quantity(client, quantity):
    meter = MeterFactory()
    body = {"meter_token": str(meter.token), "customer_external_id": "c1", "quantity": quantity}
    response = client.post("/api/v1/sdk/track", body, format="json")
    _assert_clear_4xx(response, 400)
    assert response.json()["field"] in ("quantity", None)
    assert UsageEvent.objects.count() == 0 and Customer.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2025-13-01T00:00:00Z", "yesterday", 1700000000])
def test_absurd_timestamps_are_400_naming_timestamp(client, timestamp):
    meter = MeterFactory()
    body = {"meter_token": str(meter.token), "customer_external_id": "c1", "quantity": 1, "timestamp": timestamp}
    response = client.post("/api/v1/sdk/track", body, format="json")
    _assert_clear_4xx(response, 400)
    assert response.json()["field"] == "timestamp"
    assert UsageEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url,body",
    [
        ("/api/v1/customers", {"external_id": "c9", "nickname": "x"}),
        ("/api/v1/plans", {"name": "P", "lookup_id": "p", "currency": "USD", "colour": "red"}),
        ("/api/v1/features", {"name": "F", "lookup_key": "f", "meter_name": "f", "aggregation_type": "COUNT", "extra": 1}),
    ],
)
def test_unknown_fields_are_400_naming_them(client, url, body):
    before = _row_counts()
    response = client.post(url, body, format="json")
    _assert_clear_4xx(response, 400)
    unknown = (set(body) - {"external_id", "name", "lookup_id", "currency", "lookup_key", "meter_name", "aggregation_type"}).pop()
    assert response.json()["field"] == unknown
    assert _row_counts() == before


@pytest.mark.django_db
def test_failed_charge_leaves_the_plan_without_a_half_written_charge(client):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()
    bad = {"type": "USAGE", "meter_id": str(meter.pk), "pricing_model": "graduated",
           "tiers": [{"up_to": 100, "unit_price": "1"}, {"up_to": 50, "unit_price": "0.5"}, {"up_to": None, "unit_price": "0.1"}]}
    response = client.post(f"/api/v1/plans/{plan.pk}/charges", bad, format="json")
    _assert_clear_4xx(response, 400)
    assert response.json()["field"] == "tiers[1].up_to"
    assert Charge.objects.count() == 0
