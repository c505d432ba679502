"""Usage ingestion: turning the Fluxrate and Flexprice contracts into stored events.

Both contracts end in `events_store`, one INSERT … ON CONFLICT DO NOTHING for the whole batch:
the partial unique index on (meter, customer, idempotency_key) decides what is a duplicate, so
concurrent retries of one key store one event whatever the timing.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import DatabaseError, IntegrityError, connection

from . import lookups, validation
from .aggregation import unique_property
from .choices import AggregationType
from .lookups import MeterRef
from .models import RejectedEvent, UsageEvent
from .validation import EventRejected, EventTargetNotFound

logger = logging.getLogger(__name__)

_QUANTITY_FROM_PROPERTY = {
    AggregationType.SUM,
    AggregationType.MAX,
    AggregationType.MIN,
    AggregationType.AVG,
    AggregationType.LATEST,
}


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


@dataclass
class StoreResult:
    """Per pending event, in order: the stored row's id, and whether it was a duplicate."""

    ids: list[int | None] = field(default_factory=list)
    duplicate: list[bool] = field(default_factory=list)
    # With events_store(..., full_rows=True): the stored event per index, None for a duplicate.
    events: list[UsageEvent | None] = field(default_factory=list)


def _active_meter(meter: MeterRef | None, label: str, field_name: str) -> MeterRef:
    if meter is None:
        raise EventTargetNotFound(f"{label} not found", field_name)
    if not meter.active:
        raise EventTargetNotFound(f"{label} is archived and accepts no events", field_name)
    return meter


def _check_unique_value(meter: MeterRef, props: dict, container: str) -> None:
    if meter.aggregation_type == AggregationType.UNIQUE_COUNT:
        key = meter.property_name or "user_id"
        value = props.get(key)
        if value is None or value == "" or isinstance(value, (dict, list)):
            raise EventRejected(
                f"Missing required property: {container}.{key} (the value this UNIQUE_COUNT meter counts)",
                f"{container}.{key}",
            )


# --- Fluxrate -------------------------------------------------------------------------


def parse_fluxrate_event(data, *, now: datetime, by: str) -> PendingEvent:
    """`/sdk/track` (by="token": meter_token, customer_external_id) or `/usage` (by="id": meter_id, customer_id)."""
    if not isinstance(data, dict):
        raise EventRejected("Request body must be a JSON object", None)
    if by == "token":
        raw_meter = validation.text(data, "meter_token", required=True)
        try:
            meter = lookups.meter_by_token(uuid.UUID(raw_meter))
        except ValueError:
            meter = None
        meter = _active_meter(meter, f"Meter with meter_token '{raw_meter}'", "meter_token")
        external_id = validation.text(data, "customer_external_id", required=True)
    else:
        raw_meter = validation.text(data, "meter_id", required=True)
        try:
            meter = lookups.meter_by_id(uuid.UUID(raw_meter))
        except ValueError:
            meter = None
        meter = _active_meter(meter, f"Meter '{raw_meter}'", "meter_id")
        external_id = None
    qty = validation.quantity(data.get("quantity"), "quantity", positive=True)
    metadata = validation.properties(data.get("metadata"), "metadata")
    _check_unique_value(meter, metadata, "metadata")
    metadata_json = _properties_json(metadata, "metadata")
    return PendingEvent(
        meter=meter,
        external_customer_id=external_id or "",
        quantity=qty,
        timestamp=validation.timestamp(data.get("timestamp"), "timestamp", now),
        idempotency_key=validation.text(data, "idempotency_key"),
        properties=metadata,
        source=validation.text(data, "source") or "",
        properties_json=metadata_json,
    )


def event_track(*, data, now: datetime, by: str = "token") -> tuple[UsageEvent, bool]:
    """Store one Fluxrate event; returns (event, was_duplicate). Unknown customers are created by `/sdk/track`."""
    pending = parse_fluxrate_event(data, now=now, by=by)
    if by == "token":
        pending.customer_id = lookups.customer_ids({pending.external_customer_id}, create=True)[
            pending.external_customer_id
        ]
    else:
        raw_customer = validation.text(data, "customer_id", required=True)
        pending.customer_id = _existing_customer_id(raw_customer)
    result = events_store([pending], full_rows=True)
    event = result.events[0]
    if event is None:
        event = UsageEvent.objects.get(
            meter_id=pending.meter.id, customer_id=pending.customer_id, idempotency_key=pending.idempotency_key
        )
    return event, result.duplicate[0]


def _existing_customer_id(raw: str) -> uuid.UUID:
    from customers.models import Customer

    try:
        as_uuid = uuid.UUID(raw)
    except ValueError:
        as_uuid = None
    found = Customer.objects.filter(pk=as_uuid).values_list("pk", flat=True).first() if as_uuid else None
    if found is None:
        found = lookups.customer_ids({raw}, create=False).get(raw)
    if found is None:
        raise EventTargetNotFound(f"Customer '{raw}' not found", "customer_id")
    return found


# --- Flexprice ------------------------------------------------------------------------


def parse_flexprice_event(data, *, now: datetime, where: str = "") -> PendingEvent:
    """One `/events` object. The meter decides where the quantity comes from."""
    if not isinstance(data, dict):
        raise EventRejected("Event must be a JSON object", where or None)
    event_name = validation.text(data, "event_name", required=True)
    meter = lookups.meter_by_event_name(event_name)
    if meter is None or not meter.active:
        raise EventTargetNotFound(f"Event name '{event_name}' not found", "event_name")
    external_id = validation.text(data, "external_customer_id", required=True)
    props = validation.properties(data.get("properties"), "properties")
    if meter.aggregation_type in _QUANTITY_FROM_PROPERTY:
        name = meter.property_name
        if name not in props:
            raise EventRejected(f"Missing required property: properties.{name}", f"properties.{name}")
        qty = validation.quantity(props[name], f"properties.{name}", positive=False)
    else:
        _check_unique_value(meter, props, "properties")
        qty = Decimal(1)
    props_json = _properties_json(props, "properties")
    return PendingEvent(
        meter=meter,
        external_customer_id=external_id,
        quantity=qty,
        timestamp=validation.timestamp(data.get("timestamp"), "timestamp", now),
        idempotency_key=validation.text(data, "event_id"),
        properties=props,
        source=validation.text(data, "source") or "",
        properties_json=props_json,
    )


def _resolve_existing_customers(pending: list[PendingEvent]) -> list[str | None]:
    """Fill in customer ids (Flexprice never creates customers); an error message per unknown one."""
    ids = lookups.customer_ids({p.external_customer_id for p in pending}, create=False)
    errors: list[str | None] = []
    for p in pending:
        p.customer_id = ids.get(p.external_customer_id)
        errors.append(
            None if p.customer_id else f"Customer with external_customer_id '{p.external_customer_id}' not found"
        )
    return errors


def event_ingest(*, data, now: datetime) -> tuple[int, str, bool]:
    """One Flexprice event; returns (row id, event_id for the answer, was_duplicate)."""
    pending = parse_flexprice_event(data, now=now)
    error = _resolve_existing_customers([pending])[0]
    if error:
        raise EventTargetNotFound(error, "external_customer_id")
    result = events_store([pending])
    row_id = result.ids[0]
    if row_id is None:
        row_id = (
            UsageEvent.objects.filter(
                meter_id=pending.meter.id, customer_id=pending.customer_id, idempotency_key=pending.idempotency_key
            )
            .values_list("pk", flat=True)
            .first()
        )
    return row_id, pending.idempotency_key or str(row_id), result.duplicate[0]


@dataclass
class BulkOutcome:
    accepted: int = 0
    duplicates: int = 0
    results: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.results) - self.accepted - self.duplicates

    def errors(self) -> list[tuple[int, str]]:
        return [(i, r) for i, r in enumerate(self.results) if r not in ("accepted", "duplicate")]


def event_ingest_bulk(*, events: list, now: datetime) -> BulkOutcome:
    """Judge every event on its own; store the valid ones in one statement."""
    outcome = BulkOutcome(results=[""] * len(events))
    pending: list[PendingEvent] = []
    positions: list[int] = []
    for index, data in enumerate(events):
        try:
            pending.append(parse_flexprice_event(data, now=now, where=f"events[{index}]"))
            positions.append(index)
        except EventRejected as exc:
            outcome.results[index] = exc.message
    if pending:
        errors = _resolve_existing_customers(pending)
        kept = []
        for p, index, error in zip(pending, positions, errors):
            if error:
                outcome.results[index] = error
            else:
                kept.append((p, index))
        if kept:
            stored = events_store([p for p, _ in kept])
            for (_, index), duplicate in zip(kept, stored.duplicate):
                outcome.results[index] = "duplicate" if duplicate else "accepted"
    outcome.accepted = outcome.results.count("accepted")
    outcome.duplicates = outcome.results.count("duplicate")
    return outcome


# --- The one write --------------------------------------------------------------------

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
# The same, returning whole rows so /sdk/track answers without reading the event back.
_INSERT_FULL = _INSERT.replace(
    "RETURNING id, meter_id::text, customer_id::text, idempotency_key",
    "RETURNING id, meter_id::text, customer_id::text, idempotency_key, quantity, timestamp, properties, source, created_at",
)
_FULL_ROW_FIELDS = (
    "id", "meter_id", "customer_id", "idempotency_key", "quantity", "timestamp", "properties", "source", "created_at"
)  # fmt: skip


def _json_number(value):
    """Properties keep numbers as numbers (the exact quantity lives in its own column)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder for every event: json.dumps with options builds a new JSONEncoder per call.
_PROPERTIES_ENCODER = json.JSONEncoder(default=_json_number, ensure_ascii=False, allow_nan=False)


def _properties_json(props: dict, field_name: str) -> str:
    """The stored JSON text, made while the event is judged: a number PostgreSQL's jsonb cannot hold
    (beyond float range, e.g. 1e400) rejects this one event instead of failing the batch's INSERT."""
    try:
        return _PROPERTIES_ENCODER.encode(props)
    except ValueError:
        raise EventRejected(f"{field_name} holds a number too large to store", field_name) from None


def events_store(pending: list[PendingEvent], *, full_rows: bool = False) -> StoreResult:
    """Insert a batch in one statement; keyed events already stored (or repeated in the batch) are duplicates.

    With `full_rows`, `result.events` holds the stored UsageEvent per index (None for a duplicate).
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
                p.properties_json if p.properties_json is not None else _properties_json(p.properties, "properties"),
                p.source,
            ]
            for (meter_id, customer_id), p in zip(targets, pending)
        ],
        ensure_ascii=False,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_FULL if full_rows else _INSERT, [document])
            rows = cursor.fetchall()
    except IntegrityError:
        # A cached customer id that no longer exists (customer deleted): forget and let the client retry.
        lookups.forget_customers()
        raise
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
            result.events.append(_event_from_row(row) if row is not None else None)
    return result


def _event_from_row(row: tuple) -> UsageEvent:
    """A UsageEvent as the ORM would load it from a RETURNING row (jsonb arrives as text, as for the ORM)."""
    by_name = dict(zip(_FULL_ROW_FIELDS, row))
    by_name["meter_id"] = uuid.UUID(by_name["meter_id"])
    by_name["customer_id"] = uuid.UUID(by_name["customer_id"])
    by_name["properties"] = _PROPERTIES_FIELD.from_db_value(by_name["properties"], None, connection)
    return UsageEvent.from_db(connection.alias, _MODEL_FIELDS, [by_name[name] for name in _MODEL_FIELDS])


_PROPERTIES_FIELD = UsageEvent._meta.get_field("properties")
_MODEL_FIELDS = [f.attname for f in UsageEvent._meta.concrete_fields]


# --- Rejected attempts: a bounded log for the event debugger ------------------------------------

REJECTED_KEEP_FOR = timedelta(hours=24)
REJECTED_KEEP_ROWS = 5000
REJECTED_PER_REQUEST = 10
# Pruning runs when a new row's id is a multiple of this: about once per hundred rejections,
# in whichever process wrote that row, so no schedule is needed and the happy path pays nothing.
REJECTED_PRUNE_EVERY = 100


def _excerpt(payload) -> str:
    """The first 2 KB of the payload as JSON, encoded only as far as needed (bodies can be 1 MB)."""
    if payload is None:
        return ""
    if isinstance(payload, str):
        return payload[: RejectedEvent.PAYLOAD_MAX_CHARS]
    limit = RejectedEvent.PAYLOAD_MAX_CHARS
    parts: list[str] = []
    size = 0
    try:
        for chunk in json.JSONEncoder(default=_excerpt_default, ensure_ascii=False).iterencode(payload):
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    except (TypeError, ValueError):
        return repr(payload)[:limit]
    return "".join(parts)[:limit]


def _excerpt_default(value):
    return str(value) if isinstance(value, Decimal) else repr(value)


def rejection_record(
    *, endpoint: str, error: str, field: str | None = None, payload=None, key=None, now: datetime
) -> None:
    """Log one refused ingestion attempt (see `rejections_record`)."""
    rejections_record(endpoint=endpoint, rejections=[(error, field, payload)], key=key, now=now)


def rejections_record(*, endpoint: str, rejections: list[tuple], key=None, now: datetime) -> None:
    """Log refused events, (error, field, payload) each, at most REJECTED_PER_REQUEST per call, in one INSERT.

    `key` is the request's API key (anything with a `prefix`), or None. Never raises for a database
    problem: a client's 4xx answer must not turn into a 500 because the debugging log failed.
    """
    prefix = str(getattr(key, "prefix", "") or "")[:32]
    rows = [
        RejectedEvent(
            created_at=now,
            endpoint=str(endpoint)[:200],
            api_key_prefix=prefix,
            error=str(error),
            field=str(field_name or "")[:200],
            payload=_excerpt(payload),
        )
        for error, field_name, payload in rejections[:REJECTED_PER_REQUEST]
    ]
    if not rows:
        return
    try:
        created = RejectedEvent.objects.bulk_create(rows)
        if any(row.pk % REJECTED_PRUNE_EVERY == 0 for row in created):
            rejected_prune(now=now)
    except DatabaseError:
        logger.exception("Could not record a rejected event")


def rejected_prune(*, now: datetime) -> int:
    """Drop rows older than REJECTED_KEEP_FOR and beyond the newest REJECTED_KEEP_ROWS; returns rows dropped."""
    dropped, _ = RejectedEvent.objects.filter(created_at__lt=now - REJECTED_KEEP_FOR).delete()
    boundary = list(RejectedEvent.objects.order_by("-id").values_list("id", flat=True)[REJECTED_KEEP_ROWS : REJECTED_KEEP_ROWS + 1])
    if boundary:
        more, _ = RejectedEvent.objects.filter(id__lte=boundary[0]).delete()
        dropped += more
    return dropped


__all__ = [
    "EventRejected",
    "EventTargetNotFound",
    "event_track",
    "event_ingest",
    "event_ingest_bulk",
    "events_store",
    "rejection_record",
    "rejections_record",
    "unique_property",
]
