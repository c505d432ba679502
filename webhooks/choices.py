"""What webhook rows can be: the event types Fluxbill emits and a delivery's states."""

from django.db import models

# Every type a service emits (README, "Webhooks"). An endpoint subscribes to some, or to all with [].
EVENT_TYPES = (
    "invoice.drafted",
    "invoice.finalized",
    "invoice.paid",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice.overdue",
    "invoice.email_failed",
    "credit_note.issued",
    "credit_note.voided",
    "payment.recorded",
    "payment.reversed",
    "subscription.created",
    "subscription.canceled",
    "subscription.ended",
    "customer.created",
    "customer.updated",
    "usage_alert.triggered",
    "billing.error",
    "webhook.test",
)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its turn or its next attempt
    DELIVERED = "delivered", "Delivered"  # the endpoint answered 2xx
    FAILED = "failed", "Failed"  # refused for good (a 4xx that retrying cannot change); resend to try again
