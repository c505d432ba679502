from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from fluxbill.core import permissions as perms
from fluxbill.core.admin import HistoryAdmin, ReadOnlyInline, ServiceAdmin, ServiceForm
from fluxbill.core.errors import DomainError
from fluxbill.core.permissions import may

from catalog.taxes import tax_rate_codes_check

from . import details, services
from .models import BillingEntity, Customer, Subscription


class SubscriptionInline(ReadOnlyInline):
    model = Subscription
    fields = ["plan", "status", "current_period_start", "current_period_end", "cancel_at"]


class CustomerForm(ServiceForm):
    class Meta:
        model = Customer
        fields = [
            "name", "external_id", "email", "billing_entity", "legal_name", "invoice_email", "cc_emails",
            "address_line1", "address_line2", "city", "state", "postal_code", "country", "tax_id", "net_days", "metadata",
            "tax_rates", "tax_exempt", "reverse_charge",
        ]
        help_texts = {"tax_rates": "Tax rate codes, comma-separated, for charges and plans that name none."}

    service_aliases = {"billing_entity_id": "billing_entity"}

    def check(self, data):
        data["metadata"] = services.metadata_check(data.get("metadata"))
        data.update(services.billing_details_clean(data))
        data["tax_rates"] = tax_rate_codes_check(data.get("tax_rates"))
        services.customer_tax_check(tax_exempt=data.get("tax_exempt"), reverse_charge=data.get("reverse_charge"))


@admin.register(Customer)
class CustomerAdmin(HistoryAdmin, ServiceAdmin):
    form = CustomerForm
    list_display = ["name", "external_id", "email", "billing_entity", "country", "created_at"]
    list_filter = ["billing_entity"]
    list_select_related = ["billing_entity"]
    search_fields = ["name", "external_id", "email", "legal_name", "tax_id"]
    inlines = [SubscriptionInline]
    frozen_fields = ("external_id",)  # usage events name the customer by it

    def create(self, request, form):
        return services.customer_create(**form.cleaned_data)

    def update(self, request, obj, form):
        return services.customer_update(customer=obj, **self.editable(form))


class BillingEntityForm(ServiceForm):
    logo_file = forms.FileField(label="Logo", required=False, help_text="PNG, JPEG or SVG, at most 256 KiB.")
    logo_remove = forms.BooleanField(label="Remove the logo", required=False)

    class Meta:
        model = BillingEntity
        fields = [
            "name", "legal_name", "address_line1", "address_line2", "city", "state", "postal_code", "country",
            "tax_id", "email", "phone", "payment_instructions", "invoice_footer", "invoice_prefix", "net_days",
            "is_default", "tax_rates",
        ]
        help_texts = {"tax_rates": "Default tax rate codes, comma-separated, for customers, plans and charges that name none."}

    def service_data(self) -> dict:
        """The service's data: the model fields, and the uploaded logo as its data URI (or "" to remove it)."""
        data = {name: value for name, value in self.cleaned_data.items() if name in services.BILLING_ENTITY_FIELDS}
        if self.cleaned_data.get("logo_file"):
            self.cleaned_data["logo_file"].seek(0)
            data["logo"] = details.logo_data_uri(self.cleaned_data["logo_file"].read())
        elif self.cleaned_data.get("logo_remove"):
            data["logo"] = ""
        return data

    def _get_validation_exclusions(self):
        # Not is_default's one-default constraint: the service moves the default, unsetting the other in the same
        # transaction, which a check of this row alone would refuse.
        return super()._get_validation_exclusions() | {"is_default"}

    def check(self, data):
        current = None if self.instance._state.adding else self.instance
        cleaned = services.billing_entity_clean(self.service_data(), current=current)
        data.update({name: value for name, value in cleaned.items() if name != "logo"})


@admin.register(BillingEntity)
class BillingEntityAdmin(HistoryAdmin, ServiceAdmin):
    """Who bills. Saved through billing_entity_create / billing_entity_update (one default, a fixed prefix once used)."""

    form = BillingEntityForm
    list_display = ["name", "legal_name", "invoice_prefix", "country", "net_days", "is_default"]
    search_fields = ["name", "legal_name"]

    def create(self, request, form):
        return services.billing_entity_create(data=form.service_data())

    def update(self, request, obj, form):
        return services.billing_entity_update(entity=obj, data=form.service_data())

    def has_delete_permission(self, request, obj=None):
        return False  # customers and invoices point at it


class SubscriptionForm(ServiceForm):
    class Meta:
        model = Subscription
        fields = ["customer", "plan", "start_date"]
        help_texts = {"start_date": "The first period starts here; a past date backdates it (each period since is billed)."}

    service_aliases = {"plan_id": "plan", "customer_id": "customer"}

    def check(self, data):
        if not self.instance._state.adding:
            return  # nothing is editable once it exists
        services.subscription_start_check(plan=data["plan"], now=timezone.now(), start_date=data.get("start_date"))


@admin.register(Subscription)
class SubscriptionAdmin(HistoryAdmin, ServiceAdmin):
    """Subscriptions start here through the same service as the API; after that, they change only by their
    actions (cancel here; the interim invoice is invoicing's, added in invoicing/admin.py) and by the billing cycle."""

    form = SubscriptionForm
    list_display = ["id", "customer", "plan", "status", "billing_interval", "current_period_start", "current_period_end", "cancel_at"]
    list_filter = ["status", "billing_interval", "plan"]
    search_fields = ["customer__name", "customer__external_id", "plan__name", "plan__lookup_id"]
    list_select_related = ["customer", "plan"]
    raw_id_fields = ["customer"]
    date_hierarchy = "current_period_end"
    readonly_fields = [
        "status", "billing_interval", "current_period_start", "current_period_end", "trial_end", "cancel_at",
        "canceled_at", "ended_at", "created_at", "updated_at",
    ]
    frozen_fields = ("customer", "plan", "start_date")
    actions = ["cancel_at_period_end", "cancel_now"]  # invoicing/admin.py adds "generate an interim invoice"

    def get_fields(self, request, obj=None):
        return ["customer", "plan", "start_date"] if obj is None else ["customer", "plan", "start_date", *self.readonly_fields]

    def create(self, request, form):
        data = form.cleaned_data
        return services.subscription_create(
            customer=data["customer"], plan=data["plan"], now=timezone.now(), start_date=data.get("start_date")
        )

    def update(self, request, obj, form):
        return obj  # every field is read-only once it exists (frozen_fields, readonly_fields)

    def has_delete_permission(self, request, obj=None):
        return False  # cancel instead: periods and invoices refer to the subscription

    def has_cancel_permission(self, request):
        return may(request.user, perms.CANCEL_SUBSCRIPTION)

    def _cancel(self, request, queryset, *, at_period_end: bool):
        for subscription in queryset:
            try:
                services.subscription_cancel(subscription=subscription, now=timezone.now(), at_period_end=at_period_end)
                self.message_user(request, f"{subscription}: canceled" + (" at period end." if at_period_end else " now."))
            except DomainError as exc:
                self.message_user(request, f"{subscription}: {exc.message}", level=messages.ERROR)

    @admin.action(description="Cancel at the end of the current period", permissions=["cancel"])
    def cancel_at_period_end(self, request, queryset):
        self._cancel(request, queryset, at_period_end=True)

    @admin.action(description="Cancel now (the current period is billed up to now)", permissions=["cancel"])
    def cancel_now(self, request, queryset):
        self._cancel(request, queryset, at_period_end=False)
