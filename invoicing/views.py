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
from fluxbill.core.money import money_string
from fluxbill.core.permissions import may
from metering.exports import events_csv
from metering.selectors import events_in_window, keyset_page, with_properties_text

from . import selectors
from .choices import CreditNoteStatus, InvoiceStatus
from .filters import CreditNoteFilterSet, InvoiceFilterSet, PaymentFilterSet
from .forms import (
    CreditNoteForm,
    CreditNoteVoidForm,
    MarkPaidForm,
    PaymentForm,
    PaymentReverseForm,
    UsageWindowForm,
    VoidForm,
)
from .models import CreditNote, Invoice, InvoiceLine, Payment
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
from .services.credit_note_delivery import credit_note_context, credit_note_email_send, credit_note_pdf
from .services.credit_notes import (
    CREDITABLE_STATUSES,
    credit_note_applied_text,
    credit_note_issue,
    credit_note_preview,
    credit_note_void,
    line_rooms,
)
from .services.payments import payment_record, payment_reverse
from .tables import CreditNoteTable, InvoiceLineTable, InvoiceTable, PaymentTable


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


def _record_payment(request, invoice, form, now):
    data = form.cleaned_data
    payment = payment_record(
        invoice=invoice, amount=data["amount"], received_at=data["received_on"], method=data["method"],
        reference=data["reference"], now=now, actor=_actor(request),
    )
    invoice.refresh_from_db()
    currency = payment.currency
    message = f"{money_string(payment.amount, currency)} {currency} recorded on {invoice}."
    if payment.credit_amount:
        message += f" {money_string(payment.credit_amount, currency)} {currency} beyond what remained went to the customer's credit."
    return invoice, message


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
        Action("record-payment", "Record payment", perms.ADD_PAYMENT, _OPEN, form_class=PaymentForm, run=_record_payment,
               text="Record money received for this invoice: part of it, all of it, or more (the rest goes to the "
                    "customer's credit balance)."),
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
        "payment_action": ACTIONS["record-payment"] if ACTIONS["record-payment"] in offered else None,
        "payment_form": PaymentForm(),
        "payments": selectors.invoice_payments(invoice),
        "may_reverse": may(request.user, perms.REVERSE_PAYMENT),
        "void_form": VoidForm(),
        "credit_notes": selectors.invoice_credit_notes(invoice),
        "may_credit": invoice.status in CREDITABLE_STATUSES and may(request.user, perms.ADD_CREDIT_NOTE),
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
invoice_record_payment_view = _action_view(ACTIONS["record-payment"])
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


# --- credit notes ---------------------------------------------------------------------


class CreditNoteList(ObjectListView):
    """Credit notes, filtered by CreditNoteFilterSet (the API's too), as a page or as CSV."""

    permission = perms.VIEW_CREDIT_NOTE
    filterset_class = CreditNoteFilterSet
    table_class = CreditNoteTable
    title = "Credit notes"
    url_name = "invoicing:credit-note-list"
    export_url_name = "invoicing:credit-note-export"
    export_filename = "credit-notes"
    plural = "credit notes"
    toolbar_filters = ("status", "reason", "customer", "number", "issued_from", "issued_to", "currency")
    empty_text = (
        "<p>No credit notes yet. To correct an issued invoice without voiding it, open the invoice and choose "
        "“Issue credit note”.</p>"
    )

    def get_queryset(self):
        return selectors.credit_note_list().prefetch_related(None)

    def get_export_queryset(self):
        return CreditNote.objects.all()


credit_note_list = CreditNoteList.list_view()
credit_note_export = CreditNoteList.export_view()


def _invoice_for_note(pk) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("customer", "billing_entity"), pk=pk)


def _note_preview(invoice: Invoice, form: CreditNoteForm) -> dict:
    """What the preview box shows: the note the form describes, or why it cannot be computed yet. The reason
    is not needed to compute one, so a preview does not ask for it yet."""
    form.is_valid()
    form.errors.pop("reason", None)
    if not form.items():
        form.errors.pop("__all__", None)  # nothing ticked yet: nothing to show, nothing wrong
        return {}
    if form.errors:
        return {"error": "Fix the highlighted fields to see the credit note."}
    try:
        return {"draft": credit_note_preview(invoice=invoice, items=form.items(), split=form.split())}
    except DomainError as exc:
        form.show_error(exc)
        return {"error": exc.message}


def _note_form_context(invoice, form, preview) -> dict:
    return {
        "invoice": invoice,
        "form": form,
        "preview": preview,
        "preview_url": reverse("invoicing:invoice-credit-note-preview", args=[invoice.pk]),
        "remaining": invoice.amount_remaining,
    }


@require(perms.ADD_CREDIT_NOTE)
def credit_note_new(request, pk):
    """The form: ticked lines with amounts, the reason, how the total applies; a live preview beside it."""
    invoice = _invoice_for_note(pk)
    if invoice.status not in CREDITABLE_STATUSES:
        messages.error(request, f"A credit note corrects an issued invoice ({', '.join(CREDITABLE_STATUSES)}); "
                                f"{invoice} is {invoice.get_status_display()}.")
        return redirect("invoicing:invoice-detail", pk=invoice.pk)
    rooms = line_rooms(invoice)
    if request.method != "POST":
        return render(request, "invoicing/credit_note_form.html", _note_form_context(invoice, CreditNoteForm(rooms=rooms), {}))
    form = CreditNoteForm(request.POST, rooms=rooms)
    if "preview" in request.POST:  # the no-JavaScript preview: compute, store nothing
        return render(request, "invoicing/credit_note_form.html", _note_form_context(invoice, form, _note_preview(invoice, form)))
    if form.is_valid():
        try:
            note = credit_note_issue(
                invoice=invoice, reason=form.cleaned_data["reason"], memo=form.cleaned_data["memo"], items=form.items(),
                split=form.split(), now=timezone.now(), actor=_actor(request),
            )
        except DomainError as exc:
            form.show_error(exc)
        else:
            messages.success(request, f"Credit note {note.number} issued: {credit_note_applied_text(note)}. "
                                      "It is emailed to the customer in a moment.")
            return redirect("invoicing:credit-note-detail", pk=note.pk)
    return render(request, "invoicing/credit_note_form.html", _note_form_context(invoice, form, {}), status=400)


@require(perms.VIEW_CREDIT_NOTE)
def credit_note_preview_view(request, pk):
    """The live preview's fetch: the form's fields in the query, the preview box's HTML back; nothing stored."""
    invoice = _invoice_for_note(pk)
    form = CreditNoteForm(request.GET, rooms=line_rooms(invoice))
    preview = _note_preview(invoice, form)
    return render(request, "invoicing/_credit_note_preview.html", {"invoice": invoice, "preview": preview},
                  status=400 if preview.get("error") else 200)


def _note(pk) -> CreditNote:
    return get_object_or_404(
        CreditNote.objects.select_related("invoice", "invoice__customer", "invoice__billing_entity", "customer"), pk=pk
    )


@require(perms.VIEW_CREDIT_NOTE)
def credit_note_detail(request, pk):
    note = _note(pk)
    context = {
        **credit_note_context(note),
        "may_void": note.status == CreditNoteStatus.ISSUED and may(request.user, perms.VOID_CREDIT_NOTE),
        "may_resend": note.status == CreditNoteStatus.ISSUED and may(request.user, perms.SEND_CREDIT_NOTE_EMAIL),
        "void_form": CreditNoteVoidForm(),
    }
    return render(request, "invoicing/credit_note_detail.html", context)


@require(perms.VIEW_CREDIT_NOTE)
def credit_note_pdf_download(request, pk):
    note = _note(pk)
    response = HttpResponse(credit_note_pdf(note), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{note.number}.pdf"'
    return response


def _note_action(request, note, *, title, text, button, css, form, run):
    """GET: what the action does (the no-JavaScript confirmation). POST: run it through its service."""
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            message = run()
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, message)
        return redirect("invoicing:credit-note-detail", pk=note.pk)
    back = reverse("invoicing:credit-note-detail", args=[note.pk])
    context = {"title": f"{title}: {note.number}", "text": text, "button": button, "css": css, "form": form,
               "action": request.path, "back": back, "subject": f"credit note {note.number}"}
    return render(request, "invoicing/action.html", context)


@require(perms.VOID_CREDIT_NOTE)
def credit_note_void_view(request, pk):
    note = _note(pk)
    form = CreditNoteVoidForm(request.POST if request.method == "POST" else None)

    def run():
        credit_note_void(credit_note=note, now=timezone.now(), actor=_actor(request), reason=form.cleaned_data["reason"])
        return f"Credit note {note.number} voided: what it applied to {note.invoice.number} and the credit balance is undone."

    return _note_action(request, note, title="Void", button="Void credit note", css="danger", form=form, run=run,
                        text="Undo what the note did: its offset goes back onto the invoice, its credit back out of the "
                             "customer's balance (refused if later invoices used it) and its refund off the record.")


@require(perms.SEND_CREDIT_NOTE_EMAIL)
def credit_note_resend_view(request, pk):
    note = _note(pk)

    def run():
        result, error = credit_note_email_send(credit_note=note, now=timezone.now(), actor=_actor(request), force=True)
        if result is EmailResult.FAILED:
            raise DomainError(f"The email could not be sent: {error}")
        return "Credit note emailed to the customer again."

    return _note_action(request, note, title="Resend email", button="Resend email", css="secondary", form=None, run=run,
                        text="The credit note and its PDF are emailed to the customer's billing address again.")


# --- payments -------------------------------------------------------------------------


class PaymentList(ObjectListView):
    """Payments, filtered by PaymentFilterSet (the API's too), as a page or as CSV."""

    permission = perms.VIEW_PAYMENT
    filterset_class = PaymentFilterSet
    table_class = PaymentTable
    title = "Payments"
    url_name = "invoicing:payment-list"
    export_url_name = "invoicing:payment-export"
    export_filename = "payments"
    plural = "payments"
    toolbar_filters = ("status", "customer", "received_from", "received_to", "currency")
    empty_text = "<p>No payments yet. Record one from an open invoice's page (“Record payment”).</p>"

    def get_queryset(self):
        return selectors.payment_list()

    def get_export_queryset(self):
        return Payment.objects.all()


payment_list = PaymentList.list_view()
payment_export = PaymentList.export_view()


@require(perms.REVERSE_PAYMENT)
def payment_reverse_view(request, pk):
    payment = get_object_or_404(Payment.objects.select_related("invoice"), pk=pk)
    form = PaymentReverseForm(request.POST if request.method == "POST" else None)
    back = reverse("invoicing:invoice-detail", args=[payment.invoice_id])
    if request.method == "POST" and form.is_valid():
        try:
            payment_reverse(payment=payment, reason=form.cleaned_data["reason"], now=timezone.now(), actor=_actor(request))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            amount = money_string(payment.amount, payment.currency)
            messages.success(request, f"Payment of {amount} {payment.currency} reversed; {payment.invoice} owes it again.")
        return redirect(back)
    context = {
        "title": f"Reverse payment: {money_string(payment.amount, payment.currency)} {payment.currency} on {payment.invoice}",
        "text": "What this payment paid is owed again (a paid invoice reopens); what it overpaid leaves the customer's "
                "credit balance, which is refused if later invoices have used it.",
        "button": "Reverse payment", "css": "danger", "form": form, "action": request.path, "back": back,
        "subject": payment.invoice,
    }
    return render(request, "invoicing/action.html", context)
