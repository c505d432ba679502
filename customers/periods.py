"""Billing-period arithmetic.

Periods are anchored on the subscription's start: period n begins at `anchor + n × interval`
by the calendar, with the day clamped to the month's length (started Jan 31 → Feb 28/29,
Mar 31, Apr 30 …; started Feb 29 → Feb 28 in common years). Every period is half-open
`[start, end)`. Anchoring on the start, not on the previous end, keeps a short month from
shifting every later period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta

from catalog.choices import BillingInterval

_MONTHS = {BillingInterval.MONTH: 1, BillingInterval.QUARTER: 3, BillingInterval.YEAR: 12}
_DAYS = {BillingInterval.DAY: 1, BillingInterval.WEEK: 7}


def boundary(anchor: datetime, interval: str, n: int) -> datetime:
    """Start of period n (period 0 starts at the anchor)."""
    if interval in _MONTHS:
        return anchor + relativedelta(months=_MONTHS[interval] * n)
    if interval in _DAYS:
        return anchor + timedelta(days=_DAYS[interval] * n)
    raise ValueError(f"Unknown billing interval: {interval!r}")


def _estimate_index(anchor: datetime, interval: str, instant: datetime) -> int:
    if interval in _MONTHS:
        months = (instant.year - anchor.year) * 12 + (instant.month - anchor.month)
        return months // _MONTHS[interval]
    return (instant - anchor).days // _DAYS[interval]


def period_index_at(anchor: datetime, interval: str, instant: datetime) -> int:
    """Index n of the period [boundary(n), boundary(n+1)) that contains `instant`."""
    n = _estimate_index(anchor, interval, instant)
    while boundary(anchor, interval, n) > instant:
        n -= 1
    while boundary(anchor, interval, n + 1) <= instant:
        n += 1
    return n


def period_at(anchor: datetime, interval: str, instant: datetime) -> tuple[datetime, datetime]:
    """The period [start, end) that contains `instant`."""
    # period_index_at's walk, keeping the boundaries it computes: the rollover calls this for
    # every subscription, and calendar arithmetic is most of its cost.
    n = _estimate_index(anchor, interval, instant)
    start = boundary(anchor, interval, n)
    while start > instant:
        n -= 1
        start = boundary(anchor, interval, n)
    end = boundary(anchor, interval, n + 1)
    while end <= instant:
        n += 1
        start, end = end, boundary(anchor, interval, n + 1)
    return start, end


def next_period(anchor: datetime, interval: str, period_end: datetime) -> tuple[datetime, datetime]:
    """The period that follows one ending at `period_end`."""
    return period_at(anchor, interval, period_end)
