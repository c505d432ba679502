from django.contrib import admin

from .models import Meter, UsageEvent


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ["name", "lookup_key", "event_name", "aggregation_type", "property_name", "unit", "active", "created_at"]
    list_filter = ["aggregation_type", "active"]
    search_fields = ["name", "lookup_key", "event_name", "token"]
    readonly_fields = ["id", "token", "created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        # Meters are archived, never deleted: events and invoices refer to them.
        return False


@admin.register(UsageEvent)
class UsageEventAdmin(admin.ModelAdmin):
    list_display = ["id", "timestamp", "meter", "customer", "quantity", "idempotency_key", "source", "created_at"]
    list_filter = ["meter", "source"]
    search_fields = ["idempotency_key", "customer__external_id"]
    list_select_related = ["meter", "customer"]
    date_hierarchy = "timestamp"
    raw_id_fields = ["customer"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # append-only
