"""Group commit: single events that reach the database together share one INSERT, on committed data.

To make batching certain rather than likely, the first writer is held up by a row lock: another
connection has inserted an event under the same idempotency key and not yet committed, so the
writer's INSERT waits on the unique index while the other requests queue behind it.
"""

import threading
import time
import uuid
from decimal import Decimal

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from metering.choices import AggregationType
from metering.models import UsageEvent
from metering.services import event_store_one, group_writer
from tests.factories import CustomerFactory, MeterFactory, pending_event

pytestmark = pytest.mark.django_db(transaction=True)

QUEUED = 12


@pytest.fixture
def blocker():
    """A second connection that inserts a keyed event in an open transaction, held until released."""
    settings_dict = connection.settings_dict
    conn = psycopg.connect(
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
    )

    def hold(meter, customer, key):
        conn.execute(
            """
            INSERT INTO metering_usageevent
                (meter_id, customer_id, quantity, timestamp, idempotency_key, properties, source, created_at)
            VALUES (%s, %s, 7, now() - interval '1 minute', %s, '{}', '', now())
            """,
            [meter.id, customer.id, key],
        )

    yield conn, hold
    conn.close()


def store_in_threads(items):
    """event_store_one(item) per thread, all at once; returns (results, errors) by index."""
    results, errors = [None] * len(items), [None] * len(items)

    def work(index, item):
        try:
            results[index] = event_store_one(item)
        except Exception as exc:  # reported to the test
            errors[index] = exc
        finally:
            connection.close()

    # Daemon threads: a request the writer never answers fails its test instead of keeping pytest from exiting.
    threads = [threading.Thread(target=work, args=(i, item), daemon=True) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    return threads, results, errors


def wait_for_queue(length, timeout=20):
    deadline = time.monotonic() + timeout
    while len(group_writer()._queue) < length:
        assert time.monotonic() < deadline, f"only {len(group_writer()._queue)} requests queued"
        time.sleep(0.01)


def wait_for_writer(timeout=20):
    deadline = time.monotonic() + timeout
    while not group_writer()._writing:
        assert time.monotonic() < deadline, "no request is writing through the group writer"
        time.sleep(0.01)


def held_write(blocker):
    """A meter, a customer, and a first request writing through the group writer, held by `blocker`."""
    _, hold = blocker
    meter = MeterFactory()
    customer = CustomerFactory()
    hold(meter, customer, "held")
    first, _, _ = store_in_threads([pending_event(meter, customer, key="held")])
    wait_for_writer()
    return meter, customer, first


def join(threads):
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a request hung"


def test_requests_arriving_during_a_write_share_the_next_insert(blocker):
    conn, hold = blocker
    meter = MeterFactory(aggregation_type=AggregationType.SUM)
    customer = CustomerFactory()
    hold(meter, customer, "held")
    writer = group_writer()
    batches_before, events_before = writer.batches, writer.events

    first, first_results, first_errors = store_in_threads([pending_event(meter, customer, key="held", quantity="5")])
    # The first request is now writing, blocked on the open transaction's key.
    wait_for_writer()
    items = [pending_event(meter, customer, key=f"k{i}", quantity=str(i + 1)) for i in range(QUEUED)]
    rest, results, errors = store_in_threads(items)
    wait_for_queue(QUEUED)
    conn.commit()
    join(first + rest)

    assert first_errors == [None] and errors == [None] * QUEUED, (first_errors, errors)
    # The held key was committed by the other connection first: this request is its duplicate.
    held_event, held_duplicate = first_results[0]
    assert held_duplicate is True and held_event.quantity == Decimal("7")
    # Twelve requests, one statement: the write after the held one carried them all.
    assert (writer.batches - batches_before, writer.events - events_before) == (2, 1 + QUEUED)
    stored = {e.idempotency_key: e for e in UsageEvent.objects.exclude(idempotency_key="held")}
    assert len(stored) == QUEUED
    for i, (event, duplicate) in enumerate(results):
        assert duplicate is False
        assert event.id == stored[f"k{i}"].id
        assert event.quantity == Decimal(i + 1) == stored[f"k{i}"].quantity
        assert event.properties == {"n": f"k{i}"}
        assert event.customer_id == str(customer.id) and event.meter_id == str(meter.id)


def test_one_key_twice_in_a_batch_stores_one_event_and_both_see_it(blocker):
    conn, _ = blocker
    meter, customer, first = held_write(blocker)
    twins = [pending_event(meter, customer, key="twin", quantity=q) for q in ("2", "3")]
    rest, results, errors = store_in_threads(twins)
    wait_for_queue(2)
    conn.rollback()
    join(first + rest)

    assert errors == [None, None]
    (a, a_dup), (b, b_dup) = results
    assert sorted([a_dup, b_dup]) == [False, True]
    assert a.id == b.id == UsageEvent.objects.get(idempotency_key="twin").id
    # The held key was rolled back, so the first request stored its own event.
    assert UsageEvent.objects.filter(idempotency_key="held").count() == 1


def test_an_event_for_a_deleted_customer_fails_alone_and_the_batch_is_stored(blocker):
    conn, _ = blocker
    meter, customer, first = held_write(blocker)
    ghost = pending_event(meter, customer, key="ghost")
    ghost.customer_id = uuid.uuid4()  # as if cached before the customer was deleted
    items = [pending_event(meter, customer, key="a"), ghost, pending_event(meter, customer, key="b")]
    rest, results, errors = store_in_threads(items)
    wait_for_queue(3)
    conn.rollback()
    join(first + rest)

    assert isinstance(errors[1], IntegrityError)
    assert errors[0] is None and errors[2] is None
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == {"held", "a", "b"}
    # The writer is free again afterwards.
    event, duplicate = event_store_one(pending_event(meter, customer, key="after"))
    assert duplicate is False and UsageEvent.objects.filter(pk=event.id).exists()
    assert group_writer()._writing is False


def test_inside_a_transaction_the_event_rolls_back_with_it():
    meter = MeterFactory()
    customer = CustomerFactory()
    batches_before = group_writer().batches

    with pytest.raises(RuntimeError), transaction.atomic():
        event, _ = event_store_one(pending_event(meter, customer, key="in-tx"))
        assert UsageEvent.objects.filter(pk=event.id).exists()
        raise RuntimeError("roll back")

    assert not UsageEvent.objects.filter(idempotency_key="in-tx").exists()
    assert group_writer().batches == batches_before


def test_a_statement_the_database_refuses_fails_only_its_own_member(blocker):
    # A value past validation that PostgreSQL refuses (jsonb holds no NUL) shares a group with valid events:
    # the group is written again member by member, and only the bad one fails.
    conn, _ = blocker
    meter, customer, first = held_write(blocker)
    bad = pending_event(meter, customer, key="bad")
    bad.properties_json = '{"note": "a\\u0000b"}'
    items = [pending_event(meter, customer, key=f"ok{i}") for i in range(5)]
    items.insert(2, bad)
    rest, results, errors = store_in_threads(items)
    wait_for_queue(len(items))
    conn.rollback()
    join(first + rest)

    assert errors[2] is not None
    assert [e for i, e in enumerate(errors) if i != 2] == [None] * 5, errors
    stored = set(UsageEvent.objects.values_list("idempotency_key", flat=True))
    assert stored == {"held"} | {f"ok{i}" for i in range(5)}
    assert group_writer()._writing is False
