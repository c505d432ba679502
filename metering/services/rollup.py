"""The hourly usage rollup (`UsageHourly`), advanced set-wise off the ingestion path.

Ingestion writes nothing here: a beat task calls `usage_rollup_advance` every minute, which folds
the events stored since the watermark into their hours with one INSERT … SELECT … ON CONFLICT and
moves the watermark, in one transaction. Events are chosen by `created_at`, not `timestamp`, so a
late event with an old timestamp is added to its old hour. Events are append-only (no path updates
or deletes them), so an hour once added never needs taking back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction


# An event's created_at is its transaction's start (now()); it commits a little later. Rolling up
# only to `now − settle` leaves time for every transaction begun before that to commit, so none is
# skipped by a watermark that has already passed its created_at.
def usage_rollup_settle() -> timedelta:
    return timedelta(seconds=settings.FLUXBILL_USAGE_ROLLUP_SETTLE_SECONDS)


_ADD = """
    INSERT INTO metering_usagehourly (meter_id, hour, event_count, quantity_sum, quantity_max, quantity_min)
    SELECT e.meter_id, date_trunc('hour', e.timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           COUNT(*), SUM(e.quantity), MAX(e.quantity), MIN(e.quantity)
    FROM metering_usageevent e
    WHERE e.created_at > %(after)s AND e.created_at <= %(upto)s
    GROUP BY 1, 2
    ON CONFLICT (meter_id, hour) DO UPDATE SET
        event_count = metering_usagehourly.event_count + excluded.event_count,
        quantity_sum = metering_usagehourly.quantity_sum + excluded.quantity_sum,
        quantity_max = GREATEST(metering_usagehourly.quantity_max, excluded.quantity_max),
        quantity_min = LEAST(metering_usagehourly.quantity_min, excluded.quantity_min)
"""


@transaction.atomic
def usage_rollup_advance(*, now: datetime) -> int:
    """Add the events created in (watermark, now − settle] to the rollup and move the watermark there.

    Returns the number of (meter, hour) rows added or updated. Two runs at once queue on an advisory
    lock; the second then starts from the watermark the first left, so nothing is added twice.
    """
    upto = now - usage_rollup_settle()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ["metering:usage-rollup"])
        cursor.execute(
            "INSERT INTO metering_usagerollupwatermark (id, created_upto) VALUES (1, NULL) ON CONFLICT (id) DO NOTHING"
        )
        cursor.execute("SELECT created_upto FROM metering_usagerollupwatermark WHERE id = 1 FOR UPDATE")
        (after,) = cursor.fetchone()
        if after is not None and upto <= after:
            return 0
        # NULL: nothing rolled up yet; -infinity takes every event up to `upto`.
        cursor.execute(_ADD, {"after": after if after is not None else "-infinity", "upto": upto})
        added = cursor.rowcount
        cursor.execute("UPDATE metering_usagerollupwatermark SET created_upto = %s WHERE id = 1", [upto])
    return added
