"""Invoices, credit notes and payments in admin: read, never edited; they change only through actions that call the
lifecycle and credit-note services.

Voiding and marking paid ask first, on a page of their own (as the dashboard does): a void records why, a payment
records its day and reference, for every selected invoice at once.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from fluxbill.core import permissions as perms
from fluxbill.core.admin import (
    CheckedAdmin,
    HistoryAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    definition_table,
    money_cell,
    price_cell,
    quantity_cell,
    rows_table,
)
from fluxbill.core.errors import DomainError
from fluxbill.core.permissions import may

from customers.admin import SubscriptionAdmin
from customers.models import Subscription

from .forms import MarkPaidForm, VoidForm
from .models import CreditEntry, CreditNote, CreditNoteItem, Invoice, InvoiceEvent, InvoiceLine, Payment
from .services.credit import credit_adjust
from .services.credit_note_delivery import credit_note_email_send
from .services.credit_notes import credit_note_void
from .services.payments import payment_record, payment_reverse
from .services import (
    Actor,
    EmailResult,
    invoice_email_send,
    invoice_finalize,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_regenerate,
    invoice_void,
    subscription_generate_interim,
)


def breakdown_table(line: InvoiceLine) -> str:
    """A line's breakdown as the invoice explains it: one row per tier reached, or the packages billed."""
    rows = line.breakdown or []
    currency = line.invoice.currency
    if any(isinstance(row, dict) and "packages" in row for row in rows):
        columns = [
            ("packages", "Packages", quantity_cell),
            ("package_size", "Package size", quantity_cell),
            ("package_price", "Package price", lambda v: price_cell(v, currency)),
            ("amount", "Amount", lambda v: price_cell(v, currency)),
        ]
    else:
        columns = [
            ("from", "From", quantity_cell),
            ("up_to", "Up to", quantity_cell),
            ("units", "Units", quantity_cell),
            ("unit_price", "Unit price", lambda v: price_cell(v, currency)),
            ("flat_amount", "Flat amount", lambda v: price_cell(v, currency)),
            ("amount", "Amount", lambda v: price_cell(v, currency)),
        ]
    return rows_table(rows, columns)


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["position", "kind", "description", "quantity_shown", "unit_price_shown", "amount_shown", "breakdown_shown"]

    def get_queryset(self, request):
        # Every line's amounts are shown in its invoice's currency: one join, not a query per line.
        return super().get_queryset(request).select_related("invoice")

    @admin.display(description="Quantity", ordering="quantity")
    def quantity_shown(self, line):
        return quantity_cell(line.quantity)

    @admin.display(description="Unit price", ordering="unit_price")
    def unit_price_shown(self, line):
        return price_cell(line.unit_price, line.invoice.currency)

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, line):
        return money_cell(line.amount, line.invoice.currency)

    @admin.display(description="Breakdown")
    def breakdown_shown(self, line):
        return breakdown_table(line)


class InvoiceEventInline(ReadOnlyInline):
    model = InvoiceEvent
    fields = ["created_at", "action", "from_status", "to_status", "actor", "detail"]


class AdminVoidForm(VoidForm):
    """The dashboard's void form, with the reason required: an admin void is often a batch, and each row says why."""

    reason = forms.CharField(
        max_length=500, help_text="Recorded in each invoice's audit trail and history.",
        widget=forms.TextInput(attrs={"size": 60}),
    )


def _apply(modeladmin, request, queryset, service, verb: str, **kwargs):
    """Run one service per selected invoice; report successes and refusals separately."""
    done, refused = 0, []
    actor = Actor(label=f"user:{request.user.get_username()}", user=request.user)
    for invoice in queryset:
        try:
            service(invoice=invoice, now=timezone.now(), actor=actor, **kwargs)
            done += 1
        except DomainError as exc:
            refused.append(f"{invoice}: {exc.message}")
    if done:
        modeladmin.message_user(request, f"{verb}: {done} invoice(s).")
    for message in refused:
        modeladmin.message_user(request, message, level=messages.ERROR)


def action_ask(modeladmin, request, queryset, form, *, action: str, title: str, text: str, button: str):
    """The page between choosing an action and running it, like Django's delete confirmation: it names
    the selected rows (invoices or credit notes) and posts them back to the changelist with the action and
    the form's answers."""
    rows = list(queryset.select_related("customer"))
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": title,
        "text": text,
        "button": button,
        "action": action,
        "form": form,
        "invoices": [(row, money_cell(row.total, row.currency)) for row in rows],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/invoicing/invoice/action_confirmation.html", context)


@admin.register(Invoice)
class InvoiceAdmin(HistoryAdmin, CheckedAdmin):
    list_display = ["__str__", "customer", "kind", "status", "currency", "total_shown", "period_start", "period_end", "issued_at", "due_date", "email_sent_at"]
    list_filter = ["status", "kind", "currency"]
    search_fields = ["number", "customer__name", "customer__external_id", "customer__email"]
    list_select_related = ["customer"]
    date_hierarchy = "period_end"
    inlines = [InvoiceLineInline, InvoiceEventInline]
    # Every field: an invoice changes only through its actions (the services), never by editing.
    readonly_fields = [
        "customer", "billing_entity", "subscription", "replaces", "number", "status", "kind", "currency", "period_start", "period_end", "subtotal_shown",
        "discount_total_shown", "tax_total_shown", "tax_summary_shown", "total_shown", "credit_applied_shown",
        "amount_due_shown", "amount_paid_shown", "computed_at", "finalize_at", "issued_at", "due_date", "paid_at", "payment_reference", "voided_at", "customer_snapshot_shown",
        "seller_snapshot_shown", "email_sent_at", "email_attempts", "email_last_error",
    ]
    fields = readonly_fields  # the raw amounts and snapshot are shown only through their *_shown cells
    actions = ["finalize", "regenerate", "void", "mark_paid", "mark_uncollectible", "resend_email"]

    @admin.display(description="Subtotal", ordering="subtotal")
    def subtotal_shown(self, invoice):
        return money_cell(invoice.subtotal, invoice.currency)

    @admin.display(description="Total", ordering="total")
    def total_shown(self, invoice):
        return money_cell(invoice.total, invoice.currency)

    @admin.display(description="Discounts")
    def discount_total_shown(self, invoice):
        return money_cell(invoice.discount_total, invoice.currency)

    @admin.display(description="Tax" )
    def tax_total_shown(self, invoice):
        suffix = " (included in the prices)" if invoice.tax_inclusive else ""
        note = " — reverse charge: no tax, the customer accounts for it" if invoice.reverse_charge else ""
        return format_html("{}{}{}", money_cell(invoice.tax_total, invoice.currency), suffix, note)

    @admin.display(description="Tax by rate")
    def tax_summary_shown(self, invoice):
        return rows_table(invoice.tax_summary, [
            ("code", "Code", str), ("name", "Name", str), ("rate", "Rate %", str),
            ("taxable_amount", "Taxable", lambda v: money_cell(v, invoice.currency)),
            ("tax_amount", "Tax", lambda v: money_cell(v, invoice.currency)),
        ])

    @admin.display(description="Credit applied")
    def credit_applied_shown(self, invoice):
        return money_cell(invoice.credit_applied, invoice.currency)

    @admin.display(description="Amount due")
    def amount_due_shown(self, invoice):
        return money_cell(invoice.amount_due, invoice.currency)

    @admin.display(description="Amount paid")
    def amount_paid_shown(self, invoice):
        return money_cell(invoice.amount_paid, invoice.currency)

    @admin.display(description="Customer snapshot")
    def customer_snapshot_shown(self, invoice):
        return definition_table(invoice.customer_snapshot)

    @admin.display(description="Seller snapshot")
    def seller_snapshot_shown(self, invoice):
        # The logo is a data URI of up to 256 KiB: said, not printed.
        snapshot = dict(invoice.seller_snapshot or {})
        if snapshot.get("logo"):
            snapshot["logo"] = "(image)"
        return definition_table(snapshot)

    def has_change_permission(self, request, obj=None):
        return False  # a view-only page: the actions (services) are the only way to change an invoice

    def has_delete_permission(self, request, obj=None):
        return False  # invoices are voided, never deleted

    def has_add_permission(self, request):
        return False  # invoices come from subscriptions (rollover, interim)

    # Each action asks for its operation's permission (Django offers and runs only the allowed ones).
    def has_finalize_permission(self, request):
        return may(request.user, perms.FINALIZE_INVOICE)

    def has_regenerate_permission(self, request):
        return may(request.user, perms.REGENERATE_INVOICE)

    def has_void_permission(self, request):
        return may(request.user, perms.VOID_INVOICE)

    def has_mark_paid_permission(self, request):
        return may(request.user, perms.MARK_PAID_INVOICE)

    def has_mark_uncollectible_permission(self, request):
        return may(request.user, perms.MARK_UNCOLLECTIBLE_INVOICE)

    def has_send_email_permission(self, request):
        return may(request.user, perms.SEND_INVOICE_EMAIL)

    @admin.action(description="Finalize selected drafts", permissions=["finalize"])
    def finalize(self, request, queryset):
        _apply(self, request, queryset, invoice_finalize, "Finalized")

    @admin.action(description="Regenerate selected invoices", permissions=["regenerate"])
    def regenerate(self, request, queryset):
        _apply(self, request, queryset, invoice_regenerate, "Regenerated")

    @admin.action(description="Void selected invoices …", permissions=["void"])
    def void(self, request, queryset):
        form = AdminVoidForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_ask(self, request, queryset, form, action="void", title="Void these invoices?",
                             text="A voided invoice is kept for the record but no longer owed. This cannot be undone.",
                             button="Void them")
        _apply(self, request, queryset, invoice_void, "Voided", reason=form.cleaned_data["reason"])
        return None

    @admin.action(description="Mark selected invoices paid …", permissions=["mark_paid"])
    def mark_paid(self, request, queryset):
        form = MarkPaidForm(request.POST if "apply" in request.POST else None, initial={"paid_on": timezone.now().date()})
        if not form.is_valid():
            return action_ask(self, request, queryset, form, action="mark_paid", title="Mark these invoices paid?",
                             text="Record the payment of each selected invoice, on the day it arrived.",
                             button="Mark them paid")
        _apply(self, request, queryset, invoice_mark_paid, "Marked paid",
               paid_at=form.paid_at(timezone.now()), reference=form.cleaned_data["reference"])
        return None

    @admin.action(description="Mark selected invoices uncollectible", permissions=["mark_uncollectible"])
    def mark_uncollectible(self, request, queryset):
        _apply(self, request, queryset, invoice_mark_uncollectible, "Marked uncollectible")

    @admin.action(description="Resend invoice email", permissions=["send_email"])
    def resend_email(self, request, queryset):
        actor = Actor(label=f"user:{request.user.get_username()}", user=request.user)
        for invoice in queryset:
            try:
                result, error = invoice_email_send(invoice=invoice, now=timezone.now(), actor=actor, force=True)
            except DomainError as exc:
                self.message_user(request, f"{invoice}: {exc.message}", level=messages.ERROR)
                continue
            if result is EmailResult.FAILED:
                self.message_user(request, f"{invoice}: {error}", level=messages.ERROR)
            else:
                self.message_user(request, f"{invoice}: email sent.")


class BillingSubscriptionAdmin(SubscriptionAdmin):
    """customers' subscription admin with the action that belongs to invoicing: customers sits below invoicing
    and may not call it, so invoicing registers this subclass in its place."""

    actions = ["generate_interim_invoice", *SubscriptionAdmin.actions]

    def has_generate_interim_permission(self, request):
        return may(request.user, perms.GENERATE_INTERIM_INVOICE)

    @admin.action(description="Generate an interim invoice now", permissions=["generate_interim"])
    def generate_interim_invoice(self, request, queryset):
        actor = Actor(label=f"user:{request.user.get_username()}", user=request.user)
        for subscription in queryset:
            try:
                invoice = subscription_generate_interim(subscription=subscription, now=timezone.now(), actor=actor)
                self.message_user(request, f"{subscription}: interim draft {invoice.pk} created.")
            except DomainError as exc:
                self.message_user(request, f"{subscription}: {exc.message}", level=messages.ERROR)


admin.site.unregister(Subscription)
admin.site.register(Subscription, BillingSubscriptionAdmin)


class CreditAdjustForm(forms.ModelForm):
    """A manual adjustment: the only entry added by hand; credit_adjust checks it and computes the balance."""

    class Meta:
        model = CreditEntry
        fields = ["customer", "currency", "amount", "reason"]
        help_texts = {"amount": "Positive adds credit; negative takes unused credit back."}


@admin.register(CreditEntry)
class CreditEntryAdmin(ServiceAdmin):
    """The credit ledger: append-only. Entries from invoices are written by the pipeline; Finance adds adjustments."""

    form = CreditAdjustForm
    list_display = ["created_at", "customer", "currency", "kind", "amount_shown", "balance_shown", "invoice", "reason", "actor"]
    list_filter = ["kind", "currency"]
    search_fields = ["customer__name", "customer__external_id", "invoice__number", "reason"]
    list_select_related = ["customer", "invoice"]
    autocomplete_fields = ["customer"]

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, entry):
        return money_cell(entry.amount, entry.currency)

    @admin.display(description="Balance after")
    def balance_shown(self, entry):
        return money_cell(entry.balance_after, entry.currency)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["customer", "currency", "kind", "amount_shown", "balance_shown", "invoice", "reason", "actor", "created_at"]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) or ["customer", "currency", "amount", "reason"]

    def create(self, request, form):
        # A refusal (more taken back than the balance holds, say) is shown on the page by ServiceAdmin.
        return credit_adjust(actor=Actor.from_request(request), **form.cleaned_data)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- credit notes ---------------------------------------------------------------------


class CreditNoteItemInline(ReadOnlyInline):
    model = CreditNoteItem
    fields = ["invoice_line", "description", "amount", "tax_amount", "total"]
    show_change_link = False


class AdminCreditNoteVoidForm(forms.Form):
    reason = forms.CharField(
        max_length=500, help_text="Recorded in each invoice's audit trail.", widget=forms.TextInput(attrs={"size": 60})
    )


@admin.register(CreditNote)
class CreditNoteAdmin(HistoryAdmin, CheckedAdmin):
    """Read-only: a note is issued from its invoice (dashboard, API) and changes only by its actions (the
    credit-note services): void, resend."""

    list_display = ["number", "invoice", "customer", "status", "reason", "currency", "total_shown", "issued_at"]
    list_filter = ["status", "reason", "currency"]
    search_fields = ["number", "invoice__number", "customer__name", "customer__external_id"]
    list_select_related = ["invoice", "customer"]
    date_hierarchy = "issued_at"
    inlines = [CreditNoteItemInline]
    readonly_fields = [
        "number", "invoice", "customer", "billing_entity", "status", "reason", "memo", "currency", "subtotal", "tax_total",
        "total_shown", "offset_amount", "credit_amount", "refund_amount", "issued_at", "actor", "voided_at", "void_reason",
        "email_sent_at", "email_last_error",
    ]
    fields = readonly_fields
    actions = ["void", "resend_email"]

    @admin.display(description="Total", ordering="total")
    def total_shown(self, note):
        return money_cell(note.total, note.currency)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # voided, never deleted

    def has_add_permission(self, request):
        return False  # issued on an invoice, where its lines can be chosen

    def has_void_permission(self, request):
        return may(request.user, perms.VOID_CREDIT_NOTE)

    def has_send_email_permission(self, request):
        return may(request.user, perms.SEND_CREDIT_NOTE_EMAIL)

    @admin.action(description="Void selected credit notes …", permissions=["void"])
    def void(self, request, queryset):
        form = AdminCreditNoteVoidForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_ask(self, request, queryset, form, action="void", title="Void these credit notes?",
                              text="Each note's offset goes back onto its invoice, its credit back out of the customer's "
                                   "balance (refused if used) and its refund off the record.", button="Void them")
        actor = Actor(label=f"user:{request.user.get_username()}", user=request.user)
        for note in queryset:
            try:
                credit_note_void(credit_note=note, now=timezone.now(), actor=actor, reason=form.cleaned_data["reason"])
            except DomainError as exc:
                self.message_user(request, f"{note.number}: {exc.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"{note.number}: voided.")
        return None

    @admin.action(description="Resend credit note email", permissions=["send_email"])
    def resend_email(self, request, queryset):
        actor = Actor(label=f"user:{request.user.get_username()}", user=request.user)
        for note in queryset:
            try:
                result, error = credit_note_email_send(credit_note=note, now=timezone.now(), actor=actor, force=True)
            except DomainError as exc:
                self.message_user(request, f"{note.number}: {exc.message}", level=messages.ERROR)
                continue
            if result is EmailResult.FAILED:
                self.message_user(request, f"{note.number}: {error}", level=messages.ERROR)
            else:
                self.message_user(request, f"{note.number}: email sent.")


# --- payments -------------------------------------------------------------------------


class PaymentRecordForm(forms.ModelForm):
    """Money received for an invoice: payment_record checks it and decides what it pays and what it overpays."""

    class Meta:
        model = Payment
        fields = ["invoice", "amount", "received_at", "method", "reference"]
        help_texts = {"amount": "What arrived; beyond what remains goes to the customer's credit balance.",
                      "received_at": "The day it arrived (UTC)."}


class AdminPaymentReverseForm(forms.Form):
    reason = forms.CharField(
        max_length=500, help_text="Recorded in each invoice's audit trail, e.g. cheque bounced.",
        widget=forms.TextInput(attrs={"size": 60}),
    )


@admin.register(Payment)
class PaymentAdmin(HistoryAdmin, ServiceAdmin):
    """Payments are recorded here, on an invoice's page or by the API, through payment_record; never edited,
    reversed by the action (payment_reverse)."""

    form = PaymentRecordForm
    list_display = ["received_at", "invoice", "customer", "status", "amount_shown", "applied_shown", "credit_shown",
                    "method", "reference", "actor"]
    list_filter = ["status", "currency", "method"]
    search_fields = ["invoice__number", "customer__name", "customer__external_id", "reference"]
    list_select_related = ["invoice", "customer"]
    autocomplete_fields = ["invoice"]
    date_hierarchy = "received_at"
    actions = ["reverse"]
    shown_fields = ["invoice", "customer", "currency", "amount_shown", "applied_shown", "credit_shown", "received_at",
                    "method", "reference", "status", "reversed_at", "reversal_reason", "actor", "created_at"]

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, payment):
        return money_cell(payment.amount, payment.currency)

    @admin.display(description="Paid of the invoice")
    def applied_shown(self, payment):
        return money_cell(payment.applied_amount, payment.currency)

    @admin.display(description="Overpaid, to credit")
    def credit_shown(self, payment):
        return money_cell(payment.credit_amount, payment.currency)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.shown_fields

    def get_fields(self, request, obj=None):
        return self.shown_fields if obj is not None else ["invoice", "amount", "received_at", "method", "reference"]

    def create(self, request, form):
        data = form.cleaned_data
        return payment_record(invoice=data["invoice"], amount=data["amount"], received_at=data["received_at"],
                              method=data["method"], reference=data["reference"], now=timezone.now(),
                              actor=Actor.from_request(request))

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # reversed, never deleted

    def has_reverse_permission(self, request):
        return may(request.user, perms.REVERSE_PAYMENT)

    @admin.action(description="Reverse selected payments …", permissions=["reverse"])
    def reverse(self, request, queryset):
        form = AdminPaymentReverseForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_ask(self, request, queryset, form, action="reverse", title="Reverse these payments?",
                              text="What each paid is owed again (a paid invoice reopens); what it overpaid leaves the "
                                   "customer's credit balance (refused if used).", button="Reverse them")
        actor = Actor.from_request(request)
        for payment in queryset.select_related("invoice"):
            try:
                payment_reverse(payment=payment, reason=form.cleaned_data["reason"], now=timezone.now(), actor=actor)
            except DomainError as exc:
                self.message_user(request, f"{payment} on {payment.invoice}: {exc.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"{payment} on {payment.invoice}: reversed.")
        return None
