"""Every ingesting process keeps external_id → customer id in memory; external ids never change, but a
customer can be deleted (and created again under the same external id) by another process. The write
then finds the cached id gone, nothing is stored, and the ingestion runs once more from the database."""

import pytest
from rest_framework.test import APIClient

from customers.models import Customer
from metering import lookups
from metering.choices import AggregationType
from metering.models import UsageEvent
from tests.factories import CustomerFactory, MeterFactory, make_api_key

# Committed transactions, as in production: the foreign key is checked when the INSERT commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(transactional_db):
    _, raw_key = make_api_key(scopes=["usage.write", "usage.read"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client


def cached_then_deleted(external_id):
    """A customer this process has in its map, deleted elsewhere (the map is not told)."""
    customer = CustomerFactory(external_id=external_id)
    assert lookups.customer_ids({external_id}, create=False) == {external_id: customer.pk}
    Customer.objects.filter(pk=customer.pk).delete()
    return customer


def test_track_for_a_deleted_customer_creates_it_again(api):
    meter = MeterFactory(aggregation_type=AggregationType.COUNT, property_name="")
    gone = cached_then_deleted("acme")

    response = api.post(
        "/api/v1/sdk/track", {"meter_token": str(meter.token), "customer_external_id": "acme", "quantity": 1}, format="json"
    )

    assert response.status_code == 201, response.content
    again = Customer.objects.get(external_id="acme")
    assert again.pk != gone.pk
    assert response.json()["customer_id"] == str(again.pk)
    assert list(UsageEvent.objects.values_list("customer_id", flat=True)) == [again.pk]


def test_a_customer_deleted_and_created_again_gets_the_events(api):
    MeterFactory(aggregation_type=AggregationType.COUNT, property_name="", event_name="api.call")
    cached_then_deleted("acme")
    recreated = CustomerFactory(external_id="acme")

    response = api.post("/api/v1/events", {"event_name": "api.call", "external_customer_id": "acme"}, format="json")

    assert response.status_code == 202, response.content
    assert list(UsageEvent.objects.values_list("customer_id", flat=True)) == [recreated.pk]


def test_flexprice_events_for_a_deleted_customer_are_not_found_and_the_rest_of_a_bulk_is_stored(api):
    MeterFactory(aggregation_type=AggregationType.COUNT, property_name="", event_name="api.call")
    cached_then_deleted("acme")
    other = CustomerFactory(external_id="globex")

    single = api.post("/api/v1/events", {"event_name": "api.call", "external_customer_id": "acme"}, format="json")
    bulk = api.post(
        "/api/v1/events/bulk?detail=true",
        {"events": [
            {"event_name": "api.call", "external_customer_id": "globex"},
            {"event_name": "api.call", "external_customer_id": "acme"},
        ]},
        format="json",
    )

    assert single.status_code == 400, single.content
    assert single.json()["error"] == "Customer not found: no customer has external_customer_id 'acme'"
    assert bulk.status_code == 202, bulk.content
    assert bulk.json()["results"] == ["accepted", "Customer not found: no customer has external_customer_id 'acme'"]
    assert list(UsageEvent.objects.values_list("customer_id", flat=True)) == [other.pk]


def test_usage_by_a_deleted_customers_external_id_is_not_found(api):
    meter = MeterFactory(aggregation_type=AggregationType.COUNT, property_name="")
    cached_then_deleted("gone")

    response = api.post("/api/v1/usage", {"meter_id": str(meter.pk), "customer_id": "gone", "quantity": 1}, format="json")

    assert response.status_code == 404, response.content
    assert response.json()["field"] == "customer_id"
    assert not UsageEvent.objects.exists()


def test_a_bulk_naming_a_customer_deleted_and_created_again_is_stored_whole(api):
    MeterFactory(aggregation_type=AggregationType.COUNT, property_name="", event_name="api.call")
    other = CustomerFactory(external_id="globex")
    cached_then_deleted("acme")
    recreated = CustomerFactory(external_id="acme")

    bulk = api.post(
        "/api/v1/events/bulk?detail=true",
        {"events": [
            {"event_name": "api.call", "external_customer_id": "globex"},
            {"event_name": "api.call", "external_customer_id": "acme"},
        ]},
        format="json",
    )

    assert bulk.status_code == 202, bulk.content
    assert bulk.json()["results"] == ["accepted", "accepted"]
    assert sorted(UsageEvent.objects.values_list("customer_id", flat=True)) == sorted([other.pk, recreated.pk])
