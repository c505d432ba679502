"""Ingestion POSTs reuse a recently read API key; everything else reads it on every request."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apikeys import services
from apikeys.models import ApiKey
from metering.choices import AggregationType
from tests.factories import CustomerFactory, MeterFactory, make_api_key

pytestmark = pytest.mark.django_db

TRACK = "/api/v1/sdk/track"
EVENTS = "/api/v1/events"


def client_for(raw_key):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client


@pytest.fixture
def track():
    meter = MeterFactory(aggregation_type=AggregationType.SUM, property_name="tokens")
    CustomerFactory(external_id="acme")

    def send(client, **overrides):
        body = {"meter_token": str(meter.token), "customer_external_id": "acme", "quantity": 1, **overrides}
        return client.post(TRACK, body, format="json")

    return send


def key_queries(captured):
    return [q for q in captured.captured_queries if "apikeys_apikey" in q["sql"] and q["sql"].startswith("SELECT")]


def test_second_ingestion_post_reads_no_key(track, django_assert_max_num_queries):
    _, raw = make_api_key(scopes=["usage.write"])
    client = client_for(raw)
    assert track(client).status_code == 201

    with django_assert_max_num_queries(10) as captured:
        assert track(client).status_code == 201

    assert key_queries(captured) == []


def test_revoking_through_the_service_refuses_the_cached_key_at_once(track):
    key, raw = make_api_key(scopes=["usage.write"])
    client = client_for(raw)
    assert track(client).status_code == 201

    services.api_key_revoke(key=key, now=timezone.now())

    response = track(client)
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "API key has been revoked"


def test_cached_key_still_expires_on_time(track):
    _, raw = make_api_key(scopes=["usage.write"], expires_at=timezone.now() + datetime.timedelta(hours=1))
    client = client_for(raw)
    assert track(client).status_code == 201

    # Expiry is judged against the copy's expires_at on every request: no database read needed.
    later = timezone.now() + datetime.timedelta(hours=2)
    with pytest.raises(services.KeyRejected, match="expired"):
        services.api_key_authenticate(raw_key=raw, now=later, cached=True)


def test_out_of_band_revocation_reaches_ingestion_once_the_copy_is_stale(track):
    key, raw = make_api_key(scopes=["usage.write"])
    client = client_for(raw)
    assert track(client).status_code == 201
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())

    # Within FLUXBILL_API_KEY_CACHE_SECONDS the copy still answers; then the row is read again.
    assert track(client).status_code == 201
    services._key_cache.set(key.key_hash, (0.0, services._key_cache.get(key.key_hash)[1]))
    assert track(client).status_code == 401


def test_cache_seconds_zero_reads_the_key_every_time(track, settings, django_assert_max_num_queries):
    settings.FLUXBILL_API_KEY_CACHE_SECONDS = 0
    _, raw = make_api_key(scopes=["usage.write"])
    client = client_for(raw)
    assert track(client).status_code == 201

    with django_assert_max_num_queries(10) as captured:
        assert track(client).status_code == 201

    assert len(key_queries(captured)) == 1


def test_reads_and_management_calls_read_the_key_every_time(django_assert_max_num_queries):
    _, raw = make_api_key(scopes=["usage.read"])
    client = client_for(raw)
    assert client.get(EVENTS).status_code == 200

    with django_assert_max_num_queries(10) as captured:
        assert client.get(EVENTS).status_code == 200

    assert len(key_queries(captured)) == 1


def test_unknown_keys_are_not_cached(track):
    response = track(client_for("org_live_" + "x" * 43))

    assert response.status_code == 401
    assert len(services._key_cache) == 0
