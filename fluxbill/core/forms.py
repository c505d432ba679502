"""What dashboard and admin forms share."""

from __future__ import annotations

from django import forms


def add_domain_error(form: forms.Form, exc, aliases: dict[str, str] | None = None) -> None:
    """Show a service's error (a DomainError or EventRejected: `message`, `field`) beside the field it
    names, through `aliases` for API names, else on top of the form."""
    name = (aliases or {}).get(exc.field, exc.field)
    if name and name not in form.fields:
        # "properties.value" or "events[0]" → the form field holding it.
        name = name.split(".")[0].split("[")[0]
    form.add_error(name if name in form.fields else None, exc.message)
