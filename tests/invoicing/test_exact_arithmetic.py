"""Amounts are computed exactly and rounded once (fluxbill.core.money.exact_arithmetic).

Python's default decimal context keeps 28 significant digits, fewer than a stored quantity (28) times a
stored price (24) needs: the product was rounded there first and then to the cent, and in the cases below
that double rounding moved the cent. Each expected amount is worked out by hand in its comment.
"""

from decimal import Decimal

import pytest

from catalog.choices import PricingModel
from catalog.pricing import price_usage
from customers.services import subscription_cancel
from invoicing.models import Invoice
from invoicing.services import subscriptions_rollover

from .builders import ACTOR, event, plan_with, subscribe, utc

D = Decimal


def test_a_product_past_28_digits_is_rounded_once():
    # 333334001666666666.6666666665 × 0.000000000003 = 1000002.0049999999999999999995 exactly → 1000002.00.
    # At 28 digits the product was 1000002.005000000000000000000 first, and then 1000002.01.
    priced = price_usage(
        pricing_model=PricingModel.PER_UNIT,
        quantity=D("333334001666666666.6666666665"),
        currency="USD",
        unit_price=D("0.000000000003"),
    )
    assert priced.amount == D("1000002.00")


def test_package_count_is_the_ceiling_of_the_exact_quotient():
    # 300000000000000000.0000000001 ÷ 3 = 100000000000000000.0000000000333… → 100000000000000001 packages,
    # at 0.01 each: 1000000000000000.01. At 28 digits the quotient lost its tail and gave one package less.
    priced = price_usage(
        pricing_model=PricingModel.PACKAGE,
        quantity=D("300000000000000000.0000000001"),
        currency="USD",
        package_size=D("3"),
        package_price=D("0.01"),
    )
    assert priced.breakdown[0]["packages"] == "100000000000000001"
    assert priced.amount == D("1000000000000000.01")


@pytest.mark.django_db
def test_a_prorated_fee_that_is_an_exact_half_cent_rounds_up():
    # February 2025 has 28 days; cancelled in the 17th: 14.42 × 17 ÷ 28 = 8.755 exactly → 8.76 (half up).
    # With the fraction rounded first, 14.42 × 0.6071428571428571428571428571 = 8.75499… → 8.75.
    plan, _, _ = plan_with(fixed="14.42")
    sub = subscribe(plan, utc(2025, 2, 1))
    subscription_cancel(subscription=sub, now=utc(2025, 2, 17, 12), at_period_end=False)

    subscriptions_rollover(now=utc(2025, 2, 18), actor=ACTOR)

    line = Invoice.objects.get().lines.get()
    assert line.description.endswith("(prorated 17/28 days)")
    assert line.amount == D("8.76")


@pytest.mark.django_db
def test_usage_on_an_invoice_is_priced_exactly():
    # The same product as above, through a SUM meter and the rollover: one line of 1000002.00.
    plan, _, (charge,) = plan_with(usage=[{"unit_price": D("0.000000000003")}])
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, "333334001666666666.6666666665", utc(2025, 1, 5))

    subscriptions_rollover(now=utc(2025, 2, 1, 0, 5), actor=ACTOR)

    assert Invoice.objects.get().lines.get().amount == D("1000002.00")
