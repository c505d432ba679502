"""The money pipeline's steps on hand-computed tables: tax (exclusive, inclusive, several rates, reverse charge,
exempt), the largest-remainder allocation, USD/JPY/BHD minor units, and credits capped at the total.

Pure: lines and rates are built in memory, so each table is exactly the arithmetic in its comment.
"""

from decimal import Decimal

import pytest

from catalog.models import TaxRate
from fluxbill.core.money import allocate
from invoicing.services.lines import LineDraft
from invoicing.services.pipeline import TaxContext, invoice_money

D = Decimal


def rates(**by_code):
    return {code: TaxRate(code=code, name=f"{code} {rate}%", rate=D(rate)) for code, rate in by_code.items()}


class _Charge:
    def __init__(self, *codes):
        self.tax_rates = list(codes)
        self.pk = None


def line(amount, *charge_codes, name="line"):
    return LineDraft(kind="USAGE", description=name, amount=D(amount), charge=_Charge(*charge_codes))


def summary(money):
    return [(row["code"], row["taxable_amount"], row["tax_amount"]) for row in money.tax_summary]


# --- allocation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "total, parts, currency, expected",
    [
        # 3 × 0.0038 = 0.0114 → 0.01; all lose 0.0038 by rounding down: the first (a tie) gets the cent.
        ("0.01", ["0.0038", "0.0038", "0.0038"], "USD", ["0.01", "0.00", "0.00"]),
        # 8.875 + 2.9580375 = 11.8330375 → 11.83; floors 8.87 + 2.95 = 11.82; 2.958… lost more (0.008 > 0.005).
        ("11.83", ["8.875", "2.9580375"], "USD", ["8.87", "2.96"]),
        # JPY: 26.64 + 26.64 + 26.72 = 80; floors 78; the two largest remainders (.72, then the first .64) get ¥1.
        ("80", ["26.64", "26.64", "26.72"], "JPY", ["27", "26", "27"]),
        # BHD, three digits: 0.01665 × 2 = 0.0333 → 0.033; floors 0.016 × 2; the first gets the last fils.
        ("0.033", ["0.01665", "0.01665"], "BHD", ["0.017", "0.016"]),
    ],
)
def test_allocate_splits_a_rounded_total_exactly_by_largest_remainder(total, parts, currency, expected):
    shares = allocate(D(total), [D(p) for p in parts], currency)
    assert shares == [D(e) for e in expected]
    assert sum(shares) == D(total)


def test_allocate_refuses_a_total_its_parts_cannot_reach():
    with pytest.raises(ValueError):
        allocate(D("1.00"), [D("0.10"), D("0.10")], "USD")


# --- tax, exclusive -----------------------------------------------------------------------------------------------


def test_tax_is_rounded_once_per_rate_not_once_per_line():
    # 19 % of 0.02 is 0.0038 per line: rounded per line that is 0.00 three times; per rate 0.0114 → 0.01.
    money = invoice_money(
        [line("0.02"), line("0.02"), line("0.02")], currency="USD", tax=TaxContext(rates=rates(VAT="19"), plan_rates=("VAT",))
    )
    assert summary(money) == [("VAT", "0.06", "0.01")]
    assert [ln.tax_amount for ln in money.lines] == [D("0.01"), D("0.00"), D("0.00")]
    assert (money.subtotal, money.tax_total, money.total, money.amount_due) == (D("0.06"), D("0.01"), D("0.07"), D("0.07"))


def test_three_rates_on_different_lines_most_specific_list_wins():
    # A: 100.00, its charge names STATE 8.875 % and CITY 2.5 %; B: 33.33, charge names STATE;
    # C: 49.99, charge names nothing → the plan's VAT 19 %.
    # STATE: 8.875 + 33.33 × 0.08875 = 8.875 + 2.9580375 = 11.8330375 → 11.83, split 8.87 / 2.96.
    # CITY: 100.00 × 0.025 = 2.50.   VAT: 49.99 × 0.19 = 9.4981 → 9.50.
    # Tax 11.83 + 2.50 + 9.50 = 23.83; subtotal 183.32; total 207.15.
    tax = TaxContext(rates=rates(STATE="8.875", CITY="2.5", VAT="19"), plan_rates=("VAT",), customer_rates=("CITY",))
    a, b, c = line("100.00", "STATE", "CITY"), line("33.33", "STATE"), line("49.99")
    money = invoice_money([a, b, c], currency="USD", tax=tax)
    assert summary(money) == [("STATE", "133.33", "11.83"), ("CITY", "100.00", "2.50"), ("VAT", "49.99", "9.50")]
    assert [ln.tax_amount for ln in money.lines] == [D("11.37"), D("2.96"), D("9.50")]
    assert a.taxes == [
        {"code": "STATE", "name": "STATE 8.875%", "rate": "8.875", "amount": "8.87"},
        {"code": "CITY", "name": "CITY 2.5%", "rate": "2.5", "amount": "2.50"},
    ]
    assert (money.subtotal, money.tax_total, money.total) == (D("183.32"), D("23.83"), D("207.15"))
    assert money.tax_total == sum(ln.tax_amount for ln in money.lines)


def test_customer_rates_apply_where_neither_charge_nor_plan_names_any_then_the_entity_defaults():
    tax = TaxContext(rates=rates(CUST="10", ENT="20"), customer_rates=("CUST",), entity_rates=("ENT",))
    assert summary(invoice_money([line("10.00")], currency="USD", tax=tax)) == [("CUST", "10.00", "1.00")]
    tax = TaxContext(rates=rates(ENT="20"), entity_rates=("ENT",))
    assert summary(invoice_money([line("10.00")], currency="USD", tax=tax)) == [("ENT", "10.00", "2.00")]


def test_reverse_charge_and_exempt_customers_pay_no_tax():
    base = dict(rates=rates(VAT="19"), plan_rates=("VAT",))
    reverse = invoice_money([line("100.00", "VAT")], currency="EUR", tax=TaxContext(**base, reverse_charge=True))
    exempt = invoice_money([line("100.00", "VAT")], currency="EUR", tax=TaxContext(**base, tax_exempt=True))
    for money in (reverse, exempt):
        assert (money.tax_total, money.total, money.tax_summary) == (D("0"), D("100.00"), [])
        assert money.lines[0].taxable_amount == D("100.00")
    assert reverse.reverse_charge and not exempt.reverse_charge


def test_a_zero_rate_is_listed_with_no_tax():
    money = invoice_money([line("50.00")], currency="USD", tax=TaxContext(rates=rates(ZERO="0"), plan_rates=("ZERO",)))
    assert summary(money) == [("ZERO", "50.00", "0.00")]
    assert money.total == D("50.00")


def test_jpy_has_no_minor_unit():
    # 8 % of ¥333, ¥333, ¥334: 26.64 + 26.64 + 26.72 = 80 exactly; split 27 / 26 / 27. ¥1,000 + ¥80.
    money = invoice_money(
        [line("333"), line("333"), line("334")], currency="JPY", tax=TaxContext(rates=rates(JCT="8"), plan_rates=("JCT",))
    )
    assert summary(money) == [("JCT", "1000", "80")]
    assert [ln.tax_amount for ln in money.lines] == [D("27"), D("26"), D("27")]
    assert money.total == D("1080")


def test_bhd_has_three_minor_digits():
    # 5 % of 10.125 = 0.50625 and of 0.333 twice = 0.01665 each: one rate, 0.54 in all → 0.540;
    # floors 0.506 + 0.016 + 0.016 = 0.538: the two 0.01665 lines lost 0.00065 each (0.506 lost 0.00025).
    money = invoice_money(
        [line("10.125"), line("0.333"), line("0.333")], currency="BHD", tax=TaxContext(rates=rates(VAT="5"), plan_rates=("VAT",))
    )
    assert summary(money) == [("VAT", "10.791", "0.540")]
    assert [ln.tax_amount for ln in money.lines] == [D("0.506"), D("0.017"), D("0.017")]
    assert money.total == D("11.331")


# --- tax, inclusive -----------------------------------------------------------------------------------------------


def test_inclusive_prices_contain_their_tax_net_rounded_once_per_line():
    # 119.00 incl. 19 %: net 119 ÷ 1.19 = 100.00, tax 19.00.  10.00: net 8.403… → 8.40, tax 1.60.
    # The customer pays the prices: total = subtotal = 129.00, of which 20.60 tax.
    money = invoice_money(
        [line("119.00"), line("10.00")], currency="EUR",
        tax=TaxContext(rates=rates(VAT="19"), plan_rates=("VAT",), inclusive=True),
    )
    assert [(ln.taxable_amount, ln.tax_amount) for ln in money.lines] == [(D("100.00"), D("19.00")), (D("8.40"), D("1.60"))]
    assert summary(money) == [("VAT", "108.40", "20.60")]
    assert (money.subtotal, money.tax_total, money.total, money.amount_due) == (D("129.00"), D("20.60"), D("129.00"), D("129.00"))
    assert money.tax_inclusive


def test_inclusive_with_two_rates_splits_the_line_tax_in_proportion():
    # 110.00 incl. 7 % + 3 %: net 110 ÷ 1.10 = 100.00, tax 10.00 = 7.00 + 3.00.
    # 1.00 incl. 10 %: net 0.9090… → 0.91, tax 0.09; 0.09 × 7/10 = 0.063, × 3/10 = 0.027 → floors 0.06 + 0.02,
    # the cent left goes to 0.027 (lost 0.007 > 0.003): 0.06 + 0.03.
    tax = TaxContext(rates=rates(A="7", B="3"), plan_rates=("A", "B"), inclusive=True)
    money = invoice_money([line("110.00"), line("1.00")], currency="USD", tax=tax)
    assert [[t["amount"] for t in ln.taxes] for ln in money.lines] == [["7.00", "3.00"], ["0.06", "0.03"]]
    assert summary(money) == [("A", "100.91", "7.06"), ("B", "100.91", "3.03")]
    assert (money.tax_total, money.total) == (D("10.09"), D("111.00"))


# --- credits and never negative -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "balance, total, applied, due",
    [("30.00", "20.00", "20.00", "0.00"), ("5.00", "20.00", "5.00", "15.00"), ("0", "20.00", "0", "20.00"), ("7.00", "0", "0", "0")],
)
def test_credit_is_applied_up_to_the_total(balance, total, applied, due):
    money = invoice_money([line(total)], currency="USD", credit_balance=D(balance))
    assert (money.credit_applied, money.amount_due) == (D(applied), D(due))


def test_credit_carried_by_a_line_is_counted_before_credits_apply():
    # A line that interim invoices over-billed by 12.67 is 0 with excess 12.67; the fixed fee of 10.00 uses it.
    over = line("0")
    over.excess = D("12.67")
    money = invoice_money([over, line("10.00")], currency="EUR")
    assert (money.credit_carried, money.total, money.credit_applied, money.amount_due) == (
        D("12.67"), D("10.00"), D("10.00"), D("0.00"),
    )


def test_a_negative_line_is_refused_not_billed():
    with pytest.raises(ValueError, match="negative"):
        invoice_money([line("-1.00")], currency="USD")
