"""Who an invoice is from and to: the seller (its billing entity) and the bill-to (its customer).

Apart from selectors because the PDF renderer in services reads it too, and selectors import services.
"""

from __future__ import annotations

from customers.selectors import customer_bill_to, entity_seller

from .models import Invoice


def invoice_parties(invoice: Invoice) -> tuple[dict, dict]:
    """(seller, bill-to) as the invoice prints them: an issued invoice's snapshots, frozen at finalization;
    a draft's live from its billing entity and customer (it changes until finalized)."""
    if invoice.issued_at is not None and invoice.seller_snapshot:
        return invoice.seller_snapshot, invoice.customer_snapshot
    if invoice.issued_at is not None:
        # Issued before billing entities existed: the snapshot then held name, email and address text.
        snapshot = invoice.customer_snapshot or {}
        bill_to = {**snapshot, "address_lines": [line for line in (snapshot.get("address") or "").splitlines() if line]}
        return entity_seller(invoice.billing_entity), bill_to
    return entity_seller(invoice.billing_entity), customer_bill_to(invoice.customer)
