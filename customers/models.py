import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from catalog.choices import BillingInterval
from catalog.models import tax_rate_codes_field
from fluxbill.core.history import tracked

from .choices import SubscriptionStatus


def default_net_days() -> int:
    return settings.FLUXBILL_INVOICE_NET_DAYS


class PostalAddress(models.Model):
    """A structured address, as a seller and a customer carry it (printed by customers.selectors.address_lines)."""

    address_line1 = models.CharField("address line 1", max_length=200, blank=True, default="")
    address_line2 = models.CharField("address line 2", max_length=200, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=100, blank=True, default="", help_text="State, region or province.")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    country = CountryField(blank=True, default="")

    class Meta:
        abstract = True


@tracked(exclude=("logo",))  # the logo is up to 256 KiB: not copied into every history row
class BillingEntity(PostalAddress):
    """Who bills: the seller printed on invoices, with its own gap-free invoice numbers (`<prefix>-<year>-000001`).

    Exactly one is the default (the partial unique constraint): customers belong to it unless set otherwise.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True, help_text="Short internal name, e.g. “EU” or “US”.")
    legal_name = models.CharField(max_length=200, help_text="As printed on invoices.")
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    tax_id = models.CharField(max_length=50, blank=True, default="", help_text="VAT or tax number, checked for the country.")
    # A data URI (PNG, JPEG or SVG, at most 256 KiB decoded): the PDF renderer reads it without any file storage.
    logo = models.TextField(blank=True, default="")
    payment_instructions = models.TextField(blank=True, default="")
    invoice_footer = models.TextField(blank=True, default="")
    invoice_prefix = models.CharField(max_length=16, unique=True, help_text="Invoice numbers read <prefix>-<year>-000001.")
    net_days = models.PositiveIntegerField(default=default_net_days, help_text="Days from issue to due date.")
    is_default = models.BooleanField(default=False)
    # Its customers' invoices are taxed at these where the charge, the plan and the customer name none.
    tax_rates = tax_rate_codes_field()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name_plural = "billing entities"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="billing_entity_one_default"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def logo_data_uri(self) -> str:
        """The logo as an `<img src>` value (WeasyPrint reads data URIs); "" when there is none."""
        return self.logo


@tracked()
class Customer(PostalAddress):
    """Someone who is billed. `external_id` is the client's own identifier, used by event ingestion.

    The billing details (legal name, invoice email, address, tax id, net days) are printed on its invoices,
    snapshotted at finalization (customers.selectors.customer_bill_to).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    external_id = models.CharField(max_length=255, unique=True)
    # Who bills the customer; the services put a new customer in the default entity unless told otherwise.
    billing_entity = models.ForeignKey(BillingEntity, on_delete=models.PROTECT, related_name="customers")
    legal_name = models.CharField(max_length=200, blank=True, default="", help_text="Printed on invoices; blank: the name.")
    invoice_email = models.EmailField(blank=True, default="", help_text="Invoices are sent here; blank: the email.")
    cc_emails = ArrayField(models.EmailField(), blank=True, default=list, help_text="Copied on invoice emails.")
    tax_id = models.CharField(max_length=50, blank=True, default="", help_text="VAT or tax number, checked for the country.")
    net_days = models.PositiveIntegerField(null=True, blank=True, help_text="Days from issue to due date; blank: the entity's.")
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
