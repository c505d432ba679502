from django import forms
from django.contrib import admin

from fluxbill.core.admin import HistoryAdmin, ReadOnlyInline, ServiceAdmin, ServiceForm

from . import services
from .models import Charge, Plan


class ChargeInline(ReadOnlyInline):
    """A plan's charges; they are added (and checked by the service) on the charge page."""

    model = Charge
    fields = ["display_name", "type", "pricing_model", "meter", "amount", "unit_price", "free_units"]


class PlanForm(ServiceForm):
    lookup_id = forms.SlugField(max_length=100, help_text="A stable key for the API, e.g. pro_monthly.")

    class Meta:
        model = Plan
        fields = ["name", "lookup_id", "description", "type", "billing_interval", "currency", "trial_days", "active"]

    def check(self, data):
        # The services' normalized currency ("usd" → "USD") goes on to the save.
        if self.instance._state.adding:
            data["currency"] = services.plan_create_check(currency=data["currency"], trial_days=data["trial_days"])
        else:
            stored = Plan.objects.get(pk=self.instance.pk)
            data.update(services.plan_changes_check(plan=stored, changes={name: data[name] for name in self.fields if name in data}))


@admin.register(Plan)
class PlanAdmin(HistoryAdmin, ServiceAdmin):
    form = PlanForm
    list_display = ["name", "lookup_id", "type", "billing_interval", "currency", "trial_days", "active", "created_at"]
    list_filter = ["type", "billing_interval", "currency", "active"]
    search_fields = ["name", "lookup_id"]
    inlines = [ChargeInline]
    history_children = ("charges",)

    def create(self, request, form):
        return services.plan_create(**form.cleaned_data)

    def update(self, request, obj, form):
        return services.plan_update(plan=obj, **self.editable(form))

    def has_delete_permission(self, request, obj=None):
        # A plan anyone ever subscribed to stays (its periods and invoices refer to it): archive it instead.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.subscriptions.exists())

    def delete_model(self, request, obj):
        services.plan_delete(plan=obj)


class ChargeForm(ServiceForm):
    class Meta:
        model = Charge
        fields = ["plan", "type", "display_name", "amount", "meter", "pricing_model", "unit_price", "tiers", "package_size", "package_price", "free_units"]
        help_texts = {
            "tiers": 'Graduated and volume pricing: a JSON list such as [{"up_to": "1000", "unit_price": "0.01"}, '
            '{"up_to": null, "unit_price": "0.008", "flat_amount": "5"}].',
        }

    service_aliases = {"meter_id": "meter"}

    def check(self, data):
        services.charge_build(**self.service_fields(data))

    @staticmethod
    def service_fields(data) -> dict:
        fields = {name: data.get(name) for name in ChargeForm.Meta.fields}
        fields["tiers"] = fields["tiers"] or None
        return fields


@admin.register(Charge)
class ChargeAdmin(HistoryAdmin, ServiceAdmin):
    """Charges are added here and then fixed, as through the API and the dashboard: to reprice, add a new one."""

    form = ChargeForm
    list_display = ["display_name", "plan", "type", "pricing_model", "meter", "amount", "unit_price", "free_units"]
    list_filter = ["type", "pricing_model", "plan__currency"]
    search_fields = ["display_name", "plan__name", "plan__lookup_id", "meter__name"]
    list_select_related = ["plan", "meter"]

    def create(self, request, form):
        return services.charge_create(**ChargeForm.service_fields(form.cleaned_data))

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Taking a charge off a plan someone subscribed to would change what their periods cost.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.plan.subscriptions.exists())

    def delete_model(self, request, obj):
        services.charge_delete(charge=obj)
