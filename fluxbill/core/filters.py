"""Filter fields the API's list endpoints share."""

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField


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
