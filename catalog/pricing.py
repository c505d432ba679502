"""Pricing models: how a quantity of usage becomes an amount. Used by invoices and previews alike.

Tiers are `{up_to, unit_price, flat_amount}` with `up_to` inclusive and null on the last tier.
Tier i covers the units in (up_to of tier i-1, up_to of tier i].

- per_unit:  units × unit_price
- graduated: every tier prices the units that fall inside it, plus its flat amount once reached
- volume:    every unit at the price of the tier the total falls in, plus that tier's flat amount
- package:   ceil(units / package_size) × package_price

`free_units` come off the quantity first. Zero billable units cost nothing in every model.
The amount is computed exactly (fluxbill.core.money.exact_arithmetic) and rounded once, by round_money.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from fluxbill.core.errors import InvalidInput
from fluxbill.core.fields import decimal_to_string
from fluxbill.core.money import exact_arithmetic, round_money
from metering.models import QUANTITY_DECIMAL_PLACES, QUANTITY_MAX_DIGITS

from .choices import PricingModel
from .models import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS

ZERO = Decimal(0)


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None
    unit_price: Decimal
    flat_amount: Decimal = ZERO

    def as_json(self) -> dict:
        return {
            "up_to": decimal_to_string(self.up_to),
            "unit_price": decimal_to_string(self.unit_price),
            "flat_amount": decimal_to_string(self.flat_amount),
        }


@dataclass
class PricedUsage:
    quantity: Decimal
    billable_units: Decimal
    unit_price: Decimal | None
    amount: Decimal
    breakdown: list[dict] = field(default_factory=list)


def _decimal(
    value, field_name: str, *, allow_none: bool = False, positive: bool = False, column: tuple[int, int] | None = None
) -> Decimal | None:
    if value is None:
        if allow_none:
            return None
        raise InvalidInput(f"Missing required field: {field_name}", field=field_name)
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal, float)):
        raise InvalidInput(f"{field_name} must be a number", field=field_name)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(f"{field_name} must be a number, got {value!r}", field=field_name) from None
    if not number.is_finite():
        raise InvalidInput(f"{field_name} must be a finite number", field=field_name)
    if positive and number <= 0:
        raise InvalidInput(f"{field_name} must be greater than 0", field=field_name)
    if number < 0:
        raise InvalidInput(f"{field_name} must not be negative", field=field_name)
    if column is not None:
        _check_column(number, field_name, column)
    return number


def _check_column(number: Decimal, field_name: str, column: tuple[int, int]) -> None:
    """Refuse a tier value wider than the column the same value has elsewhere (see README, Bounds)."""
    max_digits, places = column
    if number.adjusted() >= max_digits - places:
        raise InvalidInput(f"{field_name} must be less than 10^{max_digits - places}", field=field_name)
    if number.as_tuple().exponent < -places:
        raise InvalidInput(f"{field_name} may have at most {places} decimal places", field=field_name)


# A tier's up_to is compared with quantities, its unit_price is a price and its flat_amount an amount: each is held
# to the bounds of the column such a value is stored in, so a tier can never price what an invoice cannot hold
# only because one of its own numbers is absurd.
UP_TO_COLUMN = (QUANTITY_MAX_DIGITS, QUANTITY_DECIMAL_PLACES)
UNIT_PRICE_COLUMN = (PRICE_MAX_DIGITS, PRICE_DECIMAL_PLACES)
FLAT_AMOUNT_COLUMN = (AMOUNT_MAX_DIGITS, AMOUNT_DECIMAL_PLACES)


MAX_TIERS = 100


def parse_tiers(raw, field_name: str = "tiers") -> list[Tier]:
    """Validate tiers: a non-empty list, `up_to` strictly ascending, exactly the last one open."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput(f"{field_name} must be a non-empty list of tiers", field=field_name)
    if len(raw) > MAX_TIERS:
        raise InvalidInput(f"{field_name} may hold at most {MAX_TIERS} tiers, got {len(raw)}", field=field_name)
    tiers: list[Tier] = []
    previous: Decimal | None = None
    for index, item in enumerate(raw):
        where = f"{field_name}[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where} must be an object with up_to, unit_price, flat_amount", field=where)
        unknown = set(item) - {"up_to", "unit_price", "flat_amount"}
        if unknown:
            raise InvalidInput(f"{where} has unknown field {sorted(unknown)[0]!r}", field=where)
        is_last = index == len(raw) - 1
        up_to = _decimal(item.get("up_to"), f"{where}.up_to", allow_none=True, positive=True, column=UP_TO_COLUMN)
        if is_last and up_to is not None:
            raise InvalidInput(f"{where}.up_to must be null: the last tier has no upper bound", field=f"{where}.up_to")
        if not is_last and up_to is None:
            raise InvalidInput(
                f"{where}.up_to is required: only the last tier may be open-ended", field=f"{where}.up_to"
            )
        if up_to is not None and previous is not None and up_to <= previous:
            raise InvalidInput(
                f"{where}.up_to must be greater than the previous tier's up_to ({previous})", field=f"{where}.up_to"
            )
        unit_price = _decimal(item.get("unit_price", 0), f"{where}.unit_price", column=UNIT_PRICE_COLUMN)
        flat_amount = _decimal(item.get("flat_amount", 0), f"{where}.flat_amount", column=FLAT_AMOUNT_COLUMN)
        tiers.append(Tier(up_to=up_to, unit_price=unit_price, flat_amount=flat_amount))
        previous = up_to
    return tiers


def _graduated(units: Decimal, tiers: list[Tier]) -> tuple[Decimal, list[dict]]:
    total = ZERO
    breakdown = []
    lower = ZERO
    for tier in tiers:
        if units <= lower:
            break
        upper = units if tier.up_to is None else min(units, tier.up_to)
        in_tier = upper - lower
        amount = in_tier * tier.unit_price + tier.flat_amount
        breakdown.append(
            {
                "from": str(lower),
                "up_to": None if tier.up_to is None else str(tier.up_to),
                "units": str(in_tier),
                "unit_price": str(tier.unit_price),
                "flat_amount": str(tier.flat_amount),
                "amount": str(amount),
            }
        )
        total += amount
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total, breakdown


def _volume(units: Decimal, tiers: list[Tier]) -> tuple[Decimal, Decimal, list[dict]]:
    lower = ZERO
    for tier in tiers:
        if tier.up_to is None or units <= tier.up_to:
            amount = units * tier.unit_price + tier.flat_amount
            row = {
                "from": str(lower),
                "up_to": None if tier.up_to is None else str(tier.up_to),
                "units": str(units),
                "unit_price": str(tier.unit_price),
                "flat_amount": str(tier.flat_amount),
                "amount": str(amount),
            }
            return amount, tier.unit_price, [row]
        lower = tier.up_to
    raise AssertionError("validated tiers always end with an open tier")


def _tier_list(tiers) -> list[Tier]:
    """Tiers as parse_tiers returns them; already-parsed tiers pass as they are."""
    if isinstance(tiers, list) and tiers and all(isinstance(tier, Tier) for tier in tiers):
        return tiers
    return parse_tiers(tiers)


def price_usage(
    *,
    pricing_model: str,
    quantity: Decimal,
    currency: str,
    unit_price: Decimal | None = None,
    tiers: list | None = None,
    package_size: Decimal | None = None,
    package_price: Decimal | None = None,
    free_units: Decimal = ZERO,
) -> PricedUsage:
    """Price `quantity` units; the amount is rounded to the currency's minor unit."""
    with exact_arithmetic():
        quantity = Decimal(quantity)
        billable = max(ZERO, quantity - Decimal(free_units or 0))
        breakdown: list[dict] = []
        shown_unit_price = unit_price
        if billable == 0:
            raw = ZERO
            if pricing_model in (PricingModel.GRADUATED, PricingModel.VOLUME):
                shown_unit_price = None
        elif pricing_model == PricingModel.PER_UNIT:
            raw = billable * unit_price
        elif pricing_model == PricingModel.GRADUATED:
            raw, breakdown = _graduated(billable, _tier_list(tiers))
            shown_unit_price = None
        elif pricing_model == PricingModel.VOLUME:
            raw, shown_unit_price, breakdown = _volume(billable, _tier_list(tiers))
        elif pricing_model == PricingModel.PACKAGE:
            packages = (billable / package_size).to_integral_value(rounding=ROUND_CEILING)
            raw = packages * package_price
            shown_unit_price = None
            breakdown = [
                {
                    "packages": str(packages),
                    "package_size": str(package_size),
                    "package_price": str(package_price),
                    "amount": str(raw),
                }
            ]
        else:
            raise InvalidInput(f"Unknown pricing model {pricing_model!r}", field="pricing_model")
        return PricedUsage(
            quantity=quantity,
            billable_units=billable,
            unit_price=shown_unit_price,
            amount=round_money(raw, currency),
            breakdown=breakdown,
        )


def _charge_tiers(charge):
    """The charge's tiers, parsed once per loaded charge (a rollover prices the same few charges for
    thousands of subscriptions). Tiers that do not parse are passed on raw, for price_usage to
    reject if, and only if, it needs them."""
    if charge.pricing_model not in (PricingModel.GRADUATED, PricingModel.VOLUME):
        return charge.tiers
    cached = charge.__dict__.get("_parsed_tiers")
    if cached is None or cached[0] is not charge.tiers:
        try:
            cached = (charge.tiers, parse_tiers(charge.tiers))
        except InvalidInput:
            return charge.tiers
        charge.__dict__["_parsed_tiers"] = cached
    return cached[1]


def price_charge(charge, quantity: Decimal, currency: str) -> PricedUsage:
    return price_usage(
        pricing_model=charge.pricing_model,
        quantity=quantity,
        currency=currency,
        unit_price=charge.unit_price,
        tiers=_charge_tiers(charge),
        package_size=charge.package_size,
        package_price=charge.package_price,
        free_units=charge.free_units,
    )
