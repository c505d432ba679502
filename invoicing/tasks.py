"""Thin Celery tasks: ids in, call a service, return. Safe to run twice or after a crash."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import CreditNote, Invoice
from .services import (
    Actor,
    EmailResult,
    drafts_refresh,
    invoice_email_send,
    invoice_void_notice_send,
    invoices_email_pending,
    invoices_finalize_due,
    subscriptions_rollover,
)
from .services.credit_note_delivery import credit_note_email_send, credit_notes_email_pending


@shared_task(name="invoicing.rollover_subscriptions")
def rollover_subscriptions() -> int:
    return subscriptions_rollover(
        now=timezone.now(), actor=Actor.task("rollover"), batch_size=settings.FLUXBILL_ROLLOVER_BATCH_SIZE
    )


@shared_task(name="invoicing.finalize_due_invoices")
def finalize_due_invoices() -> int:
    return invoices_finalize_due(now=timezone.now(), actor=Actor.task("finalize"))


@shared_task(name="invoicing.refresh_drafts")
def refresh_drafts() -> int:
    return drafts_refresh(now=timezone.now(), actor=Actor.task("draft-refresh"))


def email_backoff(retries: int) -> int:
    return min(settings.FLUXBILL_EMAIL_RETRY_MAX_SECONDS, settings.FLUXBILL_EMAIL_RETRY_BASE_SECONDS * 2**retries)


@shared_task(bind=True, name="invoicing.send_invoice_email", max_retries=None)
def send_invoice_email(self, invoice_id: str) -> str:
    result, error = invoice_email_send(invoice=Invoice(pk=invoice_id), now=timezone.now(), actor=Actor.task("email"))
    if result is EmailResult.FAILED and self.request.retries + 1 < settings.FLUXBILL_EMAIL_MAX_ATTEMPTS:
        raise self.retry(countdown=email_backoff(self.request.retries), exc=None)
    return result.value


@shared_task(bind=True, name="invoicing.send_void_notice", max_retries=None)
def send_void_notice(self, invoice_id: str) -> str:
    result, _ = invoice_void_notice_send(invoice=Invoice(pk=invoice_id), now=timezone.now(), actor=Actor.task("email"))
    retry = result in (EmailResult.FAILED, EmailResult.IN_PROGRESS)
    if retry and self.request.retries + 1 < settings.FLUXBILL_EMAIL_MAX_ATTEMPTS:
        raise self.retry(countdown=email_backoff(self.request.retries), exc=None)
    return result.value


@shared_task(bind=True, name="invoicing.send_credit_note_email", max_retries=None)
def send_credit_note_email(self, credit_note_id: str) -> str:
    result, _ = credit_note_email_send(credit_note=CreditNote(pk=credit_note_id), now=timezone.now(), actor=Actor.task("email"))
    retry = result in (EmailResult.FAILED, EmailResult.IN_PROGRESS)
    if retry and self.request.retries + 1 < settings.FLUXBILL_EMAIL_MAX_ATTEMPTS:
        raise self.retry(countdown=email_backoff(self.request.retries), exc=None)
    return result.value


@shared_task(name="invoicing.send_pending_emails")
def send_pending_emails() -> int:
    """The outbox sweep: queue emails whose task was lost (broker down at finalization or issue, worker gone):
    invoices' and credit notes'."""
    now = timezone.now()
    count = 0
    for pk in invoices_email_pending(now=now):
        send_invoice_email.delay(str(pk))
        count += 1
    for pk in credit_notes_email_pending(now=now):
        send_credit_note_email.delay(str(pk))
        count += 1
    return count
