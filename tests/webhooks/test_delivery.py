"""Webhooks end to end in the test process: events written with the change, delivered in order to a real HTTP
receiver that verifies every signature with the `standardwebhooks` library, retried on the specification's
schedule, logged, and the endpoint disabled on 410 or after three days of failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from invoicing.services import invoice_finalize, invoice_mark_paid
from tests.invoicing.builders import ACTOR, keyed_client, period_draft
from webhooks.choices import DeliveryStatus
from webhooks.delivery import RETRY_SCHEDULE, endpoint_deliver, retry_delay
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.services import emit, endpoint_replay, endpoint_rotate_secret, events_prune

from .receiver import payload_types, start_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    found = start_receiver()
    yield found
    found.server.shutdown()


@pytest.fixture
def api():
    client, _ = keyed_client("webhooks.read", "webhooks.write")
    return client


def _endpoint(api, receiver, **body):
    response = api.post("/api/v1/webhook-endpoints", {"url": receiver.url, **body}, format="json")
    assert response.status_code == 201, response.content
    receiver.secrets.append(response.json()["secret"])
    return WebhookEndpoint.objects.get(pk=response.json()["id"])


def _clock(start):
    """A `now` the test moves: endpoint_deliver asks it before every attempt."""
    moments = {"now": start}
    return moments, (lambda: moments["now"])


def test_the_endpoint_secret_is_shown_at_creation_only(api, receiver):
    response = api.post("/api/v1/webhook-endpoints", {"url": receiver.url, "description": "ERP"}, format="json")
    assert response.status_code == 201
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["event_types"] == [] and created["enabled"] is True
    listed = api.get("/api/v1/webhook-endpoints").json()["results"]
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    assert "secret" not in api.get(f"/api/v1/webhook-endpoints/{created['id']}").json()


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://hooks.example.com/x"}, "url"),
    ({"url": "https://"}, "url"),
    ({}, "url"),
    ({"url": "https://hooks.example.com/x", "event_types": ["invoice.exploded"]}, "event_types"),
    ({"url": "https://hooks.example.com/x", "event_types": "invoice.paid"}, "event_types"),
])
def test_bad_endpoints_are_400s_naming_the_field(api, body, field):
    response = api.post("/api/v1/webhook-endpoints", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"].startswith(field)  # event_types[0] names the item
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://[::1]/hook",
                                 "http://169.254.169.254/latest/meta-data", "http://localhost/hook"])
def test_private_and_loopback_urls_are_refused_unless_allowed(api, settings, url):
    settings.FLUXBILL_WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = api.post("/api/v1/webhook-endpoints", {"url": url}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "url", response.content
    assert "private" in response.json()["error"]


def test_finalizing_writes_the_event_with_the_change_and_delivers_it_signed(api, receiver):
    draft, _, _ = period_draft(units=3)
    endpoint = _endpoint(api, receiver)
    only_paid = _endpoint(api, receiver, event_types=["invoice.paid"])
    invoice = invoice_finalize(invoice=draft, now=timezone.now(), actor=ACTOR)
    event = WebhookEvent.objects.get(type="invoice.finalized")
    assert event.uid.startswith("evt_") and event.data["id"] == str(invoice.pk) and event.data["number"] == invoice.number
    assert event.data["total"] == "52.00" and event.data["lines"][0]["amount"] == "49.00"  # 49.00 + 3 × 1.00
    assert set(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == {endpoint.pk}

    assert endpoint_deliver(endpoint.pk) == (1, None)
    (request,) = receiver.requests
    assert request.verified, "the signature did not verify with standardwebhooks"
    assert request.headers["webhook-id"] == event.uid
    assert request.payload["type"] == "invoice.finalized" and request.payload["data"]["number"] == invoice.number
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    assert WebhookAttempt.objects.get(delivery=delivery).response_body == "ok"

    invoice_mark_paid(invoice=invoice, now=timezone.now(), actor=ACTOR)
    assert endpoint_deliver(only_paid.pk)[0] == 1
    assert payload_types(receiver)[-1] == "invoice.paid"


def test_a_rolled_back_change_leaves_no_event(api, receiver):
    _endpoint(api, receiver)
    draft, _, _ = period_draft(units=3)
    with pytest.raises(RuntimeError), transaction.atomic():
        invoice_finalize(invoice=draft, now=timezone.now(), actor=ACTOR)
        raise RuntimeError("the request failed after the finalize")
    assert not WebhookEvent.objects.filter(type="invoice.finalized").exists()
    assert not WebhookDelivery.objects.filter(event__type="invoice.finalized").exists()


def _emit_three():
    for n in range(3):
        emit("billing.error", data={"n": n})
    return list(WebhookEvent.objects.order_by("id").values_list("uid", flat=True))


def test_a_failure_holds_the_line_until_its_retry_then_all_go_in_order_with_the_same_ids(api, receiver):
    endpoint = _endpoint(api, receiver)
    uids = _emit_three()
    receiver.answer(500, "x" * 5000)
    moments, now = _clock(timezone.now())

    assert endpoint_deliver(endpoint.pk, now=now) == (0, moments["now"] + timedelta(seconds=5))
    assert len(receiver.requests) == 1  # the head failed: nothing after it was sent
    head = WebhookDelivery.objects.get(endpoint=endpoint, event__uid=uids[0])
    assert (head.status, head.attempts, head.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    attempt = WebhookAttempt.objects.get(delivery=head)
    assert attempt.status_code == 500 and len(attempt.response_body) == 1024  # the first 1 KiB kept

    assert endpoint_deliver(endpoint.pk, now=now) == (0, moments["now"] + timedelta(seconds=5))  # not due yet
    assert len(receiver.requests) == 1
    moments["now"] += timedelta(seconds=5)
    assert endpoint_deliver(endpoint.pk, now=now) == (3, None)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [uids[0], *uids]
    assert all(r.verified for r in receiver.requests)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.lease_until is None


def test_the_retry_schedule_is_the_specifications():
    # After the 1st failure 5 s, then 5 min, 30 min, 2 h, 5 h, 10 h, and 10 h from then on.
    assert [retry_delay(n) for n in range(1, 10)] == [5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000]
    assert RETRY_SCHEDULE[0] == 5


def test_a_429_waits_as_long_as_retry_after_asks(api, receiver):
    endpoint = _endpoint(api, receiver)
    _emit_three()
    receiver.answer(429, "slow down", {"Retry-After": "120"})
    moments, now = _clock(timezone.now())
    _, again = endpoint_deliver(endpoint.pk, now=now)
    assert again == moments["now"] + timedelta(seconds=120)


def test_a_network_error_is_retried_and_logged(api, receiver):
    endpoint = _endpoint(api, receiver)
    receiver.server.shutdown()
    receiver.server.server_close()
    emit("billing.error", data={"n": 1})
    _, again = endpoint_deliver(endpoint.pk)
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "ConnectionError" in attempt.error
    assert again is not None


def test_410_disables_the_endpoint(api, receiver):
    endpoint = _endpoint(api, receiver)
    _emit_three()
    receiver.answer(410, "gone")
    assert endpoint_deliver(endpoint.pk) == (0, None)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    emit("billing.error", data={"n": 9})  # a disabled endpoint gets no new deliveries
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 3


def test_three_days_of_failures_disable_the_endpoint_and_tell_finance(api, receiver, mailoutbox, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Group

    from tests.factories import StaffFactory

    finance = StaffFactory(username="fin", email="finance@example.com")
    finance.groups.add(Group.objects.get(name="Finance"))
    endpoint = _endpoint(api, receiver)
    emit("billing.error", data={"n": 1})
    receiver.answer(503, "down", times=100)
    moments, now = _clock(timezone.now())
    start = moments["now"]
    with django_capture_on_commit_callbacks(execute=True):
        while True:
            _, again = endpoint_deliver(endpoint.pk, now=now)
            if again is None:
                break
            moments["now"] = again
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "Every delivery failed since" in endpoint.disabled_reason
    assert moments["now"] - start >= timedelta(days=3)
    # Attempts at 0, 5 s, 305 s, 2,105 s, 9,305 s, 27,305 s, then every 36,000 s: the 12th at 243,305 s (67.6 h),
    # the 13th at 279,305 s (77.6 h), the first at or past three days (259,200 s).
    assert WebhookAttempt.objects.count() == 13
    assert [m.to for m in mailoutbox] == [["finance@example.com"]]
    assert endpoint.url in mailoutbox[0].subject


def test_a_rotated_secret_signs_beside_the_old_one_for_a_day(api, receiver):
    endpoint = _endpoint(api, receiver)
    old = receiver.secrets.pop()
    response = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret")
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new != old and new.startswith("whsec_")
    emit("billing.error", data={"n": 1})
    for secret in (old, new):  # a receiver still on the old secret, and one already on the new, both verify
        receiver.secrets[:] = [secret]
        WebhookDelivery.objects.update(status="pending")
        endpoint_deliver(endpoint.pk)
        assert receiver.requests[-1].verified
    assert len(receiver.requests[-1].headers["webhook-signature"].split(" ")) == 2
    # After 24 hours only the new secret signs.
    endpoint.refresh_from_db()
    receiver.secrets[:] = [old]
    WebhookDelivery.objects.update(status="pending")
    endpoint_deliver(endpoint.pk, now=lambda: endpoint.previous_secret_until + timedelta(seconds=1))
    assert not receiver.requests[-1].verified


def test_replay_resend_and_test_event(api, receiver):
    endpoint = _endpoint(api, receiver)
    uids = _emit_three()
    endpoint_deliver(endpoint.pk)
    assert len(receiver.requests) == 3

    since = WebhookEvent.objects.get(uid=uids[1]).created_at
    response = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/replay", {"since": since.isoformat()}, format="json")
    assert response.status_code == 202 and response.json() == {"queued": 2}
    endpoint_deliver(endpoint.pk)
    assert [r.headers["webhook-id"] for r in receiver.requests[3:]] == uids[1:]

    first = WebhookDelivery.objects.get(event__uid=uids[0])
    assert api.post(f"/api/v1/webhook-deliveries/{first.pk}/resend").status_code == 202
    endpoint_deliver(endpoint.pk)
    assert receiver.requests[-1].headers["webhook-id"] == uids[0]

    assert api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test").status_code == 202
    endpoint_deliver(endpoint.pk)
    assert payload_types(receiver)[-1] == "webhook.test" and receiver.requests[-1].verified
    detail = api.get(f"/api/v1/webhook-deliveries/{first.pk}").json()
    assert detail["event_id"] == uids[0] and len(detail["attempts_log"]) == 2
    listing = api.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries").json()
    assert len(listing["results"]) == 4


def test_replay_since_the_future_is_a_400(api, receiver):
    endpoint = _endpoint(api, receiver)
    later = (timezone.now() + timedelta(days=1)).isoformat()
    response = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/replay", {"since": later}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "since"
    bad = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/replay", {"since": "yesterday"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "since"


def test_events_older_than_the_retention_are_pruned_with_their_deliveries(api, receiver):
    endpoint = _endpoint(api, receiver)
    _emit_three()
    endpoint_deliver(endpoint.pk)
    WebhookEvent.objects.filter(pk=WebhookEvent.objects.order_by("id").first().pk).update(
        created_at=timezone.now() - timedelta(days=91)
    )
    assert events_prune(now=timezone.now()) == 1
    assert WebhookEvent.objects.count() == 2 and WebhookDelivery.objects.count() == 2 and WebhookAttempt.objects.count() == 2


def test_replay_of_a_type_filtered_endpoint_sends_only_its_types(api, receiver):
    endpoint = _endpoint(api, receiver, event_types=["customer.created"])
    emit("billing.error", data={"n": 1})
    assert endpoint_replay(endpoint=endpoint, since=timezone.now() - timedelta(hours=1), now=timezone.now()) == 0
    endpoint_rotate_secret(endpoint=endpoint, now=timezone.now())


def test_a_4xx_refusal_is_not_retried_and_does_not_hold_the_line(api, receiver):
    endpoint = _endpoint(api, receiver)
    uids = _emit_three()
    receiver.answer(400, "bad payload")
    assert endpoint_deliver(endpoint.pk) == (2, None)
    refused = WebhookDelivery.objects.get(event__uid=uids[0])
    assert (refused.status, refused.last_status_code) == (DeliveryStatus.FAILED, 400)
    assert [r.headers["webhook-id"] for r in receiver.requests] == uids
