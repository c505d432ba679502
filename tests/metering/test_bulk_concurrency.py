"""At most FLUXBILL_BULK_CONCURRENCY bulk requests are read and parsed at once in a process: the next one
waits FLUXBILL_BULK_QUEUE_SECONDS for a turn and is answered 503 with Retry-After; once a turn is free
bulk requests are taken again. Real HTTP against the live server (one thread per request), real threads
as clients, PostgreSQL. The requests holding the turns are kept inside them by a row the test has
inserted and not committed: their INSERT waits on its idempotency key. At most as many wait for a turn as
may parse (each holds a thread of the process); the next is answered 503 at once."""

from __future__ import annotations

import http.client
import json
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from django.db import connection, transaction
from django.utils import timezone

from metering.api import bulk_gate
from metering.models import UsageEvent
from tests.factories import CustomerFactory, MeterFactory, make_api_key

BULK = "/api/v1/events/bulk"
TURNS = 2


def _post(url: str, key: str, events: list) -> tuple[int, dict, str | None]:
    address = urlsplit(url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        conn.request("POST", BULK, body=json.dumps({"events": events}),
                     headers={"Content-Type": "application/json", "X-API-Key": key})  # fmt: skip
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read()), answer.getheader("Retry-After")
    finally:
        conn.close()


def _event(event_id: str) -> dict:
    return {"event_name": "api.calls", "external_customer_id": "acme", "event_id": event_id, "properties": {"calls": 1}}


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction otherwise reads the view once
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _until(condition, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def bulk(live_server, settings):
    """(send, key): `send(name, events)` posts from a thread of its own; answers land in `send.results`."""
    settings.FLUXBILL_BULK_CONCURRENCY = TURNS
    settings.FLUXBILL_BULK_SMALL_BYTES = 0  # every body takes a turn here; small ones are tested below
    customer = CustomerFactory(external_id="acme")
    meter = MeterFactory(event_name="api.calls", property_name="calls")
    _, key = make_api_key(scopes=["usage.write"])
    results: dict[str, tuple] = {}

    def send(name: str, events: list) -> threading.Thread:
        thread = threading.Thread(target=lambda: results.__setitem__(name, _post(live_server.url, key, events)))
        thread.start()
        return thread

    send.results, send.meter, send.customer, send.url, send.key = results, meter, customer, live_server.url, key
    return send


@contextmanager
def _turns_held(send):
    """TURNS requests inside their turns, kept there by rows the test inserted and has not committed
    (their INSERT waits on the idempotency key); on leaving, the rows roll back and those requests go on."""
    with transaction.atomic():
        for i in range(TURNS):
            UsageEvent.objects.create(meter=send.meter, customer=send.customer, quantity=1, timestamp=timezone.now(),
                                      idempotency_key=f"held-{i}")  # fmt: skip
        holders = [send(f"held-{i}", [_event(f"held-{i}"), _event(f"with-held-{i}")]) for i in range(TURNS)]
        assert _until(lambda: _waiting_on_locks() == TURNS, 30), "the first requests never reached their INSERT"
        yield holders
        transaction.set_rollback(True)


def _held_keys() -> set[str]:
    return {f"held-{i}" for i in range(TURNS)} | {f"with-held-{i}" for i in range(TURNS)}


@pytest.mark.django_db(transaction=True)
def test_the_request_past_the_bulk_concurrency_waits_its_turn_then_gets_503_with_retry_after(bulk, settings):
    settings.FLUXBILL_BULK_QUEUE_SECONDS = 0.5
    with _turns_held(bulk) as holders:
        over = _post(bulk.url, bulk.key, [_event("over")])
    for thread in holders:
        thread.join(60)
    after = _post(bulk.url, bulk.key, [_event("after")])

    status, body, retry_after = over
    assert status == 503, body
    assert retry_after == "1"
    assert set(body) == {"error", "field"} and "retry after" in body["error"]
    assert [bulk.results[f"held-{i}"][0] for i in range(TURNS)] == [202] * TURNS
    assert after[0] == 202, after
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == _held_keys() | {"after"}


@pytest.mark.django_db(transaction=True)
def test_no_more_wait_for_a_turn_than_may_parse_the_next_is_refused_at_once(bulk, settings):
    # Long enough that a refusal while the waiters still wait cannot be a wait that ran out.
    settings.FLUXBILL_BULK_QUEUE_SECONDS = 60
    with _turns_held(bulk) as holders:
        waiters = [bulk(f"wait-{i}", [_event(f"wait-{i}")]) for i in range(TURNS)]
        assert _until(lambda: bulk_gate.waiting() == TURNS, 30), "the next requests never queued"
        over = _post(bulk.url, bulk.key, [_event("over")])
        still_waiting = bulk_gate.waiting()
    for thread in holders + waiters:
        thread.join(60)

    assert over[0] == 503, over
    assert over[2] == "1"
    assert still_waiting == TURNS
    assert [bulk.results[f"wait-{i}"][0] for i in range(TURNS)] == [202] * TURNS
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == _held_keys() | {
        f"wait-{i}" for i in range(TURNS)
    }


@pytest.mark.django_db(transaction=True)
def test_a_small_body_takes_no_turn(bulk, settings):
    settings.FLUXBILL_BULK_QUEUE_SECONDS = 0.5
    with _turns_held(bulk) as holders:
        settings.FLUXBILL_BULK_SMALL_BYTES = 64 * 1024
        small = _post(bulk.url, bulk.key, [_event("small")])
        large = _post(bulk.url, bulk.key, [_event("large") | {"properties": {"calls": 1, "pad": "x" * 70_000}}])
    for thread in holders:
        thread.join(60)

    assert small[0] == 202, small
    assert large[0] == 503, large
