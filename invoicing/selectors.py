"""Reads shared by the API, pages and tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from catalog.choices import ChargeType
from catalog.models import Charge
from catalog.pricing import PricedUsage, price_charge
from customers.models import Customer, Subscription
from fluxbill.core.errors import DomainError, InvalidInput
from metering.aggregation import window_summary
from metering.models import Meter, UsageEvent

from .choices import LineKind
from .models import CreditEntry, CreditNote, Invoice, InvoiceLine, Payment
from .parties import invoice_parties  # noqa: F401 - pages, API and the PDF read an invoice's parties here
from .services.generation import BillingWindow, compute_windows, interim_window, invoice_preview
from .services.lines import LineDraft
from .services.pipeline import InvoiceMoney


# The charges (and their meters) an estimate prices, for many subscriptions in one query.
ESTIMATE_CHARGES = Prefetch("plan__charges", queryset=Charge.objects.select_related("meter").order_by("created_at", "id"))


@dataclass
class Estimate:
    """What the current period of a subscription comes to so far: invoice_preview's figures."""

    start: datetime
    end: datetime
    currency: str
    money: InvoiceMoney

    @classmethod
    def of(cls, window: BillingWindow, money: InvoiceMoney) -> "Estimate":
        return cls(start=window.start, end=window.usage_end, currency=window.subscription.plan.currency, money=money)

    @property
    def lines(self) -> list[LineDraft]:
        return self.money.lines

    @property
    def total(self) -> Decimal:
        return self.money.total

    @property
    def usage_lines(self) -> list[LineDraft]:
        return [line for line in self.lines if line.kind == ChargeType.USAGE]


def subscription_estimate(*, subscription: Subscription, now: datetime) -> Estimate:
    """The current period so far, priced as an interim invoice would be; a DomainError says why not."""
    window, money = invoice_preview(subscription=subscription, now=now)
    return Estimate.of(window, money)


def subscription_estimates(*, subscriptions: list[Subscription], now: datetime) -> dict:
    """{subscription id: Estimate or the reason there is none}, as invoice_preview computes them,
    but for all subscriptions in one batch: one aggregation query per aggregation type, not per row.

    The subscriptions must come with plan and plan__charges (with meter) loaded (ESTIMATE_CHARGES).
    """
    result: dict = {}
    windows: list[BillingWindow] = []
    for subscription in subscriptions:
        try:
            windows.append(interim_window(subscription=subscription, now=now))
        except DomainError as exc:
            result[subscription.pk] = exc.message
    # One subscription too large to price shows its reason; the others still get their estimates.
    for window, money in zip(windows, compute_windows(windows, isolate=True)):
        if isinstance(money, DomainError):
            result[window.subscription.pk] = money.message
            continue
        result[window.subscription.pk] = Estimate.of(window, money)
    return result


def invoice_list() -> QuerySet:
    return Invoice.objects.select_related("customer", "subscription")


# What a row of the dashboard list shows. With 100,000 invoices the database sorts every matching row for
# each page; narrow rows and no join make that an in-memory sort of the invoice table alone.
_LIST_COLUMNS = (
    "id", "number", "customer_id", "kind", "status", "currency", "period_start", "period_end",
    "issued_at", "due_date", "total", "created_at",
)


def invoice_list_rows() -> QuerySet:
    """The dashboard list's rows: the page's customers come in one query, instead of joining all rows before the sort."""
    customers = Prefetch("customer", queryset=Customer.objects.only("id", "name", "external_id"))
    return Invoice.objects.only(*_LIST_COLUMNS).prefetch_related(customers)


def document_lines() -> QuerySet:
    """An invoice's lines with what the document prints beside them (the meter's unit, the charge's free units)."""
    return InvoiceLine.objects.select_related("meter", "charge")


def invoice_detail(pk) -> Invoice:
    return (
        Invoice.objects.select_related("customer", "billing_entity", "subscription", "subscription__plan", "replaces")
        .prefetch_related(Prefetch("lines", queryset=document_lines()), "audit")
        .get(pk=pk)
    )


def late_usage(invoice: Invoice) -> dict:
    """Events for this invoice's period that were stored after it was issued (candidates for a regenerate)."""
    if invoice.issued_at is None or invoice.subscription_id is None:
        return {"events": 0, "quantity": "0"}
    meter_ids = [line.meter_id for line in invoice.lines.all() if line.meter_id]
    if not meter_ids:
        return {"events": 0, "quantity": "0"}
    found = UsageEvent.objects.filter(
        Q(customer_id=invoice.customer_id)
        & Q(meter_id__in=meter_ids)
        & Q(timestamp__gte=invoice.period_start, timestamp__lt=invoice.period_end)
        & Q(created_at__gt=invoice.issued_at)
    ).aggregate(events=Count("id"), quantity=Sum("quantity"))
    from fluxbill.core.fields import decimal_to_string

    return {"events": found["events"], "quantity": decimal_to_string(found["quantity"] or 0)}


@dataclass
class UsageExplanation:
    """Why a usage line costs what it does: the events behind it, counted and priced again now.

    `billed_*` are what the stored line says (None for a preview, which stores nothing); the rest is live,
    so a difference means events arrived or were voided after the line was computed.
    """

    customer: Customer
    meter: Meter
    charge: Charge | None
    currency: str
    start: datetime
    end: datetime
    event_count: int
    quantity: Decimal
    priced: PricedUsage | None
    line: InvoiceLine | None = None

    @property
    def billed_quantity(self) -> Decimal | None:
        return self.line.quantity if self.line is not None else None

    @property
    def billed_amount(self) -> Decimal | None:
        return self.line.amount if self.line is not None else None

    @property
    def changed(self) -> bool:
        return self.line is not None and self.line.quantity != self.quantity

    @property
    def priced_lines(self) -> list[LineDraft]:
        """The live pricing as one line with its tier breakdown, for the lines table invoices use."""
        if self.priced is None:
            return []
        name = self.charge.display_name if self.charge is not None else self.meter.name
        return [
            LineDraft(
                kind=LineKind.USAGE, description=name, amount=self.priced.amount, quantity=self.quantity,
                unit_price=self.priced.unit_price, breakdown=self.priced.breakdown,
            )  # fmt: skip
        ]


def usage_explanation(*, customer, meter, charge, currency: str, start: datetime, end: datetime, line=None) -> UsageExplanation:
    """Count and aggregate the window's events in one statement and price the result with the charge."""
    count, quantity = window_summary(meter=meter, customer_id=customer.pk, start=start, end=end)
    priced = None
    if charge is not None:
        try:
            priced = price_charge(charge, quantity, currency)
        except (ArithmeticError, InvalidInput):
            priced = None  # too large to price now: the page shows the quantity without an amount
    return UsageExplanation(
        customer=customer, meter=meter, charge=charge, currency=currency, start=start, end=end,
        event_count=count, quantity=quantity, priced=priced, line=line,
    )  # fmt: skip


def line_usage_explanation(line: InvoiceLine) -> UsageExplanation:
    """The explanation of a stored usage line: its invoice's customer and period, its meter and charge."""
    invoice = line.invoice
    return usage_explanation(
        customer=invoice.customer, meter=line.meter, charge=line.charge, currency=invoice.currency,
        start=invoice.period_start, end=invoice.period_end, line=line,
    )  # fmt: skip


def usage_line(pk) -> InvoiceLine:
    """A usage line with what its explanation reads; DoesNotExist for other lines or a deleted meter."""
    return InvoiceLine.objects.select_related("invoice__customer", "meter", "charge").get(
        pk=pk, kind=LineKind.USAGE, meter__isnull=False
    )


def customer_credit_entries(customer, *, currency: str | None = None) -> QuerySet:
    """The customer's credit ledger, newest first, with the invoices the entries name."""
    entries = CreditEntry.objects.filter(customer=customer).select_related("invoice").order_by("-id")
    return entries.filter(currency=currency.upper()) if currency else entries


def customer_credit_balances(customer) -> list[dict]:
    """[{currency, balance}] — the last entry's balance in each currency the customer has credit history in."""
    rows = (
        CreditEntry.objects.filter(customer=customer)
        .order_by("currency", "-id")
        .distinct("currency")
        .values("currency", "balance_after")
    )
    return [{"currency": row["currency"], "balance": row["balance_after"]} for row in rows]


def credit_note_list() -> QuerySet:
    """Credit notes with their invoice's number and their items (two queries a page)."""
    return (
        CreditNote.objects.select_related("invoice", "customer")
        .prefetch_related("items")
        .order_by("-issued_at", "-number")
    )


def invoice_credit_notes(invoice) -> list:
    """The notes on one invoice, oldest first, for its page (one query)."""
    return list(CreditNote.objects.filter(invoice_id=invoice.pk).order_by("issued_at", "number"))


def payment_list() -> QuerySet:
    """Payments with their invoice's number (one query a page)."""
    return Payment.objects.select_related("invoice", "customer").order_by("-received_at", "-created_at", "-id")


def invoice_payments(invoice) -> list:
    """The payments on one invoice, oldest first, for its page (one query)."""
    return list(Payment.objects.filter(invoice_id=invoice.pk).order_by("received_at", "created_at"))
