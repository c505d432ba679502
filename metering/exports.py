"""Usage events as CSV, streamed from a server-side cursor: any number of rows in constant memory.

Used by the event debugger's export (its filters) and by an invoice line's "events behind it" page.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal

from django.http import StreamingHttpResponse

from fluxbill.core.fields import decimal_to_string

EVENT_CSV_COLUMNS = ("id", "timestamp", "meter", "customer", "quantity", "idempotency_key", "source", "properties", "created_at")
_SOURCES = ("id", "timestamp", "meter__event_name", "customer__external_id", "quantity", "idempotency_key", "source", "properties", "created_at")
CHUNK_ROWS = 5000


class _Echo:
    """csv.writer writes into this and gets the line back, so rows go out one by one."""

    def write(self, value):
        return value


def event_cell(value) -> str:
    """A CSV cell: ISO times, plain decimals, compact JSON, and no text a spreadsheet would run as a formula."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Decimal):
        return decimal_to_string(value)
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def event_rows(events):
    """The CSV lines (header first) of `events` in time order, CHUNK_ROWS rows fetched at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EVENT_CSV_COLUMNS)
    for row in events.order_by("timestamp", "id").values_list(*_SOURCES).iterator(chunk_size=CHUNK_ROWS):
        yield writer.writerow([event_cell(value) for value in row])


def events_csv(events, name: str) -> StreamingHttpResponse:
    """A download of `events` named `name`.csv (the name cut to safe characters)."""
    response = StreamingHttpResponse(event_rows(events), content_type="text/csv; charset=utf-8")
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120] or "events"
    response["Content-Disposition"] = f'attachment; filename="{safe_name}.csv"'
    return response
