"""The customer and subscription pages, and the interim-invoice page.

They show what invoicing knows of a customer or subscription (its invoices, what the current period
comes to so far) beside customers' own fields, so they live here, above customers; they keep their
`customers:` URL names and paths (fluxbill/urls.py mounts them in that namespace). The customer and
subscription forms and the cancel page stay in customers/views.py.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from customers.choices import BILLABLE_STATUSES, SubscriptionStatus
from customers.models import Customer, Subscription
from customers.selectors import address_lines
from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import require
from fluxbill.core.errors import DomainError
from metering.selectors import customer_recent_events

from .selectors import (
    ESTIMATE_CHARGES,
    Estimate,
    customer_credit_balances,
    customer_credit_entries,
    subscription_estimate,
    subscription_estimates,
)
from .services import Actor, subscription_generate_interim

# The customer page lists this many subscriptions, invoices and events; the lists link to the rest.
SUBSCRIPTIONS_SHOWN = 20
INVOICES_SHOWN = 10
EVENTS_SHOWN = 20
CREDIT_ENTRIES_SHOWN = 10


def _actor(request) -> Actor:
    return Actor(label=f"user:{request.user.get_username()}", user=request.user)


def _subscription(pk) -> Subscription:
    return get_object_or_404(Subscription.objects.select_related("customer", "plan"), pk=pk)


@require(perms.VIEW_CUSTOMER)
def customer_detail(request, pk):
    customer = get_object_or_404(Customer.objects.select_related("billing_entity"), pk=pk)
    now = timezone.now()
    subscriptions = list(
        Subscription.objects.filter(customer=customer)
        .select_related("plan")
        .prefetch_related(ESTIMATE_CHARGES)
        .order_by("-created_at", "-pk")[: SUBSCRIPTIONS_SHOWN + 1]
    )
    more_subscriptions = len(subscriptions) > SUBSCRIPTIONS_SHOWN
    subscriptions = subscriptions[:SUBSCRIPTIONS_SHOWN]
    for subscription in subscriptions:
        subscription.customer = customer  # str(subscription) names the customer; no query per row
    estimates = subscription_estimates(subscriptions=[s for s in subscriptions if s.status in BILLABLE_STATUSES], now=now)
    rows = []
    for subscription in subscriptions:
        found = estimates.get(subscription.pk)
        estimate = found if isinstance(found, Estimate) else None
        rows.append((subscription, estimate, found if isinstance(found, str) else ""))
    invoices = list(customer.invoices.order_by("-created_at", "-pk")[: INVOICES_SHOWN + 1])
    context = {
        "customer": customer,
        "address_lines": address_lines(customer),
        "now": now,
        "subscription_rows": rows,
        "more_subscriptions": more_subscriptions,
        "invoices": invoices[:INVOICES_SHOWN],
        "more_invoices": len(invoices) > INVOICES_SHOWN,
        "events": customer_recent_events(customer_id=customer.pk, limit=EVENTS_SHOWN),
        "credit_balances": customer_credit_balances(customer),
        "credit_entries": list(customer_credit_entries(customer)[:CREDIT_ENTRIES_SHOWN]),
    }
    return render(request, "invoicing/customer_detail.html", context)


@require(perms.VIEW_SUBSCRIPTION)
def subscription_detail(request, pk):
    subscription = _subscription(pk)
    now = timezone.now()
    preview, preview_error = None, ""
    try:
        preview = subscription_estimate(subscription=subscription, now=now)
    except DomainError as exc:
        preview_error = exc.message
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
    return render(request, "invoicing/subscription_detail.html", context)


@require(perms.GENERATE_INTERIM_INVOICE)
def subscription_interim(request, pk):
    subscription = _subscription(pk)
    if request.method != "POST":
        return render(
            request,
            "invoicing/action.html",
            {
                "title": "Generate an interim invoice",
                "text": "Drafts an invoice for this period's usage so far (and its fixed fee); the period-end invoice "
                "later subtracts what it bills.",
                "button": "Generate interim invoice",
                "css": "primary",
                "form": None,
                "action": request.path,
                "back": reverse("customers:subscription-detail", args=[subscription.pk]),
                "subject": subscription,
            },
        )
    try:
        invoice = subscription_generate_interim(subscription=subscription, now=timezone.now(), actor=_actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("customers:subscription-detail", pk=subscription.pk)
    messages.success(request, "Interim invoice drafted. Review it, then finalize it or let the grace period finalize it.")
    return redirect("invoicing:invoice-detail", pk=invoice.pk)
