"""The event debugger: recent events with keyset pages and filters, the rejected-attempts log, the test-event form."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from metering import services
from metering.models import RejectedEvent, UsageEvent
from tests.factories import CustomerFactory, MeterFactory, UsageEventFactory, make_api_key

pytestmark = pytest.mark.django_db

URL = "/events/"
SEND = "/events/send/"


def send_outcome(response) -> str:
    """The outcome line inside the "Send a test event" card."""
    card = response.content.decode().split('id="send-event"', 1)[1]
    found = re.search(r"<p [^>]*data-send-outcome[^>]*>(.*?)</p>", card, re.S)
    return found.group(1).strip() if found else ""


def field_errors(response, name: str) -> list[str]:
    """The error messages rendered inside the form field `name`'s own block (beside the field)."""
    body = response.content.decode()
    start = re.search(rf'<div class="field has-error"[^>]*data-field="{name}">', body)
    if not start:
        return []
    depth, end = 1, start.end()
    for tag in re.finditer(r"<(/?)div\b", body[start.end() :]):  # to the block's own </div>
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            end = start.end() + tag.start()
            break
    return re.findall(r'<p class="error"[^>]*>(.*?)</p>', body[start.end() : end], re.S)


def _ids(response) -> list[int]:
    return [event.pk for event in response.context["events"]]


# --- permissions ----------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, SEND])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


@pytest.mark.parametrize("url", [URL, SEND])
def test_user_without_role_is_refused(nobody_client, url):
    assert nobody_client.get(url).status_code == 403


def test_support_reads_but_cannot_send_test_events(support_client):
    meter = MeterFactory(event_name="api.request", aggregation_type="COUNT", property_name="")
    CustomerFactory(external_id="acme")
    page = support_client.get(URL)
    assert page.status_code == 200
    assert "Send a test event" not in page.content.decode()
    response = support_client.post(SEND, {"event_name": meter.event_name, "external_customer_id": "acme"})
    assert response.status_code == 403
    assert UsageEvent.objects.count() == 0


def test_send_is_post_only(finance_client):
    assert finance_client.get(SEND).status_code == 405


# --- recent events --------------------------------------------------------------------


def test_events_newest_first_with_their_details(support_client):
    meter = MeterFactory(name="Storage", event_name="storage.gb")
    acme = CustomerFactory(external_id="acme")
    now = timezone.now()
    old = UsageEventFactory(meter=meter, customer=acme, timestamp=now - dt.timedelta(hours=2))
    new = UsageEventFactory(
        meter=meter, customer=acme, timestamp=now - dt.timedelta(minutes=1), quantity=Decimal("2.5"),
        source="backend", idempotency_key="evt-1", properties={"region": "eu", "gb": 2.5},
    )  # fmt: skip
    response = support_client.get(URL)
    assert _ids(response) == [new.pk, old.pk]
    body = response.content.decode()
    assert "evt-1" in body and "backend" in body and ">2.5<" in body
    assert "{&quot;gb&quot;:2.5,&quot;region&quot;:&quot;eu&quot;}" in body  # compact JSON, as jsonb orders keys
    assert f'title="{new.timestamp:%Y-%m-%d %H:%M:%S} UTC"' in body  # dates through {% dt %}


def test_filters_by_meter_customer_and_source_ignoring_case(support_client):
    calls, storage = MeterFactory(), MeterFactory()
    acme, globex = CustomerFactory(external_id="Acme-1"), CustomerFactory(external_id="globex")
    a = UsageEventFactory(meter=calls, customer=acme, source="Backend")
    b = UsageEventFactory(meter=storage, customer=acme, source="sdk")
    c = UsageEventFactory(meter=calls, customer=globex, source="backend")

    assert set(_ids(support_client.get(URL, {"meter": str(calls.pk)}))) == {a.pk, c.pk}
    assert set(_ids(support_client.get(URL, {"customer": "acme-1"}))) == {a.pk, b.pk}
    assert set(_ids(support_client.get(URL, {"source": "BACKEND"}))) == {a.pk, c.pk}
    assert _ids(support_client.get(URL, {"meter": str(calls.pk), "customer": "ACME-1", "source": "backend"})) == [a.pk]
    empty = support_client.get(URL, {"customer": "nobody"})
    assert _ids(empty) == []
    assert "No events match these filters" in empty.content.decode()


def test_empty_state_says_where_events_come_from(finance_client):
    body = finance_client.get(URL).content.decode()
    assert "No events." in body and "/api/v1/events" in body and "send a test event below" in body


def _walk(client, params, first=None):
    """Follow the "next" links from the first page; returns the pages' ids."""
    pages = []
    response = first or client.get(URL, params)
    while True:
        pages.append(_ids(response))
        cursor = response.context["next_cursor"]
        if not cursor:
            return pages, response
        response = client.get(URL, {**params, "after": cursor})


def test_keyset_pages_cover_every_event_once_even_with_equal_timestamps(support_client):
    meter = MeterFactory()
    now = timezone.now().replace(microsecond=0)
    same = now - dt.timedelta(minutes=5)
    tied = [UsageEventFactory(meter=meter, timestamp=same).pk for _ in range(70)]  # straddles a page boundary
    others = [UsageEventFactory(meter=meter, timestamp=now - dt.timedelta(minutes=m)).pk for m in (1, 2, 10, 11)]
    everything = [others[0], others[1]] + sorted(tied, reverse=True) + [others[2], others[3]]

    pages, last = _walk(support_client, {})
    assert [len(p) for p in pages] == [50, 24]
    assert [pk for page in pages for pk in page] == everything

    oldest_first, _ = _walk(support_client, {"sort": "timestamp"})
    assert [pk for page in oldest_first for pk in page] == list(reversed(everything))

    # "Newer" from the last page goes back to the 50 before it.
    back = support_client.get(URL, {"before": last.context["previous_cursor"]})
    assert _ids(back) == pages[0]
    assert back.context["previous_cursor"] is None


def test_a_malformed_cursor_shows_the_first_page(support_client):
    newest = UsageEventFactory(timestamp=timezone.now())
    UsageEventFactory(timestamp=timezone.now() - dt.timedelta(hours=1))
    for junk in ("garbage", "2025-13-45T00:00:00~1", "2025-01-01T00:00:00~x"):
        response = support_client.get(URL, {"after": junk})
        assert response.status_code == 200
        assert _ids(response)[0] == newest.pk


def test_event_list_never_counts_and_keeps_a_constant_number_of_queries(support_client, django_assert_max_num_queries):
    meters = MeterFactory.create_batch(4)
    customers = CustomerFactory.create_batch(10)
    now = timezone.now()
    UsageEvent.objects.bulk_create(
        UsageEvent(meter=meters[i % 4], customer=customers[i % 10], quantity=1, timestamp=now - dt.timedelta(seconds=i))
        for i in range(200)
    )
    RejectedEvent.objects.bulk_create(
        RejectedEvent(created_at=now, endpoint="/api/v1/events", error=f"bad {i}") for i in range(30)
    )
    first = support_client.get(URL)
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as captured:
        response = support_client.get(URL, {"after": first.context["next_cursor"]})
    assert len(response.context["events"]) == 50
    event_queries = [q["sql"] for q in captured.captured_queries if "metering_usageevent" in q["sql"]]
    assert event_queries and not any("COUNT(" in sql.upper() for sql in event_queries)
    assert " OFFSET " not in " ".join(event_queries).upper()


# --- rejected attempts ----------------------------------------------------------------


def test_rejected_api_calls_are_listed_with_their_error(finance_client, api_client):
    key, raw = make_api_key(scopes=["usage.write"])
    api_client.credentials(HTTP_X_API_KEY=raw)
    refused = api_client.post("/api/v1/events", {"event_name": "no.such.event", "external_customer_id": "acme"}, format="json")
    assert refused.status_code == 400

    row = RejectedEvent.objects.get()
    assert (row.endpoint, row.field, row.api_key_prefix) == ("/api/v1/events", "event_name", key.prefix)
    assert row.error == "Event not found: no active feature has event_name 'no.such.event'"
    assert json.loads(row.payload) == {"event_name": "no.such.event", "external_customer_id": "acme"}

    body = finance_client.get(URL).content.decode()
    assert "Event not found: no active feature has event_name &#x27;no.such.event&#x27;" in body
    assert f"<code>{key.prefix}…</code>" in body


def test_track_and_bulk_rejections_are_recorded_at_most_ten_per_request(api_client):
    _, raw = make_api_key(scopes=["usage.write"])
    api_client.credentials(HTTP_X_API_KEY=raw)
    meter = MeterFactory(event_name="api.request", aggregation_type="COUNT", property_name="")
    CustomerFactory(external_id="acme")

    api_client.post("/api/v1/sdk/track", {"meter_token": "not-a-token", "customer_external_id": "acme", "quantity": 1}, format="json")
    assert RejectedEvent.objects.get().field == "meter_token"

    events = [{"event_name": "api.request", "external_customer_id": "acme"}]
    events += [{"event_name": "api.request", "external_customer_id": f"ghost-{n}"} for n in range(12)]
    accepted = api_client.post("/api/v1/events/bulk", {"events": events}, format="json")
    assert accepted.status_code == 202  # one accepted: still a 202, yet the 12 refused ones are logged
    bulk = RejectedEvent.objects.filter(endpoint="/api/v1/events/bulk").order_by("id")
    assert [r.field for r in bulk] == [f"events[{n}]" for n in range(1, 11)]
    assert bulk[0].error == "Customer not found: no customer has external_customer_id 'ghost-0'"
    assert json.loads(bulk[0].payload)["external_customer_id"] == "ghost-0"
    assert UsageEvent.objects.filter(meter=meter).count() == 1

    api_client.post("/api/v1/events/bulk", {"events": "nope"}, format="json")
    assert RejectedEvent.objects.filter(field="events").get().error == "Missing required field: events (a list of events)"


def test_only_the_last_24_hours_are_shown_newest_first(support_client):
    now = timezone.now()
    RejectedEvent.objects.create(created_at=now - dt.timedelta(hours=25), endpoint="/x", error="too old to show")
    RejectedEvent.objects.create(created_at=now - dt.timedelta(hours=2), endpoint="/x", error="earlier one")
    RejectedEvent.objects.create(created_at=now - dt.timedelta(minutes=1), endpoint="/x", error="latest one")
    response = support_client.get(URL)
    assert [r.error for r in response.context["rejected_page"].object_list] == ["latest one", "earlier one"]
    assert "too old to show" not in response.content.decode()


def test_rejected_log_paginates(support_client):
    now = timezone.now()
    RejectedEvent.objects.bulk_create(
        RejectedEvent(created_at=now - dt.timedelta(seconds=i), endpoint="/x", error=f"error {i}") for i in range(30)
    )
    second = support_client.get(URL, {"rpage": 2})
    assert [r.error for r in second.context["rejected_page"].object_list] == [f"error {i}" for i in range(25, 30)]


def test_empty_rejected_log(support_client):
    assert "Nothing rejected in the last 24 hours" in support_client.get(URL).content.decode()


def test_payload_excerpt_is_at_most_2_kb():
    services.rejection_record(
        endpoint="/api/v1/events", error="too big", payload={"properties": {"blob": "x" * 100_000}}, now=timezone.now()
    )
    row = RejectedEvent.objects.get()
    assert len(row.payload) == 2048
    assert row.payload.startswith('{"properties": {"blob": "xxx')


def test_prune_drops_rows_older_than_a_day_and_beyond_5000():
    now = timezone.now()
    RejectedEvent.objects.bulk_create(
        RejectedEvent(created_at=now - dt.timedelta(hours=30), endpoint="/x", error="old") for _ in range(3)
    )
    RejectedEvent.objects.bulk_create(
        RejectedEvent(created_at=now - dt.timedelta(minutes=1), endpoint="/x", error="recent") for _ in range(5010)
    )
    newest = list(RejectedEvent.objects.order_by("-id").values_list("id", flat=True)[:5000])
    assert services.rejected_prune(now=now) == 13
    assert sorted(RejectedEvent.objects.values_list("id", flat=True), reverse=True) == newest


def test_recording_prunes_about_every_hundredth_row():
    now = timezone.now()
    RejectedEvent.objects.create(created_at=now - dt.timedelta(days=2), endpoint="/x", error="stale")
    for _ in range(100):  # one of 100 consecutive ids is a multiple of 100
        services.rejection_record(endpoint="/x", error="bad", now=now)
    assert not RejectedEvent.objects.filter(error="stale").exists()
    assert RejectedEvent.objects.count() == 100


# --- sending a test event -------------------------------------------------------------


def test_finance_sends_a_test_event_through_the_ingestion_service(finance_client):
    meter = MeterFactory(event_name="storage.gb", aggregation_type="SUM", property_name="gb")
    acme = CustomerFactory(external_id="acme")
    response = finance_client.post(
        SEND,
        {"event_name": "storage.gb", "external_customer_id": "acme", "properties": '{"gb": 2.5, "region": "eu"}',
         "event_id": "test-1", "source": "dashboard", "timestamp": ""},
    )  # fmt: skip
    assert response.status_code == 302
    event = UsageEvent.objects.get()
    assert response["Location"] == f"{URL}?sent={event.pk}#send-event"
    assert (event.meter, event.customer, event.quantity, event.idempotency_key, event.source) == (
        meter, acme, Decimal("2.5"), "test-1", "dashboard"
    )
    assert event.properties == {"gb": 2.5, "region": "eu"}
    # The outcome is shown in the form's own card (#send-event), not at the top of the page.
    assert send_outcome(finance_client.get(response["Location"])) == f"Event accepted (id {event.pk}). It is at the top of Recent events."

    again = finance_client.post(SEND, {"event_name": "storage.gb", "external_customer_id": "acme", "properties": '{"gb": 2.5}', "event_id": "test-1"})
    assert UsageEvent.objects.count() == 1
    assert send_outcome(finance_client.get(again["Location"])).startswith("Duplicate: an event with event_id “test-1”")


def test_test_event_errors_beside_the_field(finance_client):
    MeterFactory(event_name="storage.gb", aggregation_type="SUM", property_name="gb")
    CustomerFactory(external_id="acme")
    base = {"event_name": "storage.gb", "external_customer_id": "acme", "properties": '{"gb": 1}'}

    unknown_event = finance_client.post(SEND, {**base, "event_name": "nope"})
    assert unknown_event.status_code == 200
    assert field_errors(unknown_event, "event_name") == ["Event not found: no active feature has event_name &#x27;nope&#x27;"]

    unknown_customer = finance_client.post(SEND, {**base, "external_customer_id": "ghost"})
    assert field_errors(unknown_customer, "external_customer_id") == ["Customer not found: no customer has external_customer_id &#x27;ghost&#x27;"]

    missing_property = finance_client.post(SEND, {**base, "properties": '{"other": 1}'})
    assert field_errors(missing_property, "properties") == ["Missing required property: properties.gb"]

    not_json = finance_client.post(SEND, {**base, "properties": "{gb: 1"})
    assert field_errors(not_json, "properties")[0].startswith("Not valid JSON: Expecting property name")

    bad_time = finance_client.post(SEND, {**base, "timestamp": "yesterday"})
    assert field_errors(bad_time, "timestamp") == ["timestamp is not a valid ISO 8601 timestamp: &#x27;yesterday&#x27;"]

    assert UsageEvent.objects.count() == 0
    # Found: the form's refusals were missing from Rejected. Now each is listed, with the fields as typed.
    rows = list(RejectedEvent.objects.order_by("id").values_list("endpoint", "field"))
    assert rows == [
        ("dashboard: send test event", "event_name"),
        ("dashboard: send test event", "external_customer_id"),
        ("dashboard: send test event", "properties.gb"),
        ("dashboard: send test event", "properties"),
        ("dashboard: send test event", "timestamp"),
    ]
    assert json.loads(RejectedEvent.objects.order_by("id")[3].payload)["properties"] == "{gb: 1"
    assert "Not sent:" in send_outcome(bad_time)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"properties": '{"note": "a\\u0000b"}'}, "properties"),
        ({"properties": '{"note": "\\ud800"}'}, "properties"),
    ],
)
def test_test_event_with_text_postgresql_cannot_hold_is_refused_beside_the_field(finance_client, fields, field):
    MeterFactory(event_name="api.calls", aggregation_type="COUNT")
    CustomerFactory(external_id="acme")
    response = finance_client.post(SEND, {"event_name": "api.calls", "external_customer_id": "acme", **fields})
    assert response.status_code == 200
    errors = " ".join(field_errors(response, field))
    assert "NUL" in errors or "surrogate" in errors, response.content.decode()[:2000]
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "error", "excerpt"),
    [
        (b'{"event_name": "api.calls", "external_', "JSON parse error", '{"event_name": "api.calls", "external_'),
        # A raw NUL is kept as the text \u0000: PostgreSQL text cannot hold the character itself.
        (b'{"event_name": "a\x00b"}', "JSON strings may not contain the NUL character", '{"event_name": "a\\u0000b"}'),
    ],
)
def test_a_body_that_is_not_json_is_listed_under_rejected(api_client, support_client, body, error, excerpt):
    # Found: unparseable JSON got its 400 but never appeared in the debugger.
    key, raw = make_api_key(scopes=["usage.write"])
    api_client.credentials(HTTP_X_API_KEY=raw)

    response = api_client.post("/api/v1/events", data=body, content_type="application/json")

    assert response.status_code == 400, response.content
    row = RejectedEvent.objects.get()
    assert (row.endpoint, row.api_key_prefix) == ("/api/v1/events", key.prefix)
    assert row.error.startswith(error)
    assert row.payload == excerpt
    assert error in support_client.get(URL).content.decode()


def test_the_export_follows_the_filters_and_streams(support_client):
    import csv
    import io

    calls = MeterFactory(event_name="api.calls", aggregation_type="COUNT")
    storage = MeterFactory(event_name="storage.gb", aggregation_type="SUM", property_name="gb")
    acme = CustomerFactory(external_id="acme")
    now = timezone.now()
    for i in range(3):
        UsageEventFactory(meter=calls, customer=acme, quantity=Decimal(1), timestamp=now - dt.timedelta(minutes=i))
    UsageEventFactory(meter=storage, customer=acme, quantity=Decimal("2.5"), timestamp=now, properties={"note": "=cmd"})

    page = support_client.get(URL, {"meter": str(calls.pk)}).content.decode()
    assert f'href="/events/export.csv?meter={calls.pk}"' in page
    response = support_client.get("/events/export.csv", {"meter": str(calls.pk)})

    assert response.status_code == 200 and response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["id", "timestamp", "meter", "customer", "quantity"]
    assert [(row[2], row[3], row[4]) for row in rows[1:]] == [("api.calls", "acme", "1")] * 3
    everything = list(csv.reader(io.StringIO(b"".join(support_client.get("/events/export.csv").streaming_content).decode())))
    assert len(everything) == 5
    assert everything[-1][7] == '{"note":"=cmd"}'  # JSON starts with "{": never read as a formula
    assert support_client.get("/events/export.csv", {"meter": "not-a-meter"}).status_code == 400
