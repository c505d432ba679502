"""Usage ingestion: turning the Fluxrate and Flexprice contracts into pending events, then stored ones.

Bulk requests end in `events_store` (one INSERT for the batch); single events in `event_store_one`,
which lets concurrent requests share a write (see `store`).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from .. import lookups, validation
from ..choices import AggregationType
from ..lookups import MeterRef
from ..validation import EventRejected, EventTargetNotFound
from .store import PendingEvent, StaleCustomer, StoredEvent, event_store_one, events_store, properties_json

_QUANTITY_FROM_PROPERTY = {
    AggregationType.SUM,
    AggregationType.MAX,
    AggregationType.MIN,
    AggregationType.AVG,
    AggregationType.LATEST,
}


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


def _meter_named(data: dict, field_name: str, lookup, label: str) -> MeterRef:
    """The active meter whose uuid `data[field_name]` holds (by token or by id), else 404 naming the field."""
    raw = validation.text(data, field_name, required=True)
    try:
        meter = lookup(uuid.UUID(raw))
    except ValueError:
        meter = None
    return _active_meter(meter, label.format(raw), field_name)


def parse_fluxrate_event(data, *, now: datetime, by: str) -> PendingEvent:
    """`/sdk/track` (by="token": meter_token, customer_external_id) or `/usage` (by="id": meter_id, customer_id)."""
    if not isinstance(data, dict):
        raise EventRejected("Request body must be a JSON object", None)
    if by == "token":
        meter = _meter_named(data, "meter_token", lookups.meter_by_token, "Meter with meter_token '{}'")
        external_id = validation.text(data, "customer_external_id", required=True)
    else:
        meter = _meter_named(data, "meter_id", lookups.meter_by_id, "Meter '{}'")
        external_id = None
    qty = validation.quantity(data.get("quantity"), "quantity", positive=True)
    metadata = validation.properties(data.get("metadata"), "metadata")
    _check_unique_value(meter, metadata, "metadata")
    metadata_json = properties_json(metadata, "metadata")
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


def _once_more_if_stale(ingest):
    """Run an ingestion again when its write named a cached customer id that no longer exists
    (StaleCustomer: nothing was written and the map is forgotten, so the second run resolves
    customers from the database)."""

    @functools.wraps(ingest)
    def run(**kwargs):
        try:
            return ingest(**kwargs)
        except StaleCustomer:
            return ingest(**kwargs)

    return run


@_once_more_if_stale
def event_track(*, data, now: datetime, by: str = "token") -> tuple[StoredEvent, bool]:
    """Store one Fluxrate event; returns (event, was_duplicate). Unknown customers are created by `/sdk/track`."""
    pending = parse_fluxrate_event(data, now=now, by=by)
    if by == "token":
        pending.customer_id = lookups.customer_ids({pending.external_customer_id}, create=True)[
            pending.external_customer_id
        ]
    else:
        raw_customer = validation.text(data, "customer_id", required=True)
        pending.customer_id = _existing_customer_id(raw_customer)
    return event_store_one(pending)


def _existing_customer_id(raw: str) -> uuid.UUID:
    found = lookups.customer_id_find(raw)
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
        # Flexprice's documented error text, and its status: these endpoints answer 202, 400, 401 or 429.
        raise EventRejected(f"Event not found: no active feature has event_name '{event_name}'", "event_name")
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
    props_json = properties_json(props, "properties")
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
            None if p.customer_id else f"Customer not found: no customer has external_customer_id '{p.external_customer_id}'"
        )
    return errors


@_once_more_if_stale
def event_ingest(*, data, now: datetime) -> tuple[int, str, bool]:
    """One Flexprice event; returns (row id, event_id for the answer, was_duplicate)."""
    pending = parse_flexprice_event(data, now=now)
    error = _resolve_existing_customers([pending])[0]
    if error:
        raise EventRejected(error, "external_customer_id")
    event, duplicate = event_store_one(pending)
    return event.id, pending.idempotency_key or str(event.id), duplicate


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


@_once_more_if_stale
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


