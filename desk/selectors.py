"""Figures for the overview page, each one aggregate query over the apps below."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth

from customers.models import Subscription
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from metering.selectors import events_per_day_between

BILLED = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def amounts_by_currency(now: datetime) -> list[dict]:
    """Per currency: billed this month (issued, not void: totals) and open (what OPEN invoices still ask for)."""
    start = month_start(now)
    rows = (
        # Only the invoices either figure counts, so the indexes on issued_at and status narrow the scan.
        Invoice.objects.filter(Q(issued_at__gte=start) | Q(status=InvoiceStatus.OPEN), status__in=BILLED)
        .values("currency")
        .annotate(
            billed=Sum("total", filter=Q(issued_at__gte=start)),
            # What is still owed: credit applied and payments are not receivables.
            open=Sum(F("amount_due") - F("amount_paid"), filter=Q(status=InvoiceStatus.OPEN)),
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


def needs_attention(limit: int = 10) -> tuple[list, list]:
    """Subscriptions whose rollover failed and drafts whose finalization failed, latest failure first:
    billing retries them with backoff, but a person has to look at why (an absurd event, a price too large)."""
    subscriptions = list(
        Subscription.objects.exclude(billing_error="").select_related("customer").order_by("-billing_error_at")[:limit]
    )
    invoices = list(
        Invoice.objects.filter(status=InvoiceStatus.DRAFT)
        .exclude(billing_error="")
        .select_related("customer")
        .order_by("-billing_error_at")[:limit]
    )
    return subscriptions, invoices


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


# Events take created_at from the start of their transaction, so a day's count is final only once no
# transaction begun that day can still commit; ingestion transactions last milliseconds.
DAY_SETTLES_AFTER = timedelta(minutes=10)


def _unsettled_days(settled: datetime, now: datetime) -> dict[str, int]:
    """Today's count (and yesterday's in its first minutes), at most FLUXBILL_OVERVIEW_TODAY_SECONDS old."""
    seconds = settings.FLUXBILL_OVERVIEW_TODAY_SECONDS
    if seconds <= 0:
        return events_per_day_between(start=settled, end=None)
    key = f"overview:events-since:{settled.isoformat()}:{int(now.timestamp()) // seconds}"
    counts = cache.get(key)
    if counts is None:
        counts = events_per_day_between(start=settled, end=None)
        cache.set(key, counts, timeout=seconds)
    return counts


def events_per_day(now: datetime, days: int = 30) -> list[tuple[str, int]]:
    """Events stored per UTC day over the last `days` days, today last.

    Days are counted by the time an event was stored (`created_at`), so a settled day's count never
    changes: the settled days are counted once a day (cached, shared through the cache by every
    process; `desk.warm_overview` does it ahead of viewers) and only the rest on each view: today,
    and yesterday too in the first minutes after midnight.
    """
    now = now.astimezone(dt_timezone.utc)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    settled = today if now - today >= DAY_SETTLES_AFTER else today - timedelta(days=1)
    key = f"overview:events-per-day:{start.date().isoformat()}:{settled.date().isoformat()}"
    past = cache.get(key)
    if past is None:
        past = events_per_day_between(start=start, end=settled)
        cache.set(key, past, timeout=25 * 3600)  # the key changes once the next day settles
    counts = {**past, **_unsettled_days(settled, now)}
    labels = [(start + timedelta(days=i)).date().isoformat() for i in range(days)]
    return [(label, counts.get(label, 0)) for label in labels]
