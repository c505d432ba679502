"""What the customer's copy of an invoice prints: parties, lines with their breakdown rows, totals.

The page, the PDF and the email all render `invoicing/invoice_document.html` from what these functions return.
Nothing here writes, and nothing changes what is billed: a line's amount is the stored one.

Breakdown rows are printed in the currency. The priced tiers are exact (4.692, 29.998), so each row's printed
amount is chosen by the largest-remainder rule (fluxbill.core.money.allocate, as the tax step splits a rate's
tax): every row rounded down to the minor unit, then the cents still missing handed one each to the rows that lost
most. The printed rows add up to the printed line, to the cent: 4.692 + 30.00 + 29.998 = 64.69 prints 4.69 + 30.00
+ 30.00.

Two rows join the priced ones so that quantities and amounts add up on paper too:
- free units, when the charge gives some: "Free units", their count, no charge;
- what interim invoices of the same period already billed: the tiers price the whole period and the line bills
  the rest, so a negative row "Less billed on interim invoices" brings the rows down to the line's amount (never
  below zero: what they billed beyond it is the invoice's credit carried, printed under the totals).
Fixed fees carry neither: their description already says "prorated …" and "less … billed on interim invoices".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from fluxbill.core.fields import decimal_to_string
from fluxbill.core.money import allocate, format_quantity, format_unit_price, round_money

from ..choices import InvoiceStatus, LineKind
from ..parties import invoice_parties

ZERO = Decimal(0)


@dataclass
class PrintedRow:
    """One breakdown row under a line: what it covers, how many, at what price, and its printed amount."""

    label: str
    quantity: str = ""
    unit_price: str = ""
    amount: Decimal = ZERO


@dataclass
class PrintedLine:
    line: object
    description: str
    quantity: str
    unit_price: str
    amount: Decimal
    rows: list[PrintedRow] = field(default_factory=list)
    tax_rates: str = ""  # the rates the line is taxed at ("19%"), when the tax step has run


class PrintedLines(list):
    """The printed lines; `taxed` says whether any carries tax rates (the table then has a Tax column)."""

    @property
    def taxed(self) -> bool:
        return any(line.tax_rates for line in self)


def _meter_unit(line) -> str:
    meter = getattr(line, "meter", None)
    if meter is None:
        charge = getattr(line, "charge", None)
        meter = getattr(charge, "meter", None) if charge is not None and getattr(charge, "meter_id", None) else None
    return (getattr(meter, "unit", "") or "").strip()


def _with_unit(quantity: Decimal, unit: str) -> str:
    return f"{format_quantity(quantity)} {unit}" if unit else format_quantity(quantity)


def _free_units(line, quantity: Decimal) -> Decimal:
    """The free units the charge gave this line, trusted only when the line's own description names them (the
    charge may have been edited since the invoice was issued)."""
    charge = getattr(line, "charge", None)
    free = getattr(charge, "free_units", None) if charge is not None else None
    if not free or f"({decimal_to_string(free)} free units)" not in (line.description or ""):
        return ZERO
    return min(Decimal(free), quantity)


def _tier_rows(line, currency: str, unit: str) -> tuple[list[PrintedRow], Decimal]:
    """The priced breakdown rows and the amount they come to (the whole period's, before interim invoices)."""
    raw = [Decimal(tier["amount"]) for tier in line.breakdown]
    full = round_money(sum(raw, ZERO), currency)
    rows = []
    for tier, amount in zip(line.breakdown, allocate(full, raw, currency)):
        if tier.get("packages") is not None:
            packages = Decimal(tier["packages"])
            rows.append(PrintedRow(
                label=f"{format_quantity(packages)} package{'s' if packages != 1 else ''} of "
                      f"{_with_unit(Decimal(tier['package_size']), unit)}",
                quantity=format_quantity(packages),
                unit_price=f"{format_unit_price(Decimal(tier['package_price']), currency)} per package",
                amount=amount,
            ))  # fmt: skip
            continue
        upper = "∞" if tier.get("up_to") is None else format_quantity(Decimal(tier["up_to"]))
        price = format_unit_price(Decimal(tier["unit_price"]), currency)
        flat = Decimal(tier.get("flat_amount") or 0)
        if flat:
            price += f" + {format_unit_price(flat, currency)} flat"
        rows.append(PrintedRow(
            label=f"{format_quantity(Decimal(tier['from']))} – {upper}",
            quantity=_with_unit(Decimal(tier["units"]), unit),
            unit_price=price,
            amount=amount,
        ))  # fmt: skip
    return rows, full


def printed_line(line, currency: str) -> PrintedLine:
    """A line as the customer's copy prints it (see the module docstring for the rows it gains)."""
    quantity = Decimal(line.quantity or 0)
    kind = getattr(line, "kind", None)
    unit = _meter_unit(line) if kind == LineKind.USAGE else ""
    unit_price = "" if line.unit_price is None else format_unit_price(Decimal(line.unit_price), currency)
    if kind == LineKind.FIXED and quantity != quantity.to_integral_value():
        shown_quantity = format_quantity(round(quantity, 4))  # a prorated share of the period, e.g. 0.5161
    else:
        shown_quantity = _with_unit(quantity, unit)
    printed = PrintedLine(
        line=line, description=line.description, quantity=shown_quantity, unit_price=unit_price,
        amount=Decimal(line.amount),
        tax_rates=", ".join(_percent(tax.get("rate")) for tax in (getattr(line, "taxes", None) or [])),
    )  # fmt: skip
    if kind != LineKind.USAGE:
        return printed
    free = _free_units(line, quantity)
    if line.breakdown:
        rows, full = _tier_rows(line, currency, unit)
        if "units" in line.breakdown[0]:
            # Graduated and volume rows price the billable units; what they leave out of the quantity was free.
            free = max(ZERO, quantity - sum((Decimal(t["units"]) for t in line.breakdown), ZERO))
    elif line.unit_price is not None and (free or quantity):
        full = round_money((quantity - free) * Decimal(line.unit_price), currency)
        rows = []
        if free:
            rows.append(PrintedRow(label="Billable units", quantity=_with_unit(quantity - free, unit),
                                   unit_price=unit_price, amount=full))  # fmt: skip
    else:
        return printed
    if free:
        rows.insert(0, PrintedRow(label="Free units", quantity=_with_unit(free, unit), amount=ZERO))
    if full != printed.amount:
        if not rows:
            rows.append(PrintedRow(label="This period", quantity=_with_unit(quantity, unit), unit_price=unit_price,
                                   amount=full))  # fmt: skip
        rows.append(PrintedRow(label="Less billed on interim invoices", amount=printed.amount - full))
    printed.rows = rows
    return printed


def printed_lines(lines, currency: str) -> PrintedLines:
    return PrintedLines(printed_line(line, currency) for line in lines)


# Parties ---------------------------------------------------------------------------------------------------------

SELLER_KEYS = ("name", "legal_name", "address_lines", "country", "tax_id", "email", "phone", "payment_instructions",
               "footer", "logo")  # fmt: skip
BILL_TO_KEYS = ("name", "legal_name", "email", "cc_emails", "address_lines", "country", "tax_id", "external_id")


def _address_lines(snapshot: dict) -> list[str]:
    lines = snapshot.get("address_lines")
    if isinstance(lines, (list, tuple)) and any(str(line).strip() for line in lines):
        return [str(line) for line in lines if str(line).strip()]
    # Snapshots taken before address_lines existed carry one free-text address.
    return [line.strip() for line in str(snapshot.get("address") or "").splitlines() if line.strip()]


def printable_parties(seller: dict, bill_to: dict) -> tuple[dict, dict]:
    """The two parties with every key the document reads (blank when unknown) and address_lines as a list."""
    seller_out = {key: seller.get(key) or "" for key in SELLER_KEYS}
    seller_out["address_lines"] = _address_lines(seller)
    seller_out["legal_name"] = seller_out["legal_name"] or seller_out["name"]
    bill_to_out = {key: bill_to.get(key) or "" for key in BILL_TO_KEYS}
    bill_to_out["address_lines"] = _address_lines(bill_to)
    bill_to_out["legal_name"] = bill_to_out["legal_name"] or bill_to_out["name"] or bill_to_out["external_id"]
    return seller_out, bill_to_out


def document_parties(invoice) -> tuple[dict, dict]:
    """(seller, bill_to) as the document prints them: an issued invoice's snapshots, a draft's live parties."""
    return printable_parties(*invoice_parties(invoice))


def document_period(invoice) -> str:
    """The billing period [start, end) in words for people: whole days print as first and last day
    ("2025-01-01 – 2025-01-31"); a period that starts or ends inside a day (an interim invoice) prints its instants."""
    start, end = invoice.period_start, invoice.period_end
    midnight = {"hour": 0, "minute": 0, "second": 0, "microsecond": 0}
    if start == start.replace(**midnight) and end == end.replace(**midnight):
        last = (end - timedelta(days=1)).date()
        return start.date().isoformat() if last == start.date() else f"{start.date().isoformat()} – {last.isoformat()}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


# Totals ----------------------------------------------------------------------------------------------------------


def document_totals(invoice) -> dict:
    """The money pipeline's figures as printed: subtotal, discounts, the tax table, total, credits applied,
    what credit notes took off, amount paid, amount due (what is still to pay: the pipeline's amount due less
    credit-note offsets and payments received) and the credit carried to the customer's balance. A voided
    invoice is due nothing."""
    taxes = [
        {
            "name": row.get("name") or row.get("code") or "Tax",
            "rate": _percent(row.get("rate")),
            "taxable_amount": Decimal(str(row.get("taxable_amount") or 0)),
            "tax_amount": Decimal(str(row.get("tax_amount") or 0)),
        }
        for row in invoice.tax_summary or []
    ]
    return {
        "subtotal": invoice.subtotal,
        "discount_total": invoice.discount_total,
        "taxes": taxes,
        "tax_total": invoice.tax_total,
        "tax_inclusive": invoice.tax_inclusive,
        "total": invoice.total,
        "credit_applied": invoice.credit_applied,
        "amount_credited": invoice.amount_credited,
        "amount_paid": invoice.amount_paid,
        "amount_due": ZERO if invoice.status == InvoiceStatus.VOID else invoice.amount_remaining,
        "credit_carried": invoice.credit_carried,
    }


def _percent(rate) -> str:
    """A tax rate as printed: '19' → '19%', '7.50' → '7.5%' (catalog.TaxRate.rate is a percentage)."""
    if rate in (None, ""):
        return ""
    return f"{decimal_to_string(Decimal(str(rate)))}%"
