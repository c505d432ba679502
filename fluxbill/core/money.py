"""Money: currencies, their minor units, and the one rounding rule.

Every amount that reaches an invoice passes through `round_money` exactly once per line;
totals are sums of rounded lines.
"""

from __future__ import annotations

import datetime
from contextlib import AbstractContextManager
from decimal import (
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import lru_cache

import babel
from babel.numbers import get_currency_precision, get_currency_symbol, get_territory_currencies


@lru_cache(maxsize=1)
def active_currencies() -> frozenset[str]:
    """ISO 4217 codes that are legal tender somewhere today (CLDR data shipped with Babel)."""
    codes: set[str] = set()
    today = datetime.date.today()
    for territory in babel.Locale("en").territories:
        try:
            codes.update(get_territory_currencies(territory, today, tender=True))
        except Exception:  # territories without currency data
            continue
    return frozenset(codes)


def is_valid_currency(code: str) -> bool:
    return isinstance(code, str) and code in active_currencies()


@lru_cache(maxsize=None)
def minor_units(currency: str) -> int:
    """Digits after the decimal point: USD 2, JPY 0, BHD 3."""
    return get_currency_precision(currency)


@lru_cache(maxsize=None)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


# Pricing arithmetic runs in this context, not Python's default of 28 significant digits. A stored quantity has
# at most 28 digits and a price 24, so their product needs up to 52: at 28 it was rounded once before round_money
# rounded it again, and 333334001666666666.6666666665 units at 0.000000000003 came to 1000002.01 instead of
# 1000002.00. At 80 digits every product and sum of stored values is exact, and a quotient that does not end
# (a proration) is cut 60 digits below any minor unit, where it can no longer decide a rounding.
EXACT_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


def exact_arithmetic() -> AbstractContextManager:
    """`with exact_arithmetic():` computes amounts without intermediate rounding (see EXACT_CONTEXT)."""
    return localcontext(EXACT_CONTEXT)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit. The only place money is rounded."""
    return Decimal(amount).quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def allocate(total: Decimal, parts: list[Decimal], currency: str) -> list[Decimal]:
    """Split a rounded `total` into amounts in the currency's minor unit that add up to it exactly, one per
    exact (unrounded) part, by the largest-remainder rule: each part gets its value rounded down, and the
    minor units left over go one each to the parts that lost the most by that, the earlier part on a tie.

    The parts must add up to within one minor unit per part of `total` (as a total rounded from their sum
    does); e.g. 19 % of 0.05, 0.05 and 0.05 is 0.0095 each, 0.0285 in all, 0.03 rounded: 0.01, 0.01, 0.01.
    """
    quantum = _quantum(currency)
    floors = [(Decimal(part) / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum for part in parts]
    left = (Decimal(total) - sum(floors, Decimal(0))) / quantum
    if left != left.to_integral_value() or not 0 <= left <= len(parts):
        raise ValueError(f"{total} cannot be split over parts adding up to {sum(parts, Decimal(0))}")
    order = sorted(range(len(parts)), key=lambda i: (-(Decimal(parts[i]) - floors[i]), i))
    for index in order[: int(left)]:
        floors[index] += quantum
    return floors


def money_string(amount: Decimal, currency: str) -> str:
    """An amount as JSON carries it: a string with exactly the currency's minor digits ("0.15", "100.00", "1200")."""
    return format(round_money(amount, currency), "f")


def is_representable(amount: Decimal, currency: str) -> bool:
    """True when the amount needs no rounding in this currency (e.g. no cents for JPY)."""
    return Decimal(amount) == round_money(amount, currency)


def currency_symbol(currency: str) -> str:
    return get_currency_symbol(currency, locale="en")


def format_money(amount: Decimal, currency: str) -> str:
    """Amount with its symbol for people, e.g. '$1,234.50', '¥1,200'."""
    from babel.numbers import format_currency

    # Babel would round half-even on its own; round by our rule first so display matches billing.
    return format_currency(round_money(amount, currency), currency, locale="en_US")


def format_unit_price(price: Decimal, currency: str) -> str:
    """A unit price for people, never rounded: at least the currency's minor units, and every significant digit a
    sub-cent price has ('$0.0025', '$1.00', '¥0.5'). A price is not an amount billed, so it is not round_money's."""
    from babel.numbers import format_currency

    price = Decimal(price)
    digits = max(minor_units(currency), -min(0, price.normalize().as_tuple().exponent))
    pattern = "¤#,##0" + ("." + "0" * digits if digits else "")
    return format_currency(price, currency, locale="en_US", format=pattern, currency_digits=False)


def format_quantity(quantity: Decimal) -> str:
    """A quantity for people: thousands separators and no trailing zeros ('1,234,567.5', '150')."""
    from babel.numbers import format_decimal

    return format_decimal(Decimal(quantity).normalize(), locale="en_US", decimal_quantization=False)


def fits_column(value: Decimal, *, max_digits: int, decimal_places: int) -> bool:
    """Whether `value` can be stored in a numeric(max_digits, decimal_places) column (rounded to its places)."""
    try:
        value = Decimal(value)
        if not value.is_finite():
            return False
        return abs(value) < Decimal(10) ** (max_digits - decimal_places)
    except (ArithmeticError, ValueError):
        return False
