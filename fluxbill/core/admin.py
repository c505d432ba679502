"""What every Django admin page that writes shares: the services' rules, checked before anything is saved.

Admin is a second way in for finance staff, beside the dashboard and the API, so it must not be a way
around the rules. A `ServiceForm` runs its service's check in `clean()`, where a refusal can still be
shown beside the field it names; the `ModelAdmin` then writes through the service itself.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from fluxbill.core.errors import DomainError
from metering.forms import add_domain_error


class ServiceForm(forms.ModelForm):
    """A ModelForm whose `check(cleaned_data)` calls a service's check; a DomainError becomes a form error."""

    # The service's name for a field -> the form's (e.g. meter_id -> meter).
    service_aliases: dict[str, str] = {}

    def check(self, data: dict) -> None:
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                self.check(data)
            except DomainError as exc:
                add_domain_error(self, exc, self.service_aliases)
        return data


class ServiceAdmin(admin.ModelAdmin):
    """Adds and changes through `create(request, form)` and `update(request, obj, form)`, which call services."""

    # Fields fixed once the object exists: shown, not editable.
    frozen_fields: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += [name for name in self.frozen_fields if name not in fields]
        return fields

    def create(self, request, form):
        raise NotImplementedError

    def update(self, request, obj, form):
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        saved = self.update(request, obj, form) if change else self.create(request, form)
        # The admin goes on with `obj` (its log entry, the redirect): make it the saved row.
        obj.pk = saved.pk
        obj.refresh_from_db()

    def changed(self, form) -> dict:
        """The form's fields that changed, with their new values."""
        return {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}


class ReadOnlyInline(admin.TabularInline):
    """Related rows shown on their parent's page, changed only where their own rules are checked."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
