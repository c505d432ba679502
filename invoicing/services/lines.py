"""What an invoice for a subscription period says: one line per charge, priced and rounded once.

- FIXED charges bill their amount for the period, prorated by calendar days when only part of
  the period is billable (a trial ending inside it, a cancellation cutting it short): billable
  days, a started day counting as a whole day, over the days of the full period. Nothing is
  billed for days inside a trial.
- USAGE charges aggregate the meter over the window and price it with the charge's model.
- What non-void INTERIM invoices of the same period already billed for a charge is subtracted
  from that charge's line, so tiers price the whole period and nothing is billed twice; where they
  billed more than the period now comes to, the line is zero and the excess is customer credit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from catalog.choices import ChargeType
from catalog.pricing import price_charge
from customers.periods import period_at
from fluxbill.core.fields import decimal_to_string
from fluxbill.core.money import exact_arithmetic, round_money
from metering.aggregation import UsageWindow, unique_property

from ..choices import LineKind

DAY = timedelta(days=1)
ZERO = Decimal(0)


@dataclass
class LineDraft:
    kind: str
    description: str
    amount: Decimal
    quantity: Decimal = ZERO
    unit_price: Decimal | None = None
    breakdown: list = field(default_factory=list)
    charge: object = None
    meter_id: object = None
    # Filled in by the pipeline's later steps (pipeline.py).
    discount_amount: Decimal = ZERO
    taxable_amount: Decimal = ZERO
    tax_amount: Decimal = ZERO
    taxes: list = field(default_factory=list)
    # Billed before for this charge in this period beyond what the period now comes to: customer credit.
    excess: Decimal = ZERO

    @property
    def charge_id(self):
        return getattr(self.charge, "pk", None)


def drafts_total(drafts: list[LineDraft]) -> Decimal:
    """What the lines come to: each line is already rounded, so this is their plain sum."""
    return sum((d.amount for d in drafts), Decimal(0))


def _days(start: datetime, end: datetime) -> int:
    return max(0, math.ceil((end - start) / DAY))


def fixed_fee_days(subscription, window_start: datetime, window_end: datetime) -> tuple[int, int, str]:
    """(billable days, days of the full period, a note for the line) for the fixed fee of
    [window_start, window_end); the whole period is (1, 1, "") and nothing billable (0, 1, "")."""
    natural_start, natural_end = period_at(subscription.start_date, subscription.billing_interval, window_start)
    bill_from = max(window_start, subscription.trial_end) if subscription.trial_end else window_start
    bill_to = min(window_end, natural_end)
    if bill_to <= bill_from:
        return 0, 1, ""
    if bill_from <= natural_start and bill_to >= natural_end:
        return 1, 1, ""
    used, full = _days(bill_from, bill_to), _days(natural_start, natural_end)
    if used >= full:
        return 1, 1, ""
    return used, full, f"prorated {used}/{full} days"


def prorated_amount(amount: Decimal, used: int, full: int, currency: str) -> Decimal:
    """amount × used ÷ full, rounded once. One exact division: a fraction rounded first (1/30 as
    0.0333…) would turn an exact half cent ($0.15 for 1 of 30 days is $0.005) into less than one."""
    with exact_arithmetic():
        return round_money(amount * used / full, currency)


def usage_windows(subscription, charges, start: datetime, end: datetime) -> list[UsageWindow]:
    return [
        UsageWindow(
            customer_id=subscription.customer_id,
            meter_id=charge.meter_id,
            aggregation_type=charge.meter.aggregation_type,
            unique_property=unique_property(charge.meter),
            start=start,
            end=end,
        )
        for charge in charges
        if charge.type == ChargeType.USAGE
    ]


def build_lines(
    *,
    subscription,
    charges,
    currency: str,
    usage_start: datetime,
    usage_end: datetime,
    fixed_end: datetime,
    usage: dict,
    credited: dict,
) -> list[LineDraft]:
    """Lines for one subscription window. `usage` answers usage_windows(); `credited` maps charge id → amount
    already billed on interim invoices of this period."""
    lines: list[LineDraft] = []
    for charge in charges:
        already = credited.get(charge.id, ZERO)
        if charge.type == ChargeType.FIXED:
            used, days, note = fixed_fee_days(subscription, usage_start, fixed_end)
            if used == 0 and already == 0:
                continue
            full = prorated_amount(charge.amount, used, days, currency)
            fraction = Decimal(used) / Decimal(days)  # shown as the line's quantity; the amount is exact
            description = charge.display_name + (f" ({note})" if note else "")
            line = LineDraft(
                kind=LineKind.FIXED,
                description=description,
                amount=full,
                quantity=fraction if fraction != 1 else Decimal(1),
                unit_price=charge.amount,
                charge=charge,
            )
        else:
            window = UsageWindow(
                customer_id=subscription.customer_id,
                meter_id=charge.meter_id,
                aggregation_type=charge.meter.aggregation_type,
                unique_property=unique_property(charge.meter),
                start=usage_start,
                end=usage_end,
            )
            priced = price_charge(charge, usage.get(window, ZERO), currency)
            description = charge.display_name
            if charge.free_units:
                description += f" ({decimal_to_string(charge.free_units)} free units)"
            line = LineDraft(
                kind=LineKind.USAGE,
                description=description,
                amount=priced.amount,
                quantity=priced.quantity,
                unit_price=priced.unit_price,
                breakdown=priced.breakdown,
                charge=charge,
                meter_id=charge.meter_id,
            )
        if already:
            # Never below zero: what interim invoices (or a usage figure that has since fallen, as LATEST can)
            # billed beyond the period's price is carried to the customer's credit by the pipeline.
            line.excess = max(ZERO, already - line.amount)
            line.amount = max(ZERO, line.amount - already)
            line.description += f" (less {decimal_to_string(already)} billed on interim invoices)"
        lines.append(line)
    return lines
