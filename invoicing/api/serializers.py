from django.db.models import prefetch_related_objects
from rest_framework import serializers

from fluxbill.core.fields import DecimalString, InputSerializer, MoneyString
from fluxbill.core.money import money_string
from invoicing.models import CreditEntry, CreditNote, Invoice, InvoiceEvent, InvoiceLine, Payment


class InvoiceLineOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    charge_id = serializers.UUIDField(allow_null=True)
    meter_id = serializers.UUIDField(allow_null=True)
    quantity = DecimalString(read_only=True)
    unit_price = DecimalString(read_only=True, allow_null=True)
    amount = MoneyString()
    discount_amount = MoneyString()
    taxable_amount = MoneyString()
    tax_amount = MoneyString()
    taxes = serializers.ListField(read_only=True, help_text="Per rate: code, name, rate, amount.")

    class Meta:
        model = InvoiceLine
        fields = ["id", "kind", "description", "charge_id", "meter_id", "quantity", "unit_price", "amount",
                  "discount_amount", "taxable_amount", "tax_amount", "taxes", "breakdown"]
        read_only_fields = fields


class InvoiceEventOutput(serializers.ModelSerializer):
    class Meta:
        model = InvoiceEvent
        fields = ["action", "from_status", "to_status", "actor", "detail", "created_at"]
        read_only_fields = fields


class InvoiceOutput(serializers.ModelSerializer):
    customer_id = serializers.UUIDField()
    billing_entity_id = serializers.UUIDField(help_text="Who bills: it numbered the invoice and is its seller.")
    subscription_id = serializers.UUIDField(allow_null=True)
    replaces_id = serializers.UUIDField(allow_null=True)
    subtotal = MoneyString()
    discount_total = MoneyString()
    tax_total = MoneyString()
    total = MoneyString()
    credit_applied = MoneyString(help_text="Customer credit used: an estimate on drafts, fixed at finalization.")
    amount_due = MoneyString()
    amount_paid = MoneyString()
    amount_remaining = MoneyString(help_text="Amount due − payments − credit-note offsets.")
    amount_credited = MoneyString(help_text="Credit notes' offsets against this invoice.")
    amount_refunded = MoneyString(help_text="Credit notes' refunds, paid back outside Fluxbill.")
    overdue = serializers.BooleanField(source="is_overdue", help_text="OPEN, past its due date, something remaining.")
    adjusts_id = serializers.UUIDField(allow_null=True, help_text="ADJUSTMENT: the issued invoice whose late usage it bills.")
    credit_carried = MoneyString(help_text="Billed before for this period beyond its price, credited to the customer.")
    tax_summary = serializers.ListField(read_only=True, help_text="Per rate: code, name, rate, taxable_amount, tax_amount.")
    zero_total = serializers.BooleanField(source="is_zero")

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "customer_id",
            "billing_entity_id",
            "subscription_id",
            "kind",
            "status",
            "currency",
            "period_start",
            "period_end",
            "subtotal",
            "discount_total",
            "tax_total",
            "total",
            "credit_applied",
            "amount_due",
            "amount_paid",
            "amount_remaining",
            "amount_credited",
            "amount_refunded",
            "overdue",
            "credit_carried",
            "tax_summary",
            "tax_inclusive",
            "reverse_charge",
            "zero_total",
            "finalize_at",
            "issued_at",
            "due_date",
            "paid_at",
            "payment_reference",
            "voided_at",
            "replaces_id",
            "adjusts_id",
            "email_sent_at",
            "email_attempts",
            "email_last_error",
            # Why finalizing this failed, when and how often ("" and null when fine); finalize_at is the retry.
            "billing_error",
            "billing_error_at",
            "billing_failures",
            # When lines and totals were computed from the stored events; a draft is kept within about a minute.
            "computed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InvoiceDetailOutput(InvoiceOutput):
    lines = InvoiceLineOutput(many=True, read_only=True)
    audit = InvoiceEventOutput(many=True, read_only=True)
    customer_snapshot = serializers.DictField(read_only=True, help_text="The bill-to frozen at finalization.")
    seller_snapshot = serializers.DictField(read_only=True, help_text="The billing entity frozen at finalization.")
    replaced_by_id = serializers.SerializerMethodField()
    late_usage = serializers.SerializerMethodField()

    class Meta(InvoiceOutput.Meta):
        fields = [*InvoiceOutput.Meta.fields, "customer_snapshot", "seller_snapshot", "replaced_by_id", "late_usage", "lines", "audit"]
        read_only_fields = fields

    def get_replaced_by_id(self, obj) -> str | None:
        replacement = getattr(obj, "replaced_by", None) if hasattr(obj, "replaced_by") else None
        return str(replacement.pk) if replacement else None

    def get_late_usage(self, obj) -> dict:
        from invoicing.selectors import late_usage

        return late_usage(obj)


class MarkPaidInput(InputSerializer):
    paid_at = serializers.DateTimeField(required=False)
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class VoidInput(InputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PreviewLineOutput(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    charge_id = serializers.UUIDField(allow_null=True)
    quantity = DecimalString()
    unit_price = DecimalString(allow_null=True)
    amount = MoneyString()
    discount_amount = MoneyString()
    taxable_amount = MoneyString()
    tax_amount = MoneyString()
    taxes = serializers.ListField()
    breakdown = serializers.ListField()


class PreviewOutput(serializers.Serializer):
    """What an interim invoice would say now, through the same pipeline (credit applied is an estimate)."""

    subscription_id = serializers.UUIDField()
    currency = serializers.CharField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    subtotal = MoneyString()
    discount_total = MoneyString()
    tax_total = MoneyString()
    total = MoneyString()
    credit_applied = MoneyString()
    amount_due = MoneyString()
    tax_summary = serializers.ListField()
    tax_inclusive = serializers.BooleanField()
    reverse_charge = serializers.BooleanField()
    lines = PreviewLineOutput(many=True)


class CreditEntryOutput(serializers.ModelSerializer):
    customer_id = serializers.UUIDField(read_only=True)
    invoice_id = serializers.UUIDField(read_only=True, allow_null=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True, allow_null=True, default=None)
    amount = MoneyString(help_text="Signed: credit added (+) or used (−).")
    balance_after = MoneyString()

    class Meta:
        model = CreditEntry
        fields = ["id", "customer_id", "currency", "kind", "amount", "balance_after", "invoice_id", "invoice_number",
                  "reason", "actor", "created_at"]
        read_only_fields = fields


class CreditAdjustInput(InputSerializer):
    currency = serializers.CharField(max_length=3, min_length=3)
    amount = DecimalString(max_digits=20, decimal_places=4, help_text="Positive adds credit, negative takes unused credit back.")
    reason = serializers.CharField(max_length=500)


class BalanceOutput(serializers.Serializer):
    currency = serializers.CharField()
    balance = MoneyString()


# Credit notes --------------------------------------------------------------------------------------------------------


class CreditNoteItemOutput(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    invoice_line_id = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    amount = MoneyString(help_text="Before tax.")
    tax_amount = MoneyString()
    taxes = serializers.ListField(read_only=True, help_text="Per rate: code, name, rate, amount.")
    total = MoneyString()


class CreditNoteOutput(serializers.ModelSerializer):
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField(source="invoice.number")
    customer_id = serializers.UUIDField()
    billing_entity_id = serializers.UUIDField()
    subtotal = MoneyString()
    tax_total = MoneyString()
    total = MoneyString()
    offset_amount = MoneyString(help_text="Taken off what remained to pay on the invoice.")
    credit_amount = MoneyString(help_text="Added to the customer's credit balance.")
    refund_amount = MoneyString(help_text="Paid back outside Fluxbill.")
    tax_summary = serializers.ListField(read_only=True, help_text="Per rate: code, name, rate, taxable_amount, tax_amount.")
    items = serializers.SerializerMethodField()

    class Meta:
        model = CreditNote
        fields = [
            "id", "number", "invoice_id", "invoice_number", "customer_id", "billing_entity_id", "currency", "status",
            "reason", "memo", "subtotal", "tax_total", "total", "offset_amount", "credit_amount", "refund_amount",
            "tax_summary", "items", "issued_at", "voided_at", "void_reason", "actor", "email_sent_at",
            "email_attempts", "email_last_error", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_items(self, note) -> list[dict]:
        rows = sorted(note.items.all(), key=lambda item: (item.position, item.pk))
        return CreditNoteItemOutput(rows, many=True, context={"currency": note.currency}).data


class CreditNoteItemInput(InputSerializer):
    invoice_line_id = serializers.CharField(max_length=40)
    amount = serializers.CharField(
        max_length=40, required=False, allow_null=True, allow_blank=True,
        help_text="Before tax, as a decimal string; left out, what is left of the line.",
    )


class CreditNoteInput(InputSerializer):
    reason = serializers.CharField(max_length=40, help_text="duplicate, product_unsatisfactory, order_change, fraudulent, other")
    memo = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    items = CreditNoteItemInput(many=True, allow_empty=False)
    offset_amount = serializers.CharField(max_length=40, required=False, allow_null=True, allow_blank=True)
    credit_amount = serializers.CharField(max_length=40, required=False, allow_null=True, allow_blank=True)
    refund_amount = serializers.CharField(max_length=40, required=False, allow_null=True, allow_blank=True)


class CreditNoteCreateInput(CreditNoteInput):
    invoice_id = serializers.UUIDField()


class CreditNoteVoidInput(InputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class LineRoomOutput(serializers.Serializer):
    invoice_line_id = serializers.CharField(source="line.pk")
    description = serializers.CharField(source="line.description")
    creditable_amount = MoneyString(source="amount", help_text="What can still be credited before tax.")
    creditable_tax = MoneyString(source="tax")
    creditable_total = MoneyString(source="total")


class PreviewItemOutput(serializers.Serializer):
    invoice_line_id = serializers.CharField(source="room.line.pk")
    description = serializers.CharField(source="room.line.description")
    amount = MoneyString()
    tax_amount = MoneyString()
    taxes = serializers.SerializerMethodField()
    total = MoneyString()

    def get_taxes(self, item) -> list[dict]:
        currency = self.context["currency"]
        return [{**tax, "amount": money_string(tax["amount"], currency)} for tax in item.taxes]


class CreditNotePreviewOutput(serializers.Serializer):
    invoice_id = serializers.UUIDField(source="invoice.pk")
    currency = serializers.CharField(source="invoice.currency")
    items = PreviewItemOutput(many=True)
    subtotal = MoneyString()
    tax_total = MoneyString()
    total = MoneyString()
    tax_summary = serializers.ListField()
    offset_amount = MoneyString()
    credit_amount = MoneyString()
    refund_amount = MoneyString()
    offset_max = MoneyString(help_text="At most this may be offset: what remains to pay on the invoice.")
    refund_max = MoneyString(help_text="At most this may be refunded: paid less earlier refunds.")
    lines = LineRoomOutput(many=True, source="rooms", help_text="Every line and what it can still be credited.")


# Payments ------------------------------------------------------------------------------------------------------------


class PaymentOutput(serializers.ModelSerializer):
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField(source="invoice.number")
    customer_id = serializers.UUIDField()
    amount = MoneyString(help_text="What was received.")
    applied_amount = MoneyString(help_text="What it paid of the invoice (at most what remained).")
    credit_amount = MoneyString(help_text="The overpayment, added to the customer's credit balance.")

    class Meta:
        model = Payment
        fields = [
            "id", "invoice_id", "invoice_number", "customer_id", "currency", "amount", "applied_amount", "credit_amount",
            "received_at", "method", "reference", "status", "reversed_at", "reversal_reason", "actor", "created_at",
        ]
        read_only_fields = fields


class PaymentInput(InputSerializer):
    amount = serializers.CharField(max_length=40, help_text="What was received, as a decimal string such as '120.00'.")
    received_at = serializers.DateField(required=False, help_text="The day it arrived (UTC); default today.")
    method = serializers.CharField(max_length=50, required=False, allow_blank=True, default="",
                                   help_text="Free text: transfer, card, cheque…")
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class PaymentReverseInput(InputSerializer):
    reason = serializers.CharField(max_length=500, help_text="Why, e.g. 'cheque bounced'.")


class InvoiceWebhookOutput(InvoiceOutput):
    """An invoice in webhook events: the list's JSON and its lines (the detail's audit trail stays in the API)."""

    lines = InvoiceLineOutput(many=True, read_only=True)

    class Meta(InvoiceOutput.Meta):
        fields = [*InvoiceOutput.Meta.fields, "lines"]
        read_only_fields = fields


def webhook_shapes() -> dict:
    """The API's JSON for each kind of object invoicing emits events about (webhooks.registry), read anew
    in the emitting transaction so the event freezes what was just written."""

    def invoices(objs):
        found = {
            invoice.pk: invoice
            for invoice in Invoice.objects.filter(pk__in=[obj.pk for obj in objs]).prefetch_related("lines")
        }
        return InvoiceWebhookOutput([found[obj.pk] for obj in objs], many=True).data

    def invoice(obj):
        # The service's own object is current (it just saved it); only its lines are read again (one query).
        getattr(obj, "_prefetched_objects_cache", {}).pop("lines", None)
        prefetch_related_objects([obj], "lines")
        return InvoiceWebhookOutput(obj).data

    def credit_note(obj):
        return CreditNoteOutput(
            CreditNote.objects.select_related("invoice", "customer").prefetch_related("items").get(pk=obj.pk)
        ).data

    def payment(obj):
        return PaymentOutput(Payment.objects.select_related("invoice").get(pk=obj.pk)).data

    return {"invoice": (invoice, invoices), "credit_note": (credit_note, None), "payment": (payment, None)}
