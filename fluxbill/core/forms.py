"""What dashboard and admin forms share."""

from __future__ import annotations

import datetime as dt

from django import forms

# Pages add a day to the dates they are given (a period ends at the midnight after its last day) and
# turn them into aware datetimes; outside these bounds that arithmetic overflows.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(9998, 12, 31)


class DayField(forms.DateField):
    """A calendar day within [FIRST_DAY, LAST_DAY]; anything else is a form error, never a 500."""

    def validate(self, value):
        super().validate(value)
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            raise forms.ValidationError(
                f"Enter a date between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.", code="out_of_range"
            )


class MomentField(forms.DateTimeField):
    """An ISO 8601 instant (aware; naive means UTC) within the DayField bounds; anything else is a form error."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment

    def validate(self, value):
        super().validate(value)
        if value is not None and not FIRST_DAY <= value.astimezone(dt.timezone.utc).date() <= LAST_DAY:
            raise forms.ValidationError(
                f"Enter a time between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.", code="out_of_range"
            )


def add_domain_error(form: forms.Form, exc, aliases: dict[str, str] | None = None) -> None:
    """Show a service's error (a DomainError or EventRejected: `message`, `field`) beside the field it
    names, through `aliases` for API names, else on top of the form."""
    name = (aliases or {}).get(exc.field, exc.field)
    if name and name not in form.fields:
        # "properties.value" or "events[0]" → the form field holding it.
        name = name.split(".")[0].split("[")[0]
    form.add_error(name if name in form.fields else None, exc.message)
