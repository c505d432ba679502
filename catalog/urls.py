"""Dashboard pages (placeholder routes until the pages land)."""

from django.urls import path

from fluxbill.core.views import overview

app_name = "catalog"

urlpatterns = [
    path("plans/", overview, name="plan-list"),
]
