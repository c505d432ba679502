"""Dashboard forms for plans and charges. They shape input; catalog.services decides what is allowed."""

from __future__ import annotations

import re

from django import forms

from fluxbill.core.errors import DomainError
from fluxbill.core.forms import add_domain_error
from metering.models import Meter

from .choices import BillingInterval, ChargeType, PlanType, PricingModel
from .models import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS


def tax_rate_choices() -> list[tuple[str, str]]:
    from .taxes import current_tax_rates

    return [(code, f"{code} — {rate.name} ({rate.rate.normalize():f} %)") for code, rate in sorted(current_tax_rates().items())]


def tax_rates_field(help_text: str) -> forms.MultipleChoiceField:
    """The tax rates that apply here, as checkboxes of the current rates (the service checks them again)."""
    return forms.MultipleChoiceField(
        choices=tax_rate_choices, required=False, widget=forms.CheckboxSelectMultiple, help_text=help_text
    )


class PlanForm(forms.Form):
    name = forms.CharField(max_length=200)
    lookup_id = forms.SlugField(max_length=100, help_text="A stable key for the API, e.g. pro_monthly.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    type = forms.ChoiceField(choices=PlanType.choices, initial=PlanType.HYBRID, help_text="Which kinds of charges it holds.")
    billing_interval = forms.ChoiceField(choices=BillingInterval.choices, initial=BillingInterval.MONTH)
    currency = forms.CharField(min_length=3, max_length=3, initial="USD", help_text="ISO 4217, e.g. USD, EUR, JPY.")
    trial_days = forms.IntegerField(min_value=0, max_value=3650, initial=0)
    active = forms.BooleanField(
        required=False, initial=True, help_text="Archived (inactive) plans take no new subscriptions."
    )
    tax_rates = tax_rates_field("For charges that name none. None ticked: the customer's rates, else the billing entity's.")
    tax_inclusive = forms.BooleanField(required=False, help_text="Prices include their tax (net = price ÷ (1 + rates)).")


class TaxRateForm(forms.Form):
    code = forms.CharField(max_length=50, help_text="What plans, charges and customers name it by, e.g. VAT_DE.")
    name = forms.CharField(max_length=200, help_text="Printed on invoices, e.g. “VAT 19%”.")
    rate = forms.DecimalField(min_value=0, max_value=100, max_digits=7, decimal_places=4,
                              help_text="A percentage. Changing it archives this rate and makes a new one: issued "
                              "invoices keep the rate they were taxed at; drafts pick up the new one.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    active = forms.BooleanField(required=False, initial=True, help_text="Inactive rates are not charged on new invoices.")


def _decimal(max_digits: int, decimal_places: int, **kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        max_digits=max_digits,
        decimal_places=decimal_places,
        min_value=0,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        **kwargs,
    )


class UsagePricingForm(forms.Form):
    """How a usage charge turns units into money; tiers come as rows beside it (see `tier_rows`)."""

    pricing_model = forms.ChoiceField(choices=PricingModel.choices, initial=PricingModel.PER_UNIT, required=False)
    unit_price = _decimal(PRICE_MAX_DIGITS, PRICE_DECIMAL_PLACES, help_text="Per unit pricing: the price of one unit.")
    package_size = _decimal(28, 10, help_text="Package pricing: units per package (partial packages are billed whole).")
    package_price = _decimal(PRICE_MAX_DIGITS, PRICE_DECIMAL_PLACES, help_text="Package pricing: price per package.")
    free_units = _decimal(28, 10, help_text="Units each period that cost nothing, taken off first.")

    # The service's (and API's) names for fields that are named differently here.
    service_aliases = {"meter_id": "meter"}

    def pricing(self) -> dict:
        data = self.cleaned_data
        return {
            "pricing_model": data.get("pricing_model") or None,
            "unit_price": data.get("unit_price"),
            "package_size": data.get("package_size"),
            "package_price": data.get("package_price"),
            "free_units": data.get("free_units"),
        }


class ChargeForm(UsagePricingForm):
    type = forms.ChoiceField(choices=ChargeType.choices, widget=forms.RadioSelect)
    display_name = forms.CharField(max_length=200, required=False, help_text="Blank: the meter's name, or “Subscription fee”.")
    amount = _decimal(AMOUNT_MAX_DIGITS, AMOUNT_DECIMAL_PLACES, help_text="Fixed fee: billed every period.")
    meter = forms.ModelChoiceField(
        queryset=Meter.objects.filter(active=True).order_by("name"),
        required=False,
        empty_label="Choose a meter…",
        help_text="Usage charge: the meter whose usage is priced.",
    )

    tax_rates = tax_rates_field("None ticked: the plan's rates.")

    field_order = ["type", "display_name", "amount", "meter", "pricing_model", "unit_price", "package_size", "package_price", "free_units", "tax_rates"]


class QuantityForm(forms.Form):
    quantity = forms.DecimalField(
        min_value=0,
        max_digits=28,
        decimal_places=10,
        required=False,
        label="Units",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "e.g. 150"}),
    )


# --- The tier editor: rows of parallel POST/GET arrays (tier_up_to, tier_unit_price, tier_flat_amount) ----

TIER_COLUMNS = ("up_to", "unit_price", "flat_amount")
MIN_TIER_ROWS = 5  # without JavaScript, this many rows are there to fill in
MAX_TIER_ROWS = 100


def tier_rows(data=None) -> list[dict]:
    """The editor's rows from submitted arrays (blank rows kept, to show them back), padded to MIN_TIER_ROWS."""
    columns = {name: (data.getlist(f"tier_{name}") if data is not None else []) for name in TIER_COLUMNS}
    count = min(MAX_TIER_ROWS, max([MIN_TIER_ROWS] + [len(values) for values in columns.values()]))
    rows = []
    for index in range(count):
        values = {name: (columns[name][index].strip() if index < len(columns[name]) else "") for name in TIER_COLUMNS}
        rows.append({"values": values, "errors": {name: [] for name in TIER_COLUMNS}, "row_errors": []})
    return rows


def tiers_for_service(rows: list[dict]) -> tuple[list[dict] | None, list[int]]:
    """Filled rows as service tiers, and which editor row each came from; None when every row is blank."""
    tiers, origin = [], []
    for index, row in enumerate(rows):
        values = row["values"]
        if not any(values.values()):
            continue
        tier = {"up_to": values["up_to"] or None, "unit_price": values["unit_price"] or "0"}
        if values["flat_amount"]:
            tier["flat_amount"] = values["flat_amount"]
        tiers.append(tier)
        origin.append(index)
    return (tiers or None), origin


_TIER_FIELD = re.compile(r"^tiers\[(\d+)\](?:\.(\w+))?$")


def show_error(
    exc: DomainError, *, form: forms.Form, rows: list[dict], origin: list[int], tier_errors: list[str]
) -> None:
    """Put a service error where it belongs: a tier cell, the tier editor, or a form field."""
    match = _TIER_FIELD.match(exc.field or "")
    if match and int(match.group(1)) < len(origin):
        row = rows[origin[int(match.group(1))]]
        # The service counts filled tiers; the editor shows its own rows, so drop "tiers[i]." from the text.
        message = re.sub(r"^tiers\[\d+\]\.?", "", exc.message).strip() or exc.message
        column = match.group(2)
        if column in TIER_COLUMNS:
            row["errors"][column].append(message)
        else:
            row["row_errors"].append(message)
    elif (exc.field or "").startswith("tiers"):
        tier_errors.append(exc.message)
    else:
        add_domain_error(form, exc, getattr(form, "service_aliases", None))
