"""The event INSERT runs as a statement prepared once per connection, and survives losing it."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction

from metering.models import UsageEvent
from metering.services import events_store, store
from tests.factories import CustomerFactory, MeterFactory, pending_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def make_pending():
    meter = MeterFactory()
    customer = CustomerFactory()

    def make(key=None, quantity="2.5"):
        return pending_event(meter, customer, key=key, quantity=quantity, properties={"region": "eu"})

    return make


def prepared_here() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'fluxbill_%%' ORDER BY name")
        return [row[0] for row in cursor.fetchall()]


def test_prepared_once_per_connection_and_used_for_both_kinds(make_pending):
    first = events_store([make_pending("a", "1.25")], full_rows=True)
    again = events_store([make_pending("a", "9"), make_pending("b", "3")], full_rows=True)
    bulk = events_store([make_pending("c"), make_pending(None)])

    assert prepared_here() == ["fluxbill_event_insert_full", "fluxbill_event_insert_ids"]
    assert first.events[0].quantity == Decimal("1.25")
    assert again.duplicate == [True, False] and again.events[1].quantity == Decimal("3")
    assert bulk.duplicate == [False, False] and all(bulk.ids)
    assert sorted(UsageEvent.objects.values_list("quantity", flat=True)) == [
        Decimal("1.25"),
        Decimal("2.5"),
        Decimal("2.5"),
        Decimal("3"),
    ]


def test_a_statement_dropped_under_the_connection_is_prepared_again(make_pending):
    events_store([make_pending("a")], full_rows=True)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what DISCARD ALL or a pooler's reset does

    stored = events_store([make_pending("b", "4")], full_rows=True)
    assert stored.events[0].quantity == Decimal("4")
    assert prepared_here() == []  # this call ran the plain statement …

    events_store([make_pending("c")], full_rows=True)
    assert prepared_here() == ["fluxbill_event_insert_full"]  # … and the next one prepared it again
    assert UsageEvent.objects.count() == 3


def test_a_statement_planned_for_old_columns_is_replaced(make_pending):
    events_store([make_pending("a")], full_rows=True)
    with connection.cursor() as cursor:
        # A migration that changes a returned column's type while the connection lives on.
        cursor.execute("ALTER TABLE metering_usageevent ALTER COLUMN source TYPE varchar(120)")
    try:
        stored = events_store([make_pending("b", "6")], full_rows=True)
        assert stored.events[0].quantity == Decimal("6")
        events_store([make_pending("c")], full_rows=True)
        assert prepared_here() == ["fluxbill_event_insert_full"]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE metering_usageevent ALTER COLUMN source TYPE varchar(100)")
    assert UsageEvent.objects.count() == 3


def test_a_new_connection_prepares_it_again(make_pending):
    events_store([make_pending("a")], full_rows=True)
    connection.close()

    events_store([make_pending("b")], full_rows=True)
    assert prepared_here() == ["fluxbill_event_insert_full"]
    assert UsageEvent.objects.count() == 2


def test_a_statement_the_session_already_holds_is_used(make_pending):
    # As when a pooler hands this connection a server session another client prepared it in.
    with connection.cursor() as cursor:
        cursor.execute("PREPARE fluxbill_event_insert_full(jsonb) AS " + store._INSERT_FULL.replace("%s", "$1"))

    stored = events_store([make_pending("a", "5")], full_rows=True)
    assert stored.events[0].quantity == Decimal("5")
    assert UsageEvent.objects.get().quantity == Decimal("5")


def test_server_side_binding_runs_it_plain(make_pending):
    options = connection.settings_dict["OPTIONS"]
    options["server_side_binding"] = True
    try:
        events_store([make_pending("a")], full_rows=True)
    finally:
        del options["server_side_binding"]
    assert prepared_here() == []
    assert UsageEvent.objects.count() == 1


def test_inside_a_transaction_nothing_is_prepared(make_pending):
    with transaction.atomic():
        events_store([make_pending(str(uuid.uuid4()))], full_rows=True)
    assert prepared_here() == []
    assert UsageEvent.objects.count() == 1


def test_the_setting_turns_it_off(make_pending, settings):
    settings.FLUXBILL_INGEST_PREPARED_INSERT = False
    events_store([make_pending("a")], full_rows=True)
    assert prepared_here() == []
    assert UsageEvent.objects.count() == 1
