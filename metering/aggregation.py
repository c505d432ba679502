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
    return window_summary(meter=meter, customer_id=customer_id, start=start, end=end)[1]


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


# Over `parts` rows (n events, their sum s, max mx, min mn): what each mergeable aggregation is.
# AVG as total sum / total count is numeric_div of the same operands AVG itself divides, so equal digits.
_MERGED = {
    AggregationType.COUNT: "SUM(p.n)",
    AggregationType.SUM: "SUM(p.s)",
    AggregationType.MAX: "MAX(p.mx)",
    AggregationType.MIN: "MIN(p.mn)",
    AggregationType.AVG: "SUM(p.s) / NULLIF(SUM(p.n), 0)",
}

# The rollup's hours of the range holding the events created up to the watermark, plus, one row per
# event, the tail created after it. Watermark and hours are read in this one statement, so one snapshot:
# an advance committing meanwhile is seen whole or not at all.
_ROLLUP_PARTS = """
    WITH mark AS (
        SELECT COALESCE((SELECT created_upto FROM metering_usagerollupwatermark WHERE id = 1), '-infinity') AS upto
    ),
    parts AS (
        SELECT h.hour AS t, h.event_count AS n, h.quantity_sum AS s, h.quantity_max AS mx, h.quantity_min AS mn
        FROM metering_usagehourly h
        WHERE h.meter_id = %(meter_id)s AND h.hour >= %(start)s AND h.hour < %(end)s
          AND (SELECT upto FROM mark) > '-infinity'
        UNION ALL
        SELECT e.timestamp, 1, e.quantity, e.quantity, e.quantity
        FROM metering_usageevent e
        WHERE e.meter_id = %(meter_id)s AND e.timestamp >= %(start)s AND e.timestamp < %(end)s
          AND e.created_at > (SELECT upto FROM mark)
          AND e.created_at > %(upto_hint)s
    )
"""


def _watermark_hint():
    """The watermark read one statement earlier: never later than the one the chart's statement reads
    (it only moves forward), so `created_at > hint` drops no tail event, but as a literal it lets the
    planner see the tail is small and take the created_at index rather than every event of the meter."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT created_upto FROM metering_usagerollupwatermark WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row and row[0] is not None else "-infinity"


def _on_the_hour(moment: datetime) -> bool:
    return moment.minute == 0 and moment.second == 0 and moment.microsecond == 0 and moment.utcoffset().total_seconds() % 3600 == 0


def rollup_answers(*, meter, start: datetime, end: datetime, customer_id=None) -> bool:
    """Whether the hourly rollup can answer this chart: a mergeable aggregation, every customer, and
    a range of whole UTC hours (an hour straddling an edge would count events outside the range)."""
    return (
        customer_id is None and meter.aggregation_type in _MERGED and _on_the_hour(start) and _on_the_hour(end)
    )


def usage_buckets(
    *, meter, start: datetime, end: datetime, group_by: str, customer_id=None, rollup: bool = True
) -> tuple[list[tuple[datetime, Decimal]], Decimal]:
    """Usage per `group_by` bucket (UTC calendar: hour, day, ISO week, month) and over the whole range.

    COUNT, SUM, MAX, MIN and AVG over every customer read the hourly rollup plus the events stored
    since it last advanced (`rollup_answers`); the rest, and `rollup=False`, read every event.
    """
    if group_by not in BUCKETS:
        raise ValueError(group_by)
    params = {
        "meter_id": meter.pk,
        "start": start,
        "end": end,
        "group_by": group_by,
        "unique_property": unique_property(meter),
    }
    if rollup and rollup_answers(meter=meter, start=start, end=end, customer_id=customer_id):
        params["upto_hint"] = _watermark_hint()
        expression = f"COALESCE({_MERGED[meter.aggregation_type]}, 0)"
        bucket = "date_trunc(%(group_by)s, p.t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        sql = (
            f"{_ROLLUP_PARTS} SELECT {bucket} AS bucket, GROUPING({bucket}) AS whole, {expression} FROM parts p "
            "GROUP BY GROUPING SETS ((bucket), ())"
        )
    else:
        where = "e.meter_id = %(meter_id)s AND e.timestamp >= %(start)s AND e.timestamp < %(end)s"
        if customer_id is not None:
            where += " AND e.customer_id = %(customer_id)s"
            params["customer_id"] = customer_id
        expression = aggregate_expression(meter.aggregation_type)
        bucket = "date_trunc(%(group_by)s, e.timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        # One pass over the events gives both the buckets and the whole range (the empty grouping set), which
        # for AVG, LATEST and UNIQUE_COUNT is not a combination of the buckets.
        sql = (
            f"SELECT {bucket} AS bucket, GROUPING({bucket}) AS whole, {expression} FROM metering_usageevent e "
            f"WHERE {where} GROUP BY GROUPING SETS ((bucket), ())"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    rows = sorted((bucket, _decimal(value)) for bucket, whole, value in found if not whole)
    total = next(_decimal(value) for _, whole, value in found if whole)
    return rows, total
