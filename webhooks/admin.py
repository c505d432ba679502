"""Webhooks in admin: endpoints, deliveries and their attempts to read; enable, disable, test and resend run the
webhooks services. Endpoints are added in the dashboard or the API, where their secret is shown once."""

from django.contrib import admin, messages
from django.utils import timezone

from fluxbill.core import permissions as perms
from fluxbill.core.admin import CheckedAdmin, ReadOnlyInline
from fluxbill.core.errors import DomainError
from fluxbill.core.permissions import may

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .services import delivery_resend, endpoint_test, endpoint_update


class _ReadOnly(CheckedAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    list_display = ["url", "description", "enabled", "failing_since", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "description"]
    fields = readonly_fields = ["url", "description", "event_types", "enabled", "disabled_reason", "failing_since",
                                "previous_secret_until", "created_by", "created_at", "updated_at"]
    actions = ["enable", "disable", "send_test"]

    def has_change_endpoint_permission(self, request):
        return may(request.user, perms.CHANGE_WEBHOOK_ENDPOINT)

    def has_manage_permission(self, request):
        return may(request.user, perms.MANAGE_WEBHOOKS)

    def _update(self, request, queryset, enabled: bool):
        for endpoint in queryset:
            endpoint_update(endpoint=endpoint, data={"enabled": enabled})
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'}: {queryset.count()} endpoint(s).")

    @admin.action(description="Enable selected endpoints", permissions=["change_endpoint"])
    def enable(self, request, queryset):
        self._update(request, queryset, True)

    @admin.action(description="Disable selected endpoints", permissions=["change_endpoint"])
    def disable(self, request, queryset):
        self._update(request, queryset, False)

    @admin.action(description="Send a test event", permissions=["manage"])
    def send_test(self, request, queryset):
        for endpoint in queryset:
            try:
                endpoint_test(endpoint=endpoint, now=timezone.now())
            except DomainError as exc:
                self.message_user(request, f"{endpoint.url}: {exc.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"{endpoint.url}: test event queued.")


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["attempted_at", "duration_ms", "status_code", "error", "response_body"]
    show_change_link = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    list_display = ["event", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at", "delivered_at"]
    list_filter = ["status"]
    list_select_related = ["event", "endpoint"]
    search_fields = ["event__uid", "event__type", "endpoint__url"]
    fields = readonly_fields = ["event", "endpoint", "status", "attempts", "next_attempt_at", "last_status_code",
                                "last_error", "delivered_at", "created_at"]
    inlines = [WebhookAttemptInline]
    actions = ["resend"]

    def has_view_permission(self, request, obj=None):
        return may(request.user, perms.VIEW_WEBHOOK_ENDPOINT)

    def has_manage_permission(self, request):
        return may(request.user, perms.MANAGE_WEBHOOKS)

    @admin.action(description="Resend selected deliveries", permissions=["manage"])
    def resend(self, request, queryset):
        for delivery in queryset:
            delivery_resend(delivery=delivery, now=timezone.now())
        self.message_user(request, f"Queued again: {queryset.count()} deliveries.")
