"""Row locks and state checks every invoice transition starts with."""

from __future__ import annotations

from customers.models import Customer
from fluxbill.core.errors import InvalidTransition

from ..models import Invoice


def invoice_locked(*, invoice: Invoice) -> Invoice:
    """The invoice re-read under `SELECT … FOR UPDATE` (its own row only), with its customer and billing entity."""
    return Invoice.objects.select_for_update(of=("self",)).select_related("customer", "billing_entity").get(pk=invoice.pk)


def status_require(*, invoice: Invoice, allowed: tuple[str, ...], action: str) -> None:
    """Refuse `action` unless the invoice is in one of the `allowed` statuses."""
    if invoice.status not in allowed:
        raise InvalidTransition(
            f"Cannot {action} an invoice that is {invoice.status}; allowed from: {', '.join(allowed)}",
            extra={"status": invoice.status, "allowed_statuses": list(allowed)},
        )


def customer_lock(customer_id):
    """The customer's row lock: serializes its credit ledger's writers (and subscription creates)."""
    return Customer.objects.select_for_update().get(pk=customer_id)
