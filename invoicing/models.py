import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS
from fluxbill.core.history import tracked
from fluxbill.core.money import money_string
from metering.models import QUANTITY_DECIMAL_PLACES, QUANTITY_MAX_DIGITS

from .choices import CreditKind, CreditNoteReason, CreditNoteStatus, InvoiceKind, InvoiceStatus, LineKind, PaymentStatus


def _money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs)


# computed_at moves on every refresh of a draft (every 30 s while late events arrive); its figures are tracked.
# Not the seller snapshot: it is written once, at finalization, and carries the entity's logo (up to 256 KiB),
# which the entity's own history already records.
@tracked(exclude=("computed_at", "seller_snapshot"))
class Invoice(models.Model):
    """A bill for one subscription period (PERIOD), part of one (INTERIM), or made by hand (MANUAL).

    DRAFT invoices are recomputed until finalized; from OPEN on, totals, number and the customer
    snapshot are frozen. Corrections are a void plus a replacement that points back here.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=32, unique=True, null=True, blank=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="invoices")
    # Who bills: the customer's entity when the invoice was made; it numbers the invoice and is its seller.
    billing_entity = models.ForeignKey("customers.BillingEntity", on_delete=models.PROTECT, related_name="invoices")
    subscription = models.ForeignKey(
        "customers.Subscription", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    kind = models.CharField(max_length=10, choices=InvoiceKind.choices, default=InvoiceKind.PERIOD)
    status = models.CharField(max_length=15, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    currency = models.CharField(max_length=3)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    # The money pipeline's steps (invoicing/services/pipeline.py; README, "How an invoice is computed"):
    # subtotal − discount_total + tax_total (tax-exclusive prices) = total; total − credit_applied = amount_due.
    subtotal = _money_field(default=0)
    discount_total = _money_field(default=0)
    tax_total = _money_field(default=0)
    total = _money_field(default=0)
    credit_applied = _money_field(default=0, help_text="Customer credit used; estimated on drafts, fixed at finalization.")
    amount_due = _money_field(default=0)
    amount_paid = _money_field(default=0, help_text="Payments received and not reversed, up to the amount due.")
    # Credit notes' offsets: what they took off the amount due (invoicing.CreditNote.offset_amount).
    amount_credited = _money_field(default=0, help_text="Credit notes' offsets against this invoice.")
    amount_refunded = _money_field(default=0, help_text="Credit notes' refunds (paid back outside Fluxbill).")
    credit_carried = _money_field(
        default=0, help_text="Billed before (interim invoices) beyond this period's price: credited to the customer."
    )
    tax_summary = models.JSONField(default=list, blank=True, help_text="Per rate: code, name, rate, taxable, tax.")
    tax_inclusive = models.BooleanField(default=False)
    reverse_charge = models.BooleanField(default=False)
    finalize_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=200, blank=True, default="")
    voided_at = models.DateTimeField(null=True, blank=True)
    customer_snapshot = models.JSONField(
        default=dict, blank=True, help_text="Bill-to at finalization: name, legal name, emails, address lines, tax id."
    )
    seller_snapshot = models.JSONField(
        default=dict, blank=True, help_text="The billing entity at finalization: legal name, address lines, tax id, logo."
    )
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by"
    )
    # An ADJUSTMENT bills late usage of this issued period invoice: the price with the late events minus without.
    adjusts = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="adjustments"
    )
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveIntegerField(default=0)
    email_last_error = models.TextField(blank=True, default="")
    # A send in progress: the row lock is held only to set these, never through rendering and SMTP.
    # A claim older than FLUXBILL_EMAIL_CLAIM_SECONDS belongs to a worker that died and may be taken over.
    email_claim_token = models.UUIDField(null=True, blank=True, editable=False)
    email_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last finalization failure (cleared when it finalizes); finalize_at moves on by the backoff.
    billing_error = models.TextField(blank=True, default="")
    billing_error_at = models.DateTimeField(null=True, blank=True)
    billing_failures = models.PositiveIntegerField(default=0)
    # When the lines and totals were last computed from the stored events (null: before this was recorded).
    # A draft whose customer has events stored after this is refreshed (invoicing.services.freshness).
    computed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Operations beyond editing (fluxbill.core.permissions names them; the roles hand them out).
        permissions = [
            ("finalize_invoice", "Can finalize invoices"),
            ("void_invoice", "Can void invoices"),
            ("mark_paid_invoice", "Can mark invoices paid"),
            ("mark_uncollectible_invoice", "Can mark invoices uncollectible"),
            ("regenerate_invoice", "Can regenerate invoices"),
            ("send_invoice_email", "Can send and resend invoice emails"),
            ("generate_interim_invoice", "Can generate interim invoices"),
            ("bill_late_usage_invoice", "Can bill late usage of issued invoices"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=InvoiceKind.values), name="invoice_kind_valid"),
            models.CheckConstraint(condition=Q(period_end__gt=models.F("period_start")), name="invoice_period_not_empty"),
            models.CheckConstraint(
                # A voided draft never had a number; everything issued has one.
                condition=Q(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID]) | Q(number__isnull=False),
                name="invoice_number_once_finalized",
            ),
            # The last word on "one invoice per subscription period", whatever races above it.
            models.UniqueConstraint(
                fields=["subscription", "period_start", "period_end"],
                condition=Q(kind=InvoiceKind.PERIOD) & ~Q(status=InvoiceStatus.VOID),
                name="invoice_one_period_invoice_per_subscription_period",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "finalize_at"], name="invoice_status_finalize_at"),
            models.Index(fields=["customer", "-created_at"], name="invoice_customer_created"),
            # The invoice list's default order, newest first, at 100,000+ invoices.
            models.Index(fields=["-created_at", "-id"], name="invoice_created_desc"),
            # The overview: overdue invoices by due date, and issued amounts by month without reading rows.
            models.Index(fields=["status", "due_date"], name="invoice_status_due"),
            models.Index(fields=["issued_at"], include=("status", "currency", "total"), name="invoice_issued_amounts"),
            # The overview's "needs attention": the few drafts whose finalization failed, latest first.
            models.Index(fields=["-billing_error_at"], condition=~Q(billing_error=""), name="invoice_billing_error"),
            # The list's amount range (amount_min/amount_max) and its sort by total, without reading every row.
            models.Index(fields=["total", "id"], name="invoice_total"),
        ]
        constraints += [
            # No step of the money pipeline may ever ask for a negative amount. (VOID is exempt: invoices issued
            # before the pipeline existed could be negative, and voiding is how they are taken back.)
            models.CheckConstraint(
                condition=Q(status=InvoiceStatus.VOID)
                | Q(subtotal__gte=0, discount_total__gte=0, tax_total__gte=0, total__gte=0, credit_applied__gte=0,
                    amount_due__gte=0, amount_paid__gte=0, credit_carried__gte=0, amount_credited__gte=0,
                    amount_refunded__gte=0),
                name="invoice_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(status=InvoiceStatus.VOID) | Q(credit_applied__lte=models.F("total")),
                name="invoice_credit_within_total",
            ),
            # Payments and credit-note offsets together settle at most what is due.
            models.CheckConstraint(
                condition=Q(amount_paid__lte=models.F("amount_due") - models.F("amount_credited")),
                name="invoice_paid_within_due",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft {str(self.id)[:8]}"

    @property
    def is_zero(self) -> bool:
        return self.total == 0

    @property
    def is_overdue(self) -> bool:
        """OPEN, past its due date (UTC), with something left to pay."""
        return (
            self.status == InvoiceStatus.OPEN and self.due_date is not None
            and self.due_date < timezone.now().date() and self.amount_remaining > 0
        )

    @property
    def amount_remaining(self):
        """What the customer still owes: amount due − payments − credit-note offsets (never below zero)."""
        return self.amount_due - self.amount_paid - self.amount_credited


class InvoiceLine(models.Model):
    """One line of an invoice: a fixed fee or the priced usage of one meter, with its breakdown."""

    id = models.BigAutoField(primary_key=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=12, choices=LineKind.choices)
    charge = models.ForeignKey("catalog.Charge", on_delete=models.SET_NULL, null=True, blank=True)
    meter = models.ForeignKey("metering.Meter", on_delete=models.SET_NULL, null=True, blank=True)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=QUANTITY_MAX_DIGITS, decimal_places=QUANTITY_DECIMAL_PLACES, default=0)
    unit_price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    amount = _money_field()
    discount_amount = _money_field(default=0)
    taxable_amount = _money_field(default=0, help_text="What tax is charged on: amount − discount, net of included tax.")
    tax_amount = _money_field(default=0)
    taxes = models.JSONField(default=list, blank=True, help_text="Per rate: code, name, rate, amount (as applied).")
    credit_carried = _money_field(
        default=0, help_text="What earlier invoices of the period billed for this charge beyond its price: credit."
    )
    breakdown = models.JSONField(default=list, blank=True, help_text="Tier by tier: units, unit price, flat, amount.")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["invoice", "position", "id"]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class InvoiceEvent(models.Model):
    """Audit trail: every status transition and email attempt, by whom (user or task), when."""

    id = models.BigAutoField(primary_key=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="audit")
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=15, blank=True, default="")
    to_status = models.CharField(max_length=15, blank=True, default="")
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor = models.CharField(max_length=200, help_text="Who or what: a username, an API key prefix, a task name.")
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_status}→{self.to_status} by {self.actor}"


class InvoiceNumberSequence(models.Model):
    """The last number handed out per billing entity, series (invoices, credit notes) and year. Incremented inside the finalizing
    transaction, so a rolled-back finalization gives its number back: each sequence has no gaps."""

    id = models.BigAutoField(primary_key=True)
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    billing_entity = models.ForeignKey("customers.BillingEntity", on_delete=models.PROTECT, related_name="+")
    series = models.CharField(max_length=12, default=INVOICE)
    year = models.PositiveIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["billing_entity", "series", "year"], name="invoice_number_sequence_entity_series_year"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.billing_entity_id} {self.year}: {self.last_value}"


class InvoiceDocument(models.Model):
    """The PDF of an issued invoice, rendered once and served from here to every download and email.

    Kept in PostgreSQL rather than file storage: every web and worker host already shares the database
    (also `make run`'s embedded one), while a FileSystemStorage folder would exist on one host only.
    Drafts are rendered on demand and never stored: they change until finalized.
    """

    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, primary_key=True, related_name="document")
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    rendered_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"PDF of {self.invoice_id} ({self.size} bytes)"


class CreditEntry(models.Model):
    """The customer credit ledger: append-only, per customer and currency, each entry with the balance after it.

    Credit arises where an invoice billed less than was already billed for its period (interim invoices, a
    usage figure that fell) and from Finance's adjustments; it is used at the credits step of the customer's
    next invoices in that currency. The balance is the last entry's `balance_after`, never below zero.
    """

    id = models.BigAutoField(primary_key=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="credit_entries")
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=20, choices=CreditKind.choices)
    amount = _money_field(help_text="Signed: credit added (+) or used (−).")
    balance_after = _money_field()
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="credit_entries")
    credit_note = models.ForeignKey(
        "CreditNote", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_entries"
    )
    payment = models.ForeignKey("Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_entries")
    reason = models.CharField(max_length=500, blank=True, default="")
    actor = models.CharField(max_length=200)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "credit entry"
        verbose_name_plural = "credit ledger"
        ordering = ["customer", "currency", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="credit_balance_not_negative"),
            models.CheckConstraint(condition=~Q(amount=0), name="credit_entry_not_zero"),
            models.CheckConstraint(condition=Q(kind__in=CreditKind.values),
                                   name="credit_entry_kind_valid"),
        ]
        indexes = [models.Index(fields=["customer", "currency", "-id"], name="credit_entry_latest")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.currency} {self.amount:+} → {self.balance_after}"


@tracked()
class CreditNote(models.Model):
    """A correction of an issued invoice: items crediting its lines (before tax, taxed at the line's rates), and
    how the total was applied — offset against what the invoice still owes, credit to the customer's balance,
    refunded outside Fluxbill. ISSUED → VOID; voiding undoes exactly what it did (invoicing.services.credit_notes)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=40, unique=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="credit_notes")
    billing_entity = models.ForeignKey("customers.BillingEntity", on_delete=models.PROTECT, related_name="credit_notes")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=CreditNoteStatus.choices, default=CreditNoteStatus.ISSUED)
    reason = models.CharField(max_length=30, choices=CreditNoteReason.choices)
    memo = models.TextField(blank=True, default="")
    subtotal = _money_field(default=0)
    tax_total = _money_field(default=0)
    total = _money_field(default=0)
    offset_amount = _money_field(default=0)
    credit_amount = _money_field(default=0)
    refund_amount = _money_field(default=0)
    tax_summary = models.JSONField(default=list, blank=True, help_text="Per rate: code, name, rate, taxable, tax.")
    # The invoice's status before this note's offset settled it (blank: it did not), restored by a void.
    settled_from_status = models.CharField(max_length=15, blank=True, default="")
    issued_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=500, blank=True, default="")
    actor = models.CharField(max_length=200, help_text="Who issued it: a username or an API key prefix.")
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveIntegerField(default=0)
    email_last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-issued_at", "-number"]
        permissions = [("void_creditnote", "Can void credit notes"), ("send_creditnote_email", "Can send credit note emails")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CreditNoteStatus.values), name="credit_note_status_valid"),
            models.CheckConstraint(condition=Q(reason__in=CreditNoteReason.values), name="credit_note_reason_valid"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, tax_total__gte=0, offset_amount__gte=0, credit_amount__gte=0,
                            refund_amount__gte=0, total__gt=0),
                name="credit_note_amounts_positive",
            ),
            models.CheckConstraint(
                condition=Q(total=models.F("subtotal") + models.F("tax_total")), name="credit_note_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(total=models.F("offset_amount") + models.F("credit_amount") + models.F("refund_amount")),
                name="credit_note_applied_adds_up",
            ),
        ]
        indexes = [
            models.Index(fields=["invoice", "status"], name="credit_note_invoice_status"),
            models.Index(fields=["customer", "-issued_at"], name="credit_note_customer_issued"),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteItem(models.Model):
    """What a credit note gives back on one invoice line: an amount before tax and the tax on it, per rate."""

    id = models.BigAutoField(primary_key=True)
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="items")
    # DO_NOTHING so a draft's lines are replaced in one DELETE (no lookup of items first); the database's
    # foreign key still refuses to delete a line a note names (only issued invoices have notes, and their lines stay).
    invoice_line = models.ForeignKey(InvoiceLine, on_delete=models.DO_NOTHING, related_name="credit_note_items")
    description = models.CharField(max_length=300)
    amount = _money_field(help_text="Before tax.")
    tax_amount = _money_field(default=0)
    taxes = models.JSONField(default=list, blank=True, help_text="Per rate: code, name, rate, amount.")
    total = _money_field()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["credit_note", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0, tax_amount__gte=0, total__gt=0),
                                   name="credit_note_item_amounts_positive"),
            models.CheckConstraint(condition=Q(total=models.F("amount") + models.F("tax_amount")),
                                   name="credit_note_item_total_adds_up"),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.total}"


@tracked()
class Payment(models.Model):
    """Money received for an invoice. What it pays is `applied_amount` (at most what remained); an overpayment
    goes to the customer's credit balance (`credit_amount`). Reversing it (a bounced cheque) takes both back."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="payments")
    currency = models.CharField(max_length=3)
    amount = _money_field()
    applied_amount = _money_field(default=0)
    credit_amount = _money_field(default=0)
    received_at = models.DateField()
    method = models.CharField(max_length=50, blank=True, default="", help_text="Transfer, card, cheque…")
    reference = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.RECORDED)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_reason = models.CharField(max_length=500, blank=True, default="")
    actor = models.CharField(max_length=200, help_text="Who recorded it: a username, an API key prefix, a task.")
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-created_at"]
        permissions = [("reverse_payment", "Can reverse payments")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"),
            models.CheckConstraint(condition=Q(amount__gt=0, applied_amount__gte=0, credit_amount__gte=0),
                                   name="payment_amounts_positive"),
            models.CheckConstraint(
                condition=Q(amount=models.F("applied_amount") + models.F("credit_amount")),
                name="payment_applied_adds_up",
            ),
        ]
        indexes = [models.Index(fields=["invoice", "status"], name="payment_invoice_status")]

    def __str__(self) -> str:
        return f"{money_string(self.amount, self.currency)} {self.currency} received {self.received_at}"
