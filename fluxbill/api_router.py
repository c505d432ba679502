"""Every API route under /api/v1/."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from apikeys.api.views import ApiKeyViewSet, LoginView, RefreshView
from catalog.api.views import PlanViewSet, TaxRateViewSet
from customers.api.views import BillingEntityViewSet, CustomerViewSet, SubscriptionViewSet
from invoicing.api.views import (
    CreditNoteViewSet,
    CustomerCreditViewSet,
    InvoiceCreditNoteViewSet,
    InvoicePaymentViewSet,
    InvoiceViewSet,
    PaymentViewSet,
    SubscriptionInvoiceViewSet,
)
from metering.api.ingest import (
    BulkEventIngestView,
    EventDetailView,
    EventsView,
    MeterUsageView,
    TrackView,
    UsageView,
)
from metering.api.views import FeatureViewSet
from webhooks.api.views import WebhookDeliveryViewSet, WebhookEndpointViewSet


class Router(SimpleRouter):
    """Routes without trailing slashes, as the Fluxrate and Flexprice docs write them."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = Router()
router.register("features", FeatureViewSet, basename="feature")
router.register("plans", PlanViewSet, basename="plan")
router.register("tax-rates", TaxRateViewSet, basename="tax-rate")
router.register("customers", CustomerViewSet, basename="customer")
router.register("billing-entities", BillingEntityViewSet, basename="billing-entity")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register("credit-notes", CreditNoteViewSet, basename="credit-note")
router.register("payments", PaymentViewSet, basename="payment")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")

# A subscription's invoice endpoints are invoicing's, under the subscription's path and route names;
# a router of their own, as one router takes a basename once.
subscription_invoices = Router()
subscription_invoices.register("subscriptions", SubscriptionInvoiceViewSet, basename="subscription")
customer_credit = Router()
customer_credit.register("customers", CustomerCreditViewSet, basename="customer")
invoice_credit_notes = Router()
invoice_credit_notes.register("invoices", InvoiceCreditNoteViewSet, basename="invoice")
invoice_payments = Router()
invoice_payments.register("invoices", InvoicePaymentViewSet, basename="invoice")

urlpatterns = [
    path("auth/login", LoginView.as_view(), name="auth-login"),
    path("auth/refresh", RefreshView.as_view(), name="auth-refresh"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny], authentication_classes=[]),
        name="docs",
    ),
    path("sdk/track", TrackView.as_view(), name="sdk-track"),
    path("usage", UsageView.as_view(), name="usage"),
    path("events", EventsView.as_view(), name="events"),
    path("events/bulk", BulkEventIngestView.as_view(), name="events-bulk"),
    path("events/<int:pk>", EventDetailView.as_view(), name="event-detail"),
    path("meters/<str:pk>/usage", MeterUsageView.as_view(), name="meter-usage"),
    path("", include(router.urls)),
    path("", include(subscription_invoices.urls)),
    path("", include(customer_credit.urls)),
    path("", include(invoice_credit_notes.urls)),
    path("", include(invoice_payments.urls)),
]
