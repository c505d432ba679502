"""The aggregations, defined once, in SQL. Usage queries and invoicing both use these.

Over the events of one meter and customer in `[start, end)`:
COUNT = number of events; SUM = sum of quantities; MAX / MIN = largest / smallest quantity;
AVG = mean quantity; LATEST = quantity of the event with the greatest timestamp (ties: the one
stored last); UNIQUE_COUNT = number of distinct values of `properties[<property>]`.
An aggregation over no events is 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from .choices import AggregationType

# UNIQUE_COUNT meters that name no property count distinct users, as Fluxrate's SDK sends them.
DEFAULT_UNIQUE_PROPERTY = "user_id"

_EXPRESSIONS = {
    AggregationType.COUNT: "COUNT(*)",
    AggregationType.SUM: "SUM(e.quantity)",
    AggregationType.MAX: "MAX(e.quantity)",
    AggregationType.MIN: "MIN(e.quantity)",
    AggregationType.AVG: "AVG(e.quantity)",
    AggregationType.LATEST: "(ARRAY_AGG(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1]",
    # %(unique_property)s is bound as a parameter; ->> on a missing key yields NULL, which COUNT skips.
    AggregationType.UNIQUE_COUNT: "COUNT(DISTINCT e.properties ->> %(unique_property)s)",
}

BUCKETS = ("hour", "day", "week", "month")


def unique_property(meter) -> str:
    return meter.property_name or DEFAULT_UNIQUE_PROPERTY


def aggregate_expression(aggregation_type: str) -> str:
    """SQL for the aggregation over rows aliased `e`, always non-null (0 over no rows)."""
    return f"COALESCE({_EXPRESSIONS[aggregation_type]}, 0)"


def _decimal(value) -> Decimal:
    return Decimal(value) if value is not None else Decimal(0)


def aggregate_usage(*, meter, customer_id, start: datetime, end: datetime) -> Decimal:
    """One meter, one customer, `[start, end)`."""
    sql = f"""
        SELECT {aggregate_expression(meter.aggregation_type)}
        FROM metering_usageevent e
        WHERE e.meter_id = %(meter_id)s AND e.customer_id = %(customer_id)s
          AND e.timestamp >= %(start)s AND e.timestamp < %(end)s
    """
    params = {"meter_id": meter.pk, "customer_id": customer_id, "start": start, "end": end, "unique_property": unique_property(meter)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _decimal(cursor.fetchone()[0])


def window_summary(*, meter, customer_id, start: datetime, end: datetime) -> tuple[int, Decimal]:
    """(number of events, the meter's aggregation) for one customer in `[start, end)`, in one statement:
    what support checks an invoice line against."""
    sql = f"""
        SELECT COUNT(*), {aggregate_expression(meter.aggregation_type)}
        FROM metering_usageevent e
        WHERE e.meter_id = %(meter_id)s AND e.customer_id = %(customer_id)s
          AND e.timestamp >= %(start)s AND e.timestamp < %(end)s
    """
    params = {"meter_id": meter.pk, "customer_id": customer_id, "start": start, "end": end, "unique_property": unique_property(meter)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count, value = cursor.fetchone()
    return int(count), _decimal(value)


@dataclass(frozen=True)
class UsageWindow:
    """One question for `aggregate_usage_batch`: this customer's usage of this meter in [start, end)."""

    customer_id: object
    meter_id: object
    aggregation_type: str
    unique_property: str
    start: datetime
    end: datetime


_WINDOW_EVENTS = """
    FROM metering_usageevent e
    WHERE e.customer_id = w.customer_id AND e.meter_id = w.meter_id
      AND e.timestamp >= w.start_at AND e.timestamp < w.end_at
"""

# LATEST over a window as the latest event itself rather than an aggregate over all of them: the
# greatest timestamp comes from the index alone, then only the events at that instant are read
# (greatest id first, as the aggregate orders ties). The aggregate form fetches every event of
# the window from the table; the planner, guessing one event per window, does not see the shortcut.
_LATEST_IN_WINDOW = f"""
    SELECT COALESCE((
        SELECT l.quantity
        FROM metering_usageevent l
        WHERE l.customer_id = w.customer_id AND l.meter_id = w.meter_id
          AND l.timestamp = (SELECT MAX(e.timestamp) {_WINDOW_EVENTS})
        ORDER BY l.id DESC
        LIMIT 1
    ), 0) AS value
"""


def _window_query(aggregation_type: str) -> str:
    if aggregation_type == AggregationType.LATEST:
        return _LATEST_IN_WINDOW
    expression = aggregate_expression(aggregation_type).replace("%(unique_property)s", "w.prop")
    return f"SELECT {expression} AS value {_WINDOW_EVENTS}"


def aggregate_usage_batch(windows: list[UsageWindow]) -> dict[UsageWindow, Decimal]:
    """Answer many windows with one statement per aggregation type present in the batch.

    The windows travel as one JSON array, a row each; a LATERAL subquery aggregates each window's
    events through the (customer, meter, timestamp) index, so a batch costs one round trip, not
    one per window.
    """
    answers: dict[UsageWindow, Decimal] = {}
    by_type: dict[str, list[UsageWindow]] = {}
    for window in dict.fromkeys(windows):
        by_type.setdefault(window.aggregation_type, []).append(window)
    with connection.cursor() as cursor:
        for aggregation_type, group in by_type.items():
            document = json.dumps(
                [
                    [str(w.customer_id), str(w.meter_id), w.start.isoformat(), w.end.isoformat(), w.unique_property]
                    for w in group
                ]
            )
            cursor.execute(
                f"""
                SELECT w.idx, a.value
                FROM (
                    SELECT (r->>0)::uuid, (r->>1)::uuid, (r->>2)::timestamptz, (r->>3)::timestamptz, r->>4, idx
                    FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(r, idx)
                ) AS w(customer_id, meter_id, start_at, end_at, prop, idx)
                CROSS JOIN LATERAL ({_window_query(aggregation_type)}) a
                """,
                [document],
            )
            for idx, value in cursor.fetchall():
                answers[group[idx - 1]] = _decimal(value)
    return answers


def usage_buckets(
    *, meter, start: datetime, end: datetime, group_by: str, customer_id=None
) -> tuple[list[tuple[datetime, Decimal]], Decimal]:
    """Usage per `group_by` bucket (UTC calendar: hour, day, ISO week, month) and over the whole range."""
    if group_by not in BUCKETS:
        raise ValueError(group_by)
    where = "e.meter_id = %(meter_id)s AND e.timestamp >= %(start)s AND e.timestamp < %(end)s"
    params = {
        "meter_id": meter.pk,
        "start": start,
        "end": end,
        "group_by": group_by,
        "unique_property": unique_property(meter),
    }
    if customer_id is not None:
        where += " AND e.customer_id = %(customer_id)s"
        params["customer_id"] = customer_id
    expression = aggregate_expression(meter.aggregation_type)
    bucket = "date_trunc(%(group_by)s, e.timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    # One pass over the events gives both the buckets and the whole range (the empty grouping set), which
    # for AVG, LATEST and UNIQUE_COUNT is not a combination of the buckets.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {bucket} AS bucket, GROUPING({bucket}) AS whole, {expression} FROM metering_usageevent e "
            f"WHERE {where} GROUP BY GROUPING SETS ((bucket), ())",
            params,
        )
        found = cursor.fetchall()
    rows = sorted((bucket, _decimal(value)) for bucket, whole, value in found if not whole)
    total = next(_decimal(value) for _, whole, value in found if whole)
    return rows, total
