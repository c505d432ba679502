"""Small in-process caches for the ingestion hot path: meters by token/name/id, customers by external id.

Meters change rarely and are cached for a few seconds (FLUXBILL_LOOKUP_CACHE_SECONDS), so an
archived meter stops taking events within that time in every process. A customer's external id
never changes (customers.services.customer_update refuses it), so customer ids are kept in a bounded
map until the process restarts; a customer deleted meanwhile is caught by the write's foreign key,
which forgets the map and runs the ingestion once more (metering.services.store.StaleCustomer).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from .models import Meter


@dataclass(frozen=True)
class MeterRef:
    id: uuid.UUID
    name: str
    event_name: str
    token: uuid.UUID
    aggregation_type: str
    property_name: str
    active: bool


_lock = threading.Lock()
_meters: dict[tuple[str, str], tuple[float, MeterRef | None]] = {}
_customers: dict[str, uuid.UUID] = {}
_CUSTOMER_CACHE_LIMIT = 200_000


def _ref(meter: Meter) -> MeterRef:
    return MeterRef(
        id=meter.id,
        name=meter.name,
        event_name=meter.event_name,
        token=meter.token,
        aggregation_type=meter.aggregation_type,
        property_name=meter.property_name,
        active=meter.active,
    )


def _meter_by(field: str, value) -> MeterRef | None:
    key = (field, str(value))
    now = time.monotonic()
    hit = _meters.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    meter = Meter.objects.filter(**{field: value}).first()
    ref = _ref(meter) if meter else None
    # "Not found" is remembered only briefly, so a meter created in another process is seen soon.
    ttl = settings.FLUXBILL_LOOKUP_CACHE_SECONDS if ref is not None else min(1.0, settings.FLUXBILL_LOOKUP_CACHE_SECONDS)
    with _lock:
        _meters[key] = (now + ttl, ref)
    return ref


def meter_by_token(token: uuid.UUID) -> MeterRef | None:
    return _meter_by("token", token)


def meter_by_event_name(event_name: str) -> MeterRef | None:
    return _meter_by("event_name", event_name)


def meter_by_id(meter_id: uuid.UUID) -> MeterRef | None:
    return _meter_by("id", meter_id)


def customer_ids(external_ids: set[str], *, create: bool) -> dict[str, uuid.UUID]:
    """Map external ids to customer ids in one or two statements; with `create`, add the missing ones."""
    # .get: another thread may clear the map between a membership test and a read.
    found = {ext: cid for ext in external_ids if (cid := _customers.get(ext)) is not None}
    missing = [ext for ext in external_ids if ext not in found]
    if missing:
        with connection.cursor() as cursor:
            if create:
                # ON CONFLICT makes concurrent first events for one new customer create it once.
                cursor.execute(
                    """
                    INSERT INTO customers_customer (id, external_id, name, email, address, metadata, created_at, updated_at)
                    SELECT gen_random_uuid(), ext, '', '', '', '{}'::jsonb, now(), now()
                    FROM unnest(%s::text[]) AS ext
                    ON CONFLICT (external_id) DO NOTHING
                    """,
                    [missing],
                )
            cursor.execute(
                "SELECT external_id, id FROM customers_customer WHERE external_id = ANY(%s)", [missing]
            )
            rows = cursor.fetchall()
        with _lock:
            if len(_customers) > _CUSTOMER_CACHE_LIMIT:
                _customers.clear()
            for ext, cid in rows:
                _customers[ext] = cid
                found[ext] = cid
    return found


def forget_customers() -> None:
    """Drop cached customer ids (after a customer was deleted, or between tests)."""
    with _lock:
        _customers.clear()


def forget_meters() -> None:
    with _lock:
        _meters.clear()
