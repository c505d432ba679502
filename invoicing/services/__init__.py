"""Invoicing services: generation (rollover, interim, preview), lifecycle (finalize, void, paid…), delivery (PDF, email)."""

from .delivery import (
    EmailResult,
    invoice_email_send,
    invoice_pdf,
    invoice_pdf_render,
    invoice_void_notice_send,
    invoices_email_pending,
)
from .freshness import draft_refresh_if_old, drafts_refresh
from .generation import (
    invoice_preview,
    invoice_recompute,
    subscription_generate_interim,
    subscriptions_rollover,
)
from .lifecycle import (
    Actor,
    invoice_billing_failed,
    invoice_finalize,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_regenerate,
    invoice_void,
    invoices_finalize_due,
)

__all__ = [
    "Actor",
    "EmailResult",
    "draft_refresh_if_old",
    "drafts_refresh",
    "invoice_billing_failed",
    "invoice_email_send",
    "invoice_finalize",
    "invoice_mark_paid",
    "invoice_mark_uncollectible",
    "invoice_pdf",
    "invoice_pdf_render",
    "invoices_email_pending",
    "invoice_preview",
    "invoice_recompute",
    "invoice_regenerate",
    "invoice_void",
    "invoice_void_notice_send",
    "invoices_finalize_due",
    "subscription_generate_interim",
    "subscriptions_rollover",
]
