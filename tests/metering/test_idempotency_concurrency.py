"""Idempotency and customer creation under concurrency: 20 clients at once, committed transactions.

The database's unique constraints decide; a read-then-write would store two rows here.
"""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from customers.models import Customer
from metering.choices import AggregationType
from metering.models import UsageEvent
from tests.factories import CustomerFactory, MeterFactory, make_api_key

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 20


def run_at_once(send):
    """Call send(client) from CLIENTS threads released together; returns (status, json) per thread."""
    _, raw_key = make_api_key(scopes=["usage.write"])
    barrier = threading.Barrier(CLIENTS)
    answers = [None] * CLIENTS
    failures = []

    def worker(index):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=raw_key)
        try:
            barrier.wait(timeout=30)
            response = send(client, index)
            answers[index] = (response.status_code, response.json())
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert not failures, failures
    return answers


def test_same_idempotency_key_on_sdk_track_stores_one_event():
    meter = MeterFactory(aggregation_type=AggregationType.SUM)
    CustomerFactory(external_id="acme")
    body = {
        "meter_token": str(meter.token),
        "customer_external_id": "acme",
        "quantity": 3,
        "idempotency_key": "order_789_step_3",
    }

    answers = run_at_once(lambda client, _: client.post("/api/v1/sdk/track", body, format="json"))

    assert [status for status, _ in answers] == [201] * CLIENTS, answers
    event = UsageEvent.objects.get()
    assert {payload["id"] for _, payload in answers} == {str(event.pk)}
    assert event.quantity == Decimal("3")


def test_same_event_id_on_events_stores_one_event():
    MeterFactory(event_name="model.usage", aggregation_type=AggregationType.SUM, property_name="credits")
    CustomerFactory(external_id="cust_123")
    body = {
        "event_name": "model.usage",
        "external_customer_id": "cust_123",
        "properties": {"credits": 2},
        "event_id": "evt_abc123",
    }

    answers = run_at_once(lambda client, _: client.post("/api/v1/events", body, format="json"))

    assert [status for status, _ in answers] == [202] * CLIENTS, answers
    expected = {"event_id": "evt_abc123", "message": "Event accepted for processing"}
    assert all(payload == expected for _, payload in answers), answers
    assert UsageEvent.objects.get().quantity == Decimal("2")


def test_same_event_ids_in_concurrent_bulk_requests_store_each_once():
    MeterFactory(event_name="model.usage", aggregation_type=AggregationType.SUM, property_name="credits")
    CustomerFactory(external_id="cust_123")
    events = [
        {
            "event_name": "model.usage",
            "external_customer_id": "cust_123",
            "properties": {"credits": i},
            "event_id": f"evt_{i}",
        }
        for i in range(1, 6)
    ]

    answers = run_at_once(lambda client, _: client.post("/api/v1/events/bulk", {"events": events}, format="json"))

    assert [status for status, _ in answers] == [202] * CLIENTS, answers
    assert sum(int(payload["accepted"]) for _, payload in answers) == 5
    assert sum(int(payload["duplicates"]) for _, payload in answers) == 5 * CLIENTS - 5
    assert sorted(UsageEvent.objects.values_list("idempotency_key", "quantity")) == [
        (f"evt_{i}", Decimal(i)) for i in range(1, 6)
    ]


def test_concurrent_first_events_for_a_new_customer_create_it_once():
    meter = MeterFactory(aggregation_type=AggregationType.COUNT, property_name="")

    def send(client, index):
        body = {
            "meter_token": str(meter.token),
            "customer_external_id": "brand-new-customer",
            "quantity": 1,
            "idempotency_key": f"first_{index}",
        }
        return client.post("/api/v1/sdk/track", body, format="json")

    answers = run_at_once(send)

    assert [status for status, _ in answers] == [201] * CLIENTS, answers
    customer = Customer.objects.get(external_id="brand-new-customer")
    assert {payload["customer_id"] for _, payload in answers} == {str(customer.pk)}
    assert UsageEvent.objects.filter(customer=customer).count() == CLIENTS
    assert Customer.objects.count() == 1
