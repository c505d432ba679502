"""What every Django admin page that writes shares: the services' rules, checked before anything is saved.

Admin is a second way in for finance staff, beside the dashboard and the API, so it must not be a way
around the rules. A `ServiceForm` runs its service's check in `clean()`, where a refusal can still be
shown beside the field it names; the `ModelAdmin` then writes through the service itself.

`HistoryAdmin` gives every tracked model's "History" page the trigger-written history (fluxbill/core/history.py):
Django's own log only knows what was changed in this admin, not the API's, a task's, a shell's or raw SQL's.

Finance reads admin pages, so what they show is written for people: amounts in their currency (`money_cell`,
`price_cell`), JSON shown as tables (`rows_table`, `definition_table`), and an index grouped by what finance
does (`FluxbillAdminSite`), not by the Python package a model lives in.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.http import HttpResponseRedirect
from django.utils.html import format_html, format_html_join

from fluxbill.core.errors import DomainError
from fluxbill.core.fields import decimal_to_string
from fluxbill.core.forms import add_domain_error
from fluxbill.core.history import ADMIN_HISTORY_ROWS, history_entries
from fluxbill.core.money import format_money, is_representable
from fluxbill.core.permissions import may

EMPTY = "—"


def money_cell(amount, currency: str) -> str:
    """An amount as the invoice shows it: '$1,234.50' (format_money: rounded to the currency's minor unit)."""
    if amount is None or amount == "":
        return EMPTY
    return format_money(Decimal(amount), currency)


def price_cell(price, currency: str) -> str:
    """A unit price or an unrounded tier amount: '$0.01', and '$0.0035' in full where cents would hide it.

    Prices carry up to 12 decimals and are never rounded (only a line's amount is), so a price the
    currency cannot hold is shown digit for digit, with its symbol, instead of as a rounded '$0.00'.
    """
    if price is None or price == "":
        return EMPTY
    price = Decimal(price)
    if is_representable(price, currency):
        return format_money(price, currency)
    return format_currency(price.normalize(), currency, locale="en_US", decimal_quantization=False)


def quantity_cell(value) -> str:
    """A count of units: '1000', '0.5' (no exponent, no trailing zeros); '∞' for an open upper bound."""
    if value is None or value == "":
        return "∞"
    try:
        return decimal_to_string(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


def rows_table(rows, columns) -> str:
    """JSON rows (a line's breakdown, a charge's tiers) as an HTML table; `columns` is (key, heading, format)."""
    if not rows:
        return EMPTY
    head = format_html_join("", "<th>{}</th>", ((heading,) for _, heading, _ in columns))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (format_html_join("", "<td>{}</td>", ((shown(row.get(key)) if isinstance(row, dict) else EMPTY,) for key, _, shown in columns)),)
            for row in rows
        ),
    )
    return format_html('<table class="fluxbill-rows"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def definition_table(mapping) -> str:
    """A JSON object (a customer snapshot, an event's properties) as a two-column table, key then value."""
    if not mapping:
        return EMPTY
    if not isinstance(mapping, dict):
        return str(mapping)
    rows = format_html_join(
        "", "<tr><th scope=\"row\">{}</th><td>{}</td></tr>", ((key, _plain(value)) for key, value in mapping.items())
    )
    return format_html('<table class="fluxbill-definitions"><tbody>{}</tbody></table>', rows)


def _plain(value) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class FluxbillAdminSite(admin.AdminSite):
    """The admin site (installed by fluxbill.core.apps.FluxbillAdminConfig), its index grouped by what finance
    does rather than by app: meters sit with plans, usage events with invoices. Only the index and the sidebar
    change; every URL stays /admin/<app>/<model>/, and an app's own page (/admin/catalog/) lists its models."""

    site_header = "Fluxbill administration"
    site_title = "Fluxbill"

    # (heading, slug, "app_label.ModelName" in the order shown); a model not registered, or not visible to
    # the user, is left out, and a section left empty is not shown.
    sections = (
        ("Catalog", "catalog", ("metering.Meter", "catalog.Plan", "catalog.Charge", "catalog.TaxRate")),
        ("Customers", "customers", ("customers.Customer", "customers.Subscription", "customers.BillingEntity")),
        ("Billing", "billing", ("invoicing.Invoice", "invoicing.InvoiceLine", "invoicing.CreditNote", "invoicing.Payment",
                                "invoicing.CreditEntry",
                                "metering.UsageEvent", "metering.RejectedEvent")),
        ("Keys and webhooks", "keys", ("apikeys.ApiKey", "webhooks.WebhookEndpoint", "webhooks.WebhookDelivery")),
        ("Users and groups", "users", ("auth.User", "auth.Group")),
    )

    def get_app_list(self, request, app_label=None):
        if app_label is not None:
            return super().get_app_list(request, app_label)
        apps = self._build_app_dict(request)
        models = {f"{app['app_label']}.{model['object_name']}": model for app in apps.values() for model in app["models"]}
        placed = {label for _, _, labels in self.sections for label in labels}
        grouped = []
        for name, slug, labels in self.sections:
            shown = [models[label] for label in labels if label in models]
            if shown:
                grouped.append({
                    "name": name, "app_label": slug, "app_url": shown[0]["admin_url"] or "#", "has_module_perms": True,
                    "models": shown,
                })
        # Anything else (periodic tasks, login attempts …) keeps its app's box, after finance's.
        for app in sorted(apps.values(), key=lambda app: app["name"].lower()):
            rest = [model for model in app["models"] if f"{app['app_label']}.{model['object_name']}" not in placed]
            if rest:
                grouped.append({**app, "models": sorted(rest, key=lambda model: model["name"])})
        return grouped


class CheckedAdmin(admin.ModelAdmin):
    """Admin pages asking `may`, the dashboard's and the API's check, for every model permission.

    Subclasses that narrow a permission (a delete allowed only while nothing refers to the row) call
    super() first; an action declares `permissions=[name]` and the class a `has_<name>_permission`.
    """

    def _may(self, request, verb: str) -> bool:
        return may(request.user, f"{self.opts.app_label}.{get_permission_codename(verb, self.opts)}")

    def has_view_permission(self, request, obj=None):
        return self._may(request, "view") or self._may(request, "change")

    def has_add_permission(self, request):
        return self._may(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._may(request, "delete")


class HistoryAdmin(admin.ModelAdmin):
    """For a tracked model: its "History" page lists the pghistory rows (who, when, field from → to, reason)
    above Django's LogEntry rows. Put it first among the bases: `class PlanAdmin(HistoryAdmin, ServiceAdmin)`.

    Who may see it is Django's rule for that page, asked through `has_view_or_change_permission`, i.e.
    `may` for a `CheckedAdmin`: the model's view permission (Support and Finance), nobody else.
    """

    object_history_template = "admin/fluxbill/object_history.html"
    # Related names whose rows' changes are shown with the object's, as on its dashboard page.
    history_children: tuple[str, ...] = ()

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        # Read only for someone allowed to see it; Django's view then refuses (403) or redirects the rest.
        if obj is not None and self.has_view_or_change_permission(request, obj):
            entries = history_entries(obj, children=self.history_children, limit=ADMIN_HISTORY_ROWS)
            extra_context = {**(extra_context or {}), "history_entries": entries, "history_limit": ADMIN_HISTORY_ROWS}
        return super().history_view(request, object_id, extra_context)


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


class ServiceAdmin(CheckedAdmin):
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
        obj._state.adding = False

    def _refused(self, request, exc: DomainError):
        # A rule that passed the form's check but not the service's, a moment later (a race): the
        # view's transaction has rolled back; say why and show the page again.
        self.message_user(request, exc.message, level=messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            return self._refused(request, exc)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            return self._refused(request, exc)

    def get_actions(self, request):
        # Deleting goes one object at a time, through delete_model (and its service) where there is one.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def editable(self, form) -> dict:
        """The form's editable fields with their cleaned values; services compare them with the stored row."""
        return {name: value for name, value in form.cleaned_data.items() if name in form.fields}


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
