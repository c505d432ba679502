"""Dashboard pages for customers and subscriptions. Writes go through customers.services and
invoicing.services; a DomainError they raise becomes a form error or a flash message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib import messages
from django.db.models import Prefetch, Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from catalog.choices import ChargeType
from catalog.models import Charge
from catalog.selectors import plan_search
from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import paginate, require, sort
from fluxbill.core.errors import DomainError
from invoicing.services import Actor, invoice_preview, subscription_generate_interim
from invoicing.services.generation import BillingWindow, compute_windows, interim_window
from invoicing.services.lines import LineDraft
from metering.models import UsageEvent

from . import selectors, services
from .choices import BILLABLE_STATUSES, SubscriptionStatus
from .forms import CancelForm, CustomerForm, SubscriptionFilterForm, SubscriptionForm
from .models import Customer, Subscription

CUSTOMER_SORTS = {"name": "name", "external_id": "external_id", "email": "email", "created": "created_at"}
SUBSCRIPTION_SORTS = {
    "created": "created_at",
    "customer": "customer__name",
    "plan": "plan__name",
    "status": "status",
    "start": "start_date",
    "period_end": "current_period_end",
}
# The customer page lists this many subscriptions, invoices and events; the lists link to the rest.
SUBSCRIPTIONS_SHOWN = 20
INVOICES_SHOWN = 10
EVENTS_SHOWN = 20

# The charges (and their meters) invoice_preview prices, for many subscriptions in one query.
_CHARGES = Prefetch("plan__charges", queryset=Charge.objects.select_related("meter").order_by("created_at", "id"))

# Service errors name API fields; the forms call them differently.
_SUBSCRIPTION_FIELDS = {"plan_id": "plan", "customer_id": "customer", "start_date": "start_date"}


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _actor(request) -> Actor:
    return Actor(label=f"user:{request.user.get_username()}", user=request.user)


def _form_error(form, exc: DomainError, fields: dict[str, str] | None = None) -> None:
    """Put a service's refusal beside the field it names, or above the form."""
    field = (fields or {}).get(exc.field, exc.field)
    form.add_error(field if field in form.fields else None, exc.message)


# --- customers --------------------------------------------------------------------------


@require(perms.VIEW_CUSTOMER)
def customer_list(request):
    q = request.GET.get("q", "").strip()
    customers = Customer.objects.all()
    if q:
        customers = customers.filter(Q(name__icontains=q) | Q(email__icontains=q) | Q(external_id__icontains=q))
    customers, current = sort(request, customers, CUSTOMER_SORTS, "name")
    return render(request, "customers/customer_list.html", {"page": paginate(request, customers), "sort": current, "q": q})


@require(perms.ADD_CUSTOMER)
def customer_create(request):
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(**form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Customer {customer} created. Subscribe them to a plan to start billing.")
            return redirect("customers:customer-detail", pk=customer.pk)
    return render(request, "customers/customer_form.html", {"form": form, "customer": None})


@require(perms.CHANGE_CUSTOMER)
def customer_edit(request, pk):
    customer = get_object_or_404(Customer, pk=pk)
    initial = {"name": customer.name, "email": customer.email, "external_id": customer.external_id, "address": customer.address}
    form = CustomerForm(request.POST or None, initial=initial)
    form.fields["external_id"].disabled = True  # fixed once the customer exists (customer_update)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_update(customer=customer, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Customer {customer} saved.")
            return redirect("customers:customer-detail", pk=customer.pk)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer})


@dataclass
class Estimate:
    """What the current period of a subscription comes to so far: invoice_preview's figures."""

    start: datetime
    end: datetime
    currency: str
    lines: list[LineDraft]

    @property
    def usage_lines(self) -> list[LineDraft]:
        return [line for line in self.lines if line.kind == ChargeType.USAGE]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


def current_estimates(subscriptions: list[Subscription], now: datetime) -> dict:
    """{subscription id: Estimate or the reason there is none}, as invoice_preview computes them,
    but for all subscriptions in one batch: one aggregation query per aggregation type, not per row.

    The subscriptions must come with plan and plan__charges (with meter) loaded.
    """
    result: dict = {}
    windows: list[BillingWindow] = []
    for subscription in subscriptions:
        try:
            windows.append(interim_window(subscription=subscription, now=now))
        except DomainError as exc:
            result[subscription.pk] = exc.message
    # One subscription too large to price shows its reason; the others still get their estimates.
    for window, lines in zip(windows, compute_windows(windows, isolate=True)):
        sub = window.subscription
        if isinstance(lines, DomainError):
            result[sub.pk] = lines.message
            continue
        result[sub.pk] = Estimate(start=window.start, end=window.usage_end, currency=sub.plan.currency, lines=lines)
    return result


_RECENT_EVENTS_SQL = """
    SELECT e.*, m.name AS meter_name, m.unit AS meter_unit
    FROM metering_meter m
    CROSS JOIN LATERAL (
        SELECT u.* FROM metering_usageevent u
        WHERE u.customer_id = %s AND u.meter_id = m.id
        ORDER BY u.timestamp DESC, u.id DESC
        LIMIT %s
    ) e
    ORDER BY e.timestamp DESC, e.id DESC
    LIMIT %s
"""


def recent_events(customer: Customer, limit: int = EVENTS_SHOWN) -> list[UsageEvent]:
    """The customer's latest events by timestamp, in one statement that stays fast with millions of events:
    each meter's newest rows come straight from the (customer, meter, timestamp) index, instead of
    sorting everything the customer ever sent."""
    return list(UsageEvent.objects.raw(_RECENT_EVENTS_SQL, [customer.pk, limit, limit]))


@require(perms.VIEW_CUSTOMER)
def customer_detail(request, pk):
    customer = get_object_or_404(Customer, pk=pk)
    now = timezone.now()
    subscriptions = list(
        Subscription.objects.filter(customer=customer)
        .select_related("plan")
        .prefetch_related(_CHARGES)
        .order_by("-created_at", "-pk")[: SUBSCRIPTIONS_SHOWN + 1]
    )
    more_subscriptions = len(subscriptions) > SUBSCRIPTIONS_SHOWN
    subscriptions = subscriptions[:SUBSCRIPTIONS_SHOWN]
    for subscription in subscriptions:
        subscription.customer = customer  # str(subscription) names the customer; no query per row
    estimates = current_estimates([s for s in subscriptions if s.status in BILLABLE_STATUSES], now)
    rows = []
    for subscription in subscriptions:
        found = estimates.get(subscription.pk)
        estimate = found if isinstance(found, Estimate) else None
        rows.append((subscription, estimate, found if isinstance(found, str) else ""))
    invoices = list(customer.invoices.order_by("-created_at", "-pk")[: INVOICES_SHOWN + 1])
    context = {
        "customer": customer,
        "now": now,
        "subscription_rows": rows,
        "more_subscriptions": more_subscriptions,
        "invoices": invoices[:INVOICES_SHOWN],
        "more_invoices": len(invoices) > INVOICES_SHOWN,
        "events": recent_events(customer),
    }
    return render(request, "customers/customer_detail.html", context)


# --- subscriptions ----------------------------------------------------------------------


@require(perms.VIEW_SUBSCRIPTION)
def subscription_list(request):
    form = SubscriptionFilterForm(request.GET)
    subscriptions = Subscription.objects.select_related("customer", "plan")
    customer = None
    if form.is_valid():
        data = form.cleaned_data
        if data["status"]:
            subscriptions = subscriptions.filter(status=data["status"])
        if data["plan"]:
            subscriptions = subscriptions.filter(plan=data["plan"])
        if data["customer"]:
            customer = Customer.objects.filter(pk=data["customer"]).first()
            subscriptions = subscriptions.filter(customer_id=data["customer"])
    subscriptions, current = sort(request, subscriptions, SUBSCRIPTION_SORTS, "-created")
    filtered = any(request.GET.get(k) for k in ("status", "plan", "customer"))
    context = {"form": form, "page": paginate(request, subscriptions), "sort": current, "filtered": filtered, "customer": customer}
    return render(request, "customers/subscription_list.html", context)


@require(perms.ADD_SUBSCRIPTION)
def subscription_create(request):
    initial = {}
    customer_id = _uuid(request.GET.get("customer"))
    if request.method == "GET" and customer_id:
        found = Customer.objects.filter(pk=customer_id).values_list("external_id", flat=True).first()
        if found:
            initial["customer"] = found
    form = SubscriptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            subscription = services.subscription_create(
                customer=form.cleaned_data["customer"],
                plan=form.cleaned_data["plan"],
                now=timezone.now(),
                start_date=form.start(),
            )
        except DomainError as exc:
            _form_error(form, exc, _SUBSCRIPTION_FIELDS)
        else:
            messages.success(
                request, f"{form.cleaned_data['customer']} is subscribed to {subscription.plan.name}; "
                f"the first period starts {subscription.current_period_start:%Y-%m-%d %H:%M} UTC."
            )
            return redirect("customers:subscription-detail", pk=subscription.pk)
    return render(request, "customers/subscription_form.html", {"form": form, "plans": plan_search("")})


def _subscription(pk) -> Subscription:
    return get_object_or_404(Subscription.objects.select_related("customer", "plan"), pk=pk)


@require(perms.VIEW_CUSTOMER)
def customer_search(request):
    """JSON for the subscription form's customer picker: up to 20 matches of ?q=."""
    found = selectors.customer_search(request.GET.get("q", "")[:100])
    return JsonResponse({"results": [
        {"value": c.external_id, "label": f"{c.name} · {c.email}" if c.email else c.name} for c in found
    ]})  # fmt: skip


@require(perms.VIEW_SUBSCRIPTION)
def subscription_detail(request, pk):
    subscription = _subscription(pk)
    now = timezone.now()
    preview, preview_error = None, ""
    try:
        window, lines = invoice_preview(subscription=subscription, now=now)
    except DomainError as exc:
        preview_error = exc.message
    else:
        preview = Estimate(start=window.start, end=window.usage_end, currency=subscription.plan.currency, lines=lines)
    invoices = list(subscription.invoices.order_by("-created_at", "-pk")[:INVOICES_SHOWN])
    context = {
        "subscription": subscription,
        "usage_links": preview and {"customer": subscription.customer_id, "start": preview.start, "end": preview.end},
        "preview": preview,
        "preview_error": preview_error,
        "invoices": invoices,
        "cancellable": subscription.status in (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE),
        "billable": subscription.status in BILLABLE_STATUSES,
        "at_period_end": {"when": "period_end"},
        "now_extra": {"when": "now"},
    }
    return render(request, "customers/subscription_detail.html", context)


def _confirm_page(request, subscription, *, title, text, button, css, form=None, action=""):
    return render(
        request,
        "invoicing/action.html",
        {
            "title": title,
            "text": text,
            "button": button,
            "css": css,
            "form": form,
            "action": action or request.path,
            "back": reverse("customers:subscription-detail", args=[subscription.pk]),
            "subject": subscription,
        },
    )


@require(perms.CANCEL_SUBSCRIPTION)
def subscription_cancel(request, pk):
    subscription = _subscription(pk)
    form = CancelForm(request.POST or None, initial={"when": "period_end"})
    if request.method != "POST":
        return _confirm_page(
            request,
            subscription,
            title="Cancel subscription",
            text="Canceling now bills the period up to this moment; at period end lets the current period run out.",
            button="Cancel subscription",
            css="danger",
            form=form,
        )
    if not form.is_valid():
        messages.error(request, "Choose when to cancel: now or at the end of the current period.")
        return redirect("customers:subscription-detail", pk=subscription.pk)
    try:
        canceled = services.subscription_cancel(
            subscription=subscription, now=timezone.now(), at_period_end=form.cleaned_data["when"] == "period_end"
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if canceled.ended_at is not None:
            messages.success(request, "Subscription ended: its current period had not started, so nothing is billed.")
        elif canceled.status == SubscriptionStatus.CANCELED:
            messages.success(request, "Subscription canceled now. The shortened period is invoiced by the next rollover.")
        else:
            messages.success(
                request,
                f"Subscription will end at the end of its current period ({canceled.cancel_at:%Y-%m-%d %H:%M} UTC).",
            )
    return redirect("customers:subscription-detail", pk=subscription.pk)


@require(perms.GENERATE_INTERIM_INVOICE)
def subscription_interim(request, pk):
    subscription = _subscription(pk)
    if request.method != "POST":
        return _confirm_page(
            request,
            subscription,
            title="Generate an interim invoice",
            text="Drafts an invoice for this period's usage so far (and its fixed fee); the period-end invoice "
            "later subtracts what it bills.",
            button="Generate interim invoice",
            css="primary",
        )
    try:
        invoice = subscription_generate_interim(subscription=subscription, now=timezone.now(), actor=_actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("customers:subscription-detail", pk=subscription.pk)
    messages.success(request, "Interim invoice drafted. Review it, then finalize it or let the grace period finalize it.")
    return redirect("invoicing:invoice-detail", pk=invoice.pk)
