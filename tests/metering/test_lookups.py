"""The in-process ingestion caches stay bounded whatever names clients send (metering.lookups, apikeys key cache)."""

import pytest

from apikeys import services as apikey_services
from metering import lookups
from tests.factories import CustomerFactory, MeterFactory, make_api_key

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
TRACK = "/api/v1/sdk/track"


def test_unknown_event_names_do_not_grow_the_meter_cache(admin_api, settings):
    settings.FLUXBILL_LOOKUP_MISS_CACHE_SIZE = 25
    meter = MeterFactory(event_name="api.calls", aggregation_type="COUNT")
    CustomerFactory(external_id="acme")
    assert admin_api.post(EVENTS, {"event_name": "api.calls", "external_customer_id": "acme"}, format="json").status_code == 202

    for i in range(300):
        response = admin_api.post(EVENTS, {"event_name": f"unknown.{i}", "external_customer_id": "acme"}, format="json")
        assert response.status_code == 400, response.content

    # Only the meter that exists is kept among the meters; the unknown names fill at most the small map.
    assert len(lookups._meters) == 1
    assert lookups.cache_sizes()["meter_misses"] <= 25
    # The real meter was not pushed out by them.
    assert lookups.meter_by_event_name("api.calls").id == meter.id


def test_customer_map_keeps_at_most_its_size(admin_api, settings):
    settings.FLUXBILL_CUSTOMER_CACHE_SIZE = 20
    meter = MeterFactory(aggregation_type="COUNT")
    for i in range(60):
        response = admin_api.post(
            TRACK, {"meter_token": str(meter.token), "customer_external_id": f"c{i}", "quantity": 1}, format="json"
        )
        assert response.status_code == 201, response.content
    assert len(lookups._customers) == 20
    # The most recent customers are the ones kept, and an evicted one is found again in the database.
    assert lookups.customer_ids({"c0"}, create=False).keys() == {"c0"}


def test_api_key_cache_keeps_at_most_its_size(settings):
    settings.FLUXBILL_API_KEY_CACHE_SIZE = 5
    from django.utils import timezone

    for _ in range(12):
        _, raw = make_api_key(scopes=("usage.write",))
        apikey_services.api_key_authenticate(raw_key=raw, now=timezone.now(), cached=True)
    assert len(apikey_services._key_cache) == 5
