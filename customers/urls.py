"""Dashboard pages: customers and subscriptions (their detail pages are invoicing/account_urls.py's)."""

from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("customers/", views.customer_list, name="customer-list"),
    path("customers/export.csv", views.customer_export, name="customer-export"),
    path("customers/new/", views.customer_create, name="customer-create"),
    path("customers/<uuid:pk>/edit/", views.customer_edit, name="customer-edit"),
    path("customers/search.json", views.customer_search, name="customer-search"),
    path("settings/billing-entities/", views.billing_entity_list, name="billing-entity-list"),
    path("settings/billing-entities/export.csv", views.billing_entity_export, name="billing-entity-export"),
    path("settings/billing-entities/new/", views.billing_entity_create, name="billing-entity-create"),
    path("settings/billing-entities/<uuid:pk>/", views.billing_entity_edit, name="billing-entity-edit"),
    path("subscriptions/", views.subscription_list, name="subscription-list"),
    path("subscriptions/export.csv", views.subscription_export, name="subscription-export"),
    path("subscriptions/new/", views.subscription_create, name="subscription-create"),
    path("subscriptions/<uuid:pk>/cancel/", views.subscription_cancel, name="subscription-cancel"),
]
