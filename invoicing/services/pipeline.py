"""How an invoice is computed: one ordered pipeline, each step its own function (README, "How an invoice is computed").

1. lines      fixed fees and priced usage, each rounded once (lines.build_lines); what was billed before for a
              charge (interim invoices) comes off its line, and any excess is credit carried, never a negative line
2. discounts  per line `discount_amount`, at most the line's amount (0 until coupons exist)
3. tax        per line on `amount − discount_amount`; per rate summed over the invoice and rounded once; the
              per-line amounts are that rounded total split by the largest-remainder rule (money.allocate)
4. total      subtotal − discounts + tax (tax-exclusive prices) or subtotal − discounts (tax-inclusive)
5. credits    the customer's credit balance in this currency (plus what this invoice carries), up to the total
6. amount due total − credits applied; amount remaining = amount due − payments

Every invoice — period, interim, preview, recompute, regenerate — comes out of `invoice_money`. No step can
produce a negative amount: lines are never below zero, discounts never above a line, credits never above
the total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from fluxbill.core.fields import decimal_to_string
from fluxbill.core.money import allocate, exact_arithmetic, money_string, round_money

from .lines import LineDraft

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class TaxContext:
    """What decides a window's tax: who is billed (exempt, reverse charge), the rate lists of the plan, the
    customer and the billing entity, whether prices include tax, and the current rates by code."""

    rates: dict
    plan_rates: tuple = ()
    customer_rates: tuple = ()
    entity_rates: tuple = ()
    tax_exempt: bool = False
    reverse_charge: bool = False
    inclusive: bool = False

    def codes_for(self, line: LineDraft) -> list[str]:
        """The most specific non-empty list wins: the charge's, the plan's, the customer's, the entity's."""
        if self.tax_exempt or self.reverse_charge:
            return []
        charge_rates = tuple(getattr(line.charge, "tax_rates", None) or ())
        for codes in (charge_rates, self.plan_rates, self.customer_rates, self.entity_rates):
            if codes:
                return [code for code in codes if code in self.rates]
        return []


NO_TAX = TaxContext(rates={})


@dataclass
class InvoiceMoney:
    """The pipeline's result for one invoice: its lines (filled in by every step) and its totals."""

    lines: list[LineDraft]
    currency: str
    subtotal: Decimal = ZERO
    discount_total: Decimal = ZERO
    tax_total: Decimal = ZERO
    total: Decimal = ZERO
    credit_carried: Decimal = ZERO
    credit_applied: Decimal = ZERO
    amount_due: Decimal = ZERO
    tax_summary: list = field(default_factory=list)
    tax_inclusive: bool = False
    reverse_charge: bool = False

    def invoice_fields(self) -> dict:
        """The Invoice columns this sets, for a create, a bulk insert or an update."""
        return {name: getattr(self, name) for name in INVOICE_MONEY_FIELDS}


# The Invoice columns the pipeline sets (same names on InvoiceMoney).
INVOICE_MONEY_FIELDS = (
    "subtotal", "discount_total", "tax_total", "total", "credit_carried", "credit_applied", "amount_due",
    "tax_summary", "tax_inclusive", "reverse_charge",
)


def step_lines(lines: list[LineDraft]) -> Decimal:
    """Step 1 is build_lines; here only what it carried: the excess billed before, as credit."""
    for line in lines:
        if line.amount < 0:  # build_lines never makes one; a line below zero would bill a negative amount
            raise ValueError(f"Line {line.description!r} is negative ({line.amount})")
    return sum((line.excess for line in lines), ZERO)


def step_discounts(lines: list[LineDraft], currency: str) -> Decimal:
    """Step 2: each line's discount, never more than the line (no coupons yet: all zero)."""
    for line in lines:
        line.discount_amount = min(round_money(line.discount_amount, currency), line.amount)
    return sum((line.discount_amount for line in lines), ZERO)


def step_tax(lines: list[LineDraft], currency: str, tax: TaxContext) -> list[dict]:
    """Step 3: each line's taxes and the invoice's tax table (one row per rate, in the order rates first appear).

    Exclusive prices: per rate, tax = round(Σ taxable × rate ÷ 100) once, split over its lines by the largest
    remainder. Inclusive prices: per line, net = round(gross ÷ (1 + Σ rates ÷ 100)) once and tax = gross − net,
    that tax split over the line's rates in proportion to them by the largest remainder."""
    codes_by_line = [tax.codes_for(line) for line in lines]
    order: list[str] = []
    for codes in codes_by_line:
        order += [code for code in codes if code not in order]
    taxable: dict[str, Decimal] = {code: ZERO for code in order}
    taxed: dict[str, Decimal] = {code: ZERO for code in order}
    shares: dict[int, list[tuple[str, Decimal]]] = {i: [] for i in range(len(lines))}
    with exact_arithmetic():
        if tax.inclusive:
            for i, (line, codes) in enumerate(zip(lines, codes_by_line)):
                gross = line.amount - line.discount_amount
                total_rate = sum((tax.rates[code].rate for code in codes), ZERO)
                net = round_money(gross * HUNDRED / (HUNDRED + total_rate), currency) if total_rate else gross
                line.taxable_amount = net
                if not codes:
                    continue
                parts = [(gross - net) * tax.rates[code].rate / total_rate if total_rate else ZERO for code in codes]
                for code, amount in zip(codes, allocate(gross - net, parts, currency)):
                    shares[i].append((code, amount))
                    taxable[code] += net
                    taxed[code] += amount
        else:
            for line in lines:
                line.taxable_amount = line.amount - line.discount_amount
            for code in order:
                members = [i for i, codes in enumerate(codes_by_line) if code in codes]
                rate = tax.rates[code].rate
                exact = [lines[i].taxable_amount * rate / HUNDRED for i in members]
                total = round_money(sum(exact, ZERO), currency)
                for i, amount in zip(members, allocate(total, exact, currency)):
                    shares[i].append((code, amount))
                taxable[code] = sum((lines[i].taxable_amount for i in members), ZERO)
                taxed[code] = total
    for i, line in enumerate(lines):
        line.tax_amount = sum((amount for _, amount in shares[i]), ZERO)
        line.taxes = [
            {"code": code, "name": tax.rates[code].name, "rate": decimal_to_string(tax.rates[code].rate),
             "amount": money_string(amount, currency)}
            for code, amount in shares[i]
        ]
    return [
        {
            "code": code,
            "name": tax.rates[code].name,
            "rate": decimal_to_string(tax.rates[code].rate),
            "taxable_amount": money_string(taxable[code], currency),
            "tax_amount": money_string(taxed[code], currency),
        }
        for code in order
    ]


def step_total(subtotal: Decimal, discount_total: Decimal, tax_total: Decimal, *, inclusive: bool) -> Decimal:
    """Step 4. With tax-inclusive prices the tax is already inside the subtotal: the table says how much."""
    return subtotal - discount_total + (ZERO if inclusive else tax_total)


def step_credits(total: Decimal, available: Decimal) -> Decimal:
    """Step 5: credit used, at most the total (and never below zero)."""
    return max(ZERO, min(available, total))


def invoice_money(
    lines: list[LineDraft], *, currency: str, tax: TaxContext = NO_TAX, credit_balance: Decimal = ZERO
) -> InvoiceMoney:
    """Run every step over one invoice's lines. `credit_balance` is the customer's balance in this currency
    before this invoice; on a draft the credit applied is what it would use if finalized now."""
    money = InvoiceMoney(lines=lines, currency=currency, tax_inclusive=tax.inclusive, reverse_charge=tax.reverse_charge)
    money.credit_carried = step_lines(lines)
    money.subtotal = sum((line.amount for line in lines), ZERO)
    money.discount_total = step_discounts(lines, currency)
    money.tax_summary = step_tax(lines, currency, tax)
    money.tax_total = sum((line.tax_amount for line in lines), ZERO)
    money.total = step_total(money.subtotal, money.discount_total, money.tax_total, inclusive=tax.inclusive)
    money.credit_applied = step_credits(money.total, credit_balance + money.credit_carried)
    money.amount_due = money.total - money.credit_applied
    return money
