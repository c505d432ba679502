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
