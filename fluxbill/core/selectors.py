"""Figures for the overview page, each one aggregate query."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth

from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice

BILLED = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def amounts_by_currency(now: datetime) -> list[dict]:
    """Per currency: billed this month (issued, not void) and open (issued, unpaid)."""
    start = month_start(now)
    rows = (
        # Only the invoices either figure counts, so the indexes on issued_at and status narrow the scan.
        Invoice.objects.filter(Q(issued_at__gte=start) | Q(status=InvoiceStatus.OPEN), status__in=BILLED)
        .values("currency")
        .annotate(
            billed=Sum("total", filter=Q(issued_at__gte=start)),
            open=Sum("total", filter=Q(status=InvoiceStatus.OPEN)),
            open_count=Count("id", filter=Q(status=InvoiceStatus.OPEN)),
        )
        .order_by("currency")
    )
    return [r for r in rows if r["billed"] or r["open"]]


def awaiting_finalization(limit: int = 10):
    return (
        Invoice.objects.filter(status=InvoiceStatus.DRAFT)
        .select_related("customer")
        .order_by("finalize_at")[:limit]
    )


def overdue(now: datetime, limit: int = 10):
    return (
        Invoice.objects.filter(status=InvoiceStatus.OPEN, due_date__lt=now.date())
        .select_related("customer")
        .order_by("due_date")[:limit]
    )


def revenue_by_month(now: datetime, months: int = 12) -> dict[str, list[tuple[str, object]]]:
    """{currency: [(YYYY-MM, total issued that month)]} for the last `months` months, not void."""
    first = month_start(now)
    for _ in range(months - 1):
        first = month_start(first - timedelta(days=1))
    rows = (
        Invoice.objects.filter(status__in=BILLED, issued_at__gte=first)
        .annotate(month=TruncMonth("issued_at"))
        .values("currency", "month")
        .annotate(total=Sum("total"))
        .order_by("currency", "month")
    )
    labels = []
    cursor = first
    for _ in range(months):
        labels.append(cursor.strftime("%Y-%m"))
        cursor = month_start(cursor + timedelta(days=32))
    series: dict[str, dict[str, object]] = {}
    for row in rows:
        series.setdefault(row["currency"], {})[row["month"].strftime("%Y-%m")] = row["total"]
    return {currency: [(label, values.get(label, 0)) for label in labels] for currency, values in series.items()}


def events_per_day(now: datetime, days: int = 30) -> list[tuple[str, int]]:
    """Events stored per UTC day over the last `days` days, today last.

    Days are counted by the time an event was stored (`created_at`), which never changes, so the
    counts of the days before today are read once a day (cached until midnight UTC, shared through
    the cache by every process) and only today's are counted on each view.
    """
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    key = f"overview:events-per-day:{today.date().isoformat()}:{days}"
    past = cache.get(key)
    if past is None:
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT date_trunc('day', created_at AT TIME ZONE 'UTC')::date AS day, COUNT(*)
                FROM metering_usageevent WHERE created_at >= %s AND created_at < %s GROUP BY 1
                """,
                [start, today],
            )
            found = {day.isoformat(): count for day, count in cur.fetchall()}
        past = [
            (day, found.get(day, 0)) for day in ((start + timedelta(days=i)).date().isoformat() for i in range(days - 1))
        ]
        cache.set(key, past, timeout=int((today + timedelta(days=1) - now).total_seconds()) + 60)
    return [*past, (today.date().isoformat(), events_today(now))]


def events_today(now: datetime) -> int:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM metering_usageevent WHERE created_at >= %s", [start])
        return cur.fetchone()[0]
