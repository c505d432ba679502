"""Reads of customers and subscriptions that pages, API and exports share."""

from django.db.models import QuerySet

from .models import Customer, Subscription


def customer_list() -> QuerySet:
    return Customer.objects.all()


def subscription_list() -> QuerySet:
    """Each row names its customer and plan: both joined, so a page or an export is one query."""
    return Subscription.objects.select_related("customer", "plan")
