"""Delivering invoices: the PDF (from the same template the dashboard shows) and the email.

An issued invoice never changes, so its PDF is rendered once and stored (InvoiceDocument); a draft's is
rendered on every request. An email send holds the invoice's row lock only for two short transactions:
one claims the send, one records the outcome. Rendering and the SMTP conversation run unlocked, so a
frozen mail server cannot block a staff action on the invoice.
"""

from __future__ import annotations

import enum
import hashlib
import smtplib
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from fluxbill.core.errors import Conflict
from webhooks.services import emit

from ..choices import InvoiceStatus
from ..models import Invoice, InvoiceDocument
from ..parties import invoice_parties
from .audit import audit_event
from .locks import invoice_locked, status_require

EMAILABLE = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)


def invoice_pdf_render(invoice: Invoice) -> bytes:
    """Render the PDF now (seconds for thousands of lines). Callers other than `invoice_pdf` are tests."""
    from weasyprint import HTML

    seller, bill_to = invoice_parties(invoice)
    lines = list(invoice.lines.select_related("meter", "charge"))
    context = {"invoice": invoice, "lines": lines, "seller": seller, "bill_to": bill_to}
    html = render_to_string("invoicing/invoice_pdf.html", context)
    return HTML(string=html).write_pdf()


def _stored_pdf(invoice_id) -> bytes | None:
    pdf = InvoiceDocument.objects.filter(invoice_id=invoice_id).values_list("pdf", flat=True).first()
    return bytes(pdf) if pdf is not None else None


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF: a draft's rendered now, an issued invoice's rendered once and then read back.

    Concurrent first requests for one invoice queue on a transaction-scoped advisory lock: one renders
    and stores, the others wait for it and read the stored copy instead of rendering again.
    """
    if invoice.status == InvoiceStatus.DRAFT or invoice.number is None:
        return invoice_pdf_render(invoice)
    stored = _stored_pdf(invoice.pk)
    if stored is not None:
        return stored
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"invoice-pdf:{invoice.pk}"])
        stored = _stored_pdf(invoice.pk)
        if stored is not None:
            return stored
        pdf = invoice_pdf_render(invoice)
        InvoiceDocument.objects.create(
            invoice_id=invoice.pk, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf),
            rendered_at=timezone.now(),
        )
    return pdf


class EmailResult(enum.Enum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    NOT_NEEDED = "not_needed"


def _message(invoice: Invoice, to: str, cc: list[str]) -> EmailMultiAlternatives:
    seller, bill_to = invoice_parties(invoice)
    context = {"invoice": invoice, "seller": seller, "bill_to": bill_to}
    message = EmailMultiAlternatives(
        subject=f"Invoice {invoice.number}",
        body=render_to_string("invoicing/email/invoice.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        cc=[address for address in cc if address != to],
    )
    message.attach_alternative(render_to_string("invoicing/email/invoice.html", context), "text/html")
    message.attach(f"{invoice.number}.pdf", invoice_pdf(invoice), "application/pdf")
    return message


def email_claim_is_live(invoice: Invoice, now: datetime) -> bool:
    """A claim younger than FLUXBILL_EMAIL_CLAIM_SECONDS is a send in progress; an older one is a dead worker's."""
    return (
        invoice.email_claim_token is not None
        and invoice.email_claimed_at is not None
        and invoice.email_claimed_at > now - timedelta(seconds=settings.FLUXBILL_EMAIL_CLAIM_SECONDS)
    )


@transaction.atomic
def _email_claim(*, invoice: Invoice, now: datetime, force: bool) -> tuple[EmailResult | None, Invoice, uuid.UUID | None]:
    invoice = invoice_locked(invoice=invoice)
    status_require(invoice=invoice, allowed=EMAILABLE, action="email")
    if invoice.email_sent_at is not None and not force:
        return EmailResult.ALREADY_SENT, invoice, None
    if email_claim_is_live(invoice, now):
        if force:
            raise Conflict("This invoice's email is being sent right now; try again in a minute")
        return EmailResult.IN_PROGRESS, invoice, None
    token = uuid.uuid4()
    invoice.email_claim_token, invoice.email_claimed_at = token, now
    invoice.email_attempts += 1
    invoice.save(update_fields=["email_claim_token", "email_claimed_at", "email_attempts", "updated_at"])
    return None, invoice, token


@transaction.atomic
def _email_record(*, invoice: Invoice, token: uuid.UUID, now: datetime, actor, to: str, error: str) -> EmailResult:
    invoice = invoice_locked(invoice=invoice)
    # Ours or nobody's: a send that outlived its claim was taken over, and the taker records its own outcome.
    ours = invoice.email_claim_token == token
    if ours:
        invoice.email_claim_token = None
    if error:
        if ours:
            invoice.email_last_error = error
            invoice.save(update_fields=["email_claim_token", "email_last_error", "updated_at"])
        audit_event(invoice=invoice, action="email_failed", actor=actor, detail=error).save()
        emit("invoice.email_failed", invoice, now=now)
        return EmailResult.FAILED
    # The message went out: say so even if the claim was taken over, so nobody sends it a third time.
    invoice.email_sent_at = now
    invoice.email_last_error = ""
    invoice.save(update_fields=["email_claim_token", "email_sent_at", "email_last_error", "updated_at"])
    audit_event(invoice=invoice, action="email_sent", actor=actor, detail=to).save()
    return EmailResult.SENT


def deliver_to_customer(invoice: Invoice, build) -> tuple[str, str]:
    """Send `build(to, cc)` where the invoice goes — the snapshot's invoice email (else the customer's), its cc
    addresses in Cc — and answer (to, error); error is "" when the mail server took it."""
    snapshot = invoice.customer_snapshot or {}
    to = snapshot.get("email") or invoice.customer.invoice_email or invoice.customer.email
    if not to:
        return to, "Customer has no email address"
    try:
        build(to, list(snapshot.get("cc_emails") or [])).send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        return to, f"{type(exc).__name__}: {exc}"[:1000]
    return to, ""


def invoice_email_send(*, invoice: Invoice, now: datetime, actor, force: bool = False) -> tuple[EmailResult, str]:
    """Email a finalized invoice once. A claim (token and time on the row, set under a short lock) keeps a
    second worker from sending it meanwhile; a retry after success finds `email_sent_at` set and stops.
    `force` is a staff resend. Must not run inside a transaction: the claim has to be visible to others."""
    done, invoice, token = _email_claim(invoice=invoice, now=now, force=force)
    if done is not None:
        return done, ""
    to, error = deliver_to_customer(invoice, lambda to, cc: _message(invoice, to, cc))
    result = _email_record(invoice=invoice, token=token, now=now, actor=actor, to=to, error=error)
    return result, error


def invoices_email_pending(*, now: datetime, limit: int = 500) -> list:
    """Issued invoices whose email is neither sent nor being sent: the outbox sweep queues these.

    Covers a send lost between the finalizing commit and the queue, a task lost with its worker, and a
    claim whose worker died (older than FLUXBILL_EMAIL_CLAIM_SECONDS)."""
    from django.db.models import Q

    stale = now - timedelta(seconds=settings.FLUXBILL_EMAIL_CLAIM_SECONDS)
    return list(
        Invoice.objects.filter(
            status=InvoiceStatus.OPEN,
            email_sent_at__isnull=True,
            email_attempts__lt=settings.FLUXBILL_EMAIL_MAX_ATTEMPTS,
        )
        .filter(Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=stale))
        .order_by("issued_at")
        .values_list("pk", flat=True)[:limit]
    )


# The void notice ---------------------------------------------------------------------------------------------------
# When an issued invoice is voided (alone or by a regenerate) the customer is told, once. The audit row
# "void_notice_sent" is the record that it went out; while it is being sent the invoice's email claim columns
# hold the claim (a VOID invoice's own email is never sent again, so they are free).

VOID_NOTICE_SENT = "void_notice_sent"


def void_notice_replacement(invoice: Invoice) -> Invoice | None:
    """The issued invoice a regenerate made in this one's place, if any."""
    return Invoice.objects.filter(replaces=invoice, number__isnull=False).only("id", "number", "total", "currency").first()


def _void_notice_message(invoice: Invoice, to: str, cc: list[str], replacement: Invoice | None) -> EmailMultiAlternatives:
    seller, bill_to = invoice_parties(invoice)
    context = {"invoice": invoice, "replacement": replacement, "seller": seller, "bill_to": bill_to}
    message = EmailMultiAlternatives(
        subject=f"Invoice {invoice.number} has been voided",
        body=render_to_string("invoicing/email/void_notice.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        cc=[address for address in cc if address != to],
    )
    message.attach_alternative(render_to_string("invoicing/email/void_notice.html", context), "text/html")
    message.attach(f"{invoice.number}-void.pdf", invoice_pdf(invoice), "application/pdf")  # with its VOID stamp
    return message


@transaction.atomic
def _void_notice_claim(*, invoice: Invoice, now: datetime) -> tuple[EmailResult | None, Invoice, uuid.UUID | None]:
    invoice = invoice_locked(invoice=invoice)
    status_require(invoice=invoice, allowed=(InvoiceStatus.VOID,), action="send a void notice for")
    if invoice.number is None:
        return EmailResult.NOT_NEEDED, invoice, None  # a voided draft: the customer never had it
    if invoice.audit.filter(action=VOID_NOTICE_SENT).exists():
        return EmailResult.ALREADY_SENT, invoice, None
    if email_claim_is_live(invoice, now):
        return EmailResult.IN_PROGRESS, invoice, None
    token = uuid.uuid4()
    invoice.email_claim_token, invoice.email_claimed_at = token, now
    invoice.save(update_fields=["email_claim_token", "email_claimed_at", "updated_at"])
    return None, invoice, token


@transaction.atomic
def _void_notice_record(*, invoice: Invoice, token: uuid.UUID, actor, to: str, error: str) -> EmailResult:
    invoice = invoice_locked(invoice=invoice)
    if invoice.email_claim_token == token:
        invoice.email_claim_token = None
        invoice.save(update_fields=["email_claim_token", "updated_at"])
    if error:
        audit_event(invoice=invoice, action="void_notice_failed", actor=actor, detail=error).save()
        return EmailResult.FAILED
    audit_event(invoice=invoice, action=VOID_NOTICE_SENT, actor=actor, detail=to).save()
    return EmailResult.SENT


def invoice_void_notice_send(*, invoice: Invoice, now: datetime, actor) -> tuple[EmailResult, str]:
    """Email the customer that an issued invoice was voided, naming its replacement if a regenerate made one.

    Once: a retry after success finds the "void_notice_sent" audit row and stops. Must not run inside a
    transaction (the claim has to be visible to other workers)."""
    done, invoice, token = _void_notice_claim(invoice=invoice, now=now)
    if done is not None:
        return done, ""
    replacement = void_notice_replacement(invoice)
    to, error = deliver_to_customer(invoice, lambda to, cc: _void_notice_message(invoice, to, cc, replacement))
    return _void_notice_record(invoice=invoice, token=token, actor=actor, to=to, error=error), error
