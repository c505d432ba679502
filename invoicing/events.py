"""What happened to an invoice, for whoever wants to follow: the services announce, subscribers act.

An action such as finalizing or voiding records that it happened and sends the event after its transaction
commits; side effects (the invoice email, the void notice) subscribe in `InvoicingConfig.ready()`, so the
state transitions never import the tasks that react to them.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# Sent with `invoice_id` once the transaction that opened the invoice has committed.
invoice_finalized = Signal()


def invoice_finalized_on_commit(*, invoice_id, nothing_due: bool = False) -> None:
    """Announce a finalized invoice when the current transaction commits (never if it rolls back);
    `nothing_due` says it was settled at finalization (a zero total)."""
    transaction.on_commit(
        lambda: invoice_finalized.send(sender="invoicing", invoice_id=invoice_id, nothing_due=nothing_due)
    )


# Sent with `invoice_id` once the transaction that voided an issued (OPEN or UNCOLLECTIBLE) invoice has committed;
# a regenerate's replacement exists by then. A voided draft was never the customer's, so it announces nothing.
invoice_voided = Signal()


def invoice_voided_on_commit(*, invoice_id) -> None:
    """Announce a voided issued invoice when the current transaction commits (never if it rolls back)."""
    transaction.on_commit(lambda: invoice_voided.send(sender="invoicing", invoice_id=invoice_id))


# Sent with `credit_note_id` once the transaction that issued a credit note has committed (its email follows).
credit_note_issued = Signal()


def credit_note_issued_on_commit(*, credit_note_id) -> None:
    transaction.on_commit(lambda: credit_note_issued.send(sender="invoicing", credit_note_id=credit_note_id))
