"""A credit note's PDF and its email to the customer.

The PDF is rendered from the same document style as the invoice's (credit_note_document.html), on request: a
note changes only once, when voided, and is far rarer than invoices. The email goes where the invoice went
(delivery.deliver_to_customer); a send is claimed under the note's row lock, so a retry after success stops, and it runs
outside any transaction, so a frozen mail server holds no lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from fluxbill.core.errors import Conflict

from ..choices import CreditNoteStatus
from ..models import CreditNote
from ..parties import invoice_parties
from .audit import audit_event
from .delivery import EmailResult, deliver_to_customer


def credit_note_context(note: CreditNote) -> dict:
    """What credit_note_document.html renders from: the dashboard page, the PDF and the email alike."""
    invoice = note.invoice
    seller, bill_to = invoice_parties(invoice)
    items = list(note.items.order_by("position", "id"))
    return {"note": note, "invoice": invoice, "items": items, "seller": seller, "bill_to": bill_to}


def credit_note_pdf(note: CreditNote) -> bytes:
    from weasyprint import HTML

    note = CreditNote.objects.select_related("invoice", "invoice__customer", "invoice__billing_entity").get(pk=note.pk)
    return HTML(string=render_to_string("invoicing/credit_note_pdf.html", credit_note_context(note))).write_pdf()


def _message(note: CreditNote, to: str, cc: list[str]) -> EmailMultiAlternatives:
    context = credit_note_context(note)
    message = EmailMultiAlternatives(
        subject=f"Credit note {note.number} for invoice {note.invoice.number}",
        body=render_to_string("invoicing/email/credit_note.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        cc=[address for address in cc if address != to],
    )
    message.attach_alternative(render_to_string("invoicing/email/credit_note.html", context), "text/html")
    message.attach(f"{note.number}.pdf", credit_note_pdf(note), "application/pdf")
    return message


@transaction.atomic
def _claim(*, note: CreditNote, now: datetime, force: bool) -> tuple[EmailResult | None, CreditNote]:
    note = CreditNote.objects.select_for_update(of=("self",)).select_related("invoice", "invoice__customer").get(pk=note.pk)
    if note.status != CreditNoteStatus.ISSUED and not force:
        return EmailResult.NOT_NEEDED, note
    if note.email_sent_at is not None and not force:
        return EmailResult.ALREADY_SENT, note
    claim_window = timedelta(seconds=settings.FLUXBILL_EMAIL_CLAIM_SECONDS)
    if note.email_last_error == _SENDING and note.updated_at > now - claim_window:
        if force:
            raise Conflict("This credit note's email is being sent right now; try again in a minute")
        return EmailResult.IN_PROGRESS, note
    note.email_attempts += 1
    note.email_last_error = _SENDING
    note.save(update_fields=["email_attempts", "email_last_error", "updated_at"])
    return None, note


_SENDING = "sending"  # email_last_error while a send is under way (a crashed send is retried after the claim window)


@transaction.atomic
def _record(*, note: CreditNote, now: datetime, actor, to: str, error: str) -> EmailResult:
    note = CreditNote.objects.select_for_update().get(pk=note.pk)
    if error:
        note.email_last_error = error
        note.save(update_fields=["email_last_error", "updated_at"])
    else:
        note.email_sent_at, note.email_last_error = now, ""
        note.save(update_fields=["email_sent_at", "email_last_error", "updated_at"])
    audit_event(invoice=note.invoice, action="credit_note_email_failed" if error else "credit_note_email_sent",
                actor=actor, detail=f"{note.number}: {error or to}"[:500]).save()
    return EmailResult.FAILED if error else EmailResult.SENT


def credit_note_email_send(*, credit_note: CreditNote, now: datetime, actor, force: bool = False) -> tuple[EmailResult, str]:
    """Email the note to where its invoice goes, once (`force`: a staff resend). Not inside a transaction."""
    done, note = _claim(note=credit_note, now=now, force=force)
    if done is not None:
        return done, ""
    to, error = deliver_to_customer(note.invoice, lambda to, cc: _message(note, to, cc))
    return _record(note=note, now=now, actor=actor, to=to, error=error), error


def credit_notes_email_pending(*, now: datetime, limit: int = 500) -> list:
    """Issued notes whose email is neither sent nor being sent (a claim older than the claim window is a
    crashed send): the outbox sweep queues these, as it does invoices (delivery.invoices_email_pending)."""
    from django.db.models import Q

    stale = now - timedelta(seconds=settings.FLUXBILL_EMAIL_CLAIM_SECONDS)
    return list(
        CreditNote.objects.filter(
            status=CreditNoteStatus.ISSUED,
            email_sent_at__isnull=True,
            email_attempts__lt=settings.FLUXBILL_EMAIL_MAX_ATTEMPTS,
        )
        .filter(~Q(email_last_error=_SENDING) | Q(updated_at__lt=stale))
        .order_by("issued_at")
        .values_list("pk", flat=True)[:limit]
    )
