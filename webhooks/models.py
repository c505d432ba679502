"""The outbox and where it goes.

A `WebhookEvent` is written in the transaction of the change it reports (services call `webhooks.emit`), with
one `WebhookDelivery` per endpoint subscribed at that moment; a crash before the commit leaves neither, after it
leaves both for the delivery task. Each try is a `WebhookAttempt`.
"""

import secrets
import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import DeliveryStatus


def event_uid() -> str:
    return f"evt_{secrets.token_hex(12)}"


def endpoint_secret() -> str:
    """`whsec_` + base64 of 32 random bytes, the Standard Webhooks secret format."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEvent(models.Model):
    id = models.BigAutoField(primary_key=True)  # the order events were created in: deliveries follow it
    uid = models.CharField(max_length=40, unique=True, default=event_uid, help_text="The webhook-id every retry carries.")
    type = models.CharField(max_length=60)
    data = models.JSONField(help_text="The object as the API returns it, frozen when the event happened.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="webhook_event_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.uid}"


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True, default="")
    event_types = ArrayField(models.CharField(max_length=60), default=list, blank=True,
                             help_text="The types sent here; empty: every type.")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    secret = models.CharField(max_length=100, default=endpoint_secret)
    # After a rotation the old secret signs beside the new one until this moment (receivers switch over).
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    # Set at the first failed attempt after a success; three days of it disable the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)
    # A delivery task holds the endpoint until this moment (renewed as it goes); a killed worker's lease lapses.
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        permissions = [("manage_webhookendpoint", "Can resend, replay and test webhooks")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # Per endpoint, its pending deliveries in event order (the delivery task's head of line).
            models.Index(fields=["endpoint", "event"], condition=Q(status="pending"), name="webhook_delivery_pending"),
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_valid"),
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once_per_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class WebhookAttempt(models.Model):
    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    response_body = models.CharField(max_length=1024, blank=True, default="", help_text="The first 1 KiB of the answer.")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["attempted_at"], name="webhook_attempt_at")]
