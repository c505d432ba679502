"""Writing events: one INSERT … ON CONFLICT DO NOTHING per batch, and group commit for single events.

The partial unique index on (meter, customer, idempotency_key) decides what is a duplicate, so
concurrent retries of one key store one event whatever the timing.

Single-event requests (`/sdk/track`, `/usage`, `/events`) would each pay a statement and a durable
commit of their own; PostgreSQL spends about as much CPU on that as the whole plain Django view does.
`event_store_one` lets the requests that reach the database together in one process share a
statement and a commit instead (group commit): the first becomes the writer, the ones arriving
while it writes queue up and the next writer takes them all. Nobody waits on a timer: a lone
request writes at once, and under load batches form by themselves while the previous one commits.
"""

from __future__ import annotations

import json
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, IntegrityError, NotSupportedError, OperationalError, ProgrammingError, connection

from .. import lookups
from ..lookups import MeterRef
from .. import validation
from ..validation import EventRejected


class StaleCustomer(IntegrityError):
    """A batch named a customer id, taken from this process's external-id map, that no longer exists.
    Nothing was written and the map is forgotten: resolve the customers again and store again."""


@dataclass
class PendingEvent:
    """An event that passed validation, waiting for its customer id and its row."""

    meter: MeterRef
    external_customer_id: str
    quantity: Decimal
    timestamp: datetime
    idempotency_key: str | None
    properties: dict
    source: str = ""
    customer_id: uuid.UUID | None = None
    properties_json: str | None = None


class StoredEvent(NamedTuple):
    """A stored event as the ingestion answers show it (read straight from RETURNING, no model instance)."""

    id: int
    meter_id: str
    customer_id: str
    idempotency_key: str | None
    quantity: Decimal
    timestamp: datetime
    properties: dict
    source: str
    created_at: datetime


@dataclass
class StoreResult:
    """Per pending event, in order: the stored row's id, and whether it was a duplicate."""

    ids: list[int | None] = field(default_factory=list)
    duplicate: list[bool] = field(default_factory=list)
    # With events_store(..., full_rows=True): the stored event per index, None for a duplicate.
    events: list[StoredEvent | None] = field(default_factory=list)


# The batch travels as one JSON array of rows: psycopg adapts a Python list into an array parameter
# value by value in Python (seven arrays cost ~25 µs per event), while json.dumps is one C call;
# PostgreSQL spends about the same unpacking either.
_INSERT = """
    INSERT INTO metering_usageevent
        (meter_id, customer_id, quantity, timestamp, idempotency_key, properties, source, created_at)
    SELECT (e->>0)::uuid, (e->>1)::uuid, (e->>2)::numeric, (e->>3)::timestamptz, e->>4, (e->>5)::jsonb, e->>6, now()
    FROM jsonb_array_elements(%s::jsonb) AS e
    ON CONFLICT (meter_id, customer_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, meter_id::text, customer_id::text, idempotency_key
"""
_FULL_COLUMNS = "id, meter_id::text, customer_id::text, idempotency_key, quantity, timestamp, properties, source, created_at"
# The same, returning whole rows so single-event answers need no second read.
_INSERT_FULL = _INSERT.replace("RETURNING id, meter_id::text, customer_id::text, idempotency_key", "RETURNING " + _FULL_COLUMNS)
_SELECT_KEYED = f"""
    SELECT {_FULL_COLUMNS} FROM metering_usageevent
    WHERE meter_id = %s AND customer_id = %s AND idempotency_key = %s
"""


# Statements prepared once per connection (SQL PREPARE, then EXECUTE with the document as its one
# parameter): PostgreSQL then skips parsing and planning the INSERT, about 30 % of its CPU for a
# statement of a few rows, while psycopg keeps its cheap client-side binding.
_STATEMENTS = {"full": _INSERT_FULL, "ids": _INSERT}
_PREPARED_NAMES = {kind: f"fluxbill_event_insert_{kind}" for kind in _STATEMENTS}
# psycopg connection -> names prepared on it; an entry goes when its connection is garbage-collected.
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_prepared_lock = threading.Lock()
# SQLSTATEs meaning the prepared statement is gone (DISCARD ALL, a pooler that switched the server
# connection) or stale (a migration changed the table's columns): forget it and run the plain statement.
_PREPARED_GONE = {"26000", "0A000"}


def _insert(cursor, kind: str, document: str) -> list[tuple]:
    """Run the batch INSERT (`kind` "full" or "ids") and return its RETURNING rows.

    Outside a transaction the statement runs prepared; inside one (tests, ATOMIC_REQUESTS) it runs
    plain, because a failed EXECUTE there would abort the caller's transaction.
    """
    statement = _STATEMENTS[kind]
    if (
        not settings.FLUXBILL_INGEST_PREPARED_INSERT
        or connection.in_atomic_block
        # EXECUTE takes its argument spelled out, which only client-side binding (Django's default) does.
        or connection.settings_dict["OPTIONS"].get("server_side_binding")
    ):
        cursor.execute(statement, [document])
        return cursor.fetchall()
    raw = connection.connection
    name = _PREPARED_NAMES[kind]
    with _prepared_lock:
        names = _prepared.setdefault(raw, set())
    if name not in names:
        try:
            cursor.execute(f"PREPARE {name}(jsonb) AS {statement.replace('%s', '$1')}")
        except ProgrammingError as exc:
            # Already prepared in this server session (a pooler handed it over): use it; if it is stale,
            # EXECUTE below says so and the plain statement runs.
            if _sqlstate(exc) != "42P05":
                raise
        names.add(name)
    try:
        cursor.execute(f"EXECUTE {name}(%s)", [document])
    except (ProgrammingError, NotSupportedError) as exc:
        if _sqlstate(exc) not in _PREPARED_GONE:
            raise
        names.discard(name)
        if _sqlstate(exc) == "0A000":  # still there, but planned for the old columns
            try:
                cursor.execute(f"DEALLOCATE {name}")
            except ProgrammingError:
                pass  # gone after all: the next call prepares it either way
        cursor.execute(statement, [document])
    return cursor.fetchall()


def _sqlstate(exc: Exception) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


def _json_number(value):
    """Properties keep numbers as numbers (the exact quantity lives in its own column)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder for every event: json.dumps with options builds a new JSONEncoder per call.
_PROPERTIES_ENCODER = json.JSONEncoder(default=_json_number, ensure_ascii=False, allow_nan=False)


def properties_json(props: dict, field_name: str) -> str:
    """The stored JSON text, made while the event is judged: a number PostgreSQL's jsonb cannot hold
    (beyond float range, e.g. 1e400) rejects this one event instead of failing the batch's INSERT."""
    try:
        encoded = _PROPERTIES_ENCODER.encode(props)
    except ValueError:
        raise EventRejected(f"{field_name} holds a number too large to store", field_name) from None
    return validation.storable(encoded, field_name, json_text=True)


def _stored(row: tuple) -> StoredEvent:
    # Django's PostgreSQL backend loads jsonb as text (the model field decodes it); so do we.
    properties = row[6]
    return StoredEvent(*row[:6], json.loads(properties) if isinstance(properties, str) else properties, *row[7:])


def events_store(pending: list[PendingEvent], *, full_rows: bool = False) -> StoreResult:
    """Insert a batch in one statement; keyed events already stored (or repeated in the batch) are duplicates.

    With `full_rows`, `result.events` holds the StoredEvent per index (None for a duplicate).
    """
    # Ids as text both ways: matching rows back on strings avoids hashing uuid.UUID objects in Python.
    targets = [(str(p.meter.id), str(p.customer_id)) for p in pending]
    document = json.dumps(
        [
            [
                meter_id,
                customer_id,
                str(p.quantity),
                p.timestamp.isoformat(),
                p.idempotency_key,
                p.properties_json if p.properties_json is not None else properties_json(p.properties, "properties"),
                p.source,
            ]
            for (meter_id, customer_id), p in zip(targets, pending)
        ],
        ensure_ascii=False,
    )
    try:
        with connection.cursor() as cursor:
            rows = _insert(cursor, "full" if full_rows else "ids", document)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""
        if _sqlstate(exc) != "23503" or "customer_id" not in constraint:
            raise
        # A cached customer id that no longer exists (the customer was deleted, perhaps by another
        # process, and maybe created again under the same external id): forget the map; nothing was
        # written. (The foreign key is checked at commit: in autocommit, this statement's.)
        lookups.forget_customers()
        raise StaleCustomer(str(exc)) from exc
    # Rows come back in insertion order, which is the batch's order.
    unkeyed = [row for row in rows if row[3] is None]
    keyed = {(row[1], row[2], row[3]): row for row in rows if row[3] is not None}
    result = StoreResult()
    unkeyed_iter = iter(unkeyed)
    for (meter_id, customer_id), p in zip(targets, pending):
        if p.idempotency_key is None:
            row = next(unkeyed_iter)
        else:
            row = keyed.pop((meter_id, customer_id, p.idempotency_key), None)
        result.ids.append(row[0] if row is not None else None)
        result.duplicate.append(row is None)
        if full_rows:
            result.events.append(_stored(row) if row is not None else None)
    return result


def event_stored(pending: PendingEvent) -> StoredEvent:
    """The event already stored under a pending event's idempotency key (after a duplicate)."""
    with connection.cursor() as cursor:
        cursor.execute(_SELECT_KEYED, [pending.meter.id, pending.customer_id, pending.idempotency_key])
        return _stored(cursor.fetchone())


# --- Group commit ---------------------------------------------------------------------


class _Slot:
    """One waiting request: its event, a latch it sleeps on, and what the writer found."""

    __slots__ = ("pending", "latch", "event", "duplicate", "error", "done", "lead")

    def __init__(self, pending: PendingEvent):
        self.pending = pending
        # A plain lock used as a latch: acquired now, released by whoever finishes this slot.
        self.latch = threading.Lock()
        self.latch.acquire()
        self.event: StoredEvent | None = None
        self.duplicate = False
        self.error: BaseException | None = None
        self.done = False
        self.lead = False


class GroupWriter:
    """Per process: single events that arrive while a write is under way go together in the next one.

    At most one thread writes at a time. When it is done it wakes the requests it wrote for, and
    hands the writing to the first request that queued meanwhile, which takes the whole queue.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._writing = False
        # Counters for tests and benchmarks: statements issued and events they carried.
        self.batches = 0
        self.events = 0

    def store(self, pending: PendingEvent) -> tuple[StoredEvent | None, bool]:
        slot = _Slot(pending)
        with self._lock:
            self._queue.append(slot)
            lead = not self._writing
            self._writing = True
        if not lead:
            slot.latch.acquire()
        if lead or slot.lead:
            self._write_queue()
        if slot.error is not None:
            raise slot.error
        return slot.event, slot.duplicate

    def _write_queue(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            _write_batch(batch)
            self.batches += 1
            self.events += len(batch)
        finally:
            for slot in batch:
                if not slot.done and slot.error is None:
                    slot.error = DatabaseError("The event was not written; retry with the same idempotency key")
            with self._lock:
                successor = self._queue[0] if self._queue else None
                if successor is None:
                    self._writing = False
                else:
                    successor.lead = True
            for slot in batch:
                slot.latch.release()
            if successor is not None:
                successor.latch.release()


def _write_batch(batch: list[_Slot]) -> None:
    try:
        result = events_store([slot.pending for slot in batch], full_rows=True)
    except OperationalError as exc:
        # The connection or the server failed: every member fails alike (clients retry with their keys).
        for slot in batch:
            slot.error = exc
        return
    except (DatabaseError, ValueError, UnicodeError) as exc:
        if len(batch) == 1:
            batch[0].error = exc
            return
        # One member the statement refused (a customer deleted since it was cached, a value that got
        # past validation): write each on its own, so only that one fails. In autocommit the failed
        # statement wrote nothing.
        for slot in batch:
            _write_batch([slot])
        return
    for slot, event, duplicate in zip(batch, result.events, result.duplicate):
        slot.event, slot.duplicate, slot.done = event, duplicate, True


_writer = GroupWriter()


def group_writer() -> GroupWriter:
    return _writer


def event_store_one(pending: PendingEvent) -> tuple[StoredEvent, bool]:
    """Store one event; returns (the stored event, or the one stored before under its key; was_duplicate).

    Inside a transaction the event is written on the caller's own connection, so it commits or
    rolls back with the rest; otherwise it goes through the process's group writer.
    """
    if connection.in_atomic_block or not settings.FLUXBILL_INGEST_GROUP_COMMIT:
        result = events_store([pending], full_rows=True)
        event, duplicate = result.events[0], result.duplicate[0]
    else:
        event, duplicate = _writer.store(pending)
    if event is None:
        event = event_stored(pending)
    return event, duplicate
