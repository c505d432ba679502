"""Money helpers (fluxbill.core.money): minor units, the one half-up rounding rule, currencies, display."""

from decimal import Decimal

import pytest

from fluxbill.core.money import format_money, is_representable, is_valid_currency, minor_units, round_money

D = Decimal


@pytest.mark.parametrize(
    "currency, digits",
    [
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("TND", 3),
        ("OMR", 3),
    ],
)
def test_minor_units(currency, digits):
    assert minor_units(currency) == digits


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        # USD, 2 decimals, halves away from zero.
        ("0.005", "USD", "0.01"),
        ("0.015", "USD", "0.02"),
        ("0.025", "USD", "0.03"),  # half-even would give 0.02
        ("2.675", "USD", "2.68"),
        ("2.665", "USD", "2.67"),  # half-even would give 2.66
        ("2.6749999", "USD", "2.67"),
        ("0.004", "USD", "0.00"),
        ("10", "USD", "10.00"),
        ("-0.005", "USD", "-0.01"),  # a credit rounds away from zero too
        ("-2.665", "USD", "-2.67"),
        # JPY, no decimals.
        ("0.5", "JPY", "1"),
        ("1.49", "JPY", "1"),
        ("2.5", "JPY", "3"),
        ("1200.0000", "JPY", "1200"),  # as stored with 4 decimal places
        # KWD and BHD, 3 decimals.
        ("1.2345", "KWD", "1.235"),
        ("1.23449", "KWD", "1.234"),
        ("0.0005", "BHD", "0.001"),
        ("5", "BHD", "5.000"),
    ],
)
def test_round_money_half_up_to_minor_units(amount, currency, expected):
    rounded = round_money(D(amount), currency)
    assert isinstance(rounded, Decimal)
    assert str(rounded) == expected


def test_round_money_of_the_decimal_not_the_float():
    # The float 2.675 is 2.67499999999999982236431605997495353221893310546875: it would round down.
    assert round(2.675, 2) == 2.67
    assert round_money(D("2.675"), "USD") == D("2.68")


@pytest.mark.parametrize("code", ["USD", "EUR", "JPY", "GBP", "KWD", "BHD", "CHF"])
def test_valid_currencies(code):
    assert is_valid_currency(code) is True


@pytest.mark.parametrize(
    "code",
    [
        "XYZ",  # not ISO 4217
        "usd",  # codes are upper case
        "Usd",
        " USD",
        "USD ",
        "US",
        "USDX",
        "DEM",  # Deutsche Mark: historic, no longer legal tender
        "FRF",  # French franc: historic
        "XXX",  # "no currency"
        "XTS",  # reserved for testing
        "",
        None,
        840,  # the numeric ISO code is not accepted
    ],
)
def test_invalid_currencies(code):
    assert is_valid_currency(code) is False


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        ("1.50", "USD", True),
        ("1.5", "USD", True),
        ("1.500", "USD", True),  # trailing zeros change nothing
        ("49.0000", "USD", True),
        ("1.505", "USD", False),
        ("0.001", "USD", False),
        ("100", "JPY", True),
        ("100.00", "JPY", True),
        ("100.5", "JPY", False),
        ("0.01", "JPY", False),
        ("1.234", "KWD", True),
        ("1.2345", "KWD", False),
        ("0.001", "BHD", True),
        ("0", "USD", True),
    ],
)
def test_is_representable(amount, currency, expected):
    assert is_representable(D(amount), currency) is expected


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        ("1234.5", "USD", "$1,234.50"),
        ("1234567.89", "USD", "$1,234,567.89"),
        ("0", "USD", "$0.00"),
        ("49.0000", "USD", "$49.00"),
        ("-5", "USD", "-$5.00"),
        ("1000", "EUR", "€1,000.00"),
        ("1200", "JPY", "¥1,200"),
        ("1200.0000", "JPY", "¥1,200"),
        ("1234567", "JPY", "¥1,234,567"),
        ("1.235", "KWD", "KWD1.235"),
    ],
)
def test_format_money(amount, currency, expected):
    assert format_money(D(amount), currency) == expected


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        ("0.125", "USD", "$0.13"),
        ("2.665", "USD", "$2.67"),
        ("2.5", "JPY", "¥3"),
        ("0.0005", "BHD", "BHD0.001"),
    ],
)
def test_format_money_shows_the_amount_rounded_by_the_billing_rule(amount, currency, expected):
    """A displayed amount must never disagree with what round_money bills (half-up, not half-even)."""
    assert format_money(D(amount), currency) == expected
