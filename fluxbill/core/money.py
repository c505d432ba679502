"""Money: currencies, their minor units, and the one rounding rule.

Every amount that reaches an invoice passes through `round_money` exactly once per line;
totals are sums of rounded lines.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
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


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit. The only place money is rounded."""
    return Decimal(amount).quantize(_quantum(currency), rounding=ROUND_HALF_UP)


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


def fits_column(value: Decimal, *, max_digits: int, decimal_places: int) -> bool:
    """Whether `value` can be stored in a numeric(max_digits, decimal_places) column (rounded to its places)."""
    try:
        value = Decimal(value)
        if not value.is_finite():
            return False
        return abs(value) < Decimal(10) ** (max_digits - decimal_places)
    except (ArithmeticError, ValueError):
        return False
