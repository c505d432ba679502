import uuid

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q

from catalog.choices import BillingInterval
from catalog.models import tax_rate_codes_field
from fluxbill.core.history import tracked

from .choices import SubscriptionStatus


@tracked()
class Customer(models.Model):
    """Someone who is billed. `external_id` is the client's own identifier, used by event ingestion."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    external_id = models.CharField(max_length=255, unique=True)
    address = models.TextField(blank=True, default="", help_text="Billing address as printed on invoices.")
    metadata = models.JSONField(default=dict, blank=True)
    # Tax: the rates billed to this customer where a charge or plan names none; or none at all.
    tax_rates = tax_rate_codes_field(db_default=[])
    # Database defaults too: ingestion creates customers with a bare INSERT (customers.services.customer_ids_ensure).
    tax_exempt = models.BooleanField(default=False, db_default=False, help_text="No tax is charged to this customer.")
    reverse_charge = models.BooleanField(
        default=False, db_default=False, help_text="No tax is charged; the customer accounts for it (EU B2B). The invoice says so."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "external_id"]
        indexes = [
            # Case-insensitive "contains" search on the customer list (icontains → ILIKE '%…%').
            GinIndex(name="customer_name_trgm", fields=["name"], opclasses=["gin_trgm_ops"]),
            GinIndex(name="customer_email_trgm", fields=["email"], opclasses=["gin_trgm_ops"]),
            GinIndex(name="customer_external_id_trgm", fields=["external_id"], opclasses=["gin_trgm_ops"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~(Q(tax_exempt=True) & Q(reverse_charge=True)), name="customer_exempt_or_reverse_charge"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


@tracked()
class Subscription(models.Model):
    """A customer on a plan. Periods are calendar steps anchored on `start_date` (customers.periods).

    Canceling at period end sets `cancel_at` to the current period's end; canceling now sets it to
    the moment of cancellation and shortens the current period to end there.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    billing_interval = models.CharField(max_length=10, choices=BillingInterval.choices)
    start_date = models.DateTimeField()
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    trial_end = models.DateTimeField(null=True, blank=True)
    cancel_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The last rollover failure of this subscription (cleared by the next success); retried from billing_retry_at.
    billing_error = models.TextField(blank=True, default="")
    billing_error_at = models.DateTimeField(null=True, blank=True)
    billing_failures = models.PositiveIntegerField(default=0)
    billing_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("cancel_subscription", "Can cancel subscriptions")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=SubscriptionStatus.values), name="subscription_status_valid"),
            models.CheckConstraint(
                condition=Q(current_period_end__gt=models.F("current_period_start")),
                name="subscription_period_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(current_period_start__gte=models.F("start_date")),
                name="subscription_period_after_start",
            ),
        ]
        indexes = [
            # The rollover task's scan: billable subscriptions whose period has ended.
            models.Index(
                fields=["current_period_end"],
                condition=Q(status__in=["TRIAL", "ACTIVE", "CANCELED"]),
                name="subscription_due_rollover",
            ),
            # The overview's "needs attention": the few subscriptions whose billing failed, latest first.
            models.Index(fields=["-billing_error_at"], condition=~Q(billing_error=""), name="subscription_billing_error"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} on {self.plan.name}" if self.plan_id else str(self.id)
