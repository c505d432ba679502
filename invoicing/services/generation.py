"""Producing invoices from subscriptions: the end-of-period rollover, interim invoices, previews, recomputes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Sum

from catalog.models import Charge
from customers.choices import BILLABLE_STATUSES, SubscriptionStatus
from customers.models import Subscription
from customers.periods import next_period, period_at
from fluxbill.core.errors import InvalidInput, InvalidTransition
from metering.aggregation import aggregate_usage_batch

from ..choices import InvoiceKind, InvoiceStatus
from ..models import Invoice, InvoiceEvent, InvoiceLine
from .lines import LineDraft, build_lines, usage_windows

_CHARGES = Prefetch("plan__charges", queryset=Charge.objects.select_related("meter").order_by("created_at", "id"))


@dataclass(frozen=True)
class BillingWindow:
    """One invoice to compute: usage over [start, usage_end), fixed fees over [start, fixed_end)."""

    subscription: Subscription
    start: datetime
    usage_end: datetime
    fixed_end: datetime


def _charges(subscription) -> list:
    return list(subscription.plan.charges.all())


def _credited(pairs: list[tuple], exclude_invoice_id=None) -> dict:
    """{(subscription_id, period_start): {charge_id: amount}} billed by non-void INTERIM invoices."""
    if not pairs:
        return {}
    subscription_ids = {sub_id for sub_id, _ in pairs}
    starts = {start for _, start in pairs}
    rows = (
        InvoiceLine.objects.filter(
            invoice__subscription_id__in=subscription_ids,
            invoice__period_start__in=starts,
            invoice__kind=InvoiceKind.INTERIM,
            charge__isnull=False,
        )
        .exclude(invoice__status=InvoiceStatus.VOID)
        .exclude(invoice_id=exclude_invoice_id)
        .values("invoice__subscription_id", "invoice__period_start", "charge_id")
        .annotate(total=Sum("amount"))
    )
    credited: dict = defaultdict(dict)
    for row in rows:
        credited[(row["invoice__subscription_id"], row["invoice__period_start"])][row["charge_id"]] = row["total"]
    return credited


def compute_windows(windows: list[BillingWindow], *, exclude_invoice_id=None) -> list[list[LineDraft]]:
    """Lines for many windows with one aggregation statement per aggregation type for the whole batch."""
    all_usage_windows = []
    for w in windows:
        all_usage_windows += usage_windows(w.subscription, _charges(w.subscription), w.start, w.usage_end)
    usage = aggregate_usage_batch(all_usage_windows)
    credited = _credited([(w.subscription.pk, w.start) for w in windows], exclude_invoice_id)
    return [
        build_lines(
            subscription=w.subscription,
            charges=_charges(w.subscription),
            currency=w.subscription.plan.currency,
            usage_start=w.start,
            usage_end=w.usage_end,
            fixed_end=w.fixed_end,
            usage=usage,
            credited=credited.get((w.subscription.pk, w.start), {}),
        )
        for w in windows
    ]


def _line_rows(invoice: Invoice, drafts: list[LineDraft]) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            invoice=invoice,
            kind=d.kind,
            charge=d.charge,
            meter_id=d.meter_id,
            description=d.description[:300],
            quantity=d.quantity,
            unit_price=d.unit_price,
            amount=d.amount,
            breakdown=d.breakdown,
            position=position,
        )
        for position, d in enumerate(drafts)
    ]


def _set_totals(invoice: Invoice, drafts: list[LineDraft]) -> None:
    invoice.subtotal = sum((d.amount for d in drafts), Decimal(0))
    invoice.total = invoice.subtotal


def _audit(invoice: Invoice, *, action: str, actor, from_status: str = "", to_status: str = "", detail: str = "") -> InvoiceEvent:
    return InvoiceEvent(
        invoice=invoice,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=actor.label,
        actor_user=actor.user,
        detail=detail,
    )


def _fixed_end(subscription: Subscription, period_start: datetime) -> datetime:
    """Where the fixed fee of the period starting here stops: the period's end, or the cancellation."""
    _, natural_end = period_at(subscription.start_date, subscription.billing_interval, period_start)
    if subscription.cancel_at and period_start < subscription.cancel_at < natural_end:
        return subscription.cancel_at
    return natural_end


def _advance(subscription: Subscription, now: datetime) -> list[tuple[datetime, datetime]]:
    """Walk the subscription past every period that has ended by `now`; return those periods."""
    ended = []
    while subscription.status in BILLABLE_STATUSES and subscription.current_period_end <= now:
        start, end = subscription.current_period_start, subscription.current_period_end
        ended.append((start, end))
        if subscription.cancel_at is not None and subscription.cancel_at <= end:
            subscription.status = SubscriptionStatus.ENDED
            subscription.ended_at = subscription.cancel_at
            break
        subscription.current_period_start, subscription.current_period_end = next_period(
            subscription.start_date, subscription.billing_interval, end
        )
        if subscription.cancel_at is not None and subscription.cancel_at < subscription.current_period_end:
            subscription.current_period_end = subscription.cancel_at
    if subscription.status == SubscriptionStatus.TRIAL and subscription.trial_end and subscription.trial_end <= now:
        subscription.status = SubscriptionStatus.ACTIVE
    return ended


def subscriptions_rollover(*, now: datetime, actor, batch_size: int = 500) -> int:
    """Draft one PERIOD invoice for every period that has ended, and move subscriptions on.

    Batches of subscriptions are locked with SKIP LOCKED, so concurrent runs share the work;
    each batch commits whole or not at all; the unique constraint on (subscription, period)
    is the last word should anything else insert the same invoice.
    """
    grace = timedelta(seconds=settings.FLUXBILL_INVOICE_GRACE_PERIOD)
    created = 0
    while True:
        with transaction.atomic():
            batch = list(
                Subscription.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status__in=BILLABLE_STATUSES, current_period_end__lte=now)
                .select_related("plan", "customer")
                .prefetch_related(_CHARGES)
                .order_by("current_period_end")[:batch_size]
            )
            if not batch:
                return created
            windows: list[BillingWindow] = []
            for subscription in batch:
                for start, end in _advance(subscription, now):
                    windows.append(BillingWindow(subscription, start, end, end))
            existing = set(
                Invoice.objects.filter(
                    subscription__in=batch, kind=InvoiceKind.PERIOD, period_start__in={w.start for w in windows}
                )
                .exclude(status=InvoiceStatus.VOID)
                .values_list("subscription_id", "period_start")
            )
            windows = [w for w in windows if (w.subscription.pk, w.start) not in existing]
            invoices, lines, audit = [], [], []
            for window, drafts in zip(windows, compute_windows(windows)):
                sub = window.subscription
                invoice = Invoice(
                    customer_id=sub.customer_id,
                    subscription=sub,
                    kind=InvoiceKind.PERIOD,
                    status=InvoiceStatus.DRAFT,
                    currency=sub.plan.currency,
                    period_start=window.start,
                    period_end=window.usage_end,
                    finalize_at=now + grace,
                )
                _set_totals(invoice, drafts)
                invoices.append(invoice)
                lines += _line_rows(invoice, drafts)
                audit.append(_audit(invoice, action="created", actor=actor, to_status=InvoiceStatus.DRAFT))
            Invoice.objects.bulk_create(invoices)
            InvoiceLine.objects.bulk_create(lines)
            InvoiceEvent.objects.bulk_create(audit)
            Subscription.objects.bulk_update(
                batch, ["status", "current_period_start", "current_period_end", "ended_at", "updated_at"]
            )
            created += len(invoices)


def _locked_subscription(subscription: Subscription) -> Subscription:
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("plan", "customer")
        .prefetch_related(_CHARGES)
        .get(pk=subscription.pk)
    )


def _interim_window(subscription: Subscription, now: datetime) -> BillingWindow:
    if subscription.status not in BILLABLE_STATUSES:
        raise InvalidTransition(f"Subscription is {subscription.status}; nothing left to bill")
    if now <= subscription.current_period_start:
        raise InvalidInput("The current period has not started yet", field="subscription")
    usage_end = min(now, subscription.current_period_end)
    return BillingWindow(
        subscription, subscription.current_period_start, usage_end, _fixed_end(subscription, subscription.current_period_start)
    )


def invoice_preview(*, subscription: Subscription, now: datetime) -> tuple[BillingWindow, list[LineDraft]]:
    """What an interim invoice would say now; nothing is stored."""
    subscription = (
        Subscription.objects.select_related("plan", "customer").prefetch_related(_CHARGES).get(pk=subscription.pk)
    )
    window = _interim_window(subscription, now)
    return window, compute_windows([window])[0]


@transaction.atomic
def subscription_generate_interim(*, subscription: Subscription, now: datetime, actor) -> Invoice:
    """An INTERIM invoice for the current period's usage so far (and its fixed fees, if not billed yet)."""
    subscription = _locked_subscription(subscription)
    window = _interim_window(subscription, now)
    drafts = compute_windows([window])[0]
    invoice = Invoice(
        customer_id=subscription.customer_id,
        subscription=subscription,
        kind=InvoiceKind.INTERIM,
        status=InvoiceStatus.DRAFT,
        currency=subscription.plan.currency,
        period_start=window.start,
        period_end=window.usage_end,
        finalize_at=now + timedelta(seconds=settings.FLUXBILL_INVOICE_GRACE_PERIOD),
    )
    _set_totals(invoice, drafts)
    invoice.save()
    InvoiceLine.objects.bulk_create(_line_rows(invoice, drafts))
    _audit(invoice, action="created", actor=actor, to_status=InvoiceStatus.DRAFT, detail="interim").save()
    return invoice


def invoice_recompute(*, invoice: Invoice, actor, record: bool = True) -> Invoice:
    """Recompute a DRAFT's lines from the events stored now (late events inside its period count).

    The caller holds the row lock and has checked the status.
    """
    if invoice.subscription_id is None:
        return invoice  # MANUAL invoices have no source to recompute from
    subscription = (
        Subscription.objects.select_related("plan", "customer").prefetch_related(_CHARGES).get(pk=invoice.subscription_id)
    )
    if invoice.kind == InvoiceKind.PERIOD:
        window = BillingWindow(subscription, invoice.period_start, invoice.period_end, invoice.period_end)
    else:
        window = BillingWindow(
            subscription, invoice.period_start, invoice.period_end, _fixed_end(subscription, invoice.period_start)
        )
    drafts = compute_windows([window], exclude_invoice_id=invoice.pk)[0]
    invoice.lines.all().delete()
    InvoiceLine.objects.bulk_create(_line_rows(invoice, drafts))
    _set_totals(invoice, drafts)
    invoice.save(update_fields=["subtotal", "total", "updated_at"])
    if record:
        _audit(invoice, action="recomputed", actor=actor, from_status=invoice.status, to_status=invoice.status).save()
    return invoice
