from django.contrib import admin

from .models import Charge, Plan


class ChargeInline(admin.StackedInline):
    model = Charge
    extra = 0
    fields = ["type", "display_name", "amount", "meter", "pricing_model", "unit_price", "tiers", "package_size", "package_price", "free_units"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "lookup_id", "type", "billing_interval", "currency", "trial_days", "active", "created_at"]
    list_filter = ["type", "billing_interval", "currency", "active"]
    search_fields = ["name", "lookup_id"]
    inlines = [ChargeInline]


@admin.register(Charge)
class ChargeAdmin(admin.ModelAdmin):
    list_display = ["display_name", "plan", "type", "pricing_model", "meter", "amount", "unit_price", "free_units"]
    list_filter = ["type", "pricing_model", "plan__currency"]
    search_fields = ["display_name", "plan__name", "plan__lookup_id", "meter__name"]
    list_select_related = ["plan", "meter"]
