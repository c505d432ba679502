from django.contrib import admin, messages
from django.utils import timezone

from fluxbill.core.errors import DomainError

from .models import Customer, Subscription


class SubscriptionInline(admin.TabularInline):
    model = Subscription
    extra = 0
    fields = ["plan", "status", "current_period_start", "current_period_end", "cancel_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "email", "created_at"]
    search_fields = ["name", "external_id", "email"]
    inlines = [SubscriptionInline]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "plan", "status", "billing_interval", "current_period_start", "current_period_end", "cancel_at"]
    list_filter = ["status", "billing_interval", "plan"]
    search_fields = ["customer__name", "customer__external_id", "plan__name", "plan__lookup_id"]
    list_select_related = ["customer", "plan"]
    raw_id_fields = ["customer"]
    date_hierarchy = "current_period_end"
    actions = ["generate_interim_invoice"]

    @admin.action(description="Generate an interim invoice now")
    def generate_interim_invoice(self, request, queryset):
        from invoicing.services import Actor, subscription_generate_interim

        actor = Actor(label=f"user:{request.user.get_username()}", user=request.user)
        for subscription in queryset:
            try:
                invoice = subscription_generate_interim(subscription=subscription, now=timezone.now(), actor=actor)
                self.message_user(request, f"{subscription}: interim draft {invoice.pk} created.")
            except DomainError as exc:
                self.message_user(request, f"{subscription}: {exc.message}", level=messages.ERROR)
