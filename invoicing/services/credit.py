"""The customer credit ledger: every entry appended here, under the customer's row lock.

Entries are never changed or deleted; each carries the balance after it, so the balance is the last
entry's and concurrent writers are serialized by the lock on the customer row (the same lock a
subscription create takes). The database refuses a negative balance (credit_balance_not_negative).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction

from customers.models import Customer
from fluxbill.core.errors import InvalidInput, InvalidTransition
from fluxbill.core.money import fits_column, is_representable, is_valid_currency

from catalog.models import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS

from ..choices import CreditKind
from ..models import CreditEntry, Invoice
from .locks import customer_lock
from .pipeline import step_credits

ZERO = Decimal(0)


def credit_balances(pairs) -> dict:
    """{(customer_id, currency): balance} for many pairs in one query (absent pairs have none: 0)."""
    pairs = set(pairs)
    if not pairs:
        return {}
    customers = {customer_id for customer_id, _ in pairs}
    rows = (
        CreditEntry.objects.filter(customer_id__in=customers)
        .order_by("customer_id", "currency", "-id")
        .distinct("customer_id", "currency")
        .values_list("customer_id", "currency", "balance_after")
    )
    return {(customer_id, currency): balance for customer_id, currency, balance in rows if (customer_id, currency) in pairs}


def credit_balance(*, customer_id, currency: str) -> Decimal:
    last = CreditEntry.objects.filter(customer_id=customer_id, currency=currency).order_by("-id").first()
    return last.balance_after if last else ZERO


def credit_entry_append(
    *, customer_id, currency: str, amount: Decimal, kind: str, actor, invoice: Invoice | None = None, reason: str = "",
    credit_note=None, payment=None,
) -> CreditEntry:
    """Append one entry (naming the invoice, credit note or payment behind it). The caller holds the customer's
    row lock (customer_lock) in this transaction."""
    balance = credit_balance(customer_id=customer_id, currency=currency) + amount
    if balance < 0:
        raise InvalidTransition(
            f"The customer's {currency} credit balance is {balance - amount}; {-amount} cannot be taken from it",
            field="amount",
        )
    return CreditEntry.objects.create(
        customer_id=customer_id,
        currency=currency,
        amount=amount,
        balance_after=balance,
        kind=kind,
        invoice=invoice,
        credit_note=credit_note,
        payment=payment,
        reason=reason[:500],
        actor=actor.label,
        actor_user=getattr(actor, "user", None),
    )


def credit_on_finalize(*, invoice: Invoice, actor) -> None:
    """At finalization: carry the invoice's excess to the balance, then use the balance (steps 1 and 5).

    The draft's figures were an estimate; here, under the customer's lock, the credit applied is fixed and
    the amount due set from it."""
    customer_lock(invoice.customer_id)
    if invoice.credit_carried > 0:
        credit_entry_append(
            customer_id=invoice.customer_id, currency=invoice.currency, amount=invoice.credit_carried,
            kind=CreditKind.CARRIED, invoice=invoice, actor=actor,
            reason=f"billed before for this period beyond its price ({invoice.number})",
        )
    available = credit_balance(customer_id=invoice.customer_id, currency=invoice.currency)
    invoice.credit_applied = step_credits(invoice.total, available)
    invoice.amount_due = invoice.total - invoice.credit_applied
    if invoice.credit_applied > 0:
        credit_entry_append(
            customer_id=invoice.customer_id, currency=invoice.currency, amount=-invoice.credit_applied,
            kind=CreditKind.APPLIED, invoice=invoice, actor=actor, reason=f"applied to {invoice.number}",
        )


def credit_on_void(*, invoice: Invoice, actor) -> None:
    """Voiding an issued invoice undoes what it did to the balance: the credit it used comes back, the credit
    it carried goes out again — unless later invoices have used that, which the caller hears as a 409."""
    if invoice.credit_applied == 0 and invoice.credit_carried == 0:
        return
    customer_lock(invoice.customer_id)
    if invoice.credit_applied > 0:
        credit_entry_append(
            customer_id=invoice.customer_id, currency=invoice.currency, amount=invoice.credit_applied,
            kind=CreditKind.RESTORED, invoice=invoice, actor=actor, reason=f"{invoice.number} voided",
        )
    if invoice.credit_carried > 0:
        try:
            credit_entry_append(
                customer_id=invoice.customer_id, currency=invoice.currency, amount=-invoice.credit_carried,
                kind=CreditKind.REVERSED, invoice=invoice, actor=actor, reason=f"{invoice.number} voided",
            )
        except InvalidTransition as exc:
            raise InvalidTransition(
                f"{invoice.number} carried {invoice.credit_carried} {invoice.currency} of credit that later invoices "
                "have used; void those first (or adjust the balance), then void this one",
                field="status",
            ) from exc


@transaction.atomic
def credit_adjust(*, customer: Customer, currency: str, amount, reason: str, actor) -> CreditEntry:
    """Finance adds credit (amount > 0) or takes unused credit back (amount < 0), saying why."""
    code = str(currency or "").strip().upper()
    if not is_valid_currency(code):
        raise InvalidInput(f"currency must be an active ISO 4217 code such as USD, got {currency!r}", field="currency")
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"amount must be a decimal string such as '25.00', got {amount!r}", field="amount") from exc
    if not value.is_finite() or value == 0:
        raise InvalidInput("amount must be a non-zero amount (negative takes credit back)", field="amount")
    if not is_representable(value, code):
        raise InvalidInput(f"amount has more decimals than {code} allows", field="amount")
    if not fits_column(value, max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES):
        raise InvalidInput("amount is larger than a balance can hold", field="amount")
    if not str(reason or "").strip():
        raise InvalidInput("Missing required field: reason (why the balance changes)", field="reason")
    customer_lock(customer.pk)
    try:
        return credit_entry_append(
            customer_id=customer.pk, currency=code, amount=value, kind=CreditKind.ADJUSTMENT, actor=actor,
            reason=reason.strip(),
        )
    except InvalidTransition as exc:
        raise InvalidInput(exc.message, field="amount") from exc
