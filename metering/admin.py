from django import forms
from django.contrib import admin

from metering import services as meter_services
from fluxbill.core.admin import CheckedAdmin, HistoryAdmin, ServiceAdmin, ServiceForm, definition_table, quantity_cell

from .models import Meter, UsageEvent


class MeterForm(ServiceForm):
    lookup_key = forms.SlugField(max_length=100, help_text="A stable key for the API, e.g. api_calls.")

    class Meta:
        model = Meter
        fields = ["name", "lookup_key", "event_name", "aggregation_type", "property_name", "unit", "active"]

    service_aliases = {"meter_name": "event_name"}

    def check(self, data):
        if self.instance._state.adding:
            meter_services.meter_definition_check(
                aggregation_type=data["aggregation_type"], property_name=data.get("property_name") or ""
            )


@admin.register(Meter)
class MeterAdmin(HistoryAdmin, ServiceAdmin):
    form = MeterForm
    list_display = ["name", "lookup_key", "event_name", "aggregation_type", "property_name", "unit", "active", "created_at"]
    list_filter = ["aggregation_type", "active"]
    search_fields = ["name", "lookup_key", "event_name", "token"]
    readonly_fields = ["id", "token", "created_at", "updated_at"]
    # What a meter measures is fixed once created: its events and invoices were counted that way.
    frozen_fields = ("lookup_key", "event_name", "aggregation_type", "property_name")

    def create(self, request, form):
        return meter_services.meter_create(**form.cleaned_data)

    def update(self, request, obj, form):
        return meter_services.meter_update(meter=obj, **self.editable(form))

    def has_delete_permission(self, request, obj=None):
        # Meters are archived, never deleted: events and invoices refer to them.
        return False


@admin.register(UsageEvent)
class UsageEventAdmin(CheckedAdmin):
    list_display = ["id", "timestamp", "meter", "customer", "quantity_shown", "idempotency_key", "source", "created_at"]
    list_filter = ["meter", "source"]
    search_fields = ["idempotency_key", "customer__external_id"]
    list_select_related = ["meter", "customer"]
    date_hierarchy = "timestamp"
    raw_id_fields = ["customer"]
    show_full_result_count = False
    fields = ["meter", "customer", "quantity_shown", "timestamp", "idempotency_key", "properties_shown", "source", "created_at"]
    readonly_fields = ["quantity_shown", "properties_shown", "created_at"]

    @admin.display(description="Quantity", ordering="quantity")
    def quantity_shown(self, event):
        return quantity_cell(event.quantity)

    @admin.display(description="Properties")
    def properties_shown(self, event):
        return definition_table(event.properties)

    # Events arrive through the ingestion API and are append-only: corrections are new events.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
