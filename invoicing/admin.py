from django.contrib import admin

from .models import Invoice, InvoiceEvent, InvoiceLine


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ["position", "kind", "description", "quantity", "unit_price", "amount"]
    readonly_fields = fields
    can_delete = False


class InvoiceEventInline(admin.TabularInline):
    model = InvoiceEvent
    extra = 0
    fields = ["created_at", "action", "from_status", "to_status", "actor", "detail"]
    readonly_fields = fields
    can_delete = False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "customer", "kind", "status", "currency", "total", "period_start", "period_end", "issued_at", "due_date"]
    list_filter = ["status", "kind", "currency"]
    search_fields = ["number", "customer__name", "customer__external_id", "customer__email"]
    list_select_related = ["customer"]
    date_hierarchy = "period_end"
    raw_id_fields = ["customer", "subscription", "replaces"]
    inlines = [InvoiceLineInline, InvoiceEventInline]
    readonly_fields = ["number", "subtotal", "total", "customer_snapshot", "issued_at", "email_sent_at", "email_attempts", "email_last_error"]
