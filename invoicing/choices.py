from django.db import models


class InvoiceStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    OPEN = "OPEN", "Open"
    PAID = "PAID", "Paid"
    VOID = "VOID", "Void"
    UNCOLLECTIBLE = "UNCOLLECTIBLE", "Uncollectible"


class InvoiceKind(models.TextChoices):
    PERIOD = "PERIOD", "End of period"
    INTERIM = "INTERIM", "Interim"
    MANUAL = "MANUAL", "Manual"
    # Late usage of an issued period invoice, billed as the difference (invoicing.Invoice.adjusts).
    ADJUSTMENT = "ADJUSTMENT", "Late usage adjustment"


class LineKind(models.TextChoices):
    FIXED = "FIXED", "Fixed fee"
    USAGE = "USAGE", "Usage"
    ADJUSTMENT = "ADJUSTMENT", "Adjustment"


class CreditKind(models.TextChoices):
    """What moved a customer's credit balance (invoicing.CreditEntry)."""

    CARRIED = "carried", "Carried from an invoice"
    APPLIED = "applied", "Applied to an invoice"
    RESTORED = "restored", "Restored from a voided invoice"
    REVERSED = "reversed", "Carried credit taken back (invoice voided)"
    ADJUSTMENT = "adjustment", "Manual adjustment"
    CREDIT_NOTE = "credit_note", "Credit note"
    CREDIT_NOTE_VOIDED = "credit_note_voided", "Credit note voided"
    OVERPAYMENT = "overpayment", "Overpayment"
    PAYMENT_REVERSED = "payment_reversed", "Overpayment reversed (payment reversed)"


class CreditNoteStatus(models.TextChoices):
    ISSUED = "ISSUED", "Issued"
    VOID = "VOID", "Void"


class CreditNoteReason(models.TextChoices):
    DUPLICATE = "duplicate", "Duplicate"
    PRODUCT_UNSATISFACTORY = "product_unsatisfactory", "Product unsatisfactory"
    ORDER_CHANGE = "order_change", "Order change"
    FRAUDULENT = "fraudulent", "Fraudulent"
    OTHER = "other", "Other"


class PaymentStatus(models.TextChoices):
    RECORDED = "RECORDED", "Recorded"
    REVERSED = "REVERSED", "Reversed"
