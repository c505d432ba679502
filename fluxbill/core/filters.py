"""Filters the lists share: the dashboard lists, their CSV exports and the API list endpoints."""

import datetime as dt
from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from .forms import DayField


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, turned into UTC before it reaches a query.

    Python accepts offsets up to ±23:59 but PostgreSQL refuses anything past ±15:59, and an offset
    can push year 1 or 9999 out of range: both must be a 400, not a database error."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Date and time is out of range once converted to UTC.", code="invalid") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class DayOrInstantField(forms.Field):
    """A calendar day (2026-02-01, what the dashboard's date inputs send) or an ISO 8601 instant
    (what API clients send), as an aware UTC datetime.

    A day means its first moment, or with `end_of_day` the midnight after it, so "to 2026-01-31"
    takes in everything on the 31st. Days are bounded like DayField's, so that midnight never overflows.
    """

    widget = forms.DateInput(attrs={"type": "date"})
    default_error_messages = {"invalid": "Enter a valid date."}

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return UTCDateTimeField().to_python(value)
        day_field = DayField(required=False)
        try:
            day = day_field.to_python(value)
        except ValidationError:
            day = None
        if day is not None:
            day_field.validate(day)  # out of range: its own message
            midnight = dt.datetime.combine(day, dt.time.min, tzinfo=UTC)
            return midnight + dt.timedelta(days=1) if self.end_of_day else midnight
        try:
            return UTCDateTimeField().to_python(value)
        except ValidationError as exc:
            if exc.code == "invalid" and "out of range" not in " ".join(exc.messages):
                raise ValidationError(self.error_messages["invalid"], code="invalid") from None
            raise


class DayOrInstantFilter(django_filters.Filter):
    field_class = DayOrInstantField


class DayFilter(django_filters.DateFilter):
    """A calendar day within DayField's bounds (for date columns such as a due date)."""

    field_class = DayField


class SearchFilter(django_filters.CharFilter):
    """Rows where any of `fields` contains the text, ignoring case (the lists' search box)."""

    def __init__(self, *, fields: tuple[str, ...], **kwargs):
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("label", "Search")
        super().__init__(**kwargs)
        self.search_fields = fields

    def filter(self, qs, value):
        text = (value or "").strip()
        if not text:
            return qs
        condition = self.exact_condition(text)
        for name in self.search_fields:
            condition |= Q(**{f"{name}__icontains": text})
        return qs.filter(condition)

    def exact_condition(self, text: str) -> Q:
        """What else the text may match exactly (an id); nothing by default."""
        return Q()


class FilterSet(django_filters.FilterSet):
    """A resource's filters, read by its dashboard list, that list's CSV export and its API list."""

    @property
    def active(self) -> bool:
        """Whether any filter was given (the list then says "nothing matches" rather than "nothing yet")."""
        return self.is_bound and any(self.data.get(name) not in (None, "") for name in self.filters)


class ActiveFilter(django_filters.ChoiceFilter):
    """?status=active|archived on a resource with an `active` flag (meters, plans)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", (("active", "Active"), ("archived", "Archived")))
        kwargs.setdefault("empty_label", "All")
        kwargs.setdefault("label", "Status")
        super().__init__(**kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{self.field_name or "active": value == "active"})


class BillingFailedFilter(django_filters.ChoiceFilter):
    """?billing_failed=true|false on a model with `billing_error` (subscriptions, invoices): the rows whose
    billing failed and wait for a retry, the overview's "needs attention"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", (("true", "Yes"), ("false", "No")))
        kwargs.setdefault("empty_label", "Any")
        kwargs.setdefault("label", "Billing failed")
        super().__init__(**kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        failed = ~Q(billing_error="")
        return qs.filter(failed) if value == "true" else qs.exclude(failed)
