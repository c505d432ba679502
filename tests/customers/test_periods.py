"""Billing-period arithmetic (customers.periods), checked against hand-computed calendars.

Every expected date below was worked out by hand from a calendar, not by calling the code.
Anchors carry a time of day (13:45:10 UTC) so that a lost or reset time shows up too.
"""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from catalog.choices import BillingInterval
from customers.periods import boundary, next_period, period_at, period_index_at

DAY, WEEK, MONTH, QUARTER, YEAR = (
    BillingInterval.DAY,
    BillingInterval.WEEK,
    BillingInterval.MONTH,
    BillingInterval.QUARTER,
    BillingInterval.YEAR,
)
ONE_MICROSECOND = timedelta(microseconds=1)


def utc(year, month, day, hour=13, minute=45, second=10, microsecond=0):
    """An aware UTC instant; by default at the anchors' time of day, 13:45:10."""
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


JAN31_2024 = utc(2024, 1, 31)  # a Wednesday, in a leap year
JAN31_2025 = utc(2025, 1, 31)
FEB29_2024 = utc(2024, 2, 29)
NOV30_2024 = utc(2024, 11, 30)


# --- boundary(): start of period n --------------------------------------------------------------


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, utc(2025, 1, 31)),
        (1, utc(2025, 2, 28)),  # 2025 is a common year
        (2, utc(2025, 3, 31)),  # back to the 31st: anchored on the start, not on Feb 28
        (3, utc(2025, 4, 30)),
        (4, utc(2025, 5, 31)),
        (5, utc(2025, 6, 30)),
        (6, utc(2025, 7, 31)),
        (7, utc(2025, 8, 31)),
        (8, utc(2025, 9, 30)),
        (9, utc(2025, 10, 31)),
        (10, utc(2025, 11, 30)),
        (11, utc(2025, 12, 31)),
        (12, utc(2026, 1, 31)),
        (13, utc(2026, 2, 28)),
    ],
)
def test_monthly_anchored_on_jan_31_in_a_common_year(n, expected):
    assert boundary(JAN31_2025, MONTH, n) == expected


@pytest.mark.parametrize(
    "n, expected",
    [
        (1, utc(2024, 2, 29)),  # 2024 is a leap year
        (2, utc(2024, 3, 31)),
        (3, utc(2024, 4, 30)),
        (4, utc(2024, 5, 31)),
        (13, utc(2025, 2, 28)),
        (49, utc(2028, 2, 29)),  # the next leap year
    ],
)
def test_monthly_anchored_on_jan_31_in_a_leap_year(n, expected):
    assert boundary(JAN31_2024, MONTH, n) == expected


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, utc(2024, 2, 29)),
        (1, utc(2025, 2, 28)),
        (2, utc(2026, 2, 28)),
        (3, utc(2027, 2, 28)),
        (4, utc(2028, 2, 29)),  # Feb 29 again as soon as it exists
        (5, utc(2029, 2, 28)),
        (8, utc(2032, 2, 29)),
    ],
)
def test_yearly_anchored_on_feb_29(n, expected):
    assert boundary(FEB29_2024, YEAR, n) == expected


@pytest.mark.parametrize(
    "interval, expected",
    [
        (
            DAY,
            [utc(2024, 1, 31), utc(2024, 2, 1), utc(2024, 2, 2), utc(2024, 2, 3), utc(2024, 2, 4), utc(2024, 2, 5)],
        ),
        (
            WEEK,
            # Feb 2024 has 29 days: Feb 28 + 7 days = Mar 6.
            [utc(2024, 1, 31), utc(2024, 2, 7), utc(2024, 2, 14), utc(2024, 2, 21), utc(2024, 2, 28), utc(2024, 3, 6)],
        ),
        (
            MONTH,
            [utc(2024, 1, 31), utc(2024, 2, 29), utc(2024, 3, 31), utc(2024, 4, 30), utc(2024, 5, 31), utc(2024, 6, 30)],
        ),
        (
            QUARTER,
            [utc(2024, 1, 31), utc(2024, 4, 30), utc(2024, 7, 31), utc(2024, 10, 31), utc(2025, 1, 31), utc(2025, 4, 30)],
        ),
        (
            YEAR,
            [utc(2024, 1, 31), utc(2025, 1, 31), utc(2026, 1, 31), utc(2027, 1, 31), utc(2028, 1, 31), utc(2029, 1, 31)],
        ),
    ],
)
def test_every_interval_boundaries_0_to_5_from_jan_31_2024(interval, expected):
    assert [boundary(JAN31_2024, interval, n) for n in range(6)] == expected


@pytest.mark.parametrize(
    "anchor, interval, expected",
    [
        # Days across the leap day and the year end.
        (
            utc(2024, 2, 27),
            DAY,
            [utc(2024, 2, 27), utc(2024, 2, 28), utc(2024, 2, 29), utc(2024, 3, 1), utc(2024, 3, 2), utc(2024, 3, 3)],
        ),
        (
            utc(2024, 12, 30),
            DAY,
            [utc(2024, 12, 30), utc(2024, 12, 31), utc(2025, 1, 1), utc(2025, 1, 2), utc(2025, 1, 3), utc(2025, 1, 4)],
        ),
        # Weeks across a common-year February and the year end.
        (
            utc(2025, 2, 21),
            WEEK,
            [utc(2025, 2, 21), utc(2025, 2, 28), utc(2025, 3, 7), utc(2025, 3, 14), utc(2025, 3, 21), utc(2025, 3, 28)],
        ),
        (
            utc(2024, 12, 18),
            WEEK,
            [utc(2024, 12, 18), utc(2024, 12, 25), utc(2025, 1, 1), utc(2025, 1, 8), utc(2025, 1, 15), utc(2025, 1, 22)],
        ),
        # Quarters from Nov 30: clamped to Feb 28, then back to the 30th; no drift.
        (
            NOV30_2024,
            QUARTER,
            [utc(2024, 11, 30), utc(2025, 2, 28), utc(2025, 5, 30), utc(2025, 8, 30), utc(2025, 11, 30), utc(2026, 2, 28)],
        ),
        # Months from the 30th: only February is clamped.
        (
            utc(2023, 12, 30),
            MONTH,
            [utc(2023, 12, 30), utc(2024, 1, 30), utc(2024, 2, 29), utc(2024, 3, 30), utc(2024, 4, 30), utc(2024, 5, 30)],
        ),
        # Months from an ordinary day need no clamping at all.
        (
            utc(2025, 1, 15),
            MONTH,
            [utc(2025, 1, 15), utc(2025, 2, 15), utc(2025, 3, 15), utc(2025, 4, 15), utc(2025, 5, 15), utc(2025, 6, 15)],
        ),
        (
            FEB29_2024,
            QUARTER,
            [utc(2024, 2, 29), utc(2024, 5, 29), utc(2024, 8, 29), utc(2024, 11, 29), utc(2025, 2, 28), utc(2025, 5, 29)],
        ),
    ],
)
def test_boundaries_0_to_5_for_other_anchors(anchor, interval, expected):
    assert [boundary(anchor, interval, n) for n in range(6)] == expected


def test_unknown_interval_is_refused():
    with pytest.raises(ValueError, match="fortnight"):
        boundary(JAN31_2024, "fortnight", 1)


# --- period_at(): the half-open period [start, end) containing an instant ------------------------


@pytest.mark.parametrize(
    "anchor, interval, instant, expected",
    [
        # The anchor itself opens period 0.
        (JAN31_2024, MONTH, JAN31_2024, (utc(2024, 1, 31), utc(2024, 2, 29))),
        # Exactly on a boundary: the boundary belongs to the next period.
        (JAN31_2024, MONTH, utc(2024, 2, 29), (utc(2024, 2, 29), utc(2024, 3, 31))),
        (JAN31_2024, MONTH, utc(2024, 3, 31), (utc(2024, 3, 31), utc(2024, 4, 30))),
        (JAN31_2025, MONTH, utc(2025, 2, 28), (utc(2025, 2, 28), utc(2025, 3, 31))),
        (JAN31_2024, DAY, utc(2024, 2, 1), (utc(2024, 2, 1), utc(2024, 2, 2))),
        (JAN31_2024, WEEK, utc(2024, 2, 28), (utc(2024, 2, 28), utc(2024, 3, 6))),
        (JAN31_2024, QUARTER, utc(2024, 4, 30), (utc(2024, 4, 30), utc(2024, 7, 31))),
        (FEB29_2024, YEAR, utc(2025, 2, 28), (utc(2025, 2, 28), utc(2026, 2, 28))),
        (FEB29_2024, YEAR, utc(2028, 2, 29), (utc(2028, 2, 29), utc(2029, 2, 28))),
        # One microsecond before a boundary: still the previous period.
        (JAN31_2024, MONTH, utc(2024, 2, 29) - ONE_MICROSECOND, (utc(2024, 1, 31), utc(2024, 2, 29))),
        (JAN31_2024, MONTH, utc(2024, 3, 31) - ONE_MICROSECOND, (utc(2024, 2, 29), utc(2024, 3, 31))),
        (JAN31_2025, MONTH, utc(2025, 2, 28) - ONE_MICROSECOND, (utc(2025, 1, 31), utc(2025, 2, 28))),
        (JAN31_2024, DAY, utc(2024, 2, 1) - ONE_MICROSECOND, (utc(2024, 1, 31), utc(2024, 2, 1))),
        (JAN31_2024, WEEK, utc(2024, 3, 6) - ONE_MICROSECOND, (utc(2024, 2, 28), utc(2024, 3, 6))),
        (JAN31_2024, QUARTER, utc(2024, 4, 30) - ONE_MICROSECOND, (utc(2024, 1, 31), utc(2024, 4, 30))),
        (FEB29_2024, YEAR, utc(2025, 2, 28) - ONE_MICROSECOND, (utc(2024, 2, 29), utc(2025, 2, 28))),
        (FEB29_2024, YEAR, utc(2028, 2, 29) - ONE_MICROSECOND, (utc(2027, 2, 28), utc(2028, 2, 29))),
        # Same calendar day as a boundary but before its time of day: previous period.
        (JAN31_2024, MONTH, utc(2024, 2, 29, 0, 0, 0), (utc(2024, 1, 31), utc(2024, 2, 29))),
        (JAN31_2024, DAY, utc(2024, 2, 3, 0, 0, 0), (utc(2024, 2, 2), utc(2024, 2, 3))),
        # Mid-period, where the calendar month (March) differs from the period's start month.
        (JAN31_2024, MONTH, utc(2024, 3, 1, 0, 0, 0), (utc(2024, 2, 29), utc(2024, 3, 31))),
        (NOV30_2024, QUARTER, utc(2025, 3, 1, 0, 0, 0), (utc(2025, 2, 28), utc(2025, 5, 30))),
    ],
)
def test_period_at(anchor, interval, instant, expected):
    assert period_at(anchor, interval, instant) == expected


@pytest.mark.parametrize(
    "anchor, interval, instant, expected",
    [
        # 10 years out. Monthly: Jan 31 2034 → Feb 28 2034 (2034 is a common year).
        (JAN31_2024, MONTH, utc(2034, 2, 15, 0, 0, 0), (utc(2034, 1, 31), utc(2034, 2, 28))),
        (JAN31_2024, MONTH, utc(2034, 2, 28) - ONE_MICROSECOND, (utc(2034, 1, 31), utc(2034, 2, 28))),
        (JAN31_2024, MONTH, utc(2034, 2, 28), (utc(2034, 2, 28), utc(2034, 3, 31))),
        # Daily: 3653 days later is Jan 31 2034 (three leap days: 2024, 2028, 2032).
        (JAN31_2024, DAY, utc(2034, 1, 31), (utc(2034, 1, 31), utc(2034, 2, 1))),
        (JAN31_2024, DAY, utc(2034, 1, 31) - ONE_MICROSECOND, (utc(2034, 1, 30), utc(2034, 1, 31))),
        # Weekly: Jun 1 2034 is 3774 days on; 539 weeks = 3773 days lands on Wednesday May 31 2034.
        (JAN31_2024, WEEK, utc(2034, 6, 1, 0, 0, 0), (utc(2034, 5, 31), utc(2034, 6, 7))),
        (JAN31_2024, WEEK, utc(2034, 5, 31) - ONE_MICROSECOND, (utc(2034, 5, 24), utc(2034, 5, 31))),
        # Quarterly from Nov 30 2024: n=40 is Nov 30 2034, n=41 is Feb 28 2035.
        (NOV30_2024, QUARTER, utc(2035, 1, 1, 0, 0, 0), (utc(2034, 11, 30), utc(2035, 2, 28))),
        # Yearly from Feb 29: 2036 is a leap year, so that period ends on Feb 29 2036.
        (FEB29_2024, YEAR, utc(2036, 2, 29, 0, 0, 0), (utc(2035, 2, 28), utc(2036, 2, 29))),
        (FEB29_2024, YEAR, utc(2036, 2, 29), (utc(2036, 2, 29), utc(2037, 2, 28))),
    ],
)
def test_period_at_far_in_the_future(anchor, interval, instant, expected):
    assert period_at(anchor, interval, instant) == expected


@pytest.mark.parametrize(
    "interval, instant, expected_index",
    [
        (MONTH, utc(2024, 1, 31), 0),
        (MONTH, utc(2024, 2, 29) - ONE_MICROSECOND, 0),
        (MONTH, utc(2024, 2, 29), 1),
        (MONTH, utc(2034, 2, 15, 0, 0, 0), 120),  # Jan 31 2034 is 10 × 12 months on
        (DAY, utc(2034, 1, 31), 3653),
        (WEEK, utc(2034, 6, 1, 0, 0, 0), 539),
        (QUARTER, utc(2025, 1, 31), 4),
        (YEAR, utc(2029, 1, 31) - ONE_MICROSECOND, 4),
    ],
)
def test_period_index_at(interval, instant, expected_index):
    assert period_index_at(JAN31_2024, interval, instant) == expected_index


@pytest.mark.parametrize("interval", [DAY, WEEK, MONTH, QUARTER, YEAR])
def test_every_boundary_opens_its_own_period(interval):
    """For n = 0..30, the boundary is the start of period n and the instant just before it is in n-1."""
    for n in range(31):
        start = boundary(JAN31_2024, interval, n)
        end = boundary(JAN31_2024, interval, n + 1)
        assert period_at(JAN31_2024, interval, start) == (start, end)
        if n > 0:
            assert period_at(JAN31_2024, interval, start - ONE_MICROSECOND) == (
                boundary(JAN31_2024, interval, n - 1),
                start,
            )


# --- next_period(): chaining ---------------------------------------------------------------------


EXPECTED_MONTHLY_STARTS_FROM_JAN_31_2025 = [
    utc(2025, 1, 31),
    utc(2025, 2, 28),
    utc(2025, 3, 31),
    utc(2025, 4, 30),
    utc(2025, 5, 31),
    utc(2025, 6, 30),
    utc(2025, 7, 31),
    utc(2025, 8, 31),
    utc(2025, 9, 30),
    utc(2025, 10, 31),
    utc(2025, 11, 30),
    utc(2025, 12, 31),
    utc(2026, 1, 31),
    utc(2026, 2, 28),
    utc(2026, 3, 31),
    utc(2026, 4, 30),
    utc(2026, 5, 31),
    utc(2026, 6, 30),
    utc(2026, 7, 31),
    utc(2026, 8, 31),
    utc(2026, 9, 30),
    utc(2026, 10, 31),
    utc(2026, 11, 30),
    utc(2026, 12, 31),
]


def _chain(anchor, interval, count):
    periods = [period_at(anchor, interval, anchor)]
    while len(periods) < count:
        periods.append(next_period(anchor, interval, periods[-1][1]))
    return periods


def test_next_period_chains_24_monthly_periods_from_jan_31():
    periods = _chain(JAN31_2025, MONTH, 24)

    assert [start for start, _ in periods] == EXPECTED_MONTHLY_STARTS_FROM_JAN_31_2025
    assert periods[-1][1] == utc(2027, 1, 31)
    # Contiguous: each period starts exactly where the previous one ended; none is empty.
    for (_, previous_end), (start, end) in zip(periods, periods[1:]):
        assert start == previous_end
    assert all(start < end for start, end in periods)
    # No gaps or overlaps: the periods tile [Jan 31 2025, Jan 31 2027) exactly.
    assert sum((end - start for start, end in periods), timedelta()) == utc(2027, 1, 31) - utc(2025, 1, 31)
    assert utc(2027, 1, 31) - utc(2025, 1, 31) == timedelta(days=730)


def test_next_period_after_a_clamped_february_goes_back_to_the_31st():
    # The period ending Feb 28 is followed by [Feb 28, Mar 31), not [Feb 28, Mar 28).
    assert next_period(JAN31_2025, MONTH, utc(2025, 2, 28)) == (utc(2025, 2, 28), utc(2025, 3, 31))


@pytest.mark.parametrize(
    "interval, expected_second_period",
    [
        (DAY, (utc(2024, 2, 1), utc(2024, 2, 2))),
        (WEEK, (utc(2024, 2, 7), utc(2024, 2, 14))),
        (MONTH, (utc(2024, 2, 29), utc(2024, 3, 31))),
        (QUARTER, (utc(2024, 4, 30), utc(2024, 7, 31))),
        (YEAR, (utc(2025, 1, 31), utc(2026, 1, 31))),
    ],
)
def test_next_period_follows_the_first(interval, expected_second_period):
    _, first_end = period_at(JAN31_2024, interval, JAN31_2024)
    assert next_period(JAN31_2024, interval, first_end) == expected_second_period


def test_next_period_chains_yearly_from_feb_29():
    periods = _chain(FEB29_2024, YEAR, 5)
    assert periods == [
        (utc(2024, 2, 29), utc(2025, 2, 28)),
        (utc(2025, 2, 28), utc(2026, 2, 28)),
        (utc(2026, 2, 28), utc(2027, 2, 28)),
        (utc(2027, 2, 28), utc(2028, 2, 29)),
        (utc(2028, 2, 29), utc(2029, 2, 28)),
    ]


# --- aware UTC and time of day -------------------------------------------------------------------


@pytest.mark.parametrize("interval", [DAY, WEEK, MONTH, QUARTER, YEAR])
def test_boundaries_stay_aware_utc_and_keep_the_time_of_day(interval):
    for n in range(25):
        value = boundary(JAN31_2024, interval, n)
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
        assert (value.hour, value.minute, value.second, value.microsecond) == (13, 45, 10, 0)


def test_periods_keep_microseconds_of_the_anchor():
    anchor = utc(2025, 1, 31, 23, 59, 59, 999999)
    assert period_at(anchor, MONTH, utc(2025, 3, 1, 0, 0, 0)) == (
        utc(2025, 2, 28, 23, 59, 59, 999999),
        utc(2025, 3, 31, 23, 59, 59, 999999),
    )


def test_period_at_is_the_same_for_an_instant_written_in_another_offset():
    # 2024-02-29 13:45:10 UTC written as 22:45:10+09:00: exactly on the boundary, so the next period.
    tokyo = timezone(timedelta(hours=9))
    instant = datetime(2024, 2, 29, 22, 45, 10, tzinfo=tokyo)
    start, end = period_at(JAN31_2024, MONTH, instant)
    assert (start, end) == (utc(2024, 2, 29), utc(2024, 3, 31))
    assert start.utcoffset() == timedelta(0) and end.utcoffset() == timedelta(0)
