"""Delivering invoices: the PDF (from the same template the dashboard shows) and the email."""

from __future__ import annotations

import enum
import smtplib
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from ..choices import InvoiceStatus
from ..models import Invoice
from .generation import _audit
from .lifecycle import _locked, _require


def invoice_pdf(invoice: Invoice) -> bytes:
    from weasyprint import HTML

    html = render_to_string("invoicing/invoice_pdf.html", {"invoice": invoice, "lines": list(invoice.lines.all())})
    return HTML(string=html).write_pdf()


class EmailResult(enum.Enum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    FAILED = "failed"


def _message(invoice: Invoice, to: str) -> EmailMultiAlternatives:
    context = {"invoice": invoice}
    message = EmailMultiAlternatives(
        subject=f"Invoice {invoice.number}",
        body=render_to_string("invoicing/email/invoice.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(render_to_string("invoicing/email/invoice.html", context), "text/html")
    message.attach(f"{invoice.number}.pdf", invoice_pdf(invoice), "application/pdf")
    return message


def invoice_email_send(*, invoice: Invoice, now: datetime, actor, force: bool = False) -> tuple[EmailResult, str]:
    """Email a finalized invoice once. The row stays locked while sending, so two workers cannot both
    send it; a retry after success finds `email_sent_at` set and stops. `force` is a staff resend."""
    with transaction.atomic():
        invoice = _locked(invoice)
        _require(invoice, (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE), "email")
        if invoice.email_sent_at is not None and not force:
            return EmailResult.ALREADY_SENT, ""
        invoice.email_attempts += 1
        to = (invoice.customer_snapshot or {}).get("email") or invoice.customer.email
        error = ""
        if not to:
            error = "Customer has no email address"
        else:
            try:
                _message(invoice, to).send(fail_silently=False)
            except (smtplib.SMTPException, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:1000]
        if error:
            invoice.email_last_error = error
            invoice.save(update_fields=["email_attempts", "email_last_error", "updated_at"])
            _audit(invoice, action="email_failed", actor=actor, detail=error).save()
            return EmailResult.FAILED, error
        invoice.email_sent_at = now
        invoice.email_last_error = ""
        invoice.save(update_fields=["email_attempts", "email_sent_at", "email_last_error", "updated_at"])
        _audit(invoice, action="email_sent", actor=actor, detail=to).save()
        return EmailResult.SENT, ""
