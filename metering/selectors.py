"""Reads of meters that pages and the API share."""

from django.db.models import QuerySet

from .models import Meter


def meter_list() -> QuerySet:
    return Meter.objects.all()
