"""Dashboard pages (placeholder routes until the pages land)."""

from django.urls import path

from fluxbill.core.views import overview

app_name = "customers"

urlpatterns = [
    path("customers/", overview, name="customer-list"),
    path("subscriptions/", overview, name="subscription-list"),
]
