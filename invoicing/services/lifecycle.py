"""Invoice states. Every transition locks the row, checks where it starts from, writes, and audits.

DRAFT → OPEN (finalize) → PAID | VOID | UNCOLLECTIBLE; UNCOLLECTIBLE → PAID | VOID. VOID is final, PAID once money
was received (correctable_statuses).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pghistory
from django.db import transaction

from customers.selectors import customer_bill_to, entity_seller
from fluxbill.core.actors import Actor  # noqa: F401 - re-exported: invoicing.services.Actor
from fluxbill.core.errors import InvalidInput, InvalidTransition
from webhooks.services import emit

from ..choices import InvoiceKind, InvoiceStatus
from ..events import invoice_finalized_on_commit, invoice_voided_on_commit
from ..models import Invoice, InvoiceDocument
from .audit import audit_event
from .credit import credit_on_finalize, credit_on_void
from .credit_notes import issued_credit_notes_check
from .generation import invoice_recompute
from .locks import invoice_locked, status_require
from .numbers import next_number
from .payments import payment_record, unreversed_payments_check


@transaction.atomic
def invoice_finalize(*, invoice: Invoice, now: datetime, actor) -> Invoice:
    """Recompute, number, freeze and open a DRAFT; `invoice_finalized` is sent after commit (the email follows it)."""
    invoice = invoice_locked(invoice=invoice)
    status_require(invoice=invoice, allowed=(InvoiceStatus.DRAFT,), action="finalize")
    invoice_recompute(invoice=invoice, actor=actor, record=False, now=now)
    customer, entity = invoice.customer, invoice.billing_entity
    invoice.number = next_number(entity=entity, year=now.year)
    invoice.customer_snapshot = customer_bill_to(customer)
    invoice.seller_snapshot = entity_seller(entity)
    invoice.issued_at = now
    net_days = customer.net_days if customer.net_days is not None else entity.net_days
    invoice.due_date = (now + timedelta(days=net_days)).date()
    credit_on_finalize(invoice=invoice, actor=actor)
    # Nothing due (a zero total, or one the customer's credit covers): settled at once, so it is neither
    # chased nor, by default, emailed. The period keeps its invoice.
    nothing_due = invoice.amount_due == 0
    invoice.status = InvoiceStatus.PAID if nothing_due else InvoiceStatus.OPEN
    if nothing_due:
        invoice.paid_at = now
    invoice.billing_error, invoice.billing_error_at, invoice.billing_failures = "", None, 0
    invoice.save()
    audit_event(invoice=invoice, action="finalized", actor=actor, from_status=InvoiceStatus.DRAFT, to_status=invoice.status,
           detail=f"{invoice.number}; nothing due" if nothing_due else invoice.number).save()
    invoice_finalized_on_commit(invoice_id=invoice.pk, nothing_due=nothing_due)
    emit("invoice.finalized", invoice, now=now)
    if nothing_due:
        emit("invoice.paid", invoice, now=now)
    return invoice


def invoices_finalize_due(*, now: datetime, actor, limit: int = 1000) -> int:
    """Finalize DRAFTs whose grace period is over, each in its own transaction."""
    finalized = 0
    due = list(
        Invoice.objects.filter(status=InvoiceStatus.DRAFT, finalize_at__lte=now)
        .order_by("finalize_at", "created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        try:
            invoice_finalize(invoice=Invoice(pk=pk), now=now, actor=actor)
            finalized += 1
        except InvalidTransition:
            continue  # finalized meanwhile by someone else
        except Exception as exc:  # noqa: BLE001 - isolated: recorded on this invoice, the others go on
            invoice_billing_failed(pk, exc, now=now, actor=actor)
    return finalized


@transaction.atomic
def invoice_billing_failed(invoice_id, exc: Exception, *, now: datetime, actor, action: str = "finalize_failed") -> None:
    """Record why a draft could not be finalized (or refreshed: the same computation) and push its finalize_at
    back by the backoff; never earlier than it was, so a refresh failing inside the grace does not shorten it."""
    from .generation import billing_backoff

    invoice = Invoice.objects.select_for_update().filter(pk=invoice_id, status=InvoiceStatus.DRAFT).first()
    if invoice is None:
        return
    error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:1000]
    invoice.billing_failures += 1
    invoice.billing_error, invoice.billing_error_at = error, now
    retry_at = now + billing_backoff(invoice.billing_failures)
    invoice.finalize_at = max(invoice.finalize_at, retry_at) if invoice.finalize_at else retry_at
    invoice.save(update_fields=["billing_error", "billing_error_at", "billing_failures", "finalize_at", "updated_at"])
    audit_event(invoice=invoice, action=action, actor=actor, from_status=invoice.status, to_status=invoice.status,
           detail=error[:500]).save()
    emit("billing.error", data={"object": "invoice", "id": str(invoice.pk), "action": action, "error": error,
                                "failures": invoice.billing_failures, "retry_at": invoice.finalize_at}, now=now)
    logging.getLogger(__name__).error(
        "%s for invoice %s (attempt %d): %s", action, invoice_id, invoice.billing_failures, error
    )


def _document_outdated(invoice: Invoice) -> None:
    """The stored PDF shows the status; after a transition the next download renders the new one."""
    InvoiceDocument.objects.filter(invoice_id=invoice.pk).delete()


def correctable_statuses(invoice: Invoice) -> tuple[str, ...]:
    """What void and regenerate start from: DRAFT, OPEN, UNCOLLECTIBLE, and PAID while no money was received
    (nothing due, or settled by the customer's credit, which a void gives back)."""
    statuses = (InvoiceStatus.DRAFT, InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
    return (*statuses, InvoiceStatus.PAID) if invoice.amount_paid == 0 else statuses


def _interim_void_check(invoice: Invoice) -> None:
    """An interim the period's issued invoice already subtracted stays: voiding it would leave its amounts billed
    by nobody (and credit the period invoice carried against it standing)."""
    if invoice.kind != InvoiceKind.INTERIM:
        return
    period = (
        Invoice.objects.filter(
            subscription_id=invoice.subscription_id, kind=InvoiceKind.PERIOD, period_start=invoice.period_start
        )
        .exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
        .values_list("number", flat=True)
        .first()
    )
    if period is not None:
        raise InvalidTransition(
            f"{period}, this period's invoice, already subtracted what this interim invoice bills; it cannot be "
            "voided now (correct the period with a credit note instead)",
            field="status",
        )


@transaction.atomic
def invoice_void(*, invoice: Invoice, now: datetime, actor, reason: str = "") -> Invoice:
    """Void a DRAFT, OPEN or UNCOLLECTIBLE invoice (or a PAID one no money was received for); an issued one sends
    `invoice_voided` after commit (the customer's void notice follows it, naming the replacement when a
    regenerate made one)."""
    invoice = invoice_locked(invoice=invoice)
    status_require(invoice=invoice, allowed=correctable_statuses(invoice), action="void")
    _interim_void_check(invoice)
    issued_credit_notes_check(invoice)
    unreversed_payments_check(invoice)
    before = invoice.status
    if before != InvoiceStatus.DRAFT:
        credit_on_void(invoice=invoice, actor=actor)
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = now
    # The reason joins the open history context (a request's, a task's) or opens one (a shell, a script),
    # so the row saying VOID always says why.
    with pghistory.context(reason=reason):
        invoice.save()
    _document_outdated(invoice)
    audit_event(invoice=invoice, action="voided", actor=actor, from_status=before, to_status=InvoiceStatus.VOID, detail=reason).save()
    if before != InvoiceStatus.DRAFT:
        invoice_voided_on_commit(invoice_id=invoice.pk)  # the customer had it: the void notice follows
    emit("invoice.voided", invoice, now=now)
    return invoice


@transaction.atomic
def invoice_mark_paid(*, invoice: Invoice, now: datetime, actor, paid_at: datetime | None = None, reference: str = "") -> Invoice:
    """Pay what remains, in full, at `paid_at` (default now): one payment through payment_record."""
    invoice = invoice_locked(invoice=invoice)
    status_require(invoice=invoice, allowed=(InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE), action="mark paid")
    if paid_at is not None and paid_at > now:
        raise InvalidInput("paid_at cannot be in the future", field="paid_at")
    # Whole days: the dashboard records a payment by its day (00:00 UTC), also on the day the period starts.
    first_day = invoice.period_start.replace(hour=0, minute=0, second=0, microsecond=0)
    if paid_at is not None and paid_at < first_day:
        raise InvalidInput(
            f"paid_at cannot be before the day the invoice's period starts ({first_day.date().isoformat()})",
            field="paid_at",
        )
    paid_at = paid_at or now
    payment_record(
        invoice=invoice, amount=invoice.amount_remaining, received_at=paid_at.date(), reference=reference,
        paid_at=paid_at, now=now, actor=actor, action="marked_paid",
    )
    invoice.refresh_from_db()
    return invoice


@transaction.atomic
def invoice_mark_uncollectible(*, invoice: Invoice, now: datetime, actor) -> Invoice:
    invoice = invoice_locked(invoice=invoice)
    status_require(invoice=invoice, allowed=(InvoiceStatus.OPEN,), action="mark uncollectible")
    invoice.status = InvoiceStatus.UNCOLLECTIBLE
    invoice.save()
    _document_outdated(invoice)
    audit_event(invoice=invoice, action="marked_uncollectible", actor=actor, from_status=InvoiceStatus.OPEN,
           to_status=InvoiceStatus.UNCOLLECTIBLE).save()
    emit("invoice.marked_uncollectible", invoice, now=now)
    return invoice


@transaction.atomic
def invoice_regenerate(*, invoice: Invoice, now: datetime, actor) -> Invoice:
    """DRAFT: recompute in place. OPEN/UNCOLLECTIBLE: void it and issue a finalized replacement pointing to it."""
    invoice = invoice_locked(invoice=invoice)
    status_require(invoice=invoice, allowed=correctable_statuses(invoice), action="regenerate")
    if invoice.status == InvoiceStatus.DRAFT:
        return invoice_recompute(invoice=invoice, actor=actor, now=now)
    if invoice.subscription_id is None:
        raise InvalidTransition("A MANUAL invoice has no subscription to regenerate it from; void it instead")
    invoice_void(invoice=invoice, now=now, actor=actor, reason="replaced by regeneration")
    replacement = Invoice.objects.create(
        customer_id=invoice.customer_id,
        billing_entity_id=invoice.customer.billing_entity_id,
        subscription_id=invoice.subscription_id,
        kind=invoice.kind,
        status=InvoiceStatus.DRAFT,
        currency=invoice.currency,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        replaces=invoice,
        finalize_at=now,
    )
    audit_event(invoice=replacement, action="created", actor=actor, to_status=InvoiceStatus.DRAFT,
           detail=f"replaces {invoice.number}").save()
    return invoice_finalize(invoice=replacement, now=now, actor=actor)
