"""Metering services: meters (`meters`), ingestion (`ingest`), the event write (`store`), the hourly usage rollup (`rollup`) and the rejected-attempt log (`rejections`)."""

from ..validation import EventRejected, EventTargetNotFound
from .ingest import (
    BulkOutcome,
    event_ingest,
    event_ingest_bulk,
    event_track,
    parse_flexprice_event,
    parse_fluxrate_event,
)
from .meters import meter_archive, meter_create, meter_definition_check, meter_update, normalize_aggregation
from .rejections import (
    REJECTED_KEEP_FOR,
    REJECTED_KEEP_ROWS,
    REJECTED_PER_REQUEST,
    REJECTED_PRUNE_EVERY,
    rejected_prune,
    rejection_record,
    rejections_record,
)
from .rollup import usage_rollup_advance, usage_rollup_settle
from .store import PendingEvent, StoredEvent, StoreResult, event_store_one, events_store, group_writer

__all__ = [
    "BulkOutcome",
    "EventRejected",
    "EventTargetNotFound",
    "PendingEvent",
    "REJECTED_KEEP_FOR",
    "REJECTED_KEEP_ROWS",
    "REJECTED_PER_REQUEST",
    "REJECTED_PRUNE_EVERY",
    "StoreResult",
    "StoredEvent",
    "event_ingest",
    "event_ingest_bulk",
    "event_store_one",
    "event_track",
    "events_store",
    "group_writer",
    "usage_rollup_advance",
    "usage_rollup_settle",
    "meter_archive",
    "meter_create",
    "meter_definition_check",
    "meter_update",
    "normalize_aggregation",
    "parse_flexprice_event",
    "parse_fluxrate_event",
    "rejected_prune",
    "rejection_record",
    "rejections_record",
]
