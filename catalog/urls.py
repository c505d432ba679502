"""Dashboard pages: plans, their charges, and the price preview."""

from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("plans/", views.plan_list, name="plan-list"),
    path("plans/export.csv", views.plan_export, name="plan-export"),
    path("plans/new/", views.plan_create, name="plan-create"),
    path("plans/<uuid:pk>/", views.plan_detail, name="plan-detail"),
    path("plans/<uuid:pk>/edit/", views.plan_edit, name="plan-edit"),
    path("plans/search.json", views.plan_search, name="plan-search"),
    path("plans/<uuid:pk>/delete/", views.plan_delete, name="plan-delete"),
    path("plans/<uuid:pk>/charges/new/", views.charge_create, name="charge-create"),
    path("plans/<uuid:pk>/charges/preview/", views.charge_preview, name="charge-preview"),
    path("tax-rates/", views.tax_rate_list, name="tax-rate-list"),
    path("tax-rates/export.csv", views.tax_rate_export, name="tax-rate-export"),
    path("tax-rates/new/", views.tax_rate_create, name="tax-rate-create"),
    path("tax-rates/<uuid:pk>/edit/", views.tax_rate_edit, name="tax-rate-edit"),
]
