"""Periodic work for the overview page."""

from celery import shared_task
from django.utils import timezone

from . import selectors


@shared_task(name="desk.warm_overview")
def warm_overview() -> int:
    """Counts the past days' events for the overview chart if the cache lacks them (the first run
    after midnight UTC), so no viewer waits for that scan; later runs only count today. Returns
    today's count. The cache must be one the web processes share (Redis, `CACHE_URL`)."""
    return selectors.events_per_day(timezone.now())[-1][1]
