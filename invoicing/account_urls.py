"""Routes of invoicing/account_views.py. They are named in the `customers` namespace, where they were
before they moved here: fluxbill/urls.py mounts them together with customers/urls.py."""

from django.urls import path

from . import account_views

urlpatterns = [
    path("customers/<uuid:pk>/", account_views.customer_detail, name="customer-detail"),
    path("subscriptions/<uuid:pk>/", account_views.subscription_detail, name="subscription-detail"),
    path("subscriptions/<uuid:pk>/interim/", account_views.subscription_interim, name="subscription-interim"),
]
