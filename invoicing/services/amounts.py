"""Reading an amount a client typed (a credit note's item or split, a payment): one parser, one set of messages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from catalog.models import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from fluxbill.core.errors import InvalidInput
from fluxbill.core.money import fits_column, is_representable


def money_input(value, *, currency: str, field_name: str, allow_zero: bool = True) -> Decimal:
    """`value` as an amount of `currency`: a finite, non-negative decimal with at most the currency's digits
    that fits an amount column; anything else is a 400 naming `field_name`."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{field_name} must be a decimal string such as '10.00', got {value!r}", field=field_name) from exc
    if not amount.is_finite():
        raise InvalidInput(f"{field_name} must be a finite amount", field=field_name)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidInput(f"{field_name} must be {'zero or ' if allow_zero else ''}more than zero", field=field_name)
    if not fits_column(amount, max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES):
        raise InvalidInput(f"{field_name} is larger than an amount can hold", field=field_name)
    if not is_representable(amount, currency):
        raise InvalidInput(f"{field_name} has more decimals than {currency} allows", field=field_name)
    return amount
