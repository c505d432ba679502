"""The invoice audit trail: one constructor for the row every invoice change leaves (InvoiceEvent)."""

from __future__ import annotations

from ..models import Invoice, InvoiceEvent


def audit_fields(*, action: str, actor, from_status: str = "", to_status: str = "", detail: str = "") -> dict:
    """The audit columns for `action` by `actor`, for callers that build InvoiceEvent rows in bulk."""
    return {
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "actor": actor.label,
        "actor_user_id": actor.user.pk if actor.user is not None else None,
        "detail": detail,
    }


def audit_event(
    *, invoice: Invoice, action: str, actor, from_status: str = "", to_status: str = "", detail: str = ""
) -> InvoiceEvent:
    """An unsaved audit row for `invoice`; the caller saves it inside the transaction that made the change."""
    fields = audit_fields(action=action, actor=actor, from_status=from_status, to_status=to_status, detail=detail)
    return InvoiceEvent(invoice=invoice, **fields)
