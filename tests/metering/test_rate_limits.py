"""Per-key rate limits on ingestion: fixed one-minute windows counted in the Django cache."""

import time

import pytest
from django.core.cache import cache

from metering.choices import AggregationType
from metering.models import UsageEvent
from tests.factories import CustomerFactory, MeterFactory

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
BULK = "/api/v1/events/bulk"
EVENT = {"event_name": "api.calls", "external_customer_id": "cust_123"}


@pytest.fixture(autouse=True)
def fresh_window():
    cache.clear()
    # The limiter counts per calendar minute; a test crossing into the next minute would start a new count.
    into_minute = time.time() % 60
    if into_minute > 55:
        time.sleep(60 - into_minute + 0.1)
    yield
    cache.clear()


@pytest.fixture
def setup(db):
    MeterFactory(event_name="api.calls", aggregation_type=AggregationType.COUNT, property_name="")
    CustomerFactory(external_id="cust_123")


def test_fourth_single_event_in_a_minute_is_429(key_client, setup, settings):
    settings.FLUXBILL_RATE_LIMIT_SINGLE = 3
    busy = key_client("usage.write", "usage.read")
    other = key_client("usage.write")

    statuses = [busy.post(EVENTS, EVENT, format="json").status_code for _ in range(3)]
    limited = busy.post(EVENTS, EVENT, format="json")

    assert statuses == [202, 202, 202]
    assert limited.status_code == 429, limited.content
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]
    assert UsageEvent.objects.count() == 3
    # Another key has its own count.
    assert other.post(EVENTS, EVENT, format="json").status_code == 202
    assert UsageEvent.objects.count() == 4


def test_get_requests_are_not_limited(key_client, setup, settings):
    settings.FLUXBILL_RATE_LIMIT_SINGLE = 3
    client = key_client("usage.write", "usage.read")
    for _ in range(3):
        assert client.post(EVENTS, EVENT, format="json").status_code == 202
    assert client.post(EVENTS, EVENT, format="json").status_code == 429

    statuses = [client.get(EVENTS).status_code for _ in range(5)]

    assert statuses == [200] * 5


def test_sdk_track_is_limited_too(key_client, settings):
    settings.FLUXBILL_RATE_LIMIT_SINGLE = 2
    meter = MeterFactory()
    client = key_client("usage.write")
    body = {"meter_token": str(meter.token), "customer_external_id": "acme", "quantity": 1}

    statuses = [client.post("/api/v1/sdk/track", body, format="json").status_code for _ in range(3)]

    assert statuses == [201, 201, 429]
    assert UsageEvent.objects.count() == 2


def test_bulk_limit(key_client, setup, settings):
    settings.FLUXBILL_RATE_LIMIT_BULK = 2
    busy = key_client("usage.write")
    other = key_client("usage.write")
    body = {"events": [EVENT, EVENT]}

    statuses = [busy.post(BULK, body, format="json").status_code for _ in range(2)]
    limited = busy.post(BULK, body, format="json")

    assert statuses == [202, 202]
    assert limited.status_code == 429, limited.content
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["error"]
    assert UsageEvent.objects.count() == 4
    assert other.post(BULK, body, format="json").status_code == 202
    # The bulk count is its own: single events from the same key still go through.
    assert busy.post(EVENTS, EVENT, format="json").status_code == 202


def test_zero_turns_the_limit_off(key_client, setup, settings):
    settings.FLUXBILL_RATE_LIMIT_SINGLE = 0
    client = key_client("usage.write")

    statuses = {client.post(EVENTS, EVENT, format="json").status_code for _ in range(5)}

    assert statuses == {202}
