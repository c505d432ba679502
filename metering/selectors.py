"""Reads that pages and the API share: meters, keyset pages of usage events, events in a billing window, counts per day."""

from __future__ import annotations

import datetime as dt
import json

from django.db import connection
from django.db.models import Q, QuerySet

from .models import Meter, UsageEvent


def meter_list() -> QuerySet:
    return Meter.objects.all()


def with_properties_text(events) -> list[UsageEvent]:
    """Properties as compact JSON (not Python's dict repr), cut for a table cell."""
    events = list(events)
    for event in events:
        text = json.dumps(event.properties, ensure_ascii=False, separators=(",", ":"), default=str)
        event.properties_text = text if len(text) <= 120 else text[:119] + "…"
    return events



def events_in_window(*, meter_id, customer_id, start: dt.datetime, end: dt.datetime):
    """The events one meter counted for one customer in [start, end): what an invoice line aggregated."""
    return UsageEvent.objects.filter(meter_id=meter_id, customer_id=customer_id, timestamp__gte=start, timestamp__lt=end)


def parse_cursor(raw: str | None) -> tuple[dt.datetime, int] | None:
    """A cursor is "<ISO timestamp>~<event id>": the row a page continues from."""
    if not raw or "~" not in raw:
        return None
    stamp, _, pk = raw.rpartition("~")
    try:
        moment = dt.datetime.fromisoformat(stamp)
        number = int(pk)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment, number


def cursor_of(event: UsageEvent) -> str:
    return f"{event.timestamp.isoformat()}~{event.pk}"


def keyset_page(events, *, newest_first: bool, after: str | None, before: str | None, size: int) -> dict:
    """One page of events ordered by (timestamp, id), continuing `after` a row or ending `before` one.

    No COUNT and no OFFSET: each page is an index range scan however many millions of rows precede it.
    """
    cursor = parse_cursor(before) or parse_cursor(after)
    backwards = cursor is not None and parse_cursor(before) is not None
    descending = newest_first != backwards
    events_unbounded = events
    if cursor is not None:
        moment, pk = cursor
        if descending:
            # The plain bound lets PostgreSQL walk the timestamp index; the OR settles ties by id.
            events = events.filter(timestamp__lte=moment).filter(Q(timestamp__lt=moment) | Q(id__lt=pk))
        else:
            events = events.filter(timestamp__gte=moment).filter(Q(timestamp__gt=moment) | Q(id__gt=pk))
    order = ("-timestamp", "-id") if descending else ("timestamp", "id")
    rows = list(events.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards and not more:
        # Paged back to the start: show a full first page rather than a short one.
        return keyset_page(events_unbounded, newest_first=newest_first, after=None, before=None, size=size)
    if backwards:
        rows.reverse()
    has_previous = more if backwards else cursor is not None
    has_next = True if backwards else more
    return {
        "rows": rows,
        "next": cursor_of(rows[-1]) if rows and has_next else None,
        "previous": cursor_of(rows[0]) if rows and has_previous else None,
    }


def events_per_day_between(*, start: dt.datetime, end: dt.datetime | None) -> dict[str, int]:
    """{UTC day (ISO date): events stored that day} for events stored in [start, end) (end None: up to now).

    Counted by `created_at`, one aggregate statement: the events table is the largest there is.
    """
    sql = (
        "SELECT date_trunc('day', created_at AT TIME ZONE 'UTC')::date, COUNT(*) "
        "FROM metering_usageevent WHERE created_at >= %s"
    )
    params = [start]
    if end is not None:
        sql += " AND created_at < %s"
        params.append(end)
    with connection.cursor() as cur:
        cur.execute(sql + " GROUP BY 1", params)
        return {day.isoformat(): count for day, count in cur.fetchall()}


_RECENT_EVENTS_SQL = """
    SELECT e.*, m.name AS meter_name, m.unit AS meter_unit
    FROM metering_meter m
    CROSS JOIN LATERAL (
        SELECT u.* FROM metering_usageevent u
        WHERE u.customer_id = %s AND u.meter_id = m.id
        ORDER BY u.timestamp DESC, u.id DESC
        LIMIT %s
    ) e
    ORDER BY e.timestamp DESC, e.id DESC
    LIMIT %s
"""


def customer_recent_events(*, customer_id, limit: int) -> list[UsageEvent]:
    """The customer's latest events by timestamp, in one statement that stays fast with millions of events:
    each meter's newest rows come straight from the (customer, meter, timestamp) index, instead of
    sorting everything the customer ever sent. Each event carries `meter_name` and `meter_unit`."""
    return list(UsageEvent.objects.raw(_RECENT_EVENTS_SQL, [customer_id, limit, limit]))
