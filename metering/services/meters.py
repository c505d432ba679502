"""Meters (features, in the API's words): every write and rule about them.

What a meter measures is fixed once it exists; every write forgets this process's cached meter
lookups after commit, so an event sent just before a meter existed is not refused for long.
"""

from __future__ import annotations

from django.db import transaction

from fluxbill.core.db import unique_or_conflict
from fluxbill.core.errors import InvalidInput

from .. import lookups
from ..choices import AGGREGATION_ALIASES, AggregationType
from ..models import Meter

# Meters whose quantity is read from an event property need to know which one.
_NEEDS_PROPERTY = {AggregationType.SUM, AggregationType.MAX, AggregationType.MIN, AggregationType.AVG, AggregationType.LATEST}


def normalize_aggregation(value: str) -> str:
    upper = str(value or "").strip().upper()
    upper = AGGREGATION_ALIASES.get(upper, upper)
    if upper not in AggregationType.values:
        raise InvalidInput(
            f"aggregation_type must be one of {', '.join(AggregationType.values)} (or LAST), got {value!r}",
            field="aggregation_type",
        )
    return upper


def _meter_conflicts(lookup_key: str, event_name: str) -> dict:
    return {
        "lookup_key": (f"A feature with lookup_key '{lookup_key}' already exists", "lookup_key"),
        "event_name": (f"A meter with meter_name '{event_name}' already exists", "meter_name"),
    }


def meter_definition_check(*, aggregation_type: str, property_name: str) -> str:
    """What a new meter measures, checked: returns the aggregation's canonical name."""
    aggregation = normalize_aggregation(aggregation_type)
    if aggregation in _NEEDS_PROPERTY and not property_name:
        raise InvalidInput(
            f"property_name is required for {aggregation} meters: it names the event property to aggregate",
            field="property_name",
        )
    return aggregation


@transaction.atomic
def meter_create(
    *,
    name: str,
    lookup_key: str,
    event_name: str,
    aggregation_type: str,
    property_name: str = "",
    unit: str = "",
    active: bool = True,
) -> Meter:
    aggregation = meter_definition_check(aggregation_type=aggregation_type, property_name=property_name)
    meter = Meter(
        name=name,
        lookup_key=lookup_key,
        event_name=event_name,
        aggregation_type=aggregation,
        property_name=property_name or "",
        unit=unit or "",
        active=active,
    )
    with unique_or_conflict(_meter_conflicts(lookup_key, event_name)):
        meter.save()
    # An event sent just before the meter existed may have cached "unknown" in this process.
    transaction.on_commit(lookups.forget_meters)
    return meter


@transaction.atomic
def meter_update(*, meter: Meter, **changes) -> Meter:
    """Rename, relabel or (re)activate a meter. What it measures is fixed once created."""
    frozen = {"lookup_key", "event_name", "aggregation_type", "property_name"}
    for key in sorted(frozen & set(changes)):
        current = getattr(meter, key)
        wanted = normalize_aggregation(changes[key]) if key == "aggregation_type" else changes[key]
        if wanted != current:
            public = "meter_name" if key == "event_name" else key
            raise InvalidInput(
                f"{public} cannot be changed after creation: create a new feature instead", field=public
            )
    locked = Meter.objects.select_for_update().get(pk=meter.pk)
    for key in ("name", "unit", "active"):
        if key in changes:
            setattr(locked, key, changes[key])
    locked.save()
    transaction.on_commit(lookups.forget_meters)
    return locked


@transaction.atomic
def meter_archive(*, meter: Meter) -> Meter:
    """Archive instead of deleting: history and invoices keep pointing at the meter."""
    Meter.objects.filter(pk=meter.pk).update(active=False)
    meter.active = False
    transaction.on_commit(lookups.forget_meters)
    return meter
