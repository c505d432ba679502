import uuid

from django.db import models
from django.db.models import Q

from fluxbill.core.history import tracked

from .choices import AggregationType

QUANTITY_MAX_DIGITS = 28
QUANTITY_DECIMAL_PLACES = 10


@tracked()
class Meter(models.Model):
    """What is measured: events named `event_name`, aggregated over a period into billable units.

    Exposed in the API as a "feature" of type meter. Archived (inactive) meters reject new events
    but keep their history; a meter is never hard-deleted once it has events.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    lookup_key = models.CharField(max_length=100, unique=True)
    event_name = models.CharField(max_length=200, unique=True, help_text="Events with this name feed the meter.")
    property_name = models.CharField(
        max_length=200, blank=True, default="", help_text="Event property aggregated; blank for COUNT."
    )
    aggregation_type = models.CharField(max_length=20, choices=AggregationType.choices)
    unit = models.CharField(max_length=50, blank=True, default="")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(aggregation_type__in=AggregationType.values), name="meter_aggregation_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.event_name})"


class UsageEvent(models.Model):
    """One measurement sent by a client. Append-only: corrections are new events, never updates."""

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes of their own: the composite indexes below start with each of them, and
    # every index is one more write per stored event.
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="events", db_index=False)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="usage_events", db_index=False
    )
    quantity = models.DecimalField(max_digits=QUANTITY_MAX_DIGITS, decimal_places=QUANTITY_DECIMAL_PLACES)
    timestamp = models.DateTimeField()
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "customer", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="usage_event_unique_idempotency_key",
            ),
        ]
        indexes = [
            # "This customer's usage of this meter in [start, end)": an index-only scan.
            models.Index(
                fields=["customer", "meter", "timestamp"], include=["quantity"], name="usage_cust_meter_ts"
            ),
            # Covers usage charts (metering.aggregation.usage_buckets) with an index-only scan.
            models.Index(fields=["meter", "timestamp"], include=("quantity",), name="usage_meter_ts_qty"),
            # Newest-first listings (event debugger, API): keyset pages walk these without sorting.
            models.Index(fields=["-timestamp", "-id"], name="usage_ts_id_desc"),
            models.Index(fields=["meter", "-timestamp", "-id"], name="usage_meter_ts_id_desc"),
            models.Index(fields=["-created_at"], name="usage_created_desc"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.customer_id} {self.quantity} @ {self.timestamp.isoformat()}"


class RejectedEvent(models.Model):
    """One ingestion attempt the API refused (a 4xx), kept so the event debugger can show why.

    A bounded log, not history: `metering.services.rejection_record` prunes rows older than a day
    and beyond the newest few thousand, so the table never grows with traffic.
    """

    PAYLOAD_MAX_CHARS = 2048

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    endpoint = models.CharField(max_length=200)
    api_key_prefix = models.CharField(max_length=32, blank=True, default="")
    error = models.TextField()
    field = models.CharField(max_length=200, blank=True, default="")
    payload = models.TextField(blank=True, default="", help_text="The start of the rejected JSON (at most 2 KB).")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="rejected_event_recent")]

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.error}"


class UsageHourly(models.Model):
    """One meter's events of one UTC hour (by event `timestamp`), folded into count, sum, max and min.

    Kept by `metering.services.usage_rollup_advance`, never by ingestion: a beat task adds, set-wise,
    the events whose `created_at` passed the watermark (`UsageRollupWatermark`), so late events with
    old timestamps land in their own hour. Charts of mergeable aggregations read these rows plus the
    few events above the watermark instead of every event of the range.
    """

    id = models.BigAutoField(primary_key=True)
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="+", db_index=False)
    hour = models.DateTimeField(help_text="The UTC hour the events' timestamps fall in.")
    event_count = models.BigIntegerField()
    quantity_sum = models.DecimalField(max_digits=38, decimal_places=QUANTITY_DECIMAL_PLACES)
    quantity_max = models.DecimalField(max_digits=QUANTITY_MAX_DIGITS, decimal_places=QUANTITY_DECIMAL_PLACES)
    quantity_min = models.DecimalField(max_digits=QUANTITY_MAX_DIGITS, decimal_places=QUANTITY_DECIMAL_PLACES)

    class Meta:
        constraints = [
            # Also the index charts read: one meter's hours in [start, end).
            models.UniqueConstraint(fields=["meter", "hour"], name="usage_hourly_meter_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} @ {self.hour.isoformat()}: {self.event_count}"


class UsageRollupWatermark(models.Model):
    """The one row saying which events `UsageHourly` holds: every event with `created_at <= created_upto`.

    Absent (or null) until the first advance: then no event is rolled up and charts read live.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    created_upto = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="usage_rollup_watermark_single_row")]

    def __str__(self) -> str:
        return f"usage rolled up to {self.created_upto}"
