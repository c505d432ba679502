"""Pricing models (catalog.pricing): amounts and breakdowns worked out by hand, and tier validation.

Every expected amount below was computed on paper from the README's billing rules: free units come
off first, `up_to` is inclusive, the last tier is open, and each line is rounded half-up to the
currency's minor unit exactly once.
"""

from decimal import Decimal

import pytest

from catalog.choices import PricingModel
from catalog.pricing import Tier, parse_tiers, price_usage
from fluxbill.core.errors import InvalidInput

D = Decimal

# Graduated: first 100 units at 0.10; units 101–1000 at 0.05 plus 2.00 once reached; above 1000 at 0.01
# plus 10 once reached.
GRADUATED_TIERS = [
    {"up_to": "100", "unit_price": "0.10", "flat_amount": "0"},
    {"up_to": "1000", "unit_price": "0.05", "flat_amount": "2.00"},
    {"up_to": None, "unit_price": "0.01", "flat_amount": "10"},
]

# Volume: a total of up to 100 → all at 1.00 + 10; up to 1000 → all at 0.80 + 20; above → all at 0.50.
VOLUME_TIERS = [
    {"up_to": "100", "unit_price": "1.00", "flat_amount": "10"},
    {"up_to": "1000", "unit_price": "0.80", "flat_amount": "20"},
    {"up_to": None, "unit_price": "0.50"},
]


def per_unit(quantity, unit_price, currency="USD", free_units="0"):
    return price_usage(
        pricing_model=PricingModel.PER_UNIT,
        quantity=D(quantity),
        currency=currency,
        unit_price=D(unit_price),
        free_units=D(free_units),
    )


def graduated(quantity, tiers=GRADUATED_TIERS, currency="USD", free_units="0"):
    return price_usage(
        pricing_model=PricingModel.GRADUATED,
        quantity=D(quantity),
        currency=currency,
        tiers=tiers,
        free_units=D(free_units),
    )


def volume(quantity, tiers=VOLUME_TIERS, currency="USD", free_units="0"):
    return price_usage(
        pricing_model=PricingModel.VOLUME,
        quantity=D(quantity),
        currency=currency,
        tiers=tiers,
        free_units=D(free_units),
    )


def package(quantity, size="10", price="5.00", currency="USD", free_units="0"):
    return price_usage(
        pricing_model=PricingModel.PACKAGE,
        quantity=D(quantity),
        currency=currency,
        package_size=D(size),
        package_price=D(price),
        free_units=D(free_units),
    )


def assert_amount(priced, expected: str):
    """Exactly the expected Decimal, quantized to the currency (so '10.00', not '10' or '10.000')."""
    assert isinstance(priced.amount, Decimal)
    assert str(priced.amount) == expected


# --- per_unit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "quantity, unit_price, expected",
    [
        ("100", "0.10", "10.00"),
        ("1", "0.10", "0.10"),
        ("2.5", "0.40", "1.00"),  # fractional quantity
        ("0.75", "2", "1.50"),
        ("1234", "0.001", "1.23"),  # 1.234
        ("12345", "0.001", "12.35"),  # 12.345: half-up (half-even would give 12.34)
        ("1000000", "0.00002", "20.00"),  # a fraction of a cent per token
        ("1234", "0.00002", "0.02"),  # 0.02468
        ("1250", "0.00002", "0.03"),  # 0.025 exactly: half-up
        ("0.5", "0.001", "0.00"),  # 0.0005
        ("333.333", "0.03", "10.00"),  # 9.99999
        ("3", "0.005", "0.02"),  # 0.015 rounded once for the line, not 3 × 0.01 = 0.03
    ],
)
def test_per_unit(quantity, unit_price, expected):
    priced = per_unit(quantity, unit_price)
    assert_amount(priced, expected)
    assert priced.quantity == D(quantity)
    assert priced.billable_units == D(quantity)
    assert priced.unit_price == D(unit_price)


def test_per_unit_zero_units_cost_nothing():
    priced = per_unit("0", "0.10")
    assert_amount(priced, "0.00")
    assert priced.billable_units == 0
    assert priced.breakdown == []


# --- graduated -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "quantity, expected",
    [
        ("0", "0.00"),  # nothing reached: no flat amount either
        ("1", "0.10"),
        ("99", "9.90"),
        ("100", "10.00"),  # exactly at up_to: still the first tier; the 2.00 flat is not reached
        ("101", "12.05"),  # 10.00 + 1 × 0.05 + 2.00
        ("100.5", "12.03"),  # 10.00 + 0.5 × 0.05 + 2.00 = 12.025
        ("1000", "57.00"),  # 10.00 + 900 × 0.05 + 2.00
        ("1001", "67.01"),  # 57.00 + 1 × 0.01 + 10
        ("2500", "82.00"),  # 57.00 + 1500 × 0.01 + 10
    ],
)
def test_graduated(quantity, expected):
    priced = graduated(quantity)
    assert_amount(priced, expected)
    assert priced.unit_price is None  # there is no single unit price across tiers


@pytest.mark.parametrize("quantity, tiers_reached", [("0", 0), ("0.5", 1), ("100", 1), ("101", 2), ("1000", 2), ("1000.1", 3)])
def test_graduated_has_one_breakdown_row_per_tier_reached(quantity, tiers_reached):
    assert len(graduated(quantity).breakdown) == tiers_reached


def test_graduated_breakdown_rows_are_strings_per_tier():
    priced = graduated("1001")
    assert priced.breakdown == [
        {"from": "0", "up_to": "100", "units": "100", "unit_price": "0.10", "flat_amount": "0", "amount": "10.00"},
        {"from": "100", "up_to": "1000", "units": "900", "unit_price": "0.05", "flat_amount": "2.00", "amount": "47.00"},
        {"from": "1000", "up_to": None, "units": "1", "unit_price": "0.01", "flat_amount": "10", "amount": "10.01"},
    ]
    assert_amount(priced, "67.01")


def test_graduated_breakdown_keeps_unrounded_tier_amounts_for_a_fractional_quantity():
    priced = graduated("100.5")
    assert priced.breakdown[1] == {
        "from": "100",
        "up_to": "1000",
        "units": "0.5",
        "unit_price": "0.05",
        "flat_amount": "2.00",
        "amount": "2.025",
    }
    assert_amount(priced, "12.03")


def test_graduated_flat_amount_of_the_first_tier_counts_once_any_unit_is_used():
    tiers = [{"up_to": "10", "unit_price": "0", "flat_amount": "5"}, {"up_to": None, "unit_price": "1"}]
    assert_amount(graduated("0", tiers), "0.00")
    assert_amount(graduated("0.001", tiers), "5.00")
    assert_amount(graduated("10", tiers), "5.00")
    assert_amount(graduated("12", tiers), "7.00")


def test_graduated_rounds_the_line_once_not_each_tier():
    # Two tiers of 0.005 each: 0.010 → 0.01. Rounding each tier first would give 0.01 + 0.01 = 0.02.
    tiers = [{"up_to": "1", "unit_price": "0.005"}, {"up_to": None, "unit_price": "0.005"}]
    priced = graduated("2", tiers)
    assert [row["amount"] for row in priced.breakdown] == ["0.005", "0.005"]
    assert_amount(priced, "0.01")


# --- volume --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "quantity, expected_amount, expected_unit_price",
    [
        ("1", "11.00", "1.00"),  # 1 × 1.00 + 10
        ("100", "110.00", "1.00"),  # exactly at up_to: the lower tier (inclusive)
        ("100.5", "100.40", "0.80"),  # 100.5 × 0.80 + 20 = 100.400
        ("101", "100.80", "0.80"),  # one above: every unit at the next tier's price
        ("1000", "820.00", "0.80"),
        ("1001", "500.50", "0.50"),  # last tier has no flat amount
    ],
)
def test_volume(quantity, expected_amount, expected_unit_price):
    priced = volume(quantity)
    assert_amount(priced, expected_amount)
    assert priced.unit_price == D(expected_unit_price)


def test_volume_zero_units_cost_nothing_not_even_the_flat_amount():
    priced = volume("0")
    assert_amount(priced, "0.00")
    assert priced.unit_price is None
    assert priced.breakdown == []


@pytest.mark.parametrize(
    "quantity, row",
    [
        (
            "100",
            {"from": "0", "up_to": "100", "units": "100", "unit_price": "1.00", "flat_amount": "10", "amount": "110.00"},
        ),
        (
            "101",
            {"from": "100", "up_to": "1000", "units": "101", "unit_price": "0.80", "flat_amount": "20", "amount": "100.80"},
        ),
        (
            "1001",
            {"from": "1000", "up_to": None, "units": "1001", "unit_price": "0.50", "flat_amount": "0", "amount": "500.50"},
        ),
    ],
)
def test_volume_breakdown_is_the_one_tier_the_total_falls_in(quantity, row):
    assert volume(quantity).breakdown == [row]


# --- package -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "quantity, packages, expected",
    [
        ("1", "1", "5.00"),
        ("0.1", "1", "5.00"),  # a started package is a whole package
        ("9.99", "1", "5.00"),
        ("10", "1", "5.00"),  # exactly a multiple
        ("10.5", "2", "10.00"),
        ("11", "2", "10.00"),  # a multiple + 1
        ("20", "2", "10.00"),
        ("21", "3", "15.00"),
    ],
)
def test_package_rounds_packages_up(quantity, packages, expected):
    priced = package(quantity)
    assert_amount(priced, expected)
    assert priced.breakdown == [
        {"packages": packages, "package_size": "10", "package_price": "5.00", "amount": expected}
    ]


def test_package_zero_units_cost_nothing():
    priced = package("0")
    assert_amount(priced, "0.00")
    assert priced.breakdown == []


def test_package_with_fractional_package_size():
    # 1.2 units in packages of 0.5 → 3 packages of 0.40.
    assert_amount(package("1.2", size="0.5", price="0.40"), "1.20")


# --- free units ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "quantity, billable, expected",
    [
        ("50", "0", "0.00"),  # below the free allowance
        ("100", "0", "0.00"),  # equal to it
        ("150", "50", "5.00"),  # above it: only the excess is billed
        ("100.5", "0.5", "0.05"),
    ],
)
def test_free_units_per_unit(quantity, billable, expected):
    priced = per_unit(quantity, "0.10", free_units="100")
    assert priced.quantity == D(quantity)
    assert priced.billable_units == D(billable)
    assert_amount(priced, expected)


def test_free_units_come_off_before_graduated_tiers():
    # 250 used, 100 free → 150 billable: 100 × 0.10 + (50 × 0.05 + 2.00) = 14.50.
    priced = graduated("250", free_units="100")
    assert priced.billable_units == D("150")
    assert_amount(priced, "14.50")


def test_free_units_come_off_before_choosing_the_volume_tier():
    # 150 used, 50 free → 100 billable, which is the first tier: 100 × 1.00 + 10.
    priced = volume("150", free_units="50")
    assert priced.billable_units == D("100")
    assert_amount(priced, "110.00")


@pytest.mark.parametrize("quantity, expected", [("5", "0.00"), ("15", "5.00"), ("15.5", "10.00")])
def test_free_units_come_off_before_counting_packages(quantity, expected):
    assert_amount(package(quantity, free_units="5"), expected)


def test_free_units_equal_to_usage_leave_graduated_flat_amounts_unbilled():
    priced = graduated("100", free_units="100")
    assert priced.billable_units == 0
    assert_amount(priced, "0.00")


# --- rounding: half-up, once per line, to the currency's minor unit -----------------------------


@pytest.mark.parametrize(
    "currency, raw, expected",
    [
        ("USD", "0.005", "0.01"),
        ("USD", "0.015", "0.02"),
        ("USD", "0.125", "0.13"),  # half-even would give 0.12
        ("USD", "2.675", "2.68"),  # as a Decimal; the float 2.675 is 2.67499… and would round to 2.67
        ("USD", "0.0049", "0.00"),
        ("USD", "1.995", "2.00"),
        ("USD", "1.994999", "1.99"),
        ("USD", "7", "7.00"),
        ("JPY", "0.5", "1"),
        ("JPY", "1.49", "1"),
        ("JPY", "1.5", "2"),
        ("JPY", "2.5", "3"),  # half-even would give 2
        ("JPY", "0.49", "0"),
        ("BHD", "0.0005", "0.001"),
        ("BHD", "1.2345", "1.235"),
        ("BHD", "1.23449", "1.234"),
        ("BHD", "7", "7.000"),
        ("KWD", "0.0125", "0.013"),
    ],
)
def test_line_amount_is_rounded_half_up_to_the_currency(currency, raw, expected):
    # One unit at `raw` makes the unrounded line amount exactly `raw`.
    assert_amount(per_unit("1", raw, currency=currency), expected)


@pytest.mark.parametrize("currency, expected", [("USD", "0.00"), ("JPY", "0"), ("BHD", "0.000")])
def test_zero_is_quantized_to_the_currency(currency, expected):
    assert_amount(graduated("0", currency=currency), expected)


def test_graduated_in_jpy_rounds_the_total_once():
    # 100 × 0.5 + (1.5 × 0.3 + 0) = 50 + 0.45 = 50.45 → ¥50.
    tiers = [{"up_to": "100", "unit_price": "0.5"}, {"up_to": None, "unit_price": "0.3"}]
    assert_amount(graduated("101.5", tiers, currency="JPY"), "50")


def test_package_in_jpy():
    # 250 units in packages of 100 at ¥12.5 → 3 × 12.5 = 37.5 → ¥38.
    assert_amount(package("250", size="100", price="12.5", currency="JPY"), "38")


def test_volume_in_bhd():
    # 101 × 0.80 + 20 = 100.800 in BHD (3 decimals).
    assert_amount(volume("101", currency="BHD"), "100.800")


def test_unknown_pricing_model_is_refused_with_its_field():
    with pytest.raises(InvalidInput) as excinfo:
        price_usage(pricing_model="stairstep", quantity=D("1"), currency="USD", unit_price=D("1"))
    assert excinfo.value.field == "pricing_model"


def test_price_usage_validates_tiers():
    with pytest.raises(InvalidInput) as excinfo:
        graduated("5", tiers=[{"up_to": "10", "unit_price": "1"}])
    assert excinfo.value.field == "tiers[0].up_to"


# --- parse_tiers ---------------------------------------------------------------------------------


def test_parse_tiers_returns_decimals_and_defaults_missing_prices_to_zero():
    tiers = parse_tiers([{"up_to": "100", "unit_price": "0.10"}, {"up_to": None, "flat_amount": 5}])
    assert tiers == [
        Tier(up_to=D("100"), unit_price=D("0.10"), flat_amount=D("0")),
        Tier(up_to=None, unit_price=D("0"), flat_amount=D("5")),
    ]
    assert all(isinstance(t.unit_price, Decimal) and isinstance(t.flat_amount, Decimal) for t in tiers)
    assert tiers[1].as_json() == {"up_to": None, "unit_price": "0", "flat_amount": "5"}


def test_parse_tiers_accepts_a_single_open_tier():
    assert parse_tiers([{"up_to": None, "unit_price": "1"}]) == [Tier(up_to=None, unit_price=D("1"))]


@pytest.mark.parametrize(
    "raw, field",
    [
        # Not a list.
        (None, "tiers"),
        ("[]", "tiers"),
        ({"up_to": None, "unit_price": "1"}, "tiers"),
        # Empty.
        ([], "tiers"),
        # A tier that is not an object.
        ([1], "tiers[0]"),
        ([{"up_to": "10", "unit_price": "1"}, "open"], "tiers[1]"),
        ([[None, "1"]], "tiers[0]"),
        # Unknown key.
        ([{"up_to": None, "unit_price": "1", "price": "2"}], "tiers[0]"),
        ([{"up_to": "10", "unit_price": "1"}, {"up_to": None, "unit_amount": "1"}], "tiers[1]"),
        # up_to not strictly ascending.
        ([{"up_to": "100"}, {"up_to": "50"}, {"up_to": None}], "tiers[1].up_to"),
        ([{"up_to": "100"}, {"up_to": "100"}, {"up_to": None}], "tiers[1].up_to"),
        ([{"up_to": "100"}, {"up_to": "100.0"}, {"up_to": None}], "tiers[1].up_to"),
        ([{"up_to": "10"}, {"up_to": "20"}, {"up_to": "15"}, {"up_to": None}], "tiers[2].up_to"),
        # An open tier that is not the last.
        ([{"up_to": None, "unit_price": "1"}, {"up_to": None, "unit_price": "2"}], "tiers[0].up_to"),
        ([{"up_to": "10"}, {"up_to": None}, {"up_to": None}], "tiers[1].up_to"),
        # The last tier bounded.
        ([{"up_to": "10", "unit_price": "1"}], "tiers[0].up_to"),
        ([{"up_to": "10"}, {"up_to": "20"}], "tiers[1].up_to"),
        # up_to must be positive.
        ([{"up_to": "0"}, {"up_to": None}], "tiers[0].up_to"),
        ([{"up_to": "-5"}, {"up_to": None}], "tiers[0].up_to"),
        # Negative prices.
        ([{"up_to": None, "unit_price": "-0.01"}], "tiers[0].unit_price"),
        ([{"up_to": "10", "unit_price": "1"}, {"up_to": None, "unit_price": "-1"}], "tiers[1].unit_price"),
        ([{"up_to": None, "unit_price": "1", "flat_amount": "-5"}], "tiers[0].flat_amount"),
        # NaN and Infinity, as strings.
        ([{"up_to": None, "unit_price": "NaN"}], "tiers[0].unit_price"),
        ([{"up_to": None, "unit_price": "nan"}], "tiers[0].unit_price"),
        ([{"up_to": None, "unit_price": "sNaN"}], "tiers[0].unit_price"),
        ([{"up_to": None, "unit_price": "Infinity"}], "tiers[0].unit_price"),
        ([{"up_to": None, "unit_price": "-Infinity"}], "tiers[0].unit_price"),
        ([{"up_to": None, "unit_price": "1", "flat_amount": "inf"}], "tiers[0].flat_amount"),
        ([{"up_to": "Infinity"}, {"up_to": None}], "tiers[0].up_to"),
        ([{"up_to": "NaN"}, {"up_to": None}], "tiers[0].up_to"),
        # Not numbers at all.
        ([{"up_to": None, "unit_price": "ten"}], "tiers[0].unit_price"),
        ([{"up_to": None, "unit_price": True}], "tiers[0].unit_price"),
        ([{"up_to": None, "unit_price": ["1"]}], "tiers[0].unit_price"),
        ([{"up_to": "", "unit_price": "1"}, {"up_to": None}], "tiers[0].up_to"),
    ],
)
def test_parse_tiers_refuses_invalid_tiers_naming_the_field(raw, field):
    with pytest.raises(InvalidInput) as excinfo:
        parse_tiers(raw)
    assert excinfo.value.field == field
    assert excinfo.value.message


def test_parse_tiers_names_fields_under_the_given_field_name():
    with pytest.raises(InvalidInput) as excinfo:
        parse_tiers([{"up_to": None, "unit_price": "-1"}], field_name="charges[2].tiers")
    assert excinfo.value.field == "charges[2].tiers[0].unit_price"
