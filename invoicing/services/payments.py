"""Payments: money received for an invoice, recorded and (a bounced cheque) reversed (README, "Payments").

A payment pays at most what remains on its invoice (amount due − payments − credit-note offsets); what it
brings beyond that is an overpayment and goes to the customer's credit balance, used by their next invoices.
When nothing remains the invoice is PAID. Reversing a payment takes back both parts: what it paid reopens
the invoice (PAID → OPEN), its overpayment leaves the balance — a 409 if later invoices have used it, or if a
credit note refunded money this payment brought (void that note first).

Every payment on one invoice is written under that invoice's row lock (and, for the ledger, the customer's),
so two clerks recording the same cheque at once cannot both pay what remained: the second overpays, visibly.
`mark-paid` is a payment of exactly what remains.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone as dt_timezone
from decimal import Decimal

from django.db import transaction

from fluxbill.core.errors import InvalidInput, InvalidTransition
from fluxbill.core.money import money_string
from webhooks.services import emit

from ..choices import CreditKind, InvoiceStatus, PaymentStatus
from ..models import Invoice, InvoiceDocument, Payment
from .amounts import money_input
from .audit import audit_event
from .credit import credit_entry_append
from .locks import customer_lock, invoice_locked, status_require

ZERO = Decimal(0)
PAYABLE_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)


def _text(value, *, field_name: str, max_length: int) -> str:
    text = str(value or "").strip()
    if "\x00" in text:
        raise InvalidInput(f"{field_name} cannot contain NUL characters", field=field_name)
    if len(text) > max_length:
        raise InvalidInput(f"{field_name} can be at most {max_length} characters", field=field_name)
    return text


def _received_at(value, *, invoice: Invoice, now: datetime) -> date:
    """A day, not after today (UTC) and not before the day the invoice's period starts."""
    if value is None or value == "":
        return now.date()
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise InvalidInput(f"received_at must be a day such as 2026-01-31, got {value!r}", field="received_at") from exc
    if value > now.date():
        raise InvalidInput("received_at cannot be in the future", field="received_at")
    first_day = invoice.period_start.date()
    if value < first_day:
        raise InvalidInput(
            f"received_at cannot be before the day the invoice's period starts ({first_day.isoformat()})",
            field="received_at",
        )
    return value


def _document_outdated(invoice: Invoice) -> None:
    """The stored PDF shows the status and what was paid: the next download renders them anew."""
    InvoiceDocument.objects.filter(invoice_id=invoice.pk).delete()


@transaction.atomic
def payment_record(
    *, invoice: Invoice, amount, now: datetime, actor, received_at=None, method: str = "", reference: str = "",
    paid_at: datetime | None = None, action: str = "payment_recorded",
) -> Payment:
    """Record money received for an OPEN or UNCOLLECTIBLE invoice. `paid_at` (mark-paid's instant) is when the
    invoice counts as paid if this payment settles it; else the start of `received_at` (UTC), or now if that
    is today."""
    invoice = invoice_locked(invoice=invoice)
    status_require(invoice=invoice, allowed=PAYABLE_STATUSES, action="record a payment on")
    currency = invoice.currency
    value = money_input(amount, currency=currency, field_name="amount", allow_zero=False)
    day = _received_at(received_at, invoice=invoice, now=now)
    method = _text(method, field_name="method", max_length=50)
    reference = _text(reference, field_name="reference", max_length=200)
    remaining = invoice.amount_remaining
    applied = min(value, max(ZERO, remaining))
    payment = Payment.objects.create(
        invoice=invoice, customer_id=invoice.customer_id, currency=currency, amount=value, applied_amount=applied,
        credit_amount=value - applied, received_at=day, method=method, reference=reference,
        actor=actor.label, actor_user=getattr(actor, "user", None),
    )
    before = invoice.status
    invoice.amount_paid += applied
    settles = invoice.amount_remaining == 0
    if settles:
        invoice.status = InvoiceStatus.PAID
        if paid_at is None:
            paid_at = now if day == now.date() else datetime.combine(day, time.min, tzinfo=dt_timezone.utc)
        invoice.paid_at = paid_at
    if reference:
        invoice.payment_reference = reference
    invoice.save()
    _document_outdated(invoice)
    detail = f"{money_string(value, currency)} {currency} received {day.isoformat()}"
    if payment.credit_amount > 0:
        detail += f"; {money_string(payment.credit_amount, currency)} overpaid, to credit"
    if reference:
        detail += f"; {reference}"
    audit_event(invoice=invoice, action=action, actor=actor, from_status=before, to_status=invoice.status,
                detail=detail[:500]).save()
    if payment.credit_amount > 0:
        customer_lock(invoice.customer_id)
        credit_entry_append(
            customer_id=invoice.customer_id, currency=currency, amount=payment.credit_amount,
            kind=CreditKind.OVERPAYMENT, invoice=invoice, payment=payment, actor=actor,
            reason=f"overpayment of {invoice.number}",
        )
    emit("payment.recorded", payment, now=now)
    if settles:
        emit("invoice.paid", invoice, now=now)
    return payment


@transaction.atomic
def payment_reverse(*, payment: Payment, reason, now: datetime, actor) -> Payment:
    """Undo a RECORDED payment, saying why: what it paid is owed again, its overpayment leaves the balance."""
    reason = _text(reason, field_name="reason", max_length=500)
    if not reason:
        raise InvalidInput("Missing required field: reason (why the payment is reversed, e.g. cheque bounced)",
                           field="reason")
    invoice = invoice_locked(invoice=Invoice(pk=payment.invoice_id))
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != PaymentStatus.RECORDED:
        raise InvalidTransition(f"This payment is {payment.status}; only a RECORDED payment can be reversed",
                                extra={"status": payment.status})
    currency = invoice.currency
    paid_after = invoice.amount_paid - payment.applied_amount
    if paid_after < invoice.amount_refunded:
        raise InvalidTransition(
            f"Credit notes on {invoice.number} refunded {money_string(invoice.amount_refunded, currency)} {currency} of "
            f"the payments; without this one only {money_string(paid_after, currency)} was paid. Void the refunding "
            "credit note first", field="status",
        )
    if payment.credit_amount > 0:
        customer_lock(invoice.customer_id)
        try:
            credit_entry_append(
                customer_id=invoice.customer_id, currency=currency, amount=-payment.credit_amount,
                kind=CreditKind.PAYMENT_REVERSED, invoice=invoice, payment=payment, actor=actor,
                reason=f"payment on {invoice.number} reversed: {reason}",
            )
        except InvalidTransition as exc:
            raise InvalidTransition(
                f"This payment overpaid {invoice.number} by {money_string(payment.credit_amount, currency)} {currency}, "
                "which went to the customer's credit balance, and later invoices have used it; it cannot be reversed "
                "now (add the credit back by hand first)", field="status",
            ) from exc
    before = invoice.status
    invoice.amount_paid = paid_after
    if invoice.status == InvoiceStatus.PAID and invoice.amount_remaining > 0:
        invoice.status, invoice.paid_at = InvoiceStatus.OPEN, None
    invoice.save()
    _document_outdated(invoice)
    payment.status, payment.reversed_at, payment.reversal_reason = PaymentStatus.REVERSED, now, reason
    payment.save(update_fields=["status", "reversed_at", "reversal_reason"])
    audit_event(
        invoice=invoice, action="payment_reversed", actor=actor, from_status=before, to_status=invoice.status,
        detail=f"{money_string(payment.amount, currency)} {currency} of {payment.received_at.isoformat()}: {reason}"[:500],
    ).save()
    emit("payment.reversed", payment, now=now)
    return payment


def unreversed_payments_check(invoice: Invoice) -> None:
    """An invoice money was received for stays: reverse its payments first (or correct it with a credit note)."""
    count = Payment.objects.filter(invoice_id=invoice.pk, status=PaymentStatus.RECORDED).count()
    if count:
        raise InvalidTransition(
            f"{invoice} has {count} recorded payment{'s' if count > 1 else ''}; reverse "
            f"{'them' if count > 1 else 'it'} first, or correct the invoice with a credit note",
            field="status", extra={"payments": count},
        )
