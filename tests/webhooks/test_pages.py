"""Settings → Webhooks in the dashboard: the secret shown once, edits and tools through webhooks.services."""

import re

import pytest
from django.urls import reverse

from tests.dashboard.conftest import finance_client, support_client  # noqa: F401 (fixtures)
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.services import emit

pytestmark = pytest.mark.django_db


def test_creating_an_endpoint_shows_its_secret_once(finance_client):
    response = finance_client.post(reverse("webhooks:endpoint-create"), {
        "url": "https://hooks.example.com/fluxbill", "description": "ERP", "event_types": ["invoice.finalized", "invoice.paid"],
        "enabled": "on",
    })
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    body = response.content.decode()
    assert f'id="new-secret" aria-labelledby="new-secret-label">{endpoint.secret}<' in body
    assert f'data-replace-url="{reverse("webhooks:endpoint-detail", args=[endpoint.pk])}"' in body
    assert endpoint.event_types == ["invoice.finalized", "invoice.paid"] and endpoint.created_by == "user:fiona"
    detail = finance_client.get(reverse("webhooks:endpoint-detail", args=[endpoint.pk])).content.decode()
    assert endpoint.secret not in detail and "invoice.finalized" in detail
    listing = finance_client.get(reverse("webhooks:endpoint-list")).content.decode()
    assert "https://hooks.example.com/fluxbill" in listing and endpoint.secret not in listing


def test_a_refused_url_is_shown_beside_the_field(finance_client, settings):
    settings.FLUXBILL_WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = finance_client.post(reverse("webhooks:endpoint-create"), {"url": "http://127.0.0.1:9000/x", "enabled": "on"})
    assert response.status_code == 400
    assert re.search(r'data-field="url">.*?private, loopback or reserved', response.content.decode(), re.S)
    assert not WebhookEndpoint.objects.exists()


def test_rotate_test_replay_and_resend_from_the_endpoint_page(finance_client):
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/x", created_by="t")
    old = endpoint.secret
    rotated = finance_client.post(reverse("webhooks:endpoint-rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in rotated.content.decode()

    finance_client.post(reverse("webhooks:endpoint-test", args=[endpoint.pk]))
    assert WebhookEvent.objects.get().type == "webhook.test"
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.update(status="delivered")
    finance_client.post(reverse("webhooks:delivery-resend", args=[delivery.pk]))
    assert WebhookDelivery.objects.get().status == "pending"
    response = finance_client.post(reverse("webhooks:endpoint-replay", args=[endpoint.pk]), {"since": "2020-01-01T00:00:00Z"},
                                   follow=True)
    assert "1 event queued again, in order." in response.content.decode()
    page = finance_client.get(reverse("webhooks:endpoint-detail", args=[endpoint.pk])).content.decode()
    assert f'data-delivery="{delivery.pk}"' in page and "webhook.test" in page


def test_disabling_and_enabling_through_the_form(finance_client):
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/x", enabled=False, disabled_reason="410")
    response = finance_client.post(reverse("webhooks:endpoint-detail", args=[endpoint.pk]),
                                   {"url": endpoint.url, "description": "again", "enabled": "on"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == "" and endpoint.description == "again"
    emit("billing.error", data={"n": 1})
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


def test_support_reads_endpoints_but_cannot_change_them(support_client):
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/x")
    page = support_client.get(reverse("webhooks:endpoint-detail", args=[endpoint.pk]))
    assert page.status_code == 200 and "Rotate secret" not in page.content.decode()
    refused = support_client.post(reverse("webhooks:endpoint-detail", args=[endpoint.pk]), {"url": "https://evil.example.com"})
    assert refused.status_code == 403
    assert WebhookEndpoint.objects.get().url == "https://hooks.example.com/x"
