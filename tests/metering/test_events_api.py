"""Flexprice's ingestion contract (POST /api/v1/events, /events/bulk), the event list, and meter usage."""

import datetime
import json
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from metering.choices import AggregationType
from metering.models import UsageEvent
from tests.factories import CustomerFactory, MeterFactory, UsageEventFactory

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
BULK = "/api/v1/events/bulk"
UTC = datetime.timezone.utc
ACCEPTED = "Event accepted for processing"


def iso(moment):
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now_s():
    return timezone.now().replace(microsecond=0)


def assert_error(response, status, field):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field, body
    assert isinstance(body["error"], str) and body["error"]
    return body


@pytest.fixture
def writer(key_client):
    return key_client("usage.write")


@pytest.fixture
def reader(key_client):
    return key_client("usage.read")


@pytest.fixture
def customer(db):
    return CustomerFactory(external_id="cust_123")


@pytest.fixture
def credits_meter(db):
    return MeterFactory(event_name="model.usage", aggregation_type=AggregationType.SUM, property_name="credits")


@pytest.fixture
def calls_meter(db):
    return MeterFactory(event_name="api.calls", aggregation_type=AggregationType.COUNT, property_name="")


def event(**fields):
    body = {"event_name": "model.usage", "external_customer_id": "cust_123", "properties": {"credits": 2}}
    body.update(fields)
    return body


# --- POST /events ------------------------------------------------------------------------------


def test_event_is_accepted_with_202_and_echoes_event_id(writer, customer, credits_meter):
    moment = now_s() - datetime.timedelta(hours=5)

    response = writer.post(
        EVENTS,
        event(
            properties={"credits": 2, "model": "gpt-4", "region": "us-east-1"},
            event_id="evt_abc123",
            timestamp=iso(moment),
            source="api",
        ),
        format="json",
    )

    assert response.status_code == 202, response.content
    assert response.json() == {"event_id": "evt_abc123", "message": ACCEPTED}
    stored = UsageEvent.objects.get()
    assert stored.meter_id == credits_meter.pk
    assert stored.customer_id == customer.pk
    assert stored.quantity == Decimal("2")
    assert stored.idempotency_key == "evt_abc123"
    assert stored.timestamp == moment
    assert stored.source == "api"
    assert stored.properties == {"credits": 2, "model": "gpt-4", "region": "us-east-1"}


def test_event_without_event_id_answers_a_string_id(writer, customer, credits_meter):
    response = writer.post(EVENTS, event(), format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"event_id", "message"}
    assert all(isinstance(value, str) for value in body.values())
    assert body["message"] == ACCEPTED
    stored = UsageEvent.objects.get()
    assert body["event_id"] == str(stored.pk)
    assert stored.idempotency_key is None


def test_count_meter_stores_quantity_one(writer, customer, calls_meter):
    response = writer.post(
        EVENTS,
        {"event_name": "api.calls", "external_customer_id": "cust_123", "properties": {"endpoint": "/v1/chat", "n": 9}},
        format="json",
    )

    assert response.status_code == 202, response.content
    assert UsageEvent.objects.get().quantity == Decimal("1")


def test_count_meter_needs_no_properties(writer, customer, calls_meter):
    response = writer.post(EVENTS, {"event_name": "api.calls", "external_customer_id": "cust_123"}, format="json")

    assert response.status_code == 202, response.content
    stored = UsageEvent.objects.get()
    assert stored.quantity == Decimal("1")
    assert stored.properties == {}


@pytest.mark.parametrize(
    "aggregation",
    [AggregationType.SUM, AggregationType.MAX, AggregationType.MIN, AggregationType.AVG, AggregationType.LATEST],
)
@pytest.mark.parametrize("value, stored", [(2, Decimal("2")), (1.5, Decimal("1.5")), ("2.75", Decimal("2.75"))])
def test_valued_meters_take_quantity_from_the_property(writer, customer, aggregation, value, stored):
    MeterFactory(event_name="storage.usage", aggregation_type=aggregation, property_name="gb")

    response = writer.post(
        EVENTS,
        {"event_name": "storage.usage", "external_customer_id": "cust_123", "properties": {"gb": value, "bucket": "b"}},
        format="json",
    )

    assert response.status_code == 202, response.content
    assert UsageEvent.objects.get().quantity == stored


def test_sum_meter_accepts_zero(writer, customer, credits_meter):
    response = writer.post(EVENTS, event(properties={"credits": 0}), format="json")

    assert response.status_code == 202, response.content
    assert UsageEvent.objects.get().quantity == Decimal("0")


@pytest.mark.parametrize("properties", [{"model": "gpt-4"}, {}, None, {"credits": None}, {"credits": ""}])
def test_missing_property_is_400_naming_it(writer, customer, credits_meter, properties):
    body = event(properties=properties)
    if properties is None:
        del body["properties"]

    response = writer.post(EVENTS, body, format="json")

    error = assert_error(response, 400, "properties.credits")
    assert "properties.credits" in error["error"]
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize("value", ["abc", -1, "-0.5", True, "Infinity", "NaN", [2], {"n": 2}, "0.00000000001"])
def test_invalid_property_value_is_400_naming_it(writer, customer, credits_meter, value):
    response = writer.post(EVENTS, event(properties={"credits": value}), format="json")

    assert_error(response, 400, "properties.credits")
    assert UsageEvent.objects.count() == 0


def test_unique_count_meter_stores_one_and_needs_the_property(writer, customer):
    MeterFactory(event_name="user.login", aggregation_type=AggregationType.UNIQUE_COUNT, property_name="user_id")

    missing = writer.post(
        EVENTS, {"event_name": "user.login", "external_customer_id": "cust_123", "properties": {"platform": "web"}},
        format="json",
    )
    present = writer.post(
        EVENTS,
        {"event_name": "user.login", "external_customer_id": "cust_123", "properties": {"user_id": "user_456"}},
        format="json",
    )

    assert_error(missing, 400, "properties.user_id")
    assert present.status_code == 202, present.content
    stored = UsageEvent.objects.get()
    assert stored.quantity == Decimal("1")
    assert stored.properties == {"user_id": "user_456"}


def test_missing_event_name_has_the_seed_message(writer, customer, credits_meter):
    body = event()
    del body["event_name"]

    response = writer.post(EVENTS, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {"error": "Missing required field: event_name", "field": "event_name"}


def test_missing_external_customer_id_is_400(writer, credits_meter):
    body = event()
    del body["external_customer_id"]

    response = writer.post(EVENTS, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {"error": "Missing required field: external_customer_id", "field": "external_customer_id"}


def test_unknown_event_name_has_the_seed_message(writer, customer, credits_meter):
    response = writer.post(EVENTS, event(event_name="unknown.event"), format="json")

    # Flexprice's page lists 202, 400, 401 and 429 only, and names the error "Event not found".
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "Event not found: no active feature has event_name 'unknown.event'"
    assert response.json()["field"] == "event_name"
    assert UsageEvent.objects.count() == 0


def test_archived_meter_event_name_is_not_found(
    writer, admin_api, customer, credits_meter, django_capture_on_commit_callbacks
):
    assert writer.post(EVENTS, event(), format="json").status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_api.delete(f"/api/v1/features/{credits_meter.pk}").status_code == 204

    response = writer.post(EVENTS, event(), format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "Event not found: no active feature has event_name 'model.usage'"
    assert UsageEvent.objects.count() == 1


def test_unknown_customer_has_the_seed_message_and_is_not_created(writer, credits_meter):
    response = writer.post(EVENTS, event(external_customer_id="invalid_id"), format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "Customer not found: no customer has external_customer_id 'invalid_id'"
    assert response.json()["field"] == "external_customer_id"
    assert not Customer.objects.filter(external_id="invalid_id").exists()
    assert UsageEvent.objects.count() == 0


def test_duplicate_event_id_stores_one_row(writer, customer, credits_meter):
    first = writer.post(EVENTS, event(event_id="evt_1", properties={"credits": 2}), format="json")
    again = writer.post(EVENTS, event(event_id="evt_1", properties={"credits": 5}), format="json")

    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() == {"event_id": "evt_1", "message": ACCEPTED}
    stored = UsageEvent.objects.get()
    assert stored.quantity == Decimal("2")


@pytest.mark.parametrize("properties", [[1, 2], "credits=2", 2, True])
def test_non_object_properties_is_400(writer, customer, credits_meter, properties):
    response = writer.post(EVENTS, event(properties=properties), format="json")

    assert_error(response, 400, "properties")
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize(
    "stamp",
    [
        "garbage",
        lambda: iso(now_s() - datetime.timedelta(days=400)),
        lambda: iso(now_s() + datetime.timedelta(hours=2)),
    ],
)
def test_bad_timestamp_is_400(writer, customer, credits_meter, stamp):
    value = stamp() if callable(stamp) else stamp

    response = writer.post(EVENTS, event(timestamp=value), format="json")

    assert_error(response, 400, "timestamp")
    assert UsageEvent.objects.count() == 0


def test_events_post_needs_usage_write(key_client, customer, credits_meter):
    response = key_client("usage.read").post(EVENTS, event(), format="json")

    assert response.status_code == 403, response.content
    assert UsageEvent.objects.count() == 0


def test_events_post_body_over_the_limit_is_413(writer, customer, credits_meter, settings):
    settings.FLUXBILL_MAX_BODY_BYTES = 100
    body = event(properties={"credits": 2, "note": "x" * 200})

    response = writer.post(EVENTS, body, format="json")

    assert response.status_code == 413, response.content
    assert response.json()["error"]
    assert UsageEvent.objects.count() == 0


def test_numbers_beyond_float_range_in_properties_are_400_not_500(writer, customer, credits_meter):
    raw = (
        '{"event_name": "model.usage", "external_customer_id": "cust_123",'
        ' "properties": {"credits": 1, "big": 1e400}}'
    )

    response = writer.post(EVENTS, data=raw, content_type="application/json")

    assert_error(response, 400, "properties")
    assert UsageEvent.objects.count() == 0


# --- POST /events/bulk ------------------------------------------------------------------------


def assert_flat_strings(body):
    assert all(isinstance(value, str) for value in body.values()), body


def test_bulk_stores_valid_events_and_reports_invalid_ones(writer, customer, credits_meter, calls_meter):
    CustomerFactory(external_id="cust-another-customer")
    events = [
        event(properties={"credits": 2}),
        event(event_name="nope"),
        {"event_name": "api.calls", "external_customer_id": "cust-another-customer"},
        event(external_customer_id="ghost"),
        event(external_customer_id="cust-another-customer", properties={"credits": 5}),
        event(properties={"model": "gpt-4"}),
    ]

    response = writer.post(BULK, {"events": events}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"message", "accepted", "duplicates", "rejected", "errors"}
    assert_flat_strings(body)
    assert body["accepted"] == "3"
    assert body["duplicates"] == "0"
    assert body["rejected"] == "3"
    assert body["message"] == "3 of 6 events accepted for processing, 3 rejected"
    assert body["errors"] == (
        "events[1]: Event not found: no active feature has event_name 'nope'; "
        "events[3]: Customer not found: no customer has external_customer_id 'ghost'; "
        "events[5]: Missing required property: properties.credits"
    )
    stored = sorted(UsageEvent.objects.values_list("meter__event_name", "customer__external_id", "quantity"))
    assert stored == [
        ("api.calls", "cust-another-customer", Decimal("1")),
        ("model.usage", "cust-another-customer", Decimal("5")),
        ("model.usage", "cust_123", Decimal("2")),
    ]
    assert not Customer.objects.filter(external_id="ghost").exists()


def test_bulk_all_valid_has_no_errors_key(writer, customer, credits_meter):
    response = writer.post(BULK, {"events": [event(), event(properties={"credits": 3})]}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"message", "accepted", "duplicates", "rejected"}
    assert body == {**body, "accepted": "2", "duplicates": "0", "rejected": "0"}
    assert_flat_strings(body)
    assert sum(UsageEvent.objects.values_list("quantity", flat=True)) == Decimal("5")


def test_bulk_detail_adds_one_result_per_index(writer, customer, credits_meter):
    events = [event(event_id="e1"), event(event_name="nope"), event(event_id="e1"), event(properties={"credits": -1})]

    response = writer.post(f"{BULK}?detail=true", {"events": events}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["results"] == [
        "accepted",
        "Event not found: no active feature has event_name 'nope'",
        "duplicate",
        "properties.credits must not be negative",
    ]
    assert body["accepted"] == "1"
    assert body["duplicates"] == "1"
    assert body["rejected"] == "2"
    assert body["message"] == "2 of 4 events accepted for processing (1 duplicate), 2 rejected"


def test_bulk_without_detail_has_no_results(writer, customer, credits_meter):
    response = writer.post(BULK, {"events": [event()]}, format="json")

    assert "results" not in response.json()


def test_bulk_all_invalid_is_400_and_stores_nothing(writer, customer, credits_meter):
    events = [event(event_name="nope"), event(external_customer_id="ghost"), "not an object"]

    response = writer.post(BULK, {"events": events}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["accepted"] == "0"
    assert body["rejected"] == "3"
    assert "events[0]: Event not found: no active feature has event_name 'nope'" in body["error"]
    assert body["message"] == "No events accepted: 3 rejected"
    assert "events[2]: " in body["errors"]
    assert UsageEvent.objects.count() == 0


def test_bulk_lists_at_most_ten_errors(writer, customer, credits_meter):
    events = [event(event_name=f"nope.{i}") for i in range(12)] + [event()]

    response = writer.post(BULK, {"events": events}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["rejected"] == "12"
    assert body["accepted"] == "1"
    listed = [part for part in body["errors"].split("; ") if part.startswith("events[")]
    assert listed == [f"events[{i}]: Event not found: no active feature has event_name 'nope.{i}'" for i in range(10)]
    assert "events[10]" not in body["errors"] and "events[11]" not in body["errors"]
    assert body["errors"].endswith("and 2 more")


def test_bulk_of_1000_events_is_accepted(writer, customer, credits_meter):
    events = [event(event_id=f"evt_{i}", properties={"credits": 1}) for i in range(1000)]

    response = writer.post(BULK, {"events": events}, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == "1000"
    assert UsageEvent.objects.count() == 1000


def test_bulk_of_1001_events_is_413(writer, customer, credits_meter):
    events = [event(event_id=f"evt_{i}") for i in range(1001)]

    response = writer.post(BULK, {"events": events}, format="json")

    assert response.status_code == 413, response.content
    assert "1001" in response.json()["error"]
    assert UsageEvent.objects.count() == 0


def test_bulk_empty_list_is_400(writer):
    assert_error(writer.post(BULK, {"events": []}, format="json"), 400, "events")


@pytest.mark.parametrize("body", [{}, {"event": [event()]}, {"events": None}, {"events": {"0": event()}}, [event()]])
def test_bulk_without_an_events_list_is_400(writer, customer, credits_meter, body):
    assert_error(writer.post(BULK, body, format="json"), 400, "events")
    assert UsageEvent.objects.count() == 0


def test_bulk_same_event_id_twice_in_one_batch(writer, customer, credits_meter):
    events = [
        event(event_id="evt_same", properties={"credits": 2}),
        event(event_id="evt_same", properties={"credits": 9}),
    ]

    response = writer.post(BULK, {"events": events}, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == "1"
    assert response.json()["duplicates"] == "1"
    assert response.json()["rejected"] == "0"
    assert UsageEvent.objects.get().quantity == Decimal("2")


def test_bulk_resent_batch_is_all_duplicates(writer, customer, credits_meter):
    events = [event(event_id="a"), event(event_id="b")]
    assert writer.post(BULK, {"events": events}, format="json").json()["accepted"] == "2"

    response = writer.post(BULK, {"events": events}, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == "0"
    assert response.json()["duplicates"] == "2"
    assert UsageEvent.objects.count() == 2


def test_bulk_body_over_the_limit_is_413(writer, customer, credits_meter, settings):
    settings.FLUXBILL_MAX_BODY_BYTES = 512
    events = [event(event_id=f"evt_{i}") for i in range(20)]
    assert len(json.dumps({"events": events})) > 512

    response = writer.post(BULK, {"events": events}, format="json")

    assert response.status_code == 413, response.content
    assert "512" in response.json()["error"]
    assert UsageEvent.objects.count() == 0


def test_bulk_event_with_unrepresentable_number_is_rejected_alone(writer, customer, credits_meter):
    raw = (
        '{"events": ['
        '{"event_name": "model.usage", "external_customer_id": "cust_123", "properties": {"credits": 1}},'
        '{"event_name": "model.usage", "external_customer_id": "cust_123", "properties": {"credits": 1, "x": 1e400}}'
        "]}"
    )

    response = writer.post(f"{BULK}?detail=true", data=raw, content_type="application/json")

    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == "1"
    assert response.json()["rejected"] == "1"
    assert response.json()["errors"].startswith("events[1]: ")
    assert UsageEvent.objects.count() == 1


def test_bulk_needs_usage_write(key_client, customer, credits_meter):
    response = key_client("usage.read").post(BULK, {"events": [event()]}, format="json")

    assert response.status_code == 403, response.content


# --- GET /events and /events/{id} ----------------------------------------------------------------


def ids(response):
    assert response.status_code == 200, response.content
    return [int(row["id"]) for row in response.json()["results"]]


def test_list_needs_usage_read(key_client):
    assert key_client("usage.write").get(EVENTS).status_code == 403
    assert key_client("usage.read").get(EVENTS).status_code == 200


def test_list_is_newest_first_by_timestamp(reader):
    base = now_s() - datetime.timedelta(days=1)
    middle = UsageEventFactory(timestamp=base + datetime.timedelta(minutes=5))
    oldest = UsageEventFactory(timestamp=base)
    newest = UsageEventFactory(timestamp=base + datetime.timedelta(minutes=10))

    assert ids(reader.get(EVENTS)) == [newest.pk, middle.pk, oldest.pk]


def test_list_row_shape(reader):
    meter = MeterFactory(event_name="model.usage")
    who = CustomerFactory(external_id="cust_123")
    moment = now_s() - datetime.timedelta(hours=1)
    stored = UsageEventFactory(
        meter=meter, customer=who, quantity=Decimal("2.5"), timestamp=moment,
        idempotency_key="evt_1", properties={"credits": 2.5}, source="api",
    )

    row = reader.get(EVENTS).json()["results"][0]

    assert row["id"] == str(stored.pk)
    assert row["event_id"] == "evt_1"
    assert row["event_name"] == "model.usage"
    assert row["meter_id"] == str(meter.pk)
    assert row["customer_id"] == str(who.pk)
    assert row["external_customer_id"] == "cust_123"
    assert row["quantity"] == "2.5"
    assert row["timestamp"] == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert row["properties"] == {"credits": 2.5}
    assert row["source"] == "api"


def test_list_filters(reader):
    base = now_s() - datetime.timedelta(days=1)
    meter_a = MeterFactory(event_name="a.events")
    meter_b = MeterFactory(event_name="b.events")
    acme = CustomerFactory(external_id="acme")
    globex = CustomerFactory(external_id="globex")
    e1 = UsageEventFactory(meter=meter_a, customer=acme, timestamp=base, source="api")
    e2 = UsageEventFactory(
        meter=meter_a, customer=globex, timestamp=base + datetime.timedelta(hours=1), source="worker"
    )
    e3 = UsageEventFactory(meter=meter_b, customer=acme, timestamp=base + datetime.timedelta(hours=2), source="api")
    e4 = UsageEventFactory(meter=meter_b, customer=globex, timestamp=base + datetime.timedelta(hours=3), source="")

    assert ids(reader.get(EVENTS, {"meter": str(meter_a.pk)})) == [e2.pk, e1.pk]
    assert ids(reader.get(EVENTS, {"customer": str(acme.pk)})) == [e3.pk, e1.pk]
    assert ids(reader.get(EVENTS, {"external_customer_id": "globex"})) == [e4.pk, e2.pk]
    assert ids(reader.get(EVENTS, {"source": "api"})) == [e3.pk, e1.pk]
    assert ids(reader.get(EVENTS, {"event_name": "b.events"})) == [e4.pk, e3.pk]
    # start_time is inclusive, end_time exclusive.
    window = {
        "start_time": iso(base + datetime.timedelta(hours=1)),
        "end_time": iso(base + datetime.timedelta(hours=3)),
    }
    assert ids(reader.get(EVENTS, window)) == [e3.pk, e2.pk]
    assert ids(reader.get(EVENTS, {"meter": str(meter_b.pk), "external_customer_id": "acme"})) == [e3.pk]


def test_list_cursor_pagination_visits_every_event_once(reader):
    base = now_s() - datetime.timedelta(days=1)
    created = [UsageEventFactory(timestamp=base + datetime.timedelta(minutes=i)) for i in range(25)]
    # Two events with one timestamp must not be lost or repeated across a page boundary.
    created.append(UsageEventFactory(timestamp=base + datetime.timedelta(minutes=15)))
    expected = [e.pk for e in sorted(created, key=lambda e: (e.timestamp, e.pk), reverse=True)]

    seen, pages = [], 0
    url, params = EVENTS, {"page_size": 10}
    while url:
        response = reader.get(url, params)
        seen += ids(response)
        pages += 1
        url, params = response.json()["next"], None

    assert seen == expected
    assert pages == 3


def test_event_detail(reader):
    stored = UsageEventFactory(quantity=Decimal("3"), idempotency_key="evt_9")

    response = reader.get(f"{EVENTS}/{stored.pk}")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(stored.pk)
    assert response.json()["event_id"] == "evt_9"
    assert response.json()["quantity"] == "3"


def test_event_detail_unknown_id_is_404(reader):
    stored = UsageEventFactory()

    response = reader.get(f"{EVENTS}/{stored.pk + 1000}")

    assert response.status_code == 404, response.content
    assert response.json()["error"]


def test_event_detail_needs_usage_read(key_client):
    stored = UsageEventFactory()

    assert key_client("usage.write").get(f"{EVENTS}/{stored.pk}").status_code == 403


def test_list_query_count_does_not_grow_with_events(reader, django_assert_max_num_queries):
    meters = [MeterFactory() for _ in range(5)]
    customers = [CustomerFactory() for _ in range(10)]
    for i in range(50):
        UsageEventFactory(meter=meters[i % 5], customer=customers[i % 10])

    # Key lookup, last-use stamp, the page itself.
    with django_assert_max_num_queries(3):
        response = reader.get(EVENTS, {"page_size": 50})

    assert len(ids(response)) == 50


# --- GET /meters/{id}/usage -------------------------------------------------------------------


def usage_anchor():
    """Midnight UTC a few days ago, on a day that is not its month's last (so the events share one month)."""
    anchor = now_s().replace(hour=0, minute=0, second=0) - datetime.timedelta(days=3)
    if (anchor + datetime.timedelta(days=1)).month != anchor.month:
        anchor -= datetime.timedelta(days=1)
    return anchor


def make_usage_events(meter, anchor):
    """Customer acme: quantities 4, 1, 7, 5, 2; one event of globex; two just outside [anchor, anchor+2d).

    Stored out of timestamp order, so "latest" can only be found by timestamp (then by storage order).
    """
    acme = CustomerFactory(external_id="acme")
    globex = CustomerFactory(external_id="globex")
    h = lambda hours, minutes=0: anchor + datetime.timedelta(hours=hours, minutes=minutes)  # noqa: E731

    def add(customer, moment, quantity, user):
        UsageEventFactory(
            meter=meter, customer=customer, timestamp=moment, quantity=Decimal(quantity), properties={"user_id": user}
        )

    add(acme, h(1, 50), "1", "u2")
    add(acme, h(3), "7", "u1")
    add(acme, h(1, 10), "4", "u1")
    add(acme, h(26), "5", "u3")
    add(acme, h(26), "2", "u2")  # same instant as the one before, stored later: it is the latest
    add(globex, h(1, 20), "100", "u9")
    add(acme, anchor - datetime.timedelta(microseconds=1), "1000", "u7")
    add(acme, h(48), "500", "u8")
    return acme, globex


# Expected over acme's events, worked out by hand from make_usage_events:
#   hour anchor+1h: [4, 1] (users u1, u2, latest 1); anchor+3h: [7] (u1); anchor+26h: [5, 2] (u3, u2, latest 2)
#   day anchor: [4, 1, 7] (u1, u2, latest 7); day anchor+1d: [5, 2] (u3, u2, latest 2)
EXPECTED = {
    AggregationType.COUNT: {"hour": ["2", "1", "2"], "day": ["3", "2"], "total": "5"},
    AggregationType.SUM: {"hour": ["5", "7", "7"], "day": ["12", "7"], "total": "19"},
    AggregationType.MAX: {"hour": ["4", "7", "5"], "day": ["7", "5"], "total": "7"},
    AggregationType.MIN: {"hour": ["1", "7", "2"], "day": ["1", "2"], "total": "1"},
    AggregationType.AVG: {"hour": ["2.5", "7", "3.5"], "day": ["4", "3.5"], "total": "3.8"},
    AggregationType.LATEST: {"hour": ["1", "7", "2"], "day": ["7", "2"], "total": "2"},
    AggregationType.UNIQUE_COUNT: {"hour": ["2", "1", "2"], "day": ["2", "2"], "total": "3"},
}


@pytest.mark.parametrize("aggregation", list(EXPECTED))
@pytest.mark.parametrize("group_by", ["hour", "day", "month"])
def test_meter_usage_per_aggregation(reader, aggregation, group_by):
    property_name = "user_id" if aggregation == AggregationType.UNIQUE_COUNT else "value"
    meter = MeterFactory(aggregation_type=aggregation, property_name=property_name)
    anchor = usage_anchor()
    make_usage_events(meter, anchor)
    expected = EXPECTED[aggregation]
    starts = {
        "hour": [anchor + datetime.timedelta(hours=hours) for hours in (1, 3, 26)],
        "day": [anchor, anchor + datetime.timedelta(days=1)],
        "month": [anchor.replace(day=1)],
    }[group_by]
    values = expected[group_by] if group_by != "month" else [expected["total"]]

    response = reader.get(
        f"/api/v1/meters/{meter.pk}/usage",
        {"customer": "acme", "from": iso(anchor), "to": iso(anchor + datetime.timedelta(days=2)), "group_by": group_by},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["aggregation_type"] == aggregation
    assert body["group_by"] == group_by
    assert body["total"] == expected["total"]
    assert body["buckets"] == [{"start": iso(start), "value": value} for start, value in zip(starts, values)]


def test_meter_usage_over_every_customer(reader):
    meter = MeterFactory(aggregation_type=AggregationType.SUM)
    anchor = usage_anchor()
    make_usage_events(meter, anchor)

    response = reader.get(
        f"/api/v1/meters/{meter.pk}/usage",
        {"from": iso(anchor), "to": iso(anchor + datetime.timedelta(days=2)), "group_by": "hour"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer_id"] is None
    assert body["total"] == "119"
    assert [b["value"] for b in body["buckets"]] == ["105", "7", "7"]


@pytest.mark.parametrize("by", ["id", "external_id"])
def test_meter_usage_customer_filter_by_id_or_external_id(reader, by):
    meter = MeterFactory(aggregation_type=AggregationType.SUM)
    anchor = usage_anchor()
    acme, _ = make_usage_events(meter, anchor)
    ref = str(acme.pk) if by == "id" else "acme"

    response = reader.get(
        f"/api/v1/meters/{meter.pk}/usage",
        {"customer": ref, "from": iso(anchor), "to": iso(anchor + datetime.timedelta(days=2)), "group_by": "day"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["customer_id"] == str(acme.pk)
    assert response.json()["total"] == "19"


def test_meter_usage_range_is_half_open(reader):
    meter = MeterFactory(aggregation_type=AggregationType.SUM)
    start = usage_anchor()
    end = start + datetime.timedelta(hours=6)
    UsageEventFactory(meter=meter, timestamp=start, quantity=Decimal("1"))
    UsageEventFactory(meter=meter, timestamp=end - datetime.timedelta(microseconds=1), quantity=Decimal("10"))
    UsageEventFactory(meter=meter, timestamp=end, quantity=Decimal("100"))
    UsageEventFactory(meter=meter, timestamp=start - datetime.timedelta(microseconds=1), quantity=Decimal("1000"))

    response = reader.get(
        f"/api/v1/meters/{meter.pk}/usage", {"from": iso(start), "to": iso(end), "group_by": "day"}
    )

    assert response.status_code == 200, response.content
    assert response.json()["total"] == "11"
    assert response.json()["buckets"] == [{"start": iso(start), "value": "11"}]


def test_meter_usage_without_events_is_zero(reader):
    meter = MeterFactory(aggregation_type=AggregationType.MAX)
    start = usage_anchor()

    response = reader.get(
        f"/api/v1/meters/{meter.pk}/usage", {"from": iso(start), "to": iso(start + datetime.timedelta(days=1))}
    )

    assert response.status_code == 200, response.content
    assert response.json()["total"] == "0"
    assert response.json()["buckets"] == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"group_by": "minute"}, "group_by"),
        ({"from": None}, "from"),
        ({"to": None}, "to"),
        ({"from": "not-a-date"}, "from"),
        ({"to": "FROM"}, "to"),
        ({"to": "BEFORE"}, "to"),
    ],
)
def test_meter_usage_bad_query_is_400(reader, params, field):
    meter = MeterFactory()
    start = usage_anchor()
    query = {"from": iso(start), "to": iso(start + datetime.timedelta(days=1)), "group_by": "day"}
    for name, value in params.items():
        if value is None:
            del query[name]
        elif value == "FROM":
            query[name] = query["from"]
        elif value == "BEFORE":
            query[name] = iso(start - datetime.timedelta(hours=1))
        else:
            query[name] = value

    response = reader.get(f"/api/v1/meters/{meter.pk}/usage", query)

    assert_error(response, 400, field)


def test_meter_usage_unknown_meter_or_customer_is_404(reader):
    meter = MeterFactory()
    start = usage_anchor()
    window = {"from": iso(start), "to": iso(start + datetime.timedelta(days=1))}

    assert reader.get(f"/api/v1/meters/{uuid.uuid4()}/usage", window).status_code == 404
    assert reader.get(f"/api/v1/meters/{meter.pk}/usage", {**window, "customer": "nobody"}).status_code == 404


def test_meter_usage_needs_usage_read(key_client):
    meter = MeterFactory()
    start = usage_anchor()
    window = {"from": iso(start), "to": iso(start + datetime.timedelta(days=1))}

    assert key_client("usage.write").get(f"/api/v1/meters/{meter.pk}/usage", window).status_code == 403
