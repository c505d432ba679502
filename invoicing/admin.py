from django.contrib import admin, messages
from django.utils import timezone

from fluxbill.core import permissions as perms
from fluxbill.core.admin import CheckedAdmin, HistoryAdmin, ReadOnlyInline
from fluxbill.core.errors import DomainError
from fluxbill.core.permissions import may

from .models import Invoice, InvoiceEvent, InvoiceLine
from .services import (
    Actor,
    EmailResult,
    invoice_email_send,
    invoice_finalize,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_regenerate,
    invoice_void,
)


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["position", "kind", "description", "quantity", "unit_price", "amount", "breakdown"]


class InvoiceEventInline(ReadOnlyInline):
    model = InvoiceEvent
    fields = ["created_at", "action", "from_status", "to_status", "actor", "detail"]


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


@admin.register(Invoice)
class InvoiceAdmin(HistoryAdmin, CheckedAdmin):
    list_display = ["__str__", "customer", "kind", "status", "currency", "total", "period_start", "period_end", "issued_at", "due_date", "email_sent_at"]
    list_filter = ["status", "kind", "currency"]
    search_fields = ["number", "customer__name", "customer__external_id", "customer__email"]
    list_select_related = ["customer"]
    date_hierarchy = "period_end"
    inlines = [InvoiceLineInline, InvoiceEventInline]
    # Every field: an invoice changes only through its actions (the services), never by editing.
    readonly_fields = [
        "customer", "subscription", "replaces", "number", "status", "kind", "currency", "period_start", "period_end", "subtotal", "total", "finalize_at",
        "issued_at", "due_date", "paid_at", "payment_reference", "voided_at", "customer_snapshot",
        "email_sent_at", "email_attempts", "email_last_error",
    ]
    actions = ["finalize", "regenerate", "void", "mark_paid", "mark_uncollectible", "resend_email"]

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

    @admin.action(description="Void selected invoices", permissions=["void"])
    def void(self, request, queryset):
        _apply(self, request, queryset, invoice_void, "Voided")

    @admin.action(description="Mark selected invoices paid (today)", permissions=["mark_paid"])
    def mark_paid(self, request, queryset):
        _apply(self, request, queryset, invoice_mark_paid, "Marked paid")

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
