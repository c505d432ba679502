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


# --- Pipelined commit ------------------------------------------------------------------
# These tests hold the flush up: `flush_log` is wrapped so that it waits for the test before running
# the real flush on the real connection. What the requests see meanwhile is the behaviour under test.


@pytest.fixture
def held_flush(monkeypatch):
    """(entered, release, pids): a flush sets `entered` and waits for `release`; `pids` are its backends."""
    from metering.services import store

    real_flush = store.flush_log
    entered, release, pids = threading.Event(), threading.Event(), []

    def flush_when_released():
        pids.append(connection.connection.info.backend_pid if connection.connection else None)
        entered.set()
        assert release.wait(20), "the test never released the flush"
        real_flush()

    monkeypatch.setattr(store, "flush_log", flush_when_released)
    yield entered, release, pids
    release.set()


def wait_until(predicate, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_lone_event_is_written_then_flushed():
    meter, customer = MeterFactory(), CustomerFactory()
    writer = group_writer()
    before = (writer.batches, writer.flushes)

    event, duplicate = event_store_one(pending_event(meter, customer, key="lone"))

    assert duplicate is False and UsageEvent.objects.get(idempotency_key="lone").id == event.id
    assert (writer.batches - before[0], writer.flushes - before[1]) == (1, 1)
    assert writer._flushing is False and writer._unflushed == []


def test_without_pipelined_commit_the_write_waits_for_its_own_flush(settings):
    settings.FLUXBILL_INGEST_PIPELINED_COMMIT = False
    meter, customer = MeterFactory(), CustomerFactory()
    writer = group_writer()
    before = (writer.batches, writer.flushes)

    event, _ = event_store_one(pending_event(meter, customer, key="own-flush"))

    assert UsageEvent.objects.get(idempotency_key="own-flush").id == event.id
    assert (writer.batches - before[0], writer.flushes - before[1]) == (1, 0)


def test_the_next_batch_is_written_while_the_last_is_flushed_and_nobody_is_answered_before_the_flush(held_flush):
    entered, release, _ = held_flush
    meter, customer = MeterFactory(), CustomerFactory()
    writer = group_writer()
    flushes_before = writer.flushes

    first, first_results, first_errors = store_in_threads([pending_event(meter, customer, key="a")])
    assert entered.wait(20), "the first write never reached its flush"
    # Committed, visible to everyone, and not yet answered.
    assert UsageEvent.objects.filter(idempotency_key="a").exists()
    # Requests arriving now are written while the first flush is held...
    rest, results, errors = store_in_threads([pending_event(meter, customer, key=k) for k in ("b", "c")])
    wait_until(lambda: UsageEvent.objects.filter(idempotency_key__in=["b", "c"]).count() == 2, "b and c were not written")
    # ...and wait for a flush of their own: the one under way began before they were written.
    time.sleep(0.2)
    assert all(thread.is_alive() for thread in first + rest)
    release.set()
    join(first + rest)

    assert first_errors == [None] and errors == [None, None]
    stored = dict(UsageEvent.objects.values_list("idempotency_key", "id"))
    assert [event.id for event, _ in first_results + results] == [stored["a"], stored["b"], stored["c"]]
    # One flush for the first write, then one (or, if c came after b was written, two) for the rest.
    assert 2 <= writer.flushes - flushes_before <= 3
    assert writer._flushing is False and writer._unflushed == []


def test_a_failed_flush_fails_every_request_waiting_on_it_and_a_retry_finds_the_event(held_flush):
    entered, release, pids = held_flush
    meter, customer = MeterFactory(), CustomerFactory()

    first, _, first_errors = store_in_threads([pending_event(meter, customer, key="a")])
    assert entered.wait(20)
    rest, _, errors = store_in_threads([pending_event(meter, customer, key="b")])
    wait_until(lambda: UsageEvent.objects.filter(idempotency_key="b").exists(), "b was not written")
    # The flushing connection dies before its flush runs.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pids[0]])
    release.set()
    join(first + rest)

    from django.db import DatabaseError

    assert isinstance(first_errors[0], DatabaseError) and isinstance(errors[0], DatabaseError)
    writer = group_writer()
    assert writer._flushing is False and writer._unflushed == [] and writer._writing is False
    # The client retries with the same key: the event committed before the failure is its answer.
    retried, retry_results, retry_errors = store_in_threads([pending_event(meter, customer, key="a")])
    join(retried)
    assert retry_errors == [None]
    event, duplicate = retry_results[0]
    assert duplicate is True and event.id == UsageEvent.objects.get(idempotency_key="a").id
    assert UsageEvent.objects.filter(idempotency_key="a").count() == 1
