"""Producing invoices from subscriptions: the end-of-period rollover, interim invoices, previews, recomputes."""

from __future__ import annotations

import copy
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Prefetch, Q, Sum, prefetch_related_objects
from django.utils import timezone

from catalog.models import Charge
from catalog.taxes import current_tax_rates
from customers.choices import BILLABLE_STATUSES, SubscriptionStatus
from customers.models import BillingEntity, Customer, Subscription
from customers.periods import next_period, period_at
from customers.services import BILLING_STATE_FIELDS, subscription_billing_failed, subscriptions_billing_state_save
from catalog.models import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS
from fluxbill.core.bulk import rows_insert
from fluxbill.core.errors import InvalidInput, InvalidTransition
from fluxbill.core.money import fits_column
from metering.models import QUANTITY_DECIMAL_PLACES, QUANTITY_MAX_DIGITS
from metering.aggregation import aggregate_usage_batch
from webhooks.services import emit, emit_many

from ..choices import InvoiceKind, InvoiceStatus
from ..models import Invoice, InvoiceEvent, InvoiceLine
from .audit import audit_event, audit_fields
from .credit import credit_balances
from .lines import LineDraft, build_lines, usage_windows
from .pipeline import INVOICE_MONEY_FIELDS, InvoiceMoney, TaxContext, invoice_money

logger = logging.getLogger(__name__)

_CHARGES_QUERYSET = Charge.objects.select_related("meter").order_by("created_at", "id")
_CHARGES = Prefetch("plan__charges", queryset=_CHARGES_QUERYSET)


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
        # Net of what a line carried to credit: an interim whose line was 0.00 with 60.00 carried has taken
        # 60.00 back of what the ones before it billed, and a later invoice must not carry it again.
        .annotate(total=Sum(F("amount") - F("credit_carried")))
    )
    credited: dict = defaultdict(dict)
    for row in rows:
        credited[(row["invoice__subscription_id"], row["invoice__period_start"])][row["charge_id"]] = row["total"]
    return credited


def _tax_contexts(windows: list[BillingWindow]) -> dict:
    """{subscription id: TaxContext} for a batch: the customers' tax fields, their entities' default rates and the
    current rates, one query each."""
    if not windows:
        return {}
    rates = current_tax_rates()
    cached = Subscription.customer.is_cached
    missing = {w.subscription.customer_id for w in windows if not cached(w.subscription)}
    # Plain tuples, not model instances: a rollover batch reads 500 customers here.
    fields = ("tax_rates", "tax_exempt", "reverse_charge", "billing_entity_id")
    customers = {
        pk: values
        for pk, *values in Customer.objects.filter(pk__in=missing).values_list("id", *fields)
    }
    for w in windows:
        if cached(w.subscription):
            customer = w.subscription.customer
            customers[customer.pk] = [getattr(customer, name) for name in fields]
    entity_rates = dict(
        BillingEntity.objects.filter(pk__in={values[3] for values in customers.values()}).values_list("id", "tax_rates")
    )
    contexts = {}
    for w in windows:
        sub = w.subscription
        tax_rates, tax_exempt, reverse_charge, entity_id = customers[sub.customer_id]
        contexts[sub.pk] = TaxContext(
            rates=rates,
            plan_rates=tuple(sub.plan.tax_rates or ()),
            customer_rates=tuple(tax_rates or ()),
            entity_rates=tuple(entity_rates.get(entity_id) or ()),
            tax_exempt=tax_exempt,
            reverse_charge=reverse_charge,
            inclusive=sub.plan.tax_inclusive,
        )
    return contexts


def compute_windows(
    windows: list[BillingWindow], *, exclude_invoice_id=None, isolate: bool = False
) -> list[InvoiceMoney] | list[InvoiceMoney | BillingOverflow]:
    """Each window's invoice, through the money pipeline, with one aggregation statement per aggregation type
    for the whole batch (and one query each for the customers' tax details, the tax rates and credit balances).

    With ``isolate`` a window that cannot be priced gets its BillingOverflow in its place instead of
    raising, so a page listing many subscriptions shows the one that failed beside the others."""
    # Once per plan: plan.charges.all() builds a queryset on every call, which adds up over a batch.
    charges_by_plan: dict = {}
    for w in windows:
        if w.subscription.plan_id not in charges_by_plan:
            charges_by_plan[w.subscription.plan_id] = _charges(w.subscription)
    all_usage_windows = []
    for w in windows:
        charges = charges_by_plan[w.subscription.plan_id]
        all_usage_windows += usage_windows(w.subscription, charges, w.start, w.usage_end)
    usage = aggregate_usage_batch(all_usage_windows)
    credited = _credited([(w.subscription.pk, w.start) for w in windows], exclude_invoice_id)
    taxes = _tax_contexts(windows)
    balances = credit_balances((w.subscription.customer_id, w.subscription.plan.currency) for w in windows)
    results: list = []
    for w in windows:
        try:
            lines = _window_lines(w, charges_by_plan[w.subscription.plan_id], usage, credited)
            currency = w.subscription.plan.currency
            money = invoice_money(
                lines, currency=currency, tax=taxes[w.subscription.pk],
                credit_balance=balances.get((w.subscription.customer_id, currency), Decimal(0)),
            )
            check_totals(money, subscription_id=w.subscription.pk)
            results.append(money)
        except BillingOverflow as exc:
            if not isolate:
                raise
            results.append(exc)
    return results


def _window_lines(w: BillingWindow, charges: list, usage: dict, credited: dict) -> list[LineDraft]:
    """One window's lines from the batch's aggregates; BillingOverflow if they cannot be computed or stored."""
    try:
        drafts = build_lines(
            subscription=w.subscription,
            charges=charges,
            currency=w.subscription.plan.currency,
            usage_start=w.start,
            usage_end=w.usage_end,
            fixed_end=w.fixed_end,
            usage=usage,
            credited=credited.get((w.subscription.pk, w.start), {}),
        )
    except ArithmeticError as exc:  # decimal.InvalidOperation / Overflow: past even the exact context
        raise BillingOverflow(
            f"Subscription {w.subscription.pk}: an amount for [{w.start.isoformat()}, {w.usage_end.isoformat()}) "
            "is too large to compute"
        ) from exc
    check_bounds(drafts, subscription_id=w.subscription.pk)
    return drafts


class BillingOverflow(InvalidInput):
    """A quantity or amount an invoice would carry is larger than its columns hold (see README, Billing bounds)."""

    def __init__(self, message: str):
        super().__init__(message, field="amount")


def check_bounds(drafts: list[LineDraft], *, subscription_id) -> None:
    """Refuse lines the invoice tables cannot store, naming what overflows, before any write."""
    limits = {
        "quantity": (QUANTITY_MAX_DIGITS, QUANTITY_DECIMAL_PLACES),
        "unit_price": (PRICE_MAX_DIGITS, PRICE_DECIMAL_PLACES),
        "amount": (AMOUNT_MAX_DIGITS, AMOUNT_DECIMAL_PLACES),
    }
    for draft in drafts:
        for name, (digits, places) in limits.items():
            value = getattr(draft, name)
            if value is not None and not fits_column(value, max_digits=digits, decimal_places=places):
                raise BillingOverflow(
                    f"Subscription {subscription_id}: {name} {value} on line {draft.description!r} exceeds the "
                    f"largest an invoice holds (under 10^{digits - places})"
                )


def check_totals(money: InvoiceMoney, *, subscription_id) -> None:
    """Refuse an invoice whose totals (with tax) the invoice table cannot store."""
    for name in ("subtotal", "tax_total", "total"):
        value = getattr(money, name)
        if not fits_column(value, max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES):
            raise BillingOverflow(
                f"Subscription {subscription_id}: invoice {name} {value} exceeds the largest an invoice "
                f"holds (under 10^{AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES})"
            )


def _line_rows(invoice_id, drafts: list[LineDraft]) -> list[dict]:
    return [
        {
            "invoice_id": invoice_id,
            "kind": d.kind,
            "charge_id": d.charge.pk if d.charge is not None else None,
            "meter_id": d.meter_id,
            "description": d.description[:300],
            "quantity": d.quantity,
            "unit_price": d.unit_price,
            "amount": d.amount,
            "discount_amount": d.discount_amount,
            "taxable_amount": d.taxable_amount,
            "tax_amount": d.tax_amount,
            "taxes": d.taxes,
            "credit_carried": d.excess,
            "breakdown": d.breakdown,
            "position": position,
        }
        for position, d in enumerate(drafts)
    ]


def _set_totals(invoice: Invoice, money: InvoiceMoney) -> None:
    for name, value in money.invoice_fields().items():
        setattr(invoice, name, value)


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


def billing_backoff(failures: int) -> timedelta:
    """How long a subscription or invoice whose billing failed `failures` times waits before the next try."""
    base, cap = settings.FLUXBILL_BILLING_RETRY_BASE_SECONDS, settings.FLUXBILL_BILLING_RETRY_MAX_SECONDS
    return timedelta(seconds=min(cap, base * 2 ** max(0, failures - 1)))


def _billing_error_text(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}"[:1000]


def _rollover_write(batch: list[Subscription], *, now: datetime, actor, grace: timedelta) -> int:
    """Draft the invoices of every period of `batch` that has ended and move the subscriptions on; all or nothing."""
    windows: list[BillingWindow] = []
    ended = []
    for subscription in batch:
        was_billable = subscription.status != SubscriptionStatus.ENDED
        for start, end in _advance(subscription, now):
            windows.append(BillingWindow(subscription, start, end, end))
        if was_billable and subscription.status == SubscriptionStatus.ENDED:
            ended.append(subscription)
        subscription.updated_at = now
        subscription.billing_error, subscription.billing_error_at = "", None
        subscription.billing_failures, subscription.billing_retry_at = 0, None
    existing = set(
        Invoice.objects.filter(
            subscription__in=batch, kind=InvoiceKind.PERIOD, period_start__in={w.start for w in windows}
        )
        .exclude(status=InvoiceStatus.VOID)
        .values_list("subscription_id", "period_start")
    )
    windows = [w for w in windows if (w.subscription.pk, w.start) not in existing]
    invoices, lines, audit = [], [], []
    created_by = audit_fields(action="created", actor=actor, to_status=InvoiceStatus.DRAFT)
    for window, money in zip(windows, compute_windows(windows)):
        sub = window.subscription
        invoice_id = uuid.uuid4()
        invoices.append(
            {
                "id": invoice_id,
                "customer_id": sub.customer_id,
                "billing_entity_id": sub.customer_billing_entity_id,
                "subscription_id": sub.pk,
                "kind": InvoiceKind.PERIOD,
                "status": InvoiceStatus.DRAFT,
                "currency": sub.plan.currency,
                "period_start": window.start,
                "period_end": window.usage_end,
                "finalize_at": now + grace,
                **money.invoice_fields(),
                "computed_at": now,
            }
        )
        lines += _line_rows(invoice_id, money.lines)
        audit.append({"invoice_id": invoice_id, **created_by})
    rows_insert(model=Invoice, rows=invoices)
    rows_insert(model=InvoiceLine, rows=lines)
    rows_insert(model=InvoiceEvent, rows=audit)
    subscriptions_billing_state_save(subscriptions=batch)
    emit_many("invoice.drafted", [Invoice(pk=row["id"]) for row in invoices], now=now)
    emit_many("subscription.ended", ended, now=now)
    return len(invoices)


def _rollover_failed(subscription: Subscription, exc: Exception, *, now: datetime) -> None:
    """Record the failure on the subscription (its page, the API and the overview show it) and back off."""
    failures = subscription.billing_failures + 1
    error = _billing_error_text(exc)
    subscription_billing_failed(
        subscription=subscription, error=error, failed_at=now, failures=failures, retry_at=now + billing_backoff(failures)
    )
    logger.error("rollover failed for subscription %s (attempt %d): %s", subscription.pk, failures, error)


def subscriptions_rollover(*, now: datetime, actor, batch_size: int = 500) -> int:
    """Draft one PERIOD invoice for every period that has ended, and move subscriptions on.

    Batches of subscriptions are locked with SKIP LOCKED, so concurrent runs share the work. A batch is
    priced and written set-wise (one aggregation statement per type); should that fail, the batch is
    done again one subscription at a time, each in its own savepoint, so one bad subscription (an
    amount past what an invoice holds, say) rolls back alone: its error and time are recorded on it,
    and it is tried again after a backoff while the others are invoiced. The unique constraint on
    (subscription, period) is the last word should anything else insert the same invoice.
    """
    grace = timedelta(seconds=settings.FLUXBILL_INVOICE_GRACE_PERIOD)
    created = 0
    while True:
        with transaction.atomic():
            batch = list(
                Subscription.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status__in=BILLABLE_STATUSES, current_period_end__lte=now)
                .filter(Q(billing_retry_at__isnull=True) | Q(billing_retry_at__lte=now))
                .select_related("plan")
                # Who bills each invoice: the customer's entity, read in the same statement.
                .annotate(customer_billing_entity_id=F("customer__billing_entity_id"))
                .order_by("current_period_end")[:batch_size]
            )
            if not batch:
                return created
            # Subscriptions of one plan share one Plan object, so the charges are prefetched (and
            # their tiers parsed) once per plan rather than once per subscription.
            plans: dict = {}
            for subscription in batch:
                subscription.plan = plans.setdefault(subscription.plan_id, subscription.plan)
            prefetch_related_objects(list(plans.values()), Prefetch("charges", queryset=_CHARGES_QUERYSET))
            saved = {s.pk: {f: getattr(s, f) for f in BILLING_STATE_FIELDS} for s in batch}
            try:
                with transaction.atomic():
                    created += _rollover_write(batch, now=now, actor=actor, grace=grace)
                continue
            except Exception:  # noqa: BLE001 - any failure: find the subscription it belongs to
                logger.warning("rollover batch of %d failed; retrying one subscription at a time", len(batch))
            for subscription in batch:
                for name, value in saved[subscription.pk].items():  # undo _advance on the object
                    setattr(subscription, name, value)
            for subscription in batch:
                try:
                    with transaction.atomic():
                        created += _rollover_write([subscription], now=now, actor=actor, grace=grace)
                except Exception as exc:  # noqa: BLE001 - isolated, recorded, retried later
                    for name, value in saved[subscription.pk].items():
                        setattr(subscription, name, value)
                    _rollover_failed(subscription, exc, now=now)


def _locked_subscription(subscription: Subscription) -> Subscription:
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("plan", "customer")
        .prefetch_related(_CHARGES)
        .get(pk=subscription.pk)
    )


def interim_window(*, subscription: Subscription, now: datetime) -> BillingWindow:
    """The period that contains `now`, from its start to `now`.

    The stored period lags while rollover is behind (it runs every minute, and a backdated start leaves
    whole periods to bill): the window is taken on a copy walked past the ended periods, which are left
    whole to their PERIOD invoices.
    """
    stored_status = subscription.status
    subscription = copy.copy(subscription)
    _advance(subscription, now)
    if subscription.status not in BILLABLE_STATUSES:
        if stored_status in BILLABLE_STATUSES:
            raise InvalidTransition(
                f"Subscription ended at {subscription.ended_at.isoformat()}; its last period is invoiced by the "
                "billing cycle, not by an interim invoice"
            )
        raise InvalidTransition(f"Subscription is {subscription.status}; nothing left to bill")
    if now <= subscription.current_period_start:
        raise InvalidInput("The current period has not started yet", field="subscription")
    usage_end = min(now, subscription.current_period_end)
    return BillingWindow(
        subscription, subscription.current_period_start, usage_end, _fixed_end(subscription, subscription.current_period_start)
    )


def invoice_preview(*, subscription: Subscription, now: datetime) -> tuple[BillingWindow, InvoiceMoney]:
    """What an interim invoice would say now; nothing is stored."""
    subscription = (
        Subscription.objects.select_related("plan", "customer").prefetch_related(_CHARGES).get(pk=subscription.pk)
    )
    window = interim_window(subscription=subscription, now=now)
    return window, compute_windows([window])[0]


@transaction.atomic
def subscription_generate_interim(*, subscription: Subscription, now: datetime, actor) -> Invoice:
    """An INTERIM invoice for the current period's usage so far (and its fixed fees, if not billed yet)."""
    subscription = _locked_subscription(subscription)
    window = interim_window(subscription=subscription, now=now)
    money = compute_windows([window])[0]
    invoice = Invoice(
        customer_id=subscription.customer_id,
        billing_entity_id=subscription.customer.billing_entity_id,
        subscription=subscription,
        kind=InvoiceKind.INTERIM,
        status=InvoiceStatus.DRAFT,
        currency=subscription.plan.currency,
        period_start=window.start,
        period_end=window.usage_end,
        finalize_at=now + timedelta(seconds=settings.FLUXBILL_INVOICE_GRACE_PERIOD),
        computed_at=now,
    )
    _set_totals(invoice, money)
    invoice.save()
    rows_insert(model=InvoiceLine, rows=_line_rows(invoice.pk, money.lines))
    audit_event(invoice=invoice, action="created", actor=actor, to_status=InvoiceStatus.DRAFT, detail="interim").save()
    emit("invoice.drafted", invoice)
    return invoice


def invoice_recompute(*, invoice: Invoice, actor, record: bool = True, now: datetime | None = None) -> Invoice:
    """Recompute a DRAFT's lines from the events stored now (late events inside its period count).

    The caller holds the row lock and has checked the status. `computed_at` becomes `now` (the clock when
    not given): events stored after it make the draft stale again (invoicing.services.freshness).
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
    money = compute_windows([window], exclude_invoice_id=invoice.pk)[0]
    invoice.lines.all().delete()
    rows_insert(model=InvoiceLine, rows=_line_rows(invoice.pk, money.lines))
    _set_totals(invoice, money)
    invoice.computed_at = now or timezone.now()
    invoice.save(update_fields=[*INVOICE_MONEY_FIELDS, "computed_at", "updated_at"])
    if record:
        audit_event(invoice=invoice, action="recomputed", actor=actor, from_status=invoice.status, to_status=invoice.status).save()
    return invoice
