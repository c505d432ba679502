"""Date-time filters of the list endpoints (fluxbill.core.filters)."""

import pytest

from tests.factories import UsageEventFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url,param",
    [
        ("/api/v1/events", "start_time"),
        ("/api/v1/events", "end_time"),
        ("/api/v1/invoices", "period_from"),
        ("/api/v1/invoices", "period_to"),
    ],
)
def test_offset_postgresql_cannot_store_is_converted_to_utc(admin_api, url, param):
    # Found by the schema fuzzer: -21:56 is a valid ISO 8601 offset for Python, but PostgreSQL refuses
    # offsets past ±15:59 ("time zone displacement out of range") and the list answered 500.
    response = admin_api.get(url, {param: "2146-11-30T13:47:38-21:56"})

    assert response.status_code == 200, response.content


def test_converted_offset_still_filters_by_the_same_instant(admin_api):
    UsageEventFactory(timestamp="2025-01-02T00:00:00Z")

    # 2025-01-01T03:00-21:00 is 2025-01-02T00:00Z: the event is at the bound, inside [start, …).
    at_bound = admin_api.get("/api/v1/events", {"start_time": "2025-01-01T03:00:00-21:00"})
    after = admin_api.get("/api/v1/events", {"start_time": "2025-01-01T03:00:01-21:00"})

    assert len(at_bound.json()["results"]) == 1
    assert after.json()["results"] == []


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_instant_out_of_range_in_utc_is_400(admin_api, value):
    response = admin_api.get("/api/v1/events", {"start_time": value})

    assert response.status_code == 400, response.content
    assert response.json()["field"] == "start_time"
    assert "out of range" in response.json()["error"]
