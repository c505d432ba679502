"""Periodic work for metering: the hourly usage rollup, kept off the ingestion path."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="metering.usage_rollup_advance")
def usage_rollup_advance() -> int:
    """Fold the events stored since the last run into `UsageHourly`; returns the hours touched."""
    return services.usage_rollup_advance(now=timezone.now())
