"""Small in-process caches for the ingestion hot path: meters by token/name/id, customers by external id
(found through the `CustomerSource` the customers app plugs in).

Meters change rarely and are cached for a few seconds (FLUXBILL_LOOKUP_CACHE_SECONDS), so an
archived meter stops taking events within that time in every process. A customer's external id
never changes (customers.services.customer_update refuses it), so customer ids are kept in a bounded
LRU map (FLUXBILL_CUSTOMER_CACHE_SIZE); a customer deleted meanwhile is caught by the write's foreign key,
which forgets the map and runs the ingestion once more (metering.services.store.StaleCustomer).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from fluxbill.core.bounded import BoundedCache

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


# Keyed by what clients send, so bounded (fluxbill.core.bounded): meters found, and names/tokens not
# found kept apart in a smaller map, so a stream of unknown names neither grows memory nor evicts real meters.
_meters: BoundedCache[tuple[str, str], tuple[float, MeterRef]] = BoundedCache(lambda: settings.FLUXBILL_LOOKUP_CACHE_SIZE)
_misses: BoundedCache[tuple[str, str], float] = BoundedCache(lambda: settings.FLUXBILL_LOOKUP_MISS_CACHE_SIZE)
_customers: BoundedCache[str, uuid.UUID] = BoundedCache(lambda: settings.FLUXBILL_CUSTOMER_CACHE_SIZE)


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
    missed = _misses.get(key)
    if missed is not None and missed > now:
        return None
    meter = Meter.objects.filter(**{field: value}).first()
    if meter is None:
        # "Not found" is remembered only briefly, so a meter created in another process is seen soon.
        _misses.set(key, now + min(1.0, settings.FLUXBILL_LOOKUP_CACHE_SECONDS))
        return None
    ref = _ref(meter)
    _misses.pop(key)
    _meters.set(key, (now + settings.FLUXBILL_LOOKUP_CACHE_SECONDS, ref))
    return ref


def cache_sizes() -> dict[str, int]:
    """Entries held now, per cache (for tests and bench/cache_bound.py)."""
    return {"meters": len(_meters), "meter_misses": len(_misses), "customers": len(_customers)}


def meter_by_token(token: uuid.UUID) -> MeterRef | None:
    return _meter_by("token", token)


def meter_by_event_name(event_name: str) -> MeterRef | None:
    return _meter_by("event_name", event_name)


def meter_by_id(meter_id: uuid.UUID) -> MeterRef | None:
    return _meter_by("id", meter_id)


@dataclass(frozen=True)
class CustomerSource:
    """How metering finds customers, which live above it: customers plugs its own functions in at startup
    (`CustomersConfig.ready()`), so metering neither imports customers nor touches its table.

    ids_ensure(*, external_ids: list[str]) -> {external id: id}, creating the missing ones;
    ids_by_external_id(*, external_ids: list[str]) -> {external id: id} of those that exist;
    id_by_pk(*, customer_id: uuid.UUID) -> the id if such a customer exists, else None.
    Each is one statement per call (ids_ensure two), whatever the number of ids: the ingestion hot path.
    """

    ids_ensure: Callable[..., dict[str, uuid.UUID]]
    ids_by_external_id: Callable[..., dict[str, uuid.UUID]]
    id_by_pk: Callable[..., uuid.UUID | None]


_customer_source: CustomerSource | None = None


def customer_source_set(*, source: CustomerSource) -> None:
    global _customer_source
    _customer_source = source


def customer_source() -> CustomerSource:
    if _customer_source is None:
        raise RuntimeError("No customer source: the customers app registers one in its AppConfig.ready()")
    return _customer_source


def customer_ids(external_ids: set[str], *, create: bool) -> dict[str, uuid.UUID]:
    """Map external ids to customer ids in one or two statements; with `create`, add the missing ones."""
    # .get: another thread may clear the map between a membership test and a read.
    found = {ext: cid for ext in external_ids if (cid := _customers.get(ext)) is not None}
    missing = [ext for ext in external_ids if ext not in found]
    if missing:
        source = customer_source()
        rows = (source.ids_ensure if create else source.ids_by_external_id)(external_ids=missing)
        for ext, cid in rows.items():
            _customers.set(ext, cid)
            found[ext] = cid
    return found


def customer_id_find(value: str) -> uuid.UUID | None:
    """The id of the customer whose id or external id is `value` (pages and the usage API), or None."""
    if "\x00" in value:  # PostgreSQL text cannot hold NUL, so nothing is stored under such a key
        return None
    try:
        as_uuid = uuid.UUID(value)
    except ValueError:
        as_uuid = None
    found = customer_source().id_by_pk(customer_id=as_uuid) if as_uuid is not None else None
    if found is None:
        found = customer_ids({value}, create=False).get(value)
    return found


def forget_customers() -> None:
    """Drop cached customer ids (after a customer was deleted, or between tests)."""
    _customers.clear()


def forget_meters() -> None:
    _meters.clear()
    _misses.clear()
