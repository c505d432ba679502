"""Sending: one endpoint at a time, its deliveries in the order their events were created, signed as the
Standard Webhooks specification says (the `standardwebhooks` library signs).

A run leases the endpoint (`lease_until`, renewed as it goes), so two workers never send to one endpoint at once
and a SIGKILLed worker's lease lapses for the next run. The head delivery must succeed before the next is sent:
a failure schedules its retry (RETRY_SCHEDULE; a 429's Retry-After if later) and ends the run. A 410 disables
the endpoint; so do three days of failures, and Finance is emailed. Every attempt is logged. A crash between a
send and its record sends it again with the same webhook-id: delivery is at least once, receivers dedupe by id.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks import Webhook

from fluxbill.core.errors import DomainError

from .choices import DeliveryStatus
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .services import address_check

# Seconds before each retry: the specification's schedule. After the last, every 10 hours until disabled.
RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
RETRYABLE_4XX = (408, 409, 425, 429)  # worth another try; any other 4xx refuses this payload for good
BATCH = 200
# Successes are recorded this many at a time: a worker killed mid-run sends at most this many again.
RECORD_EVERY = 50
BODY_KEPT = 1024


def retry_delay(failures: int) -> int:
    """Seconds to wait after the `failures`-th failed attempt (1-based)."""
    return RETRY_SCHEDULE[min(failures, len(RETRY_SCHEDULE)) - 1]


def body_of(delivery: WebhookDelivery) -> bytes:
    event = delivery.event
    payload = {"type": event.type, "timestamp": event.created_at.isoformat().replace("+00:00", "Z"), "data": event.data}
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def signature(endpoint: WebhookEndpoint, msg_id: str, at: datetime, body: bytes) -> str:
    """`v1,<sig>` with the endpoint's secret, and the previous secret's beside it during a rotation."""
    signatures = [Webhook(endpoint.secret).sign(msg_id, at, body)]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > at:
        signatures.append(Webhook(endpoint.previous_secret).sign(msg_id, at, body))
    return " ".join(signatures)


@dataclass
class Outcome:
    status_code: int | None
    error: str
    body: str
    duration_ms: int
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def refused(self) -> bool:
        """A 4xx other than 408, 409, 425, 429 (and 410, which disables): this payload will not be taken."""
        return self.status_code is not None and 400 <= self.status_code < 500 and self.status_code not in (*RETRYABLE_4XX, 410)


def _retry_after(value: str | None, now: datetime) -> int | None:
    if not value:
        return None
    try:
        return max(0, int(value.strip()))
    except ValueError:
        try:
            return max(0, int((parsedate_to_datetime(value) - now).total_seconds()))
        except (TypeError, ValueError):
            return None


def send(session: requests.Session, endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime) -> Outcome:
    body = body_of(delivery)
    msg_id = delivery.event.uid
    headers = {
        "content-type": "application/json",
        "user-agent": "Fluxbill-Webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature(endpoint, msg_id, now, body),
    }
    started = time.perf_counter()
    try:
        address_check(urlsplit(endpoint.url).hostname or "", field="url")  # resolved again: DNS may have moved
        response = session.post(endpoint.url, data=body, headers=headers, timeout=settings.FLUXBILL_WEBHOOK_TIMEOUT_SECONDS,
                                allow_redirects=False, stream=True)
    except DomainError as exc:
        return Outcome(None, exc.message[:500], "", _ms(started))
    except requests.RequestException as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500], "", _ms(started))
    try:
        kept = response.raw.read(BODY_KEPT + 1, decode_content=True) or b""
    except Exception as exc:  # noqa: BLE001 - a broken answer body still has its status code
        kept = f"(body unreadable: {type(exc).__name__})".encode()
    if len(kept) > BODY_KEPT:
        response.close()  # not read to its end: this connection cannot be reused
    else:
        response.raw.read()  # the rest (empty) so the connection goes back to the pool
    text = kept[:BODY_KEPT].decode("utf-8", "replace")
    return Outcome(response.status_code, "", text, _ms(started),
                   retry_after=_retry_after(response.headers.get("retry-after"), now) if response.status_code == 429 else None)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


# --- a run over one endpoint ---------------------------------------------------------------------------------------


def _lease(endpoint_id, now: datetime, seconds: float) -> WebhookEndpoint | None:
    """Take the endpoint for a run, if nobody holds it; `lease_until` is also the holder's token."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE webhooks_webhookendpoint SET lease_until = %s WHERE id = %s AND enabled "
            "AND (lease_until IS NULL OR lease_until < %s) RETURNING id",
            [now + timedelta(seconds=seconds), str(endpoint_id), now],
        )
        if cursor.fetchone() is None:
            return None
    return WebhookEndpoint.objects.get(pk=endpoint_id)


def _renew(endpoint: WebhookEndpoint, now: datetime, seconds: float) -> bool:
    """Extend the lease if it is still ours (a run that stalled past it may have been taken over: it stops)."""
    until = now + timedelta(seconds=seconds)
    held = WebhookEndpoint.objects.filter(pk=endpoint.pk, lease_until=endpoint.lease_until).update(lease_until=until)
    if held:
        endpoint.lease_until = until
    return bool(held)


def _release(endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk, lease_until=endpoint.lease_until).update(lease_until=None)


def _record_successes(done: list[tuple[WebhookDelivery, Outcome, datetime]]) -> None:
    """Many delivered in one UPDATE and one INSERT (the throughput is in not paying two round trips each)."""
    if not done:
        return
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create([
            WebhookAttempt(delivery_id=d.pk, attempted_at=at, duration_ms=o.duration_ms, status_code=o.status_code,
                           response_body=o.body)
            for d, o, at in done
        ])
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE webhooks_webhookdelivery d SET status = 'delivered', attempts = d.attempts + 1, "
                "last_status_code = v.code, last_error = '', delivered_at = v.at "
                "FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::int[]) AS code, unnest(%s::timestamptz[]) AS at) v "
                "WHERE d.id = v.id",
                [[d.pk for d, _, _ in done], [o.status_code for _, o, _ in done], [at for _, _, at in done]],
            )
        WebhookEndpoint.objects.filter(pk=done[0][0].endpoint_id, failing_since__isnull=False).update(failing_since=None)


def _record_refusal(delivery: WebhookDelivery, outcome: Outcome, at: datetime) -> None:
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery_id=delivery.pk, attempted_at=at, duration_ms=outcome.duration_ms,
                                      status_code=outcome.status_code, response_body=outcome.body)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, attempts=delivery.attempts + 1, last_status_code=outcome.status_code,
            last_error=f"HTTP {outcome.status_code}: refused, not retried",
        )


def _record_failure(endpoint: WebhookEndpoint, delivery: WebhookDelivery, outcome: Outcome, at: datetime) -> datetime | None:
    """Log the attempt and schedule the retry; returns when it is due, or None if the endpoint is now disabled."""
    failures = delivery.attempts + 1
    wait = retry_delay(failures)
    if outcome.retry_after is not None:
        wait = max(wait, outcome.retry_after)
    due = at + timedelta(seconds=wait)
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery_id=delivery.pk, attempted_at=at, duration_ms=outcome.duration_ms,
                                      status_code=outcome.status_code, error=outcome.error, response_body=outcome.body)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=failures, next_attempt_at=due, last_status_code=outcome.status_code,
            last_error=outcome.error or f"HTTP {outcome.status_code}",
        )
        failing_since = endpoint.failing_since or at
        reason = ""
        if outcome.status_code == 410:
            reason = f"The endpoint answered 410 Gone on {at:%Y-%m-%d %H:%M} UTC"
        elif at - failing_since >= timedelta(seconds=settings.FLUXBILL_WEBHOOK_DISABLE_AFTER_SECONDS):
            reason = f"Every delivery failed since {failing_since:%Y-%m-%d %H:%M} UTC; last: {delivery.last_error or outcome.error}"[:500]
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            failing_since=failing_since, **({"enabled": False, "disabled_reason": reason} if reason else {})
        )
    if reason:
        transaction.on_commit(lambda: _tell_finance(endpoint, reason))
        return None
    return due


def _tell_finance(endpoint: WebhookEndpoint, reason: str) -> None:
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    from fluxbill.core.roles import FINANCE

    to = list(
        get_user_model().objects.filter(groups__name=FINANCE, is_active=True).exclude(email="")
        .values_list("email", flat=True).distinct()
    )
    if not to:
        return
    try:
        send_mail(
            subject=f"Webhook endpoint disabled: {endpoint.url}",
            message=f"Fluxbill stopped sending webhooks to {endpoint.url}.\n\n{reason}\n\nFix the receiver, then enable "
                    "the endpoint again (Settings → Webhooks); the events it missed are delivered in order.",
            from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=to, fail_silently=True,
        )
    except Exception:  # noqa: BLE001 - the endpoint is disabled either way; the dashboard says so too
        pass


def endpoint_deliver(endpoint_id, *, session: requests.Session | None = None, now=timezone.now) -> tuple[int, datetime | None]:
    """Send the endpoint's due deliveries in order. Returns (delivered, when to run again: a retry's due time)."""
    lease_seconds = settings.FLUXBILL_WEBHOOK_LEASE_SECONDS
    endpoint = _lease(endpoint_id, now(), lease_seconds)
    if endpoint is None:
        return 0, None  # another run holds it, or it is disabled or gone
    own_session = session is None
    session = session or requests.Session()
    delivered, again = 0, None
    renewed = time.monotonic()
    try:
        while True:
            batch = list(
                WebhookDelivery.objects.filter(endpoint_id=endpoint.pk, status=DeliveryStatus.PENDING)
                .select_related("event").order_by("event_id")[:BATCH]
            )
            if not batch:
                break
            done = []
            stop = False
            for delivery in batch:
                if time.monotonic() - renewed > lease_seconds / 3:
                    _record_successes(done)
                    delivered += len(done)
                    done = []
                    if not _renew(endpoint, now(), lease_seconds):
                        stop = True
                        break
                    renewed = time.monotonic()
                at = now()
                if delivery.next_attempt_at > at:
                    again, stop = delivery.next_attempt_at, True
                    break
                outcome = send(session, endpoint, delivery, at)
                if outcome.ok:
                    done.append((delivery, outcome, at))
                    if len(done) >= RECORD_EVERY:
                        _record_successes(done)
                        delivered += len(done)
                        done = []
                    continue
                if outcome.refused:  # retrying cannot help: logged, set aside, the next one goes
                    _record_refusal(delivery, outcome, at)
                    continue
                _record_successes(done)
                delivered += len(done)
                done = []
                again, stop = _record_failure(endpoint, delivery, outcome, at), True
                break
            _record_successes(done)
            delivered += len(done)
            if stop:
                break
    finally:
        _release(endpoint)
        if own_session:
            session.close()
    return delivered, again


def endpoints_due(*, now: datetime, limit: int = 1000) -> list:
    """Enabled, unleased endpoints with a pending delivery due now: what the sweep starts runs for."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id FROM webhooks_webhookendpoint e WHERE e.enabled AND (e.lease_until IS NULL OR e.lease_until < %s) "
            "AND EXISTS (SELECT 1 FROM webhooks_webhookdelivery d WHERE d.endpoint_id = e.id AND d.status = 'pending' "
            "AND d.next_attempt_at <= %s) LIMIT %s",
            [now, now, limit],
        )
        return [row[0] for row in cursor.fetchall()]
