"""Celery tasks: a run per endpoint, the sweep that starts them, the pruning of old events."""

from celery import shared_task
from django.utils import timezone

from .delivery import endpoint_deliver, endpoints_due
from .services import events_prune


@shared_task(name="webhooks.deliver_endpoint")
def deliver_endpoint(endpoint_id: str) -> int:
    delivered, again = endpoint_deliver(endpoint_id)
    if again is not None:
        delay = max(0.0, (again - timezone.now()).total_seconds())
        if delay < 60:  # a near retry is its own task; later ones are the sweep's (it runs every few seconds)
            deliver_endpoint.apply_async(args=(str(endpoint_id),), countdown=delay)
    return delivered


@shared_task(name="webhooks.deliver_due")
def deliver_due() -> int:
    """The sweep (beat, and after each commit that emitted): a run for every endpoint with something due."""
    due = endpoints_due(now=timezone.now())
    for endpoint_id in due:
        deliver_endpoint.delay(str(endpoint_id))
    return len(due)


@shared_task(name="webhooks.prune")
def prune() -> int:
    return events_prune(now=timezone.now())
