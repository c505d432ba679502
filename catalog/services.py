"""Plans and charges: every write and rule about them (meters are metering's: metering.services.meters)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from fluxbill.core.db import unique_or_conflict
from fluxbill.core.errors import Conflict, InvalidInput, NotFound
from fluxbill.core.money import fits_column, is_representable, is_valid_currency
from metering.models import Meter

from .choices import ChargeType, PlanType, PricingModel
from .models import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, Charge, Plan
from .pricing import PricedUsage, parse_tiers, price_usage
from .taxes import tax_rate_codes_check

MAX_TRIAL_DAYS = 3650


def _trial_days_check(days) -> int:
    if not isinstance(days, int) or not 0 <= days <= MAX_TRIAL_DAYS:
        raise InvalidInput(f"trial_days must be a whole number from 0 to {MAX_TRIAL_DAYS}, got {days!r}", field="trial_days")
    return days


def plan_create_check(*, currency: str, trial_days: int) -> str:
    """A new plan's currency (normalized) and trial, checked; returns the currency."""
    _trial_days_check(trial_days)
    return currency_check(currency)


def currency_check(currency: str) -> str:
    code = str(currency or "").strip().upper()
    if not is_valid_currency(code):
        raise InvalidInput(f"currency must be an active ISO 4217 code such as USD or EUR, got {currency!r}", field="currency")
    return code


@transaction.atomic
def plan_create(
    *,
    name: str,
    lookup_id: str,
    currency: str,
    type: str = PlanType.USAGE,
    billing_interval: str = "month",
    trial_days: int = 0,
    description: str = "",
    active: bool = True,
    tax_rates: list[str] | None = None,
    tax_inclusive: bool = False,
) -> Plan:
    plan = Plan(
        tax_rates=tax_rate_codes_check(tax_rates),
        tax_inclusive=bool(tax_inclusive),
        name=name,
        lookup_id=lookup_id,
        currency=plan_create_check(currency=currency, trial_days=trial_days),
        type=type,
        billing_interval=billing_interval,
        trial_days=trial_days,
        description=description or "",
        active=active,
    )
    with unique_or_conflict({"lookup_id": (f"A plan with lookup_id '{lookup_id}' already exists", "lookup_id")}):
        plan.save()
    return plan


@transaction.atomic
def plan_update(*, plan: Plan, **changes) -> Plan:
    locked = Plan.objects.select_for_update().get(pk=plan.pk)
    changes = plan_changes_check(plan=locked, changes=changes)
    for key, value in changes.items():
        setattr(locked, key, value)
    with unique_or_conflict(
        {"lookup_id": (f"A plan with lookup_id '{locked.lookup_id}' already exists", "lookup_id")}
    ):
        locked.save()
    return locked


def plan_changes_check(*, plan: Plan, changes: dict) -> dict:
    """The changes, checked against the plan as stored (currency normalized); raises InvalidInput."""
    changes = dict(changes)
    if "currency" in changes:
        changes["currency"] = currency_check(changes["currency"])
    if "trial_days" in changes:
        _trial_days_check(changes["trial_days"])
    if "tax_rates" in changes:
        changes["tax_rates"] = tax_rate_codes_check(changes["tax_rates"])
    frozen = [key for key in ("currency", "billing_interval", "type") if key in changes and changes[key] != getattr(plan, key)]
    if frozen and plan.subscriptions.exists():
        raise InvalidInput(f"{frozen[0]} cannot change while the plan has subscriptions", field=frozen[0])
    if "type" in changes:
        _check_plan_type_fits_charges(plan, changes["type"])
    return changes


def _check_plan_type_fits_charges(plan: Plan, plan_type: str) -> None:
    if plan_type == PlanType.FIXED and plan.charges.filter(type=ChargeType.USAGE).exists():
        raise InvalidInput("A FIXED plan cannot have USAGE charges; remove them first", field="type")
    if plan_type == PlanType.USAGE and plan.charges.filter(type=ChargeType.FIXED).exists():
        raise InvalidInput("A USAGE plan cannot have FIXED charges; remove them first", field="type")


def _require(value, field_name: str, why: str):
    if value is None or value == "":
        raise InvalidInput(f"Missing required field: {field_name} ({why})", field=field_name)
    return value


@transaction.atomic
def charge_create(
    *,
    plan: Plan,
    type: str,
    display_name: str = "",
    amount: Decimal | None = None,
    meter: Meter | None = None,
    pricing_model: str | None = None,
    unit_price: Decimal | None = None,
    tiers: list | None = None,
    package_size: Decimal | None = None,
    package_price: Decimal | None = None,
    free_units: Decimal | None = None,
    tax_rates: list[str] | None = None,
) -> Charge:
    """Add a charge to a plan after checking it fits the plan and its pricing model is complete."""
    # The plan's row lock orders this against plan_update (type) and charge_delete (subscriptions).
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    charge = charge_build(
        plan=plan, type=type, display_name=display_name, amount=amount, meter=meter, pricing_model=pricing_model,
        unit_price=unit_price, tiers=tiers, package_size=package_size, package_price=package_price, free_units=free_units,
    )
    charge.tax_rates = tax_rate_codes_check(tax_rates)
    charge.save()
    return charge


@transaction.atomic
def charge_delete(*, charge: Charge) -> None:
    """Take a charge off a plan nobody ever subscribed to (it would change what their periods cost)."""
    plan = Plan.objects.select_for_update().get(pk=charge.plan_id)
    if plan.subscriptions.exists():
        raise Conflict(
            f"Plan '{plan.name}' has subscriptions, so its charges are fixed: create a new plan to change prices",
            field="plan_id",
        )
    Charge.objects.filter(pk=charge.pk).delete()


def charge_build(
    *,
    plan: Plan,
    type: str,
    display_name: str = "",
    amount: Decimal | None = None,
    meter: Meter | None = None,
    pricing_model: str | None = None,
    unit_price: Decimal | None = None,
    tiers: list | None = None,
    package_size: Decimal | None = None,
    package_price: Decimal | None = None,
    free_units: Decimal | None = None,
) -> Charge:
    """A new charge, checked and unsaved: the fields its type and pricing model need, the rest cleared."""
    if type not in ChargeType.values:
        raise InvalidInput(f"type must be one of {', '.join(ChargeType.values)}, got {type!r}", field="type")
    if type == ChargeType.USAGE and plan.type == PlanType.FIXED:
        raise InvalidInput("A USAGE charge cannot be added to a FIXED plan", field="type")
    if type == ChargeType.FIXED and plan.type == PlanType.USAGE:
        raise InvalidInput("A FIXED charge cannot be added to a USAGE plan", field="type")

    for name, value in (("amount", amount), ("unit_price", unit_price), ("package_price", package_price), ("free_units", free_units)):
        if value is not None and value < 0:
            raise InvalidInput(f"{name} must not be negative", field=name)
    charge = Charge(plan=plan, type=type, display_name=display_name or "", free_units=free_units or Decimal(0))
    if type == ChargeType.FIXED:
        charge.amount = _require(amount, "amount", "a FIXED charge bills this amount every period")
        if not is_representable(charge.amount, plan.currency):
            raise InvalidInput(f"amount has more decimals than {plan.currency} allows", field="amount")
        charge.pricing_model = ""
        charge.display_name = charge.display_name or "Subscription fee"
    else:
        charge.meter = _require(meter, "meter_id", "a USAGE charge prices a meter's usage")
        if not meter.active:
            raise InvalidInput(f"Meter '{meter.name}' is archived and takes no new charges", field="meter_id")
        pricing = _usage_pricing(
            pricing_model=pricing_model,
            unit_price=unit_price,
            tiers=tiers,
            package_size=package_size,
            package_price=package_price,
        )
        for key, value in pricing.items():
            setattr(charge, key, value)
        charge.display_name = charge.display_name or meter.name
    return charge


def _usage_pricing(*, pricing_model, unit_price, tiers, package_size, package_price) -> dict:
    """The fields a usage pricing model needs, checked complete: shared by charges and their previews."""
    model = pricing_model or PricingModel.PER_UNIT
    fields: dict = {"pricing_model": model}
    if model == PricingModel.PER_UNIT:
        fields["unit_price"] = _require(unit_price, "unit_price", "per_unit pricing")
    elif model in (PricingModel.GRADUATED, PricingModel.VOLUME):
        fields["tiers"] = [tier.as_json() for tier in parse_tiers(_require(tiers, "tiers", f"{model} pricing"))]
    elif model == PricingModel.PACKAGE:
        fields["package_size"] = _require(package_size, "package_size", "package pricing")
        fields["package_price"] = _require(package_price, "package_price", "package pricing")
        if fields["package_size"] <= 0:
            raise InvalidInput("package_size must be greater than 0", field="package_size")
    else:
        raise InvalidInput(
            f"pricing_model must be one of {', '.join(PricingModel.values)}, got {model!r}", field="pricing_model"
        )
    return fields


def charge_preview(
    *,
    currency: str,
    quantity: Decimal | None,
    pricing_model: str | None = None,
    unit_price: Decimal | None = None,
    tiers: list | None = None,
    package_size: Decimal | None = None,
    package_price: Decimal | None = None,
    free_units: Decimal | None = None,
) -> PricedUsage:
    """What `quantity` units would cost under unsaved usage pricing, priced by the code invoices use."""
    if quantity is None:
        raise InvalidInput("Missing required field: quantity (the units to price)", field="quantity")
    if quantity < 0:
        raise InvalidInput("quantity must not be negative", field="quantity")
    pricing = _usage_pricing(
        pricing_model=pricing_model,
        unit_price=unit_price,
        tiers=tiers,
        package_size=package_size,
        package_price=package_price,
    )
    too_large = InvalidInput(f"quantity {quantity} is too large to price with this charge", field="quantity")
    try:
        priced = price_usage(quantity=quantity, currency=currency, free_units=free_units or Decimal(0), **pricing)
    except ArithmeticError as exc:  # decimal.InvalidOperation: past even the exact-arithmetic context
        raise too_large from exc
    if not fits_column(priced.amount, max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES):
        raise too_large  # an amount no invoice line could hold
    return priced


@transaction.atomic
def plan_delete(*, plan: Plan) -> None:
    """Delete a plan nobody ever subscribed to, with its charges.

    A plan with subscriptions, even ended ones, stays: their periods and invoices refer to it.
    Archive it instead (plan_update with active=False): it then takes no new subscriptions.
    """
    # FOR UPDATE also blocks a subscription being created on the plan until this commits.
    locked = Plan.objects.select_for_update().filter(pk=plan.pk).first()
    if locked is None:
        raise NotFound(f"Plan '{plan.pk}' not found")
    if locked.subscriptions.exists():
        raise Conflict(
            f"Plan '{locked.name}' has subscriptions, so it cannot be deleted: archive it instead "
            "(edit the plan and untick Active) so that no new customer can subscribe",
            field="active",
        )
    locked.delete()
