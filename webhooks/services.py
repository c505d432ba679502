"""Webhooks: events written with the change they report, endpoints managed, deliveries resent and replayed.

`emit` is what the other apps' services call inside their transaction: it writes the event and one pending
delivery per enabled endpoint that takes its type, in one statement, and asks for a delivery run once the
transaction commits. A rollback takes the event with it; a crash after the commit leaves it for the sweep.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from fluxbill.core.errors import InvalidInput, InvalidTransition

from .choices import EVENT_TYPES, DeliveryStatus
from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent, endpoint_secret, event_uid
from .registry import shape, shape_many

ROTATION_OVERLAP = timedelta(hours=24)

_EMIT = """
WITH event AS (
    INSERT INTO webhooks_webhookevent (uid, type, data, created_at) VALUES (%(uid)s, %(type)s, %(data)s::jsonb, %(now)s)
    RETURNING id
)
INSERT INTO webhooks_webhookdelivery
    (endpoint_id, event_id, status, attempts, next_attempt_at, last_error, created_at)
SELECT endpoint.id, event.id, 'pending', 0, %(now)s, '', %(now)s
FROM event CROSS JOIN webhooks_webhookendpoint endpoint
WHERE endpoint.enabled AND (cardinality(endpoint.event_types) = 0 OR %(type)s = ANY(endpoint.event_types))
  AND (%(only)s::uuid IS NULL OR endpoint.id = %(only)s::uuid)
"""


def emit(event_type: str, obj=None, *, data: dict | None = None, now: datetime | None = None, only_endpoint=None) -> None:
    """Record `event_type` for `obj` (its API JSON, via the registered shape of its kind) or for `data`, in the
    caller's transaction, with a delivery for every endpoint subscribed now."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}")
    if data is None:
        data = shape(event_type.split(".", 1)[0], obj)
    params = {
        "uid": event_uid(), "type": event_type, "data": json.dumps(data, cls=DjangoJSONEncoder), "now": now or timezone.now(),
        "only": str(only_endpoint) if only_endpoint else None,
    }
    with connection.cursor() as cursor:
        cursor.execute(_EMIT, params)
        delivered_to = cursor.rowcount
    if delivered_to:
        transaction.on_commit(_kick)


_EMIT_MANY = """
WITH event AS (
    INSERT INTO webhooks_webhookevent (uid, type, data, created_at)
    SELECT item.uid, %(type)s, item.data, %(now)s
    FROM unnest(%(uids)s::varchar[], %(datas)s::jsonb[]) WITH ORDINALITY AS item(uid, data, position)
    ORDER BY item.position
    RETURNING id
)
INSERT INTO webhooks_webhookdelivery
    (endpoint_id, event_id, status, attempts, next_attempt_at, last_error, created_at)
SELECT endpoint.id, event.id, 'pending', 0, %(now)s, '', %(now)s
FROM event CROSS JOIN webhooks_webhookendpoint endpoint
WHERE endpoint.enabled AND (cardinality(endpoint.event_types) = 0 OR %(type)s = ANY(endpoint.event_types))
ORDER BY event.id, endpoint.id
"""


def emit_many(event_type: str, objs: list, *, now: datetime | None = None) -> None:
    """`emit` for a batch (a rollover's drafts): their shapes read set-wise, one statement for all."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}")
    if not objs:
        return
    datas = shape_many(event_type.split(".", 1)[0], objs)
    params = {
        "type": event_type, "now": now or timezone.now(), "uids": [event_uid() for _ in datas],
        "datas": [json.dumps(data, cls=DjangoJSONEncoder) for data in datas],
    }
    with connection.cursor() as cursor:
        cursor.execute(_EMIT_MANY, params)
        delivered_to = cursor.rowcount
    if delivered_to:
        transaction.on_commit(_kick)


def _kick() -> None:
    """Ask for a delivery run now (at most one request a second per process; the sweep catches the rest)."""
    from celery import current_app
    from django.core.cache import cache

    try:
        if not cache.add("fluxbill:webhooks:kick", 1, timeout=1):
            return
    except Exception:  # noqa: BLE001 - a cache outage must not stop the change that was just committed
        pass
    try:
        current_app.send_task("webhooks.deliver_due")  # by name: the tasks module imports this one
    except Exception:  # noqa: BLE001 - the broker is down: the sweep delivers when it is back
        pass


# --- endpoints ----------------------------------------------------------------------------------------------------


def url_check(url) -> str:
    """An endpoint URL: http(s), a host, and not a private or loopback address unless
    FLUXBILL_WEBHOOK_ALLOW_PRIVATE_URLS is on (a webhook must not reach into the network Fluxbill runs in)."""
    text = str(url or "").strip()
    if not text:
        raise InvalidInput("Missing required field: url", field="url")
    if len(text) > 2000 or "\x00" in text:
        raise InvalidInput("url must be a URL of at most 2000 characters", field="url")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an http:// or https:// URL with a host", field="url")
    try:
        parts.port  # noqa: B018 - a bad port raises
    except ValueError as exc:
        raise InvalidInput(f"url has an invalid port: {exc}", field="url") from None
    address_check(parts.hostname, field="url")
    return text


def address_check(host: str, *, field: str = "url") -> None:
    if settings.FLUXBILL_WEBHOOK_ALLOW_PRIVATE_URLS:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        raise InvalidInput(f"{field}: the host {host!r} does not resolve", field=field) from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            raise InvalidInput(
                f"{field}: {host} is a private, loopback or reserved address ({ip}); webhooks go to public addresses",
                field=field,
            )


def _event_types(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("event_types must be a list of event types ([] for every type)", field="event_types")
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(f"event_types: unknown type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
                           field="event_types")
    return sorted(set(value), key=EVENT_TYPES.index)


def _text(value, *, field: str, limit: int) -> str:
    text = str(value or "")
    if "\x00" in text or len(text) > limit:
        raise InvalidInput(f"{field} must be text of at most {limit} characters", field=field)
    return text


def endpoint_create(*, url, description="", event_types=None, enabled=True, actor) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        url=url_check(url), description=_text(description, field="description", limit=500),
        event_types=_event_types(event_types), enabled=bool(enabled), created_by=actor.label,
    )


def endpoint_update(*, endpoint: WebhookEndpoint, data: dict) -> WebhookEndpoint:
    fields = []
    if "url" in data:
        endpoint.url = url_check(data["url"])
        fields.append("url")
    if "description" in data:
        endpoint.description = _text(data["description"], field="description", limit=500)
        fields.append("description")
    if "event_types" in data:
        endpoint.event_types = _event_types(data["event_types"])
        fields.append("event_types")
    if "enabled" in data:
        enabling = bool(data["enabled"]) and not endpoint.enabled
        endpoint.enabled = bool(data["enabled"])
        fields.append("enabled")
        if enabling:  # a fresh start: the three days of failures count again from the next failure
            endpoint.disabled_reason, endpoint.failing_since = "", None
            fields += ["disabled_reason", "failing_since"]
    if fields:
        endpoint.save(update_fields=[*fields, "updated_at"])
        if "enabled" in fields and endpoint.enabled:
            transaction.on_commit(_kick)
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, now: datetime) -> WebhookEndpoint:
    """A new secret; the old one keeps signing beside it for 24 hours, so receivers can switch without a gap."""
    endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, now + ROTATION_OVERLAP
    endpoint.secret = endpoint_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"])
    return endpoint


@transaction.atomic
def endpoint_test(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    """A `webhook.test` event for this endpoint alone (whatever types it takes)."""
    if not endpoint.enabled:
        raise InvalidTransition("The endpoint is disabled; enable it to send a test event", field="enabled")
    with connection.cursor() as cursor:
        cursor.execute(
            _EMIT.replace("(cardinality(endpoint.event_types) = 0 OR %(type)s = ANY(endpoint.event_types))", "TRUE"),
            {"uid": event_uid(), "type": "webhook.test", "now": now, "only": str(endpoint.pk),
             "data": json.dumps({"endpoint_id": str(endpoint.pk), "message": "A test event from Fluxbill"})},
        )
    transaction.on_commit(_kick)


@transaction.atomic
def endpoint_replay(*, endpoint: WebhookEndpoint, since: datetime, now: datetime) -> int:
    """Deliver again every event since `since` that the endpoint takes, in order; returns how many."""
    if since > now:
        raise InvalidInput("since cannot be in the future", field="since")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO webhooks_webhookdelivery (endpoint_id, event_id, status, attempts, next_attempt_at, last_error, created_at)
            SELECT %(endpoint)s, event.id, 'pending', 0, %(now)s, '', %(now)s
            FROM webhooks_webhookevent event
            WHERE event.created_at >= %(since)s
              AND (cardinality(%(types)s::varchar[]) = 0 OR event.type = ANY(%(types)s::varchar[]))
            ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = 'pending', next_attempt_at = EXCLUDED.next_attempt_at
            """,
            {"endpoint": str(endpoint.pk), "now": now, "since": since, "types": list(endpoint.event_types)},
        )
        count = cursor.rowcount
    transaction.on_commit(_kick)
    return count


def delivery_resend(*, delivery: WebhookDelivery, now: datetime) -> WebhookDelivery:
    """Send one delivery again (delivered or not), with the same webhook-id."""
    delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, now
    delivery.save(update_fields=["status", "next_attempt_at"])
    transaction.on_commit(_kick)
    return delivery


def events_prune(*, now: datetime) -> int:
    """Events, their deliveries and attempts older than the retention (90 days by default), set-wise."""
    cutoff = now - timedelta(days=settings.FLUXBILL_WEBHOOK_RETENTION_DAYS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM webhooks_webhookattempt WHERE attempted_at < %s", [cutoff])
        cursor.execute(
            "DELETE FROM webhooks_webhookattempt a USING webhooks_webhookdelivery d, webhooks_webhookevent e "
            "WHERE a.delivery_id = d.id AND d.event_id = e.id AND e.created_at < %s", [cutoff],
        )
        cursor.execute(
            "DELETE FROM webhooks_webhookdelivery d USING webhooks_webhookevent e WHERE d.event_id = e.id AND e.created_at < %s",
            [cutoff],
        )
        cursor.execute("DELETE FROM webhooks_webhookevent WHERE created_at < %s", [cutoff])
        return cursor.rowcount
