"""Dashboard pages (placeholder routes until the pages land)."""

from django.urls import path

from fluxbill.core.views import overview

app_name = "invoicing"

urlpatterns = [
    path("invoices/", overview, name="invoice-list"),
    path("invoices/<uuid:pk>/", overview, name="invoice-detail"),
]
