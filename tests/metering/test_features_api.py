"""The features (meters) management API: /api/v1/features."""

import uuid

import pytest

from metering.models import Meter
from tests.factories import MeterFactory, UsageChargeFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/features"


def feature_body(**overrides):
    body = {
        "name": "API Calls",
        "lookup_key": "api_calls",
        "type": "meter",
        "meter_name": "api.calls",
        "property_name": "call_count",
        "aggregation_type": "SUM",
        "unit": "calls",
    }
    body.update(overrides)
    return body


def assert_error(response, status, field):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field, body
    assert isinstance(body["error"], str) and body["error"]
    return body


# --- create -----------------------------------------------------------------------------


def test_create_returns_the_feature_and_stores_the_meter(admin_api):
    response = admin_api.post(URL, feature_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    meter = Meter.objects.get()
    assert body["id"] == str(meter.id)
    assert body["meter_id"] == str(meter.id)
    assert body["meter_token"] == str(meter.token)
    assert body["name"] == "API Calls"
    assert body["lookup_key"] == "api_calls"
    assert body["type"] == "meter"
    assert body["meter_name"] == "api.calls"
    assert body["event_name"] == "api.calls"
    assert body["property_name"] == "call_count"
    assert body["aggregation_type"] == "SUM"
    assert body["unit"] == "calls"
    assert body["active"] is True
    assert meter.event_name == "api.calls"
    assert meter.aggregation_type == "SUM"
    assert meter.property_name == "call_count"


def test_create_count_meter_needs_no_property(admin_api):
    response = admin_api.post(URL, feature_body(aggregation_type="COUNT", property_name=""), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["aggregation_type"] == "COUNT"
    assert response.json()["property_name"] == ""
    assert Meter.objects.get().property_name == ""


def test_create_without_optional_fields_uses_defaults(admin_api):
    body = {"name": "Seats", "lookup_key": "seats", "meter_name": "seats", "aggregation_type": "COUNT"}

    response = admin_api.post(URL, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["type"] == "meter"
    assert response.json()["unit"] == ""
    assert response.json()["property_name"] == ""


@pytest.mark.parametrize("given", ["LAST", "last", " Last "])
def test_last_is_accepted_as_latest(admin_api, given):
    response = admin_api.post(URL, feature_body(aggregation_type=given, property_name="gauge"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["aggregation_type"] == "LATEST"
    assert Meter.objects.get().aggregation_type == "LATEST"


def test_aggregation_type_is_case_insensitive(admin_api):
    response = admin_api.post(URL, feature_body(aggregation_type="max"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["aggregation_type"] == "MAX"


@pytest.mark.parametrize("missing", ["name", "lookup_key", "meter_name", "aggregation_type"])
def test_create_missing_required_field_is_400_naming_it(admin_api, missing):
    body = feature_body()
    del body[missing]

    response = admin_api.post(URL, body, format="json")

    error = assert_error(response, 400, missing)
    assert error["error"] == f"Missing required field: {missing}"
    assert not Meter.objects.exists()


def test_create_bad_aggregation_type_is_400(admin_api):
    response = admin_api.post(URL, feature_body(aggregation_type="MEDIAN"), format="json")

    error = assert_error(response, 400, "aggregation_type")
    assert "MEDIAN" in error["error"]
    assert not Meter.objects.exists()


@pytest.mark.parametrize("aggregation", ["SUM", "MAX", "MIN", "AVG", "LATEST", "LAST"])
def test_create_value_aggregation_without_property_name_is_400(admin_api, aggregation):
    response = admin_api.post(URL, feature_body(aggregation_type=aggregation, property_name=""), format="json")

    error = assert_error(response, 400, "property_name")
    assert "property_name is required" in error["error"]
    assert not Meter.objects.exists()


def test_create_sum_with_property_name_omitted_is_400(admin_api):
    body = feature_body(aggregation_type="SUM")
    del body["property_name"]

    response = admin_api.post(URL, body, format="json")

    assert_error(response, 400, "property_name")


def test_create_unknown_field_is_400_naming_it(admin_api):
    response = admin_api.post(URL, feature_body(colour="blue"), format="json")

    error = assert_error(response, 400, "colour")
    assert error["error"] == "Unknown field: colour"
    assert not Meter.objects.exists()


def test_create_unknown_type_is_400(admin_api):
    response = admin_api.post(URL, feature_body(type="boolean"), format="json")

    assert_error(response, 400, "type")


def test_create_lookup_key_must_be_a_slug(admin_api):
    response = admin_api.post(URL, feature_body(lookup_key="api calls!"), format="json")

    assert_error(response, 400, "lookup_key")


@pytest.mark.parametrize(
    ("payload", "says"),
    [("[1, 2]", "got list"), ('"a string"', "got str"), ("42", "got int"), ("null", "No data provided")],
)
def test_create_non_object_body_is_400(admin_api, payload, says):
    response = admin_api.post(URL, payload, content_type="application/json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) >= {"error", "field"}
    assert body["field"] is None
    assert says in body["error"]
    assert not Meter.objects.exists()


def test_create_invalid_json_is_400(admin_api):
    response = admin_api.post(URL, '{"name": "API Calls",', content_type="application/json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] is None
    assert body["error"].startswith("JSON parse error")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_create_with_nan_is_400(admin_api, constant):
    payload = '{"name": "x", "lookup_key": "x", "meter_name": "x", "aggregation_type": "SUM", "property_name": %s}'
    response = admin_api.post(URL, payload % constant, content_type="application/json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] is None
    assert constant in body["error"]
    assert not Meter.objects.exists()


def test_create_empty_body_is_400(admin_api):
    response = admin_api.post(URL, "   ", content_type="application/json")

    assert response.status_code == 400, response.content
    assert "empty" in response.json()["error"]


def test_create_duplicate_lookup_key_is_409(admin_api):
    MeterFactory(lookup_key="api_calls", event_name="other.event")

    response = admin_api.post(URL, feature_body(lookup_key="api_calls", meter_name="api.calls"), format="json")

    error = assert_error(response, 409, "lookup_key")
    assert "api_calls" in error["error"]
    assert Meter.objects.count() == 1


def test_create_duplicate_meter_name_is_409(admin_api):
    MeterFactory(lookup_key="older", event_name="api.calls")

    response = admin_api.post(URL, feature_body(lookup_key="api_calls", meter_name="api.calls"), format="json")

    error = assert_error(response, 409, "meter_name")
    assert "api.calls" in error["error"]
    assert Meter.objects.count() == 1


def test_create_duplicate_meter_name_mentioning_lookup_key_is_still_reported_as_meter_name(admin_api):
    # The database's message quotes the duplicate value; a value that happens to contain the other
    # column's name must not change which field the 409 blames.
    MeterFactory(lookup_key="older", event_name="lookup_key.rotated")

    response = admin_api.post(URL, feature_body(lookup_key="fresh", meter_name="lookup_key.rotated"), format="json")

    assert_error(response, 409, "meter_name")


def test_failed_create_leaves_the_connection_usable(admin_api):
    MeterFactory(lookup_key="api_calls")
    assert admin_api.post(URL, feature_body(), format="json").status_code == 409

    response = admin_api.post(URL, feature_body(lookup_key="api_calls_2"), format="json")

    assert response.status_code == 201, response.content
    assert Meter.objects.count() == 2


# --- list and retrieve ------------------------------------------------------------------


def test_list_is_paginated_and_ordered_by_name(admin_api):
    MeterFactory(name="Bravo")
    MeterFactory(name="Alpha")
    MeterFactory(name="Charlie")

    response = admin_api.get(URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert [item["name"] for item in body["results"]] == ["Alpha", "Bravo", "Charlie"]
    assert body["next"] is None


def test_list_page_size(admin_api):
    for index in range(5):
        MeterFactory(name=f"Meter {index}")

    body = admin_api.get(URL, {"page_size": 2, "page": 2}).json()

    assert body["count"] == 5
    assert [item["name"] for item in body["results"]] == ["Meter 2", "Meter 3"]


def test_list_filters(admin_api):
    MeterFactory(name="Tokens", lookup_key="tokens", event_name="llm.tokens")
    MeterFactory(name="Storage", lookup_key="storage", event_name="disk.bytes", active=False)

    by_key = admin_api.get(URL, {"lookup_key": "tokens"}).json()["results"]
    by_meter_name = admin_api.get(URL, {"meter_name": "disk.bytes"}).json()["results"]
    inactive = admin_api.get(URL, {"active": "false"}).json()["results"]
    searched = admin_api.get(URL, {"search": "TOK"}).json()["results"]

    assert [item["lookup_key"] for item in by_key] == ["tokens"]
    assert [item["lookup_key"] for item in by_meter_name] == ["storage"]
    assert [item["lookup_key"] for item in inactive] == ["storage"]
    assert [item["lookup_key"] for item in searched] == ["tokens"]


def test_retrieve(admin_api):
    meter = MeterFactory(name="Tokens", lookup_key="tokens", event_name="llm.tokens", aggregation_type="MAX")

    response = admin_api.get(f"{URL}/{meter.id}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(meter.id)
    assert body["meter_name"] == "llm.tokens"
    assert body["aggregation_type"] == "MAX"
    assert body["meter_token"] == str(meter.token)


def test_retrieve_with_trailing_slash(admin_api):
    meter = MeterFactory()

    assert admin_api.get(f"{URL}/{meter.id}/").status_code == 200


def test_retrieve_unknown_id_is_404(admin_api):
    MeterFactory()

    response = admin_api.get(f"{URL}/{uuid.uuid4()}")

    assert response.status_code == 404, response.content
    assert set(response.json()) >= {"error", "field"}


def test_retrieve_non_uuid_id_is_404(admin_api):
    MeterFactory(lookup_key="tokens")

    response = admin_api.get(f"{URL}/not-a-uuid")

    assert response.status_code == 404, response.content
    assert response.json()["error"]


# --- update -----------------------------------------------------------------------------


def test_patch_renames_and_relabels(admin_api):
    meter = MeterFactory(name="Old", unit="calls")

    response = admin_api.patch(f"{URL}/{meter.id}", {"name": "New", "unit": "requests"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "New"
    assert response.json()["unit"] == "requests"
    meter.refresh_from_db()
    assert (meter.name, meter.unit) == ("New", "requests")


def test_patch_leaves_unsent_fields_alone(admin_api):
    meter = MeterFactory(name="Tokens", unit="tokens")

    response = admin_api.patch(f"{URL}/{meter.id}", {"name": "LLM tokens"}, format="json")

    assert response.status_code == 200, response.content
    meter.refresh_from_db()
    assert meter.unit == "tokens"
    assert meter.active is True


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("aggregation_type", "COUNT", "aggregation_type"),
        ("lookup_key", "renamed", "lookup_key"),
        ("meter_name", "renamed.event", "event_name"),
        ("property_name", "other", "property_name"),
    ],
)
def test_patch_of_frozen_field_is_400(admin_api, field, value, stored):
    meter = MeterFactory(aggregation_type="SUM", property_name="value", lookup_key="k", event_name="e")
    before = getattr(meter, stored)

    response = admin_api.patch(f"{URL}/{meter.id}", {field: value}, format="json")

    error = assert_error(response, 400, field)
    assert "cannot be changed" in error["error"]
    meter.refresh_from_db()
    assert getattr(meter, stored) == before


def test_patch_of_frozen_field_to_its_current_value_is_allowed(admin_api):
    meter = MeterFactory(aggregation_type="LATEST", property_name="gauge", lookup_key="gauge", event_name="gauge.set")

    response = admin_api.patch(
        f"{URL}/{meter.id}",
        {"aggregation_type": "LAST", "lookup_key": "gauge", "meter_name": "gauge.set", "name": "Gauge"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["aggregation_type"] == "LATEST"
    assert response.json()["name"] == "Gauge"


def test_patch_bad_aggregation_type_is_400(admin_api):
    meter = MeterFactory()

    response = admin_api.patch(f"{URL}/{meter.id}", {"aggregation_type": "MEDIAN"}, format="json")

    assert_error(response, 400, "aggregation_type")


def test_patch_unknown_field_is_400(admin_api):
    meter = MeterFactory(name="Tokens")

    response = admin_api.patch(f"{URL}/{meter.id}", {"nmae": "typo"}, format="json")

    assert_error(response, 400, "nmae")
    meter.refresh_from_db()
    assert meter.name == "Tokens"


def test_patch_null_name_is_400(admin_api):
    meter = MeterFactory()

    response = admin_api.patch(f"{URL}/{meter.id}", {"name": None}, format="json")

    assert_error(response, 400, "name")


def test_patch_can_reactivate_an_archived_feature(admin_api):
    meter = MeterFactory(active=False)

    response = admin_api.patch(f"{URL}/{meter.id}", {"active": True}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["active"] is True
    meter.refresh_from_db()
    assert meter.active is True


def test_patch_unknown_id_is_404(admin_api):
    response = admin_api.patch(f"{URL}/{uuid.uuid4()}", {"name": "x"}, format="json")

    assert response.status_code == 404, response.content


def test_patch_non_uuid_id_is_404(admin_api):
    response = admin_api.patch(f"{URL}/api_calls", {"name": "x"}, format="json")

    assert response.status_code == 404, response.content


# --- delete -----------------------------------------------------------------------------


def test_delete_archives_and_keeps_the_row(admin_api):
    meter = MeterFactory(name="Tokens")

    response = admin_api.delete(f"{URL}/{meter.id}")

    assert response.status_code == 204, response.content
    meter.refresh_from_db()
    assert meter.active is False
    assert meter.name == "Tokens"
    assert admin_api.get(f"{URL}/{meter.id}").json()["active"] is False


def test_delete_keeps_a_meter_that_charges_point_at(admin_api):
    charge = UsageChargeFactory()

    response = admin_api.delete(f"{URL}/{charge.meter_id}")

    assert response.status_code == 204, response.content
    assert Meter.objects.filter(pk=charge.meter_id, active=False).exists()
    charge.refresh_from_db()
    assert charge.meter_id is not None


def test_delete_twice_is_harmless(admin_api):
    meter = MeterFactory()

    assert admin_api.delete(f"{URL}/{meter.id}").status_code == 204
    assert admin_api.delete(f"{URL}/{meter.id}").status_code == 204
    assert Meter.objects.filter(pk=meter.pk, active=False).count() == 1


def test_delete_unknown_id_is_404(admin_api):
    response = admin_api.delete(f"{URL}/{uuid.uuid4()}")

    assert response.status_code == 404, response.content


def test_delete_non_uuid_id_is_404(admin_api):
    assert admin_api.delete(f"{URL}/xyz").status_code == 404


def test_archived_features_still_listed(admin_api):
    active = MeterFactory(name="A")
    archived = MeterFactory(name="B")
    admin_api.delete(f"{URL}/{archived.id}")

    results = admin_api.get(URL).json()["results"]

    assert [(item["id"], item["active"]) for item in results] == [(str(active.id), True), (str(archived.id), False)]


# --- scopes -----------------------------------------------------------------------------


def test_features_read_scope_can_list_but_not_create(key_client):
    client = key_client("features.read")

    assert client.get(URL).status_code == 200
    response = client.post(URL, feature_body(), format="json")

    assert response.status_code == 403, response.content
    assert "features.write" in response.json()["error"]
    assert not Meter.objects.exists()


def test_features_write_scope_can_create_patch_delete(key_client):
    client = key_client("features.write")

    created = client.post(URL, feature_body(), format="json")
    assert created.status_code == 201, created.content
    meter_id = created.json()["id"]
    assert client.patch(f"{URL}/{meter_id}", {"name": "Renamed"}, format="json").status_code == 200
    assert client.delete(f"{URL}/{meter_id}").status_code == 204

    read = client.get(URL)
    assert read.status_code == 403
    assert "features.read" in read.json()["error"]


# --- query count ------------------------------------------------------------------------


def test_list_query_count_does_not_grow_with_rows(admin_api, django_assert_max_num_queries):
    MeterFactory.create_batch(30)
    admin_api.get(URL)  # the key's first use writes last_used_at; measure steady state

    with django_assert_max_num_queries(3):
        response = admin_api.get(URL, {"page_size": 30})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 30
