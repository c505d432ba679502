"""Side effects that follow invoice events (`invoicing.events`), connected in `InvoicingConfig.ready()`."""

from __future__ import annotations

import logging

from django.conf import settings

from .tasks import send_credit_note_email, send_invoice_email, send_void_notice

logger = logging.getLogger(__name__)


def invoice_email_enqueue(*, invoice_id, nothing_due: bool = False, **kwargs) -> None:
    if nothing_due and not settings.FLUXBILL_EMAIL_ZERO_INVOICES:
        return  # a $0.00 invoice is not news to the customer (issue 16 §4); its PDF stays downloadable
    try:
        # One publish attempt, bounded by the broker's socket timeout: kombu's default retries made a
        # finalize request wait 10 s on a frozen Redis. The invoice row is the outbox: the sweep sends it.
        send_invoice_email.apply_async((str(invoice_id),), retry=False)
    except Exception:  # broker unreachable: the periodic sweep sends it later
        logger.warning("could not enqueue email for invoice %s; the sweep will retry", invoice_id)


def void_notice_enqueue(*, invoice_id, **kwargs) -> None:
    """The customer had the invoice that was just voided: tell them (issue 16 §5)."""
    try:
        send_void_notice.apply_async((str(invoice_id),), retry=False)
    except Exception:  # broker unreachable: the void stands; the audit trail shows no void_notice_sent
        logger.warning("could not enqueue the void notice for invoice %s", invoice_id)


def credit_note_email_enqueue(*, credit_note_id, **kwargs) -> None:
    """A credit note was issued: send it to the customer."""
    try:
        send_credit_note_email.apply_async((str(credit_note_id),), retry=False)
    except Exception:  # broker unreachable: the note stands; staff can resend it from its page
        logger.warning("could not enqueue the email for credit note %s", credit_note_id)
