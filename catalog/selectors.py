"""Reads of plans that pages and the API share."""

from django.db.models import Count, Prefetch, QuerySet

from .models import Charge, Plan


def plan_list_rows() -> QuerySet:
    """The dashboard list's rows: the number of charges to sort by, and the charges (with meters) to name."""
    charges = Prefetch("charges", queryset=Charge.objects.select_related("meter").order_by("created_at", "id"))
    return Plan.objects.annotate(charge_count=Count("charges")).prefetch_related(charges)
