"""Redis frozen (SIGSTOP: connections are accepted, nothing answers) as the rate-limit store and the
Celery broker: ingestion answers and stores, /readyz answers 503 naming the broker, a staff finalize
completes and its email goes out through the outbox sweep once Redis is back. A private redis-server
(tests/servers.py); the machine's shared Redis is never touched. Bounds come from the configured
timeouts plus one second of slack for the request itself on a loaded machine."""

import time

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from invoicing.services import invoices_email_pending
from invoicing.tasks import send_invoice_email, send_pending_emails
from metering.models import UsageEvent
from tests.celery_broker import celery_broker
from tests.factories import CustomerFactory, MeterFactory
from tests.invoicing.builders import period_draft
from tests.servers import private_redis  # noqa: F401 — fixture

SLACK = 1.0
REQUESTS = 10


@pytest.fixture
def frozen(private_redis, settings):  # noqa: F811
    """The private Redis as cache and broker, configured as base settings configure a Redis, then frozen."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url(0),
            "OPTIONS": {
                "socket_timeout": settings.FLUXBILL_REDIS_TIMEOUT,
                "socket_connect_timeout": settings.FLUXBILL_REDIS_TIMEOUT,
            },
        }
    }
    options = {
        "socket_timeout": settings.FLUXBILL_BROKER_SOCKET_TIMEOUT,
        "socket_connect_timeout": settings.FLUXBILL_BROKER_SOCKET_TIMEOUT,
        "visibility_timeout": settings.FLUXBILL_BROKER_VISIBILITY_TIMEOUT,
    }
    with celery_broker(private_redis.url(1), transport_options=options):
        private_redis.freeze()
        yield private_redis
        private_redis.thaw()


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast path", "drf"])
@pytest.mark.django_db(transaction=True)
def test_ingestion_answers_and_stores_with_redis_frozen(frozen, key_client, settings, fast_path):
    settings.FLUXBILL_INGEST_FAST_PATH = fast_path
    CustomerFactory(external_id="acme")
    meter = MeterFactory(event_name="api.calls", property_name="calls")
    client = key_client("usage.write")
    bound = 3 * settings.FLUXBILL_REDIS_TIMEOUT + SLACK
    elapsed = []
    started = time.monotonic()
    for i in range(REQUESTS):
        if i % 2:
            body = {"meter_token": str(meter.token), "customer_external_id": "acme", "quantity": 1,
                    "idempotency_key": f"t-{i}"}  # fmt: skip
            response, took = timed(lambda: client.post("/api/v1/sdk/track", body, format="json"))
        else:
            body = {"event_name": "api.calls", "external_customer_id": "acme", "event_id": f"e-{i}",
                    "properties": {"calls": 1}}  # fmt: skip
            response, took = timed(lambda: client.post("/api/v1/events", body, format="json"))
        assert response.status_code in (200, 201, 202), response.content
        elapsed.append(took)
    total = time.monotonic() - started
    print(f"redis frozen, {'fast path' if fast_path else 'DRF'}: {REQUESTS} ingestion requests, slowest "
          f"{max(elapsed):.2f} s, all {total:.2f} s (bound {bound:.1f} s each and in all)")
    assert UsageEvent.objects.count() == REQUESTS
    assert max(elapsed) <= bound
    # Only the first request waits for the store: the limiter stops asking it for a while.
    assert total <= bound


@pytest.mark.django_db
def test_readyz_answers_503_promptly_naming_the_broker_and_the_cache(frozen, client, settings):
    bound = settings.FLUXBILL_READYZ_TIMEOUT + settings.FLUXBILL_BROKER_SOCKET_TIMEOUT + settings.FLUXBILL_REDIS_TIMEOUT + SLACK
    response, took = timed(lambda: client.get("/readyz"))
    body = response.json()
    print(f"redis frozen: /readyz {response.status_code} in {took:.2f} s (bound {bound:.1f} s): {body}")
    assert response.status_code == 503
    assert body["database"] == "ok"
    assert body["broker"] != "ok" and body["cache"] != "ok"
    assert took <= bound


@pytest.mark.django_db(transaction=True)
def test_staff_finalize_completes_with_the_broker_frozen_and_the_sweep_sends_the_email(
    frozen, admin_api, staff_user, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    by_api, _, _ = period_draft(units=5, email="api@acme.test")
    by_page, _, _ = period_draft(units=5, email="page@acme.test")
    page = Client()
    page.force_login(staff_user)
    bound = 3 * settings.FLUXBILL_BROKER_SOCKET_TIMEOUT + SLACK

    response, api_took = timed(lambda: admin_api.post(f"/api/v1/invoices/{by_api.pk}/finalize"))
    assert response.status_code == 200, response.content
    response, page_took = timed(lambda: page.post(f"/invoices/{by_page.pk}/finalize/"))
    assert response.status_code == 302
    print(f"broker frozen: finalize by API {api_took:.2f} s, by the dashboard {page_took:.2f} s (bound {bound:.1f} s)")
    assert api_took <= bound and page_took <= bound
    assert set(Invoice.objects.values_list("status", flat=True)) == {InvoiceStatus.OPEN}

    # The email's enqueue went to a frozen broker: the invoice row is the outbox the sweep reads.
    frozen.thaw()
    assert set(invoices_email_pending(now=timezone.now())) == {
        by_api.pk, by_page.pk
    }
    assert send_pending_emails() == 2
    for pk in (by_api.pk, by_page.pk):
        assert send_invoice_email.apply(args=(str(pk),)).get() in ("sent", "already_sent")
    assert sorted(m.to[0] for m in mail.outbox) == ["api@acme.test", "page@acme.test"]
