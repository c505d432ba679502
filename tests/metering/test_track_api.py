"""Fluxrate's ingestion contract: POST /api/v1/sdk/track and its REST form POST /api/v1/usage."""

import datetime
import http.client
import json
import urllib.error
import urllib.request
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from customers.models import Customer
from metering.choices import AggregationType
from metering.models import UsageEvent
from tests.factories import CustomerFactory, MeterFactory, make_api_key

pytestmark = pytest.mark.django_db

TRACK = "/api/v1/sdk/track"
USAGE = "/api/v1/usage"
UTC = datetime.timezone.utc
RESPONSE_FIELDS = {"id", "customer_id", "meter_id", "quantity", "timestamp", "created_at", "meta_data"}


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


def post_raw(client, url, raw):
    """Send a body exactly as written (NaN, 1e30 … must reach the server as text)."""
    return client.post(url, data=raw, content_type="application/json")


@pytest.fixture
def writer(key_client):
    return key_client("usage.write")


@pytest.fixture
def meter(db):
    return MeterFactory(event_name="api.calls", aggregation_type=AggregationType.SUM, property_name="calls")


def track_body(meter, **overrides):
    body = {"meter_token": str(meter.token), "customer_external_id": "acme", "quantity": 1}
    body.update(overrides)
    return body


# --- /sdk/track: the happy path -----------------------------------------------------------


def test_track_answers_201_with_the_stored_event(writer, meter):
    moment = now_s() - datetime.timedelta(days=2, hours=3)
    before = timezone.now()

    response = writer.post(
        TRACK,
        track_body(
            meter,
            quantity=3,
            timestamp=iso(moment),
            idempotency_key="order_789_step_3",
            metadata={"model": "gpt-4", "tokens": 12},
        ),
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == RESPONSE_FIELDS
    event = UsageEvent.objects.get()
    customer = Customer.objects.get(external_id="acme")
    assert body["id"] == str(event.pk)
    assert body["customer_id"] == str(customer.pk)
    assert body["meter_id"] == str(meter.pk)
    for name in ("id", "customer_id", "meter_id", "quantity", "timestamp", "created_at"):
        assert isinstance(body[name], str), name
    assert body["quantity"] == "3"
    assert body["timestamp"] == iso(moment)
    created = parse_datetime(body["created_at"])
    assert created.tzinfo is not None
    assert before - datetime.timedelta(seconds=1) <= created <= timezone.now() + datetime.timedelta(seconds=1)
    assert body["meta_data"] == {"model": "gpt-4", "tokens": 12}

    assert event.meter_id == meter.pk
    assert event.customer_id == customer.pk
    assert event.quantity == Decimal("3")
    assert event.timestamp == moment
    assert event.idempotency_key == "order_789_step_3"
    assert event.properties == {"model": "gpt-4", "tokens": 12}


def test_track_creates_an_unknown_customer_once(writer, meter):
    assert not Customer.objects.filter(external_id="new-customer").exists()

    first = writer.post(TRACK, track_body(meter, customer_external_id="new-customer"), format="json")
    second = writer.post(TRACK, track_body(meter, customer_external_id="new-customer"), format="json")

    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content
    customer = Customer.objects.get(external_id="new-customer")
    assert first.json()["customer_id"] == second.json()["customer_id"] == str(customer.pk)
    assert UsageEvent.objects.filter(customer=customer).count() == 2


def test_track_uses_an_existing_customer(writer, meter):
    customer = CustomerFactory(external_id="acme")

    response = writer.post(TRACK, track_body(meter), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["customer_id"] == str(customer.pk)
    assert Customer.objects.count() == 1


def test_track_without_timestamp_is_stamped_now(writer, meter):
    before = timezone.now()
    response = writer.post(TRACK, track_body(meter), format="json")
    after = timezone.now()

    assert response.status_code == 201, response.content
    stored = UsageEvent.objects.get().timestamp
    assert before <= stored <= after
    assert parse_datetime(response.json()["timestamp"]) == stored


def test_numeric_string_quantity_is_stored_exactly(writer, meter):
    response = writer.post(TRACK, track_body(meter, quantity="2.5"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["quantity"] == "2.5"
    assert UsageEvent.objects.get().quantity == Decimal("2.5")


@pytest.mark.parametrize(
    "raw_quantity, stored, shown",
    [
        ("0.1", Decimal("0.1"), "0.1"),
        ("1e2", Decimal("100"), "100"),
        ("0.0000000001", Decimal("0.0000000001"), "0.0000000001"),
        ("999999999999999999.9999999999", Decimal("999999999999999999.9999999999"), "999999999999999999.9999999999"),
        ('"1.50000000000000"', Decimal("1.5"), "1.5"),
    ],
)
def test_json_number_quantities_stay_exact(writer, meter, raw_quantity, stored, shown):
    raw = '{"meter_token": "%s", "customer_external_id": "acme", "quantity": %s}' % (meter.token, raw_quantity)

    response = post_raw(writer, TRACK, raw)

    assert response.status_code == 201, response.content
    assert response.json()["quantity"] == shown
    assert UsageEvent.objects.get().quantity == stored


def test_naive_timestamp_is_treated_as_utc(writer, meter):
    moment = now_s() - datetime.timedelta(days=2)
    naive = moment.replace(tzinfo=None).isoformat()
    assert "+" not in naive and not naive.endswith("Z")

    response = writer.post(TRACK, track_body(meter, timestamp=naive), format="json")

    assert response.status_code == 201, response.content
    assert UsageEvent.objects.get().timestamp == moment
    assert response.json()["timestamp"] == iso(moment)


def test_offset_timestamp_is_converted_to_utc(writer, meter):
    moment = now_s() - datetime.timedelta(days=2)
    plus_two = moment.astimezone(datetime.timezone(datetime.timedelta(hours=2))).isoformat()
    assert plus_two.endswith("+02:00")

    response = writer.post(TRACK, track_body(meter, timestamp=plus_two), format="json")

    assert response.status_code == 201, response.content
    assert UsageEvent.objects.get().timestamp == moment
    assert response.json()["timestamp"] == iso(moment)


def test_timestamps_just_inside_the_backfill_limit_and_the_skew_are_accepted(writer, meter):
    old = now_s() - datetime.timedelta(days=364)
    soon = now_s() + datetime.timedelta(minutes=30)

    first = writer.post(TRACK, track_body(meter, timestamp=iso(old)), format="json")
    second = writer.post(TRACK, track_body(meter, timestamp=iso(soon)), format="json")

    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content
    assert sorted(UsageEvent.objects.values_list("timestamp", flat=True)) == [old, soon]


def test_lowercase_x_api_key_header_works(meter):
    _, raw_key = make_api_key(scopes=["usage.write"])
    client = APIClient()

    response = client.post(TRACK, track_body(meter), format="json", headers={"x-api-key": raw_key})

    assert response.status_code == 201, response.content
    assert UsageEvent.objects.count() == 1


# --- /sdk/track: idempotency --------------------------------------------------------------


def test_repeated_idempotency_key_answers_the_original_event_and_stores_one(writer, meter):
    first = writer.post(TRACK, track_body(meter, quantity=5, idempotency_key="job_42_tokens"), format="json")
    retry = writer.post(TRACK, track_body(meter, quantity=7, idempotency_key="job_42_tokens"), format="json")

    assert first.status_code == 201, first.content
    assert retry.status_code == 201, retry.content
    assert retry.json() == first.json()
    assert retry.json()["quantity"] == "5"
    event = UsageEvent.objects.get()
    assert event.quantity == Decimal("5")
    assert first.json()["id"] == str(event.pk)


def test_null_idempotency_key_does_not_deduplicate(writer, meter):
    first = writer.post(TRACK, track_body(meter, idempotency_key=None), format="json")
    second = writer.post(TRACK, track_body(meter, idempotency_key=None), format="json")

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert UsageEvent.objects.count() == 2


def test_idempotency_key_is_shared_by_sdk_track_and_usage(writer, meter):
    first = writer.post(TRACK, track_body(meter, quantity=3, idempotency_key="req_1"), format="json")
    customer = Customer.objects.get(external_id="acme")

    retry = writer.post(
        USAGE,
        {"meter_id": str(meter.pk), "customer_id": str(customer.pk), "quantity": 3, "idempotency_key": "req_1"},
        format="json",
    )

    assert retry.status_code == 201, retry.content
    assert retry.json()["id"] == first.json()["id"]
    assert UsageEvent.objects.count() == 1


# --- /sdk/track: 400 ----------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["meter_token", "customer_external_id", "quantity"])
def test_missing_required_field_is_400_naming_it(writer, meter, missing):
    body = track_body(meter)
    del body[missing]

    response = writer.post(TRACK, body, format="json")

    error = assert_error(response, 400, missing)
    assert missing in error["error"]
    assert UsageEvent.objects.count() == 0
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("blank", [None, ""])
def test_null_or_blank_quantity_is_400(writer, meter, blank):
    response = writer.post(TRACK, track_body(meter, quantity=blank), format="json")

    assert_error(response, 400, "quantity")
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize(
    "quantity",
    [
        0,
        "0",
        -1,
        "-2.5",
        "abc",
        True,
        False,
        "Infinity",
        "-Infinity",
        "NaN",
        "0.00000000001",
        "1.12345678901",
        [1],
        {"value": 1},
    ],
)
def test_invalid_quantity_is_400_naming_quantity(writer, meter, quantity):
    response = writer.post(TRACK, track_body(meter, quantity=quantity), format="json")

    assert_error(response, 400, "quantity")
    assert UsageEvent.objects.count() == 0
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("raw_quantity", ["1e30", "1000000000000000000", "-0.5", "0.00000000001"])
def test_out_of_range_json_number_quantity_is_400(writer, meter, raw_quantity):
    raw = '{"meter_token": "%s", "customer_external_id": "acme", "quantity": %s}' % (meter.token, raw_quantity)

    response = post_raw(writer, TRACK, raw)

    assert_error(response, 400, "quantity")
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_the_raw_body_are_400(writer, meter, constant):
    raw = '{"meter_token": "%s", "customer_external_id": "acme", "quantity": %s}' % (meter.token, constant)

    response = post_raw(writer, TRACK, raw)

    assert response.status_code == 400, response.content
    assert constant.lstrip("-") in response.json()["error"]
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize("metadata", [[1, 2], "user_id=1", 5, True])
def test_non_object_metadata_is_400(writer, meter, metadata):
    response = writer.post(TRACK, track_body(meter, metadata=metadata), format="json")

    assert_error(response, 400, "metadata")
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize("number", ["1e400", "-1e400"])
def test_metadata_number_beyond_float_range_is_400_not_500(writer, meter, number):
    raw = '{"meter_token": "%s", "customer_external_id": "acme", "quantity": 1, "metadata": {"x": %s}}' % (
        meter.token,
        number,
    )

    response = post_raw(writer, TRACK, raw)

    assert_error(response, 400, "metadata")
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize("stamp", ["not-a-time", "2026-13-01T00:00:00Z", "yesterday", 1700000000, ["2026-01-01"]])
def test_unparseable_timestamp_is_400(writer, meter, stamp):
    response = writer.post(TRACK, track_body(meter, timestamp=stamp), format="json")

    assert_error(response, 400, "timestamp")
    assert UsageEvent.objects.count() == 0


def test_timestamp_older_than_365_days_is_400(writer, meter):
    old = now_s() - datetime.timedelta(days=366)

    response = writer.post(TRACK, track_body(meter, timestamp=iso(old)), format="json")

    body = assert_error(response, 400, "timestamp")
    assert "365" in body["error"]
    assert UsageEvent.objects.count() == 0


def test_timestamp_more_than_an_hour_ahead_is_400(writer, meter):
    ahead = now_s() + datetime.timedelta(hours=1, minutes=5)

    response = writer.post(TRACK, track_body(meter, timestamp=iso(ahead)), format="json")

    assert_error(response, 400, "timestamp")
    assert UsageEvent.objects.count() == 0


def test_backfill_limit_is_configurable(writer, meter, settings):
    settings.FLUXBILL_EVENT_BACKFILL_DAYS = 7
    eight_days_ago = now_s() - datetime.timedelta(days=8)

    response = writer.post(TRACK, track_body(meter, timestamp=iso(eight_days_ago)), format="json")

    assert_error(response, 400, "timestamp")


@pytest.mark.parametrize("raw", ["[1, 2]", '"just a string"', '{"meter_token": ', "{" * 5000 + "}" * 5000])
def test_malformed_body_is_400_not_500(writer, raw):
    response = post_raw(writer, TRACK, raw)

    assert response.status_code == 400, response.content
    assert response.json()["error"]


# --- /sdk/track: auth ---------------------------------------------------------------------


def test_no_key_is_401(meter):
    response = APIClient().post(TRACK, track_body(meter), format="json")

    assert response.status_code == 401, response.content
    assert response.json()["error"]
    assert UsageEvent.objects.count() == 0


def test_invalid_key_is_401(meter):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY="org_live_not-a-real-key")

    response = client.post(TRACK, track_body(meter), format="json")

    assert response.status_code == 401, response.content
    assert "Invalid API key" in response.json()["error"]
    assert UsageEvent.objects.count() == 0


def test_key_with_only_usage_read_is_403(key_client, meter):
    response = key_client("usage.read").post(TRACK, track_body(meter), format="json")

    assert response.status_code == 403, response.content
    assert "usage.write" in response.json()["error"]
    assert UsageEvent.objects.count() == 0
    assert Customer.objects.count() == 0


# --- /sdk/track: 404 ----------------------------------------------------------------------


@pytest.mark.parametrize("token", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_meter_token_is_404(writer, meter, token):
    response = writer.post(TRACK, track_body(meter, meter_token=token), format="json")

    body = assert_error(response, 404, "meter_token")
    assert token in body["error"]
    assert UsageEvent.objects.count() == 0
    assert Customer.objects.count() == 0


def test_archived_meter_is_404(writer, admin_api, meter, django_capture_on_commit_callbacks):
    # A first event warms the in-process meter cache; archiving must still take effect.
    assert writer.post(TRACK, track_body(meter), format="json").status_code == 201

    with django_capture_on_commit_callbacks(execute=True):
        archived = admin_api.delete(f"/api/v1/features/{meter.pk}")
    assert archived.status_code == 204, archived.content

    response = writer.post(TRACK, track_body(meter), format="json")

    assert_error(response, 404, "meter_token")
    assert UsageEvent.objects.count() == 1


# --- UNIQUE_COUNT meters need the counted value --------------------------------------------


def test_unique_count_meter_needs_its_property_in_metadata(writer):
    meter = MeterFactory(aggregation_type=AggregationType.UNIQUE_COUNT, property_name="session_id")

    missing = writer.post(TRACK, track_body(meter, metadata={"user_id": "u1"}), format="json")
    no_metadata = writer.post(TRACK, track_body(meter), format="json")
    empty_value = writer.post(TRACK, track_body(meter, metadata={"session_id": ""}), format="json")
    present = writer.post(TRACK, track_body(meter, metadata={"session_id": "s-1"}), format="json")

    assert_error(missing, 400, "metadata.session_id")
    assert_error(no_metadata, 400, "metadata.session_id")
    assert_error(empty_value, 400, "metadata.session_id")
    assert present.status_code == 201, present.content
    assert present.json()["meta_data"] == {"session_id": "s-1"}
    assert UsageEvent.objects.count() == 1


def test_unique_count_meter_without_property_needs_metadata_user_id(writer):
    meter = MeterFactory(aggregation_type=AggregationType.UNIQUE_COUNT, property_name="")

    missing = writer.post(TRACK, track_body(meter, metadata={"session_id": "s-1"}), format="json")
    present = writer.post(TRACK, track_body(meter, metadata={"user_id": "user_456"}), format="json")

    assert_error(missing, 400, "metadata.user_id")
    assert present.status_code == 201, present.content
    assert UsageEvent.objects.get().properties == {"user_id": "user_456"}


# --- /usage: the REST form ----------------------------------------------------------------


def usage_body(meter, customer_ref, **overrides):
    body = {"meter_id": str(meter.pk), "customer_id": customer_ref, "quantity": 100}
    body.update(overrides)
    return body


@pytest.mark.parametrize("by", ["id", "external_id"])
def test_usage_accepts_customer_id_or_external_id(writer, meter, by):
    customer = CustomerFactory(external_id="acme-001")
    ref = str(customer.pk) if by == "id" else "acme-001"
    moment = now_s() - datetime.timedelta(days=1)

    response = writer.post(
        USAGE, usage_body(meter, ref, timestamp=iso(moment), metadata={"region": "eu"}), format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == RESPONSE_FIELDS
    event = UsageEvent.objects.get()
    assert body == {
        "id": str(event.pk),
        "customer_id": str(customer.pk),
        "meter_id": str(meter.pk),
        "quantity": "100",
        "timestamp": iso(moment),
        "created_at": body["created_at"],
        "meta_data": {"region": "eu"},
    }
    assert event.customer_id == customer.pk
    assert event.quantity == Decimal("100")


@pytest.mark.parametrize("ref", ["nobody", str(uuid.uuid4())])
def test_usage_with_unknown_customer_is_404_and_creates_nothing(writer, meter, ref):
    response = writer.post(USAGE, usage_body(meter, ref), format="json")

    body = assert_error(response, 404, "customer_id")
    assert ref in body["error"]
    assert Customer.objects.count() == 0
    assert UsageEvent.objects.count() == 0


def test_usage_with_unknown_meter_is_404(writer):
    customer = CustomerFactory()
    response = writer.post(
        USAGE, {"meter_id": str(uuid.uuid4()), "customer_id": str(customer.pk), "quantity": 1}, format="json"
    )

    assert_error(response, 404, "meter_id")


def test_usage_with_archived_meter_is_404(writer, admin_api, meter, django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    assert writer.post(USAGE, usage_body(meter, str(customer.pk)), format="json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_api.delete(f"/api/v1/features/{meter.pk}").status_code == 204

    response = writer.post(USAGE, usage_body(meter, str(customer.pk)), format="json")

    assert_error(response, 404, "meter_id")
    assert UsageEvent.objects.count() == 1


@pytest.mark.parametrize("missing", ["meter_id", "customer_id", "quantity"])
def test_usage_missing_field_is_400_naming_it(writer, meter, missing):
    customer = CustomerFactory()
    body = usage_body(meter, str(customer.pk))
    del body[missing]

    response = writer.post(USAGE, body, format="json")

    assert_error(response, 400, missing)
    assert UsageEvent.objects.count() == 0


def test_usage_repeated_idempotency_key_stores_one(writer, meter):
    customer = CustomerFactory()
    body = usage_body(meter, str(customer.pk), idempotency_key="order_1")

    first = writer.post(USAGE, body, format="json")
    second = writer.post(USAGE, {**body, "quantity": 1}, format="json")

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["quantity"] == "100"
    assert UsageEvent.objects.count() == 1


def test_usage_needs_usage_write(key_client, meter):
    customer = CustomerFactory()
    response = key_client("usage.read").post(USAGE, usage_body(meter, str(customer.pk)), format="json")

    assert response.status_code == 403, response.content


@pytest.mark.parametrize("quantity", [0, -3, "abc", True])
def test_usage_invalid_quantity_is_400(writer, meter, quantity):
    customer = CustomerFactory()
    response = writer.post(USAGE, usage_body(meter, str(customer.pk), quantity=quantity), format="json")

    assert_error(response, 400, "quantity")


# --- the seed's Python client against a running server --------------------------------------


class _Response:
    def __init__(self, status, payload):
        self.status_code = status
        self._payload = payload

    def raise_for_status(self):
        if self.status_code >= 400:
            raise urllib.error.HTTPError(None, self.status_code, self._payload.decode(), None, None)

    def json(self):
        return json.loads(self._payload)


class _RequestsOverUrllib:
    """`requests.post(url, headers=…, json=…)` through urllib.request (`requests` is not installed)."""

    @staticmethod
    def post(url, headers=None, json=None):
        import json as _json

        request = urllib.request.Request(
            url, data=_json.dumps(json).encode(), headers=headers or {}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return _Response(answer.status, answer.read())
        except urllib.error.HTTPError as error:
            return _Response(error.code, error.read())


requests = _RequestsOverUrllib()
SEED_BASE_URL = None
SEED_API_KEY = None


# Body copied from the Fluxrate seed (001): only the URL and the key are the test server's.
def track_usage(meter_token, customer_id, quantity, idempotency_key=None):
    response = requests.post(
        f"{SEED_BASE_URL}/api/v1/sdk/track",
        headers={
            "Content-Type": "application/json",
            "X-API-Key": SEED_API_KEY
        },
        json={
            "meter_token": meter_token,
            "customer_external_id": customer_id,
            "quantity": quantity,
            "idempotency_key": idempotency_key
        }
    )
    response.raise_for_status()
    return response.json()


@pytest.fixture
def seed_client(live_server, monkeypatch):
    _, raw_key = make_api_key(scopes=["usage.write"])
    monkeypatch.setitem(globals(), "SEED_BASE_URL", live_server.url)
    monkeypatch.setitem(globals(), "SEED_API_KEY", raw_key)
    return raw_key


def test_seed_track_usage_works_against_a_running_server(seed_client):
    meter = MeterFactory(aggregation_type=AggregationType.COUNT, property_name="")

    first = track_usage(str(meter.token), "your-customer-id", 1)
    again_no_key = track_usage(str(meter.token), "your-customer-id", 1)
    keyed = track_usage(str(meter.token), "your-customer-id", 2, idempotency_key="req_unique_key_123")
    retried = track_usage(str(meter.token), "your-customer-id", 2, idempotency_key="req_unique_key_123")

    customer = Customer.objects.get(external_id="your-customer-id")
    assert set(first) == RESPONSE_FIELDS
    assert first["customer_id"] == str(customer.pk)
    assert first["meter_id"] == str(meter.pk)
    assert first["quantity"] == "1"
    assert first["meta_data"] == {}
    assert again_no_key["id"] != first["id"]
    assert keyed["quantity"] == "2"
    assert retried == keyed
    assert UsageEvent.objects.count() == 3


def test_seed_track_usage_raises_for_an_unknown_meter(seed_client):
    with pytest.raises(urllib.error.HTTPError) as raised:
        track_usage(str(uuid.uuid4()), "your-customer-id", 1)

    assert raised.value.code == 404
    assert UsageEvent.objects.count() == 0


def test_lowercase_header_over_the_wire(live_server):
    meter = MeterFactory()
    _, raw_key = make_api_key(scopes=["usage.write"])
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    payload = json.dumps(track_body(meter, quantity="4"))
    try:
        # http.client sends header names exactly as given.
        connection.putrequest("POST", TRACK)
        connection.putheader("content-type", "application/json")
        connection.putheader("x-api-key", raw_key)
        connection.putheader("content-length", str(len(payload)))
        connection.endheaders(payload.encode())
        answer = connection.getresponse()
        status, body = answer.status, json.loads(answer.read())
    finally:
        connection.close()

    assert status == 201, body
    assert body["quantity"] == "4"
    assert UsageEvent.objects.get().quantity == Decimal("4")
