"""Dashboard pages for invoices: the list (and its CSV, fluxbill.core.lists), the invoice page and its actions.

Every action calls the service the API and admin call; the service checks the state, these views
check the permission (fluxbill.core.permissions). A refusal is a flash message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import require
from fluxbill.core.errors import DomainError
from fluxbill.core.lists import ObjectListView
from fluxbill.core.permissions import may
from metering.exports import events_csv
from metering.selectors import events_in_window, keyset_page, with_properties_text

from . import selectors
from .choices import InvoiceStatus
from .filters import InvoiceFilterSet
from .forms import MarkPaidForm, UsageWindowForm, VoidForm
from .models import Invoice, InvoiceLine
from .services import (
    Actor,
    EmailResult,
    draft_refresh_if_old,
    invoice_email_send,
    invoice_finalize,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_pdf,
    invoice_regenerate,
    invoice_void,
)
from .tables import InvoiceLineTable, InvoiceTable


def _actor(request) -> Actor:
    return Actor(label=f"user:{request.user.get_username()}", user=request.user)


class InvoiceList(ObjectListView):
    """Invoices, filtered by InvoiceFilterSet (the API's too), as a page or as CSV."""

    permission = perms.VIEW_INVOICE
    filterset_class = InvoiceFilterSet
    table_class = InvoiceTable
    title = "Invoices"
    url_name = "invoicing:invoice-list"
    export_url_name = "invoicing:invoice-export"
    export_filename = "invoices"
    more_exports = (("Export lines CSV", "invoicing:invoice-lines-export"),)
    toolbar_filters = (
        "status", "customer", "number", "period_from", "period_to", "issued_from", "issued_to",
        "due_from", "due_to", "overdue", "amount_min", "amount_max", "currency",
    )
    empty_filtered_text = (
        '<p>No invoice matches these filters. Widen the period, check the number, or '
        '<a href="{{ clear_url }}">clear the filters</a>.</p>'
    )
    empty_text = (
        "<p>No invoices yet. They are drafted when a subscription's billing period ends; to bill sooner, open a "
        'subscription and generate an interim invoice (<a href="{% url \'customers:subscription-list\' %}">subscriptions</a>).</p>'
    )

    def get_queryset(self):
        return selectors.invoice_list_rows()

    def get_export_queryset(self):
        return Invoice.objects.all()

    def get_default_sort(self) -> str:
        return "period" if self.filterset.chosen_status() == InvoiceStatus.DRAFT else "-created"


class InvoiceLineExport(InvoiceList):
    """The invoice list's filters, exported line by line."""

    table_class = InvoiceLineTable
    export_filename = "invoice-lines"

    def export_rows(self, filterset):
        return (
            InvoiceLine.objects.filter(invoice__in=filterset.qs.values("pk"))
            .order_by("invoice__created_at", "invoice_id", "position", "id")
        )


invoice_list = InvoiceList.list_view()
invoice_export = InvoiceList.export_view()
invoice_lines_export = InvoiceLineExport.export_view()


# --- the invoice page -----------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A button on the invoice page. `statuses` only decides whether to show it; the service decides."""

    slug: str
    label: str
    permission: str
    statuses: tuple[str, ...]
    confirm: str = ""
    css: str = "secondary"
    text: str = ""
    form_class: type | None = None
    run: Callable = field(default=None, compare=False)


def _finalize(request, invoice, form, now):
    done = invoice_finalize(invoice=invoice, now=now, actor=_actor(request))
    return done, f"Finalized as {done.number}. The email to the customer goes out in a moment."


def _void(request, invoice, form, now):
    done = invoice_void(invoice=invoice, now=now, actor=_actor(request), reason=form.cleaned_data["reason"])
    return done, f"{done} voided."


def _mark_paid(request, invoice, form, now):
    done = invoice_mark_paid(
        invoice=invoice, now=now, actor=_actor(request), paid_at=form.paid_at(now), reference=form.cleaned_data["reference"]
    )
    return done, f"{done} marked paid on {done.paid_at:%Y-%m-%d}."


def _mark_uncollectible(request, invoice, form, now):
    done = invoice_mark_uncollectible(invoice=invoice, now=now, actor=_actor(request))
    return done, f"{done} marked uncollectible. It can still be marked paid or voided."


def _regenerate(request, invoice, form, now):
    done = invoice_regenerate(invoice=invoice, now=now, actor=_actor(request))
    if done.pk == invoice.pk:
        return done, "Draft recomputed from the events stored now."
    return done, f"{invoice} was voided and replaced by {done}, computed from the events stored now."


def _resend(request, invoice, form, now):
    result, error = invoice_email_send(invoice=invoice, now=now, actor=_actor(request), force=True)
    if result is EmailResult.FAILED:
        raise DomainError(f"The email could not be sent: {error}")
    return invoice, "Invoice emailed to the customer again."


_OPEN = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
ACTIONS = {
    a.slug: a
    for a in [
        Action("finalize", "Finalize", perms.FINALIZE_INVOICE, (InvoiceStatus.DRAFT,), css="primary", run=_finalize,
               confirm="Finalize this invoice? It gets a number, can no longer change, and is emailed to the customer.",
               text="The invoice is recomputed one last time, numbered, frozen and emailed to the customer."),
        Action("mark-paid", "Mark paid", perms.MARK_PAID_INVOICE, _OPEN, css="primary", form_class=MarkPaidForm, run=_mark_paid,
               text="Record the payment of this invoice."),
        Action("mark-uncollectible", "Mark uncollectible", perms.MARK_UNCOLLECTIBLE_INVOICE, (InvoiceStatus.OPEN,), css="danger",
               run=_mark_uncollectible, confirm="Mark this invoice uncollectible?",
               text="The invoice stays on the books as not expected to be paid; it can still be marked paid or voided."),
        Action("void", "Void", perms.VOID_INVOICE, (InvoiceStatus.DRAFT, *_OPEN), css="danger", form_class=VoidForm,
               run=_void, confirm="Void this invoice? This cannot be undone.",
               text="A voided invoice is kept for the record but no longer owed. This cannot be undone."),
        Action("regenerate", "Regenerate", perms.REGENERATE_INVOICE, (InvoiceStatus.DRAFT, *_OPEN), run=_regenerate,
               confirm="Regenerate this invoice from the events stored now? A finalized invoice is voided and replaced.",
               text="A draft is recomputed in place; a finalized invoice is voided and replaced by a new, finalized one "
                    "computed from the events stored now."),
        Action("resend", "Resend email", perms.SEND_INVOICE_EMAIL, (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE),
               run=_resend, confirm="Email this invoice to the customer again?",
               text="The invoice and its PDF are emailed to the customer's billing address again."),
    ]
}


def _offered(invoice, user) -> list[Action]:
    offered = []
    for action in ACTIONS.values():
        if invoice.status not in action.statuses or not may(user, action.permission):
            continue
        if action.slug == "regenerate" and invoice.subscription_id is None and invoice.status != InvoiceStatus.DRAFT:
            continue  # a manual invoice has nothing to be regenerated from
        offered.append(action)
    return offered


@require(perms.VIEW_INVOICE)
def invoice_detail(request, pk):
    try:
        invoice = selectors.invoice_detail(pk)
    except Invoice.DoesNotExist:
        raise Http404("No such invoice") from None
    if draft_refresh_if_old(invoice=invoice, now=timezone.now()):
        invoice = selectors.invoice_detail(pk)
    lines = list(invoice.lines.all())
    offered = _offered(invoice, request.user)
    seller, bill_to = selectors.invoice_parties(invoice)
    context = {
        "invoice": invoice,
        "lines": lines,
        "seller": seller,
        "bill_to": bill_to,
        "usage_links": "invoice",
        "audit": list(invoice.audit.all()),
        "late": selectors.late_usage(invoice),
        "replaced_by": Invoice.objects.filter(replaces=invoice).only("id", "number", "status").first(),
        "actions": [
            (a, reverse(f"invoicing:invoice-{a.slug}", args=[invoice.pk])) for a in offered if a.form_class is None
        ],
        "void_action": ACTIONS["void"] if ACTIONS["void"] in offered else None,
        "mark_paid_action": ACTIONS["mark-paid"] if ACTIONS["mark-paid"] in offered else None,
        "mark_paid_form": MarkPaidForm(initial={"paid_on": timezone.now().date()}),
        "void_form": VoidForm(),
    }
    return render(request, "invoicing/invoice_detail.html", context)


@require(perms.VIEW_INVOICE)
def invoice_pdf_download(request, pk):
    invoice = get_object_or_404(Invoice.objects.select_related("customer", "billing_entity"), pk=pk)
    if draft_refresh_if_old(invoice=invoice, now=timezone.now()):
        invoice = Invoice.objects.select_related("customer", "billing_entity").get(pk=pk)
    name = invoice.number or f"draft-{str(invoice.pk)[:8]}"
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


def _action_view(action: Action):
    """GET: a page that says what the action does (the no-JavaScript confirmation, and the mark-paid form).
    POST: run it through its service."""

    @require(action.permission)
    def view(request, pk):
        invoice = get_object_or_404(Invoice.objects.select_related("customer", "billing_entity"), pk=pk)
        form = None
        if action.form_class:
            form = action.form_class(request.POST or None, initial={"paid_on": timezone.now().date()})
        if request.method == "POST" and (form is None or form.is_valid()):
            try:
                done, message = action.run(request, invoice, form, timezone.now())
            except DomainError as exc:
                messages.error(request, exc.message)
                return redirect("invoicing:invoice-detail", pk=invoice.pk)
            messages.success(request, message)
            return redirect("invoicing:invoice-detail", pk=done.pk)
        context = {
            "title": f"{action.label}: {invoice}",
            "text": action.text,
            "button": action.label,
            "css": action.css,
            "form": form,
            "action": request.path,
            "back": reverse("invoicing:invoice-detail", args=[invoice.pk]),
            "subject": invoice,
            "invoice": invoice,
        }
        return render(request, "invoicing/action.html", context)

    view.__name__ = f"invoice_{action.slug.replace('-', '_')}"
    return view


invoice_finalize_view = _action_view(ACTIONS["finalize"])
invoice_void_view = _action_view(ACTIONS["void"])
invoice_mark_paid_view = _action_view(ACTIONS["mark-paid"])
invoice_mark_uncollectible_view = _action_view(ACTIONS["mark-uncollectible"])
invoice_regenerate_view = _action_view(ACTIONS["regenerate"])
invoice_resend_view = _action_view(ACTIONS["resend"])


# --- why is this line this much? ------------------------------------------------------

EXPLAIN_PAGE_SIZE = 50


@require(perms.VIEW_INVOICE)
def line_usage(request, pk):
    """The events behind one usage line of an invoice, counted, aggregated and priced again now."""
    try:
        line = selectors.usage_line(pk)
    except InvoiceLine.DoesNotExist:
        raise Http404("No usage line with this id") from None
    explanation = selectors.line_usage_explanation(line)
    back = (reverse("invoicing:invoice-detail", args=[line.invoice_id]), f"Invoice {line.invoice}")
    return _usage_page(request, explanation, back=back)


@require(perms.VIEW_SUBSCRIPTION)
def window_usage(request):
    """The same for a line of a preview, which stores nothing: customer, charge and window come in the query."""
    form = UsageWindowForm(request.GET)
    if not form.is_valid():
        return render(request, "invoicing/line_usage.html", {"form": form}, status=400)
    wanted = form.cleaned_data
    charge = wanted["charge"]
    explanation = selectors.usage_explanation(
        customer=wanted["customer"], meter=charge.meter, charge=charge, currency=charge.plan.currency,
        start=wanted["start"], end=wanted["end"],
    )  # fmt: skip
    back = (reverse("customers:customer-detail", args=[wanted["customer"].pk]), wanted["customer"].name)
    return _usage_page(request, explanation, back=back)


def _usage_page(request, explanation, *, back: tuple[str, str]):
    events = events_in_window(
        meter_id=explanation.meter.pk, customer_id=explanation.customer.pk, start=explanation.start, end=explanation.end
    )
    if request.GET.get("format") == "csv":
        return events_csv(events, f"usage-{explanation.meter.event_name}-{explanation.customer.external_id}")
    page = keyset_page(
        events, newest_first=False, after=request.GET.get("after"), before=request.GET.get("before"), size=EXPLAIN_PAGE_SIZE
    )
    context = {
        "x": explanation,
        "events": with_properties_text(page["rows"]),
        "next_cursor": page["next"],
        "previous_cursor": page["previous"],
        "back_url": back[0],
        "back_label": back[1],
    }
    return render(request, "invoicing/line_usage.html", context)
