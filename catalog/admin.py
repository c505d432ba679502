"""Plans and charges in admin, added and changed through the catalog services.

A charge's tiers are edited as rows (up to, unit price, flat amount), not as JSON: `TierRowsField` turns the rows
into the tiers list the API takes, and the service checks it (catalog.pricing.parse_tiers) and names the row.
"""

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from fluxbill.core.admin import (
    HistoryAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    ServiceForm,
    money_cell,
    price_cell,
    quantity_cell,
    rows_table,
)

from . import services, taxes
from .models import Charge, Plan, TaxRate

TIER_COLUMNS = (("up_to", "Up to"), ("unit_price", "Unit price"), ("flat_amount", "Flat amount"))


class ChargeMoney:
    """A charge's amounts in its plan's currency (the queryset selects the plan with it)."""

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, charge):
        return money_cell(charge.amount, charge.plan.currency)

    @admin.display(description="Unit price", ordering="unit_price")
    def unit_price_shown(self, charge):
        return price_cell(charge.unit_price, charge.plan.currency)

    @admin.display(description="Package price", ordering="package_price")
    def package_price_shown(self, charge):
        return price_cell(charge.package_price, charge.plan.currency)

    @admin.display(description="Package size", ordering="package_size")
    def package_size_shown(self, charge):
        return quantity_cell(charge.package_size) if charge.package_size is not None else "—"

    @admin.display(description="Free units", ordering="free_units")
    def free_units_shown(self, charge):
        return quantity_cell(charge.free_units)

    @admin.display(description="Tiers")
    def tiers_shown(self, charge):
        currency = charge.plan.currency
        return rows_table(charge.tiers, [
            ("up_to", "Up to", quantity_cell),
            ("unit_price", "Unit price", lambda v: price_cell(v, currency)),
            ("flat_amount", "Flat amount", lambda v: price_cell(v or 0, currency)),
        ])


class ChargeInline(ChargeMoney, ReadOnlyInline):
    """A plan's charges; they are added (and checked by the service) on the charge page."""

    model = Charge
    fields = ["display_name", "type", "pricing_model", "meter", "amount_shown", "unit_price_shown", "free_units_shown"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("plan", "meter")


class PlanForm(ServiceForm):
    lookup_id = forms.SlugField(max_length=100, help_text="A stable key for the API, e.g. pro_monthly.")

    class Meta:
        model = Plan
        fields = ["name", "lookup_id", "description", "type", "billing_interval", "currency", "trial_days", "active",
                  "tax_rates", "tax_inclusive"]
        help_texts = {"tax_rates": "Tax rate codes, comma-separated, for charges that name none (empty: the customer's)."}

    def check(self, data):
        # The services' normalized currency ("usd" → "USD") goes on to the save.
        if "tax_rates" in data:
            data["tax_rates"] = taxes.tax_rate_codes_check(data["tax_rates"])
        if self.instance._state.adding:
            data["currency"] = services.plan_create_check(currency=data["currency"], trial_days=data["trial_days"])
        else:
            stored = Plan.objects.get(pk=self.instance.pk)
            data.update(services.plan_changes_check(plan=stored, changes={name: data[name] for name in self.fields if name in data}))


@admin.register(Plan)
class PlanAdmin(HistoryAdmin, ServiceAdmin):
    form = PlanForm
    list_display = ["name", "lookup_id", "type", "billing_interval", "currency", "trial_days", "active", "created_at"]
    list_filter = ["type", "billing_interval", "currency", "active"]
    search_fields = ["name", "lookup_id"]
    inlines = [ChargeInline]
    history_children = ("charges",)

    def create(self, request, form):
        return services.plan_create(**form.cleaned_data)

    def update(self, request, obj, form):
        return services.plan_update(plan=obj, **self.editable(form))

    def has_delete_permission(self, request, obj=None):
        # A plan anyone ever subscribed to stays (its periods and invoices refer to it): archive it instead.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.subscriptions.exists())

    def delete_model(self, request, obj):
        services.plan_delete(plan=obj)


class TierRowsWidget(forms.Widget):
    """Tiers as a table of text inputs, `tiers-<i>-<column>`, with a few blank rows to fill (no JavaScript:
    the admin's CSP allows none inline). Blank rows are dropped, so row i of a page shown again is tiers[i]."""

    min_rows = 8
    blank_rows = 3

    def value_from_datadict(self, data, files, name):
        rows, index = [], 0
        while any(f"{name}-{index}-{column}" in data for column, _ in TIER_COLUMNS):
            row = {column: (data.get(f"{name}-{index}-{column}") or "").strip() for column, _ in TIER_COLUMNS}
            if any(row.values()):
                rows.append(row)
            index += 1
        return rows

    def value_omitted_from_data(self, data, files, name):
        return False  # no rows posted means no tiers

    def render(self, name, value, attrs=None, renderer=None):
        rows = [
            {column: "" if row.get(column) is None else str(row.get(column)) for column, _ in TIER_COLUMNS}
            for row in (value if isinstance(value, list) else [])
            if isinstance(row, dict)
        ]
        rows += [dict.fromkeys(dict(TIER_COLUMNS), "")] * max(self.blank_rows, self.min_rows - len(rows))
        head = format_html_join("", "<th scope=\"col\">{}</th>", ((label,) for _, label in TIER_COLUMNS))
        body = format_html_join("", "<tr><th scope=\"row\">{}</th>{}</tr>", (
            (f"{name}[{index}]", format_html_join("", "<td>{}</td>", (
                (format_html(
                    '<input type="text" name="{}-{}-{}" value="{}" inputmode="decimal" size="14" aria-label="{}[{}] {}">',
                    name, index, column, row[column], name, index, label.lower(),
                ),)
                for column, label in TIER_COLUMNS
            )))
            for index, row in enumerate(rows)
        ))
        return format_html(
            '<table class="fluxbill-tier-rows" id="{}"><thead><tr><th scope="col">Tier</th>{}</tr></thead>'
            "<tbody>{}</tbody></table>",
            (attrs or {}).get("id", f"id_{name}"), head, body,
        )


class TierRowsField(forms.Field):
    """The filled rows as the service's tiers list: up_to blank is the open last tier, a blank price is 0."""

    widget = TierRowsWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        tiers = []
        for row in value or []:
            tier = {"up_to": row.get("up_to") or None}
            for column in ("unit_price", "flat_amount"):
                if row.get(column):
                    tier[column] = row[column]
            tiers.append(tier)
        return tiers

    def prepare_value(self, value):
        return value if isinstance(value, list) else []


class ChargeForm(ServiceForm):
    tiers = TierRowsField(
        help_text="Graduated and volume pricing, one row per tier in order: the units up to which it applies, their "
        "unit price, and a flat amount once reached. Leave the last tier's up to empty (it has no upper bound); "
        "blank rows are ignored, and the page comes back with more if a check fails.",
    )

    class Meta:
        model = Charge
        fields = ["plan", "type", "display_name", "amount", "meter", "pricing_model", "unit_price", "tiers", "package_size", "package_price", "free_units", "tax_rates"]
        help_texts = {"tax_rates": "Tax rate codes, comma-separated; empty: the plan's."}

    service_aliases = {"meter_id": "meter"}

    def check(self, data):
        fields = self.service_fields(data)
        data["tax_rates"] = taxes.tax_rate_codes_check(fields.pop("tax_rates"))
        services.charge_build(**fields)

    @staticmethod
    def service_fields(data) -> dict:
        fields = {name: data.get(name) for name in ChargeForm.Meta.fields}
        fields["tiers"] = fields["tiers"] or None
        return fields


@admin.register(Charge)
class ChargeAdmin(ChargeMoney, HistoryAdmin, ServiceAdmin):
    """Charges are added here and then fixed, as through the API and the dashboard: to reprice, add a new one."""

    form = ChargeForm
    list_display = ["display_name", "plan", "type", "pricing_model", "meter", "amount_shown", "unit_price_shown", "package_price_shown", "free_units_shown"]
    list_filter = ["type", "pricing_model", "plan__currency"]
    search_fields = ["display_name", "plan__name", "plan__lookup_id", "meter__name"]
    list_select_related = ["plan", "meter"]
    # A stored charge is shown, never edited: its amounts in the plan's currency, its tiers as a table.
    shown_fields = {
        "amount": "amount_shown", "unit_price": "unit_price_shown", "package_size": "package_size_shown",
        "package_price": "package_price_shown", "free_units": "free_units_shown", "tiers": "tiers_shown",
    }

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None:
            return fields
        return list(dict.fromkeys(self.shown_fields.get(name, name) for name in fields))

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is None else [*fields, *self.shown_fields.values()]

    def create(self, request, form):
        return services.charge_create(**ChargeForm.service_fields(form.cleaned_data))

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Taking a charge off a plan someone subscribed to would change what their periods cost.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.plan.subscriptions.exists())

    def delete_model(self, request, obj):
        services.charge_delete(charge=obj)


class TaxRateForm(ServiceForm):
    class Meta:
        model = TaxRate
        fields = ["code", "name", "rate", "description", "active"]
        help_texts = {"rate": "A percentage: 19 for 19 %. Changing it archives this rate and makes a new one."}

    def check(self, data):
        if self.instance._state.adding:
            taxes._code_check(data.get("code"))


@admin.register(TaxRate)
class TaxRateAdmin(HistoryAdmin, ServiceAdmin):
    """Tax rates, added and changed through catalog.taxes: a new percentage archives the row (issued invoices keep
    what they were taxed at) and the page goes on with its successor."""

    form = TaxRateForm
    list_display = ["code", "name", "rate", "active", "archived_at", "created_at"]
    list_filter = ["active", ("archived_at", admin.EmptyFieldListFilter)]
    search_fields = ["code", "name"]
    frozen_fields = ("code",)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.archived_at is not None:
            fields += ["name", "rate", "description", "active"]  # the record of what was charged
        return fields

    def create(self, request, form):
        return taxes.tax_rate_create(**form.cleaned_data)

    def update(self, request, obj, form):
        from django.utils import timezone

        return taxes.tax_rate_update(tax_rate=obj, data=self.editable(form), now=timezone.now())

    def has_delete_permission(self, request, obj=None):
        return False  # archived, never deleted: invoices name them
