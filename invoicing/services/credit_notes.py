"""Credit notes: correcting an issued invoice without voiding it (README, "Credit notes").

A note credits invoice lines, each item an amount before tax. Its tax comes from the rates the line was taxed
at, through the pipeline's tax step (pipeline.step_tax: per rate over the note, rounded once, split by the
largest remainder), capped per line and rate at what that line's tax still holds; an item that credits what
is left of its line takes exactly the tax left on it, so crediting an invoice in full gives back exactly its
tax and a run of partial notes never gives back more.

The note's total is applied in three parts that add up to it exactly:
- offset_amount  lowers what remains to pay on the invoice (at most what remains); an offset that brings the
                 remainder to zero settles the invoice (PAID, audited as settled by this note);
- credit_amount  goes to the customer's credit balance, which later invoices use at their credits step;
- refund_amount  was paid back outside Fluxbill (at most what was paid minus earlier refunds), recorded.
Left unsaid, the split is: offset what remains, the rest to credit.

Every note on one invoice is issued under that invoice's row lock, so concurrent notes are serialized and
cannot together credit more than the invoice has. Voiding a note undoes exactly what it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

from django.db import transaction
from django.db.models import Sum

from fluxbill.core.errors import InvalidInput, InvalidTransition
from fluxbill.core.fields import decimal_to_string
from fluxbill.core.money import money_string
from webhooks.services import emit

from ..choices import CreditKind, CreditNoteReason, CreditNoteStatus, InvoiceStatus
from ..events import credit_note_issued_on_commit
from ..models import CreditNote, CreditNoteItem, Invoice, InvoiceDocument, InvoiceLine, InvoiceNumberSequence
from .audit import audit_event
from .amounts import money_input
from .credit import credit_entry_append
from .lines import LineDraft
from .locks import customer_lock, invoice_locked
from .numbers import next_number
from .pipeline import TaxContext, step_tax

ZERO = Decimal(0)
CREDITABLE_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)
SPLIT_FIELDS = ("offset_amount", "credit_amount", "refund_amount")


@dataclass
class LineRoom:
    """What an invoice line can still be credited: before tax, and its tax per rate code."""

    line: InvoiceLine
    amount: Decimal
    taxes: dict  # code -> {"code", "name", "rate" (Decimal), "amount" (Decimal left)}

    @property
    def tax(self) -> Decimal:
        return sum((t["amount"] for t in self.taxes.values()), ZERO)

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax


@dataclass
class ItemDraft:
    room: LineRoom
    amount: Decimal
    tax_amount: Decimal = ZERO
    taxes: list = field(default_factory=list)

    @property
    def whole(self) -> bool:
        return self.amount == self.room.amount

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax_amount


@dataclass
class CreditNoteDraft:
    """A note computed and checked, not stored: what preview answers and what issue writes."""

    invoice: Invoice
    items: list[ItemDraft]
    rooms: list[LineRoom]
    subtotal: Decimal = ZERO
    tax_total: Decimal = ZERO
    total: Decimal = ZERO
    tax_summary: list = field(default_factory=list)
    offset_amount: Decimal = ZERO
    credit_amount: Decimal = ZERO
    refund_amount: Decimal = ZERO
    offset_max: Decimal = ZERO
    refund_max: Decimal = ZERO


def line_base(line: InvoiceLine) -> Decimal:
    """What a line's tax was charged on: its taxable amount (after discount, net of included tax). Lines issued
    before the money pipeline carry no taxable amount and no tax: theirs is the amount less its discount."""
    if line.taxable_amount == 0 and line.tax_amount == 0:
        return line.amount - line.discount_amount
    return line.taxable_amount


def line_rooms(invoice: Invoice) -> list[LineRoom]:
    """Every line of the invoice with what issued notes have not yet credited (two queries)."""
    lines = list(InvoiceLine.objects.filter(invoice_id=invoice.pk).order_by("position", "id"))
    credited = dict(
        CreditNoteItem.objects.filter(credit_note__invoice_id=invoice.pk, credit_note__status=CreditNoteStatus.ISSUED)
        .values("invoice_line_id").annotate(amount=Sum("amount")).values_list("invoice_line_id", "amount")
    )
    credited_taxes: dict[int, dict[str, Decimal]] = {}
    items = CreditNoteItem.objects.filter(
        credit_note__invoice_id=invoice.pk, credit_note__status=CreditNoteStatus.ISSUED
    ).values_list("invoice_line_id", "taxes")
    for line_id, taxes in items:
        per_code = credited_taxes.setdefault(line_id, {})
        for tax in taxes:
            per_code[tax["code"]] = per_code.get(tax["code"], ZERO) + Decimal(tax["amount"])
    rooms = []
    for line in lines:
        taxes = {}
        for tax in line.taxes or []:
            left = Decimal(tax["amount"]) - credited_taxes.get(line.pk, {}).get(tax["code"], ZERO)
            taxes[tax["code"]] = {"code": tax["code"], "name": tax.get("name", tax["code"]),
                                  "rate": Decimal(tax["rate"]), "amount": left}
        rooms.append(LineRoom(line=line, amount=line_base(line) - credited.get(line.pk, ZERO), taxes=taxes))
    return rooms


def _items(invoice: Invoice, rooms: list[LineRoom], raw_items) -> list[ItemDraft]:
    if not isinstance(raw_items, list) or not raw_items:
        raise InvalidInput("items must be a non-empty list of {invoice_line_id, amount}", field="items")
    by_id = {str(room.line.pk): room for room in rooms}
    drafts, seen = [], set()
    currency = invoice.currency
    for index, raw in enumerate(raw_items):
        where = f"items[{index}]"
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where} must be an object with invoice_line_id and amount", field=where)
        line_id = str(raw.get("invoice_line_id", "")).strip()
        if not line_id:
            raise InvalidInput(f"Missing required field: {where}.invoice_line_id", field=f"{where}.invoice_line_id")
        room = by_id.get(line_id)
        if room is None:
            raise InvalidInput(
                f"{where}.invoice_line_id: {line_id!r} is not a line of invoice {invoice}", field=f"{where}.invoice_line_id"
            )
        if line_id in seen:
            raise InvalidInput(f"{where}.invoice_line_id: line {line_id} is named twice", field=f"{where}.invoice_line_id")
        seen.add(line_id)
        if room.amount <= 0:
            raise InvalidInput(
                f"{where}: line {line_id} ({room.line.description}) has nothing left to credit", field=f"{where}.amount",
                extra={"limit": money_string(ZERO, currency)},
            )
        raw_amount = raw.get("amount")
        if raw_amount is None or (isinstance(raw_amount, str) and not raw_amount.strip()):
            amount = room.amount  # the whole of what is left
        else:
            amount = money_input(raw_amount, currency=currency, field_name=f"{where}.amount", allow_zero=False)
        if amount > room.amount:
            raise InvalidInput(
                f"{where}.amount: line {line_id} ({room.line.description}) can still be credited at most "
                f"{money_string(room.amount, currency)} {currency} before tax "
                f"({money_string(room.total, currency)} with tax); asked {money_string(amount, currency)}",
                field=f"{where}.amount",
                extra={"limit": money_string(room.amount, currency), "limit_with_tax": money_string(room.total, currency)},
            )
        drafts.append(ItemDraft(room=room, amount=amount))
    return drafts


def _tax(items: list[ItemDraft], currency: str) -> list[dict]:
    """The invoice's own tax step over the items that credit part of a line, at the rates their lines were
    taxed at; an item crediting what is left of its line takes the tax left on it. Per line and rate, never
    more than that line's tax still holds. Returns the note's tax table."""
    partial = [item for item in items if not item.whole]
    if partial:
        rates = {}
        drafts = []
        for item in partial:
            for code, tax in item.room.taxes.items():
                rates.setdefault(code, SimpleNamespace(rate=tax["rate"], name=tax["name"]))
            charge = SimpleNamespace(tax_rates=tuple(item.room.taxes))
            drafts.append(LineDraft(kind=item.room.line.kind, description=item.room.line.description,
                                    amount=item.amount, charge=charge))
        step_tax(drafts, currency, TaxContext(rates=rates))
        for item, draft in zip(partial, drafts):
            shares = {tax["code"]: Decimal(tax["amount"]) for tax in draft.taxes}
            item.taxes = [
                {**_tax_row(room_tax), "amount": min(shares.get(code, ZERO), room_tax["amount"])}
                for code, room_tax in item.room.taxes.items()
            ]
    for item in items:
        if item.whole:
            item.taxes = [{**_tax_row(room_tax), "amount": room_tax["amount"]} for room_tax in item.room.taxes.values()]
        item.taxes = [tax for tax in item.taxes if tax["amount"] > 0]
        item.tax_amount = sum((tax["amount"] for tax in item.taxes), ZERO)
    summary: dict[str, dict] = {}
    for item in items:
        for tax in item.taxes:
            row = summary.setdefault(tax["code"], {**_tax_row(tax), "taxable_amount": ZERO, "tax_amount": ZERO})
            row["taxable_amount"] += item.amount
            row["tax_amount"] += tax["amount"]
    return [
        {"code": row["code"], "name": row["name"], "rate": row["rate"],
         "taxable_amount": money_string(row["taxable_amount"], currency),
         "tax_amount": money_string(row["tax_amount"], currency)}
        for row in summary.values()
    ]


def _tax_row(tax: dict) -> dict:
    rate = tax["rate"]
    return {"code": tax["code"], "name": tax["name"], "rate": rate if isinstance(rate, str) else decimal_to_string(rate)}


def _split(draft: CreditNoteDraft, raw: dict) -> None:
    invoice, currency = draft.invoice, draft.invoice.currency
    given = {name: raw.get(name) for name in SPLIT_FIELDS if raw.get(name) not in (None, "")}
    if not given:
        draft.offset_amount = min(draft.total, draft.offset_max)
        draft.credit_amount = draft.total - draft.offset_amount
        return
    parts = {name: money_input(value, currency=currency, field_name=name) for name, value in given.items()}
    draft.offset_amount = parts.get("offset_amount", ZERO)
    draft.credit_amount = parts.get("credit_amount", ZERO)
    draft.refund_amount = parts.get("refund_amount", ZERO)
    if draft.offset_amount > draft.offset_max:
        raise InvalidInput(
            f"offset_amount can be at most {money_string(draft.offset_max, currency)} {currency}, what remains to pay "
            f"on {invoice}", field="offset_amount", extra={"limit": money_string(draft.offset_max, currency)},
        )
    if draft.refund_amount > draft.refund_max:
        raise InvalidInput(
            f"refund_amount can be at most {money_string(draft.refund_max, currency)} {currency}, what was paid on "
            f"{invoice} less earlier refunds", field="refund_amount", extra={"limit": money_string(draft.refund_max, currency)},
        )
    applied = draft.offset_amount + draft.credit_amount + draft.refund_amount
    if applied != draft.total:
        raise InvalidInput(
            f"offset_amount + credit_amount + refund_amount must add up to the note's total "
            f"{money_string(draft.total, currency)} {currency}; they add up to {money_string(applied, currency)}",
            field=next(iter(given)), extra={"total": money_string(draft.total, currency)},
        )


def credit_note_compute(*, invoice: Invoice, items, split: dict | None = None) -> CreditNoteDraft:
    """Check and compute a note on `invoice` (as it is now): items, their tax, totals, the split and its limits."""
    if invoice.status not in CREDITABLE_STATUSES:
        raise InvalidTransition(
            f"A credit note can be issued on an invoice that is {', '.join(CREDITABLE_STATUSES)}; {invoice} is "
            f"{invoice.status}",
            field="invoice_id",
            extra={"status": invoice.status, "allowed_statuses": list(CREDITABLE_STATUSES)},
        )
    rooms = line_rooms(invoice)
    draft = CreditNoteDraft(invoice=invoice, items=_items(invoice, rooms, items), rooms=rooms)
    draft.tax_summary = _tax(draft.items, invoice.currency)
    draft.subtotal = sum((item.amount for item in draft.items), ZERO)
    draft.tax_total = sum((item.tax_amount for item in draft.items), ZERO)
    draft.total = draft.subtotal + draft.tax_total
    draft.offset_max = max(ZERO, invoice.amount_remaining)
    draft.refund_max = max(ZERO, invoice.amount_paid - invoice.amount_refunded)
    _split(draft, split or {})
    return draft


def credit_note_preview(*, invoice: Invoice, items, split: dict | None = None) -> CreditNoteDraft:
    """What a note would be, nothing stored."""
    return credit_note_compute(invoice=Invoice.objects.select_related("customer").get(pk=invoice.pk), items=items,
                               split=split)


def _reason(value) -> str:
    reason = str(value or "").strip()
    if not reason:
        raise InvalidInput(f"Missing required field: reason (one of {', '.join(CreditNoteReason.values)})", field="reason")
    if reason not in CreditNoteReason.values:
        raise InvalidInput(f"reason must be one of {', '.join(CreditNoteReason.values)}, got {reason!r}", field="reason")
    return reason


def _document_outdated(invoice: Invoice) -> None:
    """The invoice's stored PDF shows what remains and its status: the next download renders them anew."""
    InvoiceDocument.objects.filter(invoice_id=invoice.pk).delete()


@transaction.atomic
def credit_note_issue(
    *, invoice: Invoice, reason, items, memo: str = "", split: dict | None = None, now: datetime, actor
) -> CreditNote:
    """Issue a note on an OPEN, PAID or UNCOLLECTIBLE invoice, under the invoice's row lock; the customer is
    emailed once the transaction commits."""
    reason = _reason(reason)
    memo = str(memo or "")
    if "\x00" in memo:
        raise InvalidInput("memo cannot contain NUL characters", field="memo")
    invoice = invoice_locked(invoice=invoice)
    draft = credit_note_compute(invoice=invoice, items=items, split=split)
    note = CreditNote.objects.create(
        number=_number(invoice, now),
        invoice=invoice,
        customer_id=invoice.customer_id,
        billing_entity_id=invoice.billing_entity_id,
        currency=invoice.currency,
        reason=reason,
        memo=memo[:5000],
        subtotal=draft.subtotal,
        tax_total=draft.tax_total,
        total=draft.total,
        offset_amount=draft.offset_amount,
        credit_amount=draft.credit_amount,
        refund_amount=draft.refund_amount,
        tax_summary=draft.tax_summary,
        issued_at=now,
        actor=actor.label,
        actor_user=getattr(actor, "user", None),
    )
    CreditNoteItem.objects.bulk_create([
        CreditNoteItem(
            credit_note=note, invoice_line=item.room.line, description=item.room.line.description[:300],
            amount=item.amount, tax_amount=item.tax_amount, total=item.total, position=position,
            taxes=[{**tax, "amount": money_string(tax["amount"], invoice.currency)} for tax in item.taxes],
        )
        for position, item in enumerate(draft.items)
    ])
    before = invoice.status
    invoice.amount_credited += draft.offset_amount
    invoice.amount_refunded += draft.refund_amount
    settles = draft.offset_amount > 0 and invoice.amount_remaining == 0 and before != InvoiceStatus.PAID
    if settles:
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, now
        note.settled_from_status = before
        note.save(update_fields=["settled_from_status", "updated_at"])
    invoice.save()
    if draft.offset_amount > 0:
        _document_outdated(invoice)
    amounts = credit_note_applied_text(note)
    audit_event(invoice=invoice, action="credit_note_issued", actor=actor, from_status=before, to_status=before,
                detail=f"{note.number}: {amounts}").save()
    if settles:
        audit_event(invoice=invoice, action="settled_by_credit_note", actor=actor, from_status=before,
                    to_status=InvoiceStatus.PAID, detail=note.number).save()
    if note.credit_amount > 0:
        customer_lock(invoice.customer_id)
        credit_entry_append(
            customer_id=invoice.customer_id, currency=invoice.currency, amount=note.credit_amount,
            kind=CreditKind.CREDIT_NOTE, invoice=invoice, credit_note=note, actor=actor,
            reason=f"{note.number} on {invoice.number}",
        )
    credit_note_issued_on_commit(credit_note_id=note.pk)
    emit("credit_note.issued", note, now=now)
    if settles:
        emit("invoice.paid", invoice, now=now)
    return note


def _number(invoice: Invoice, now: datetime) -> str:
    return next_number(entity=invoice.billing_entity, year=now.year, series=InvoiceNumberSequence.CREDIT_NOTE)


def credit_note_applied_text(note: CreditNote) -> str:
    parts = [(note.offset_amount, "offset"), (note.credit_amount, "to credit"), (note.refund_amount, "refunded")]
    shown = ", ".join(f"{money_string(amount, note.currency)} {label}" for amount, label in parts if amount > 0)
    return f"{money_string(note.total, note.currency)} {note.currency} ({shown})"


@transaction.atomic
def credit_note_void(*, credit_note: CreditNote, now: datetime, actor, reason: str = "") -> CreditNote:
    """Undo exactly what an ISSUED note did: its offset back onto the invoice (reopening it if the note had
    settled it), its refund off the record, its credit back out of the balance — 409 if that credit is used."""
    invoice = invoice_locked(invoice=Invoice(pk=credit_note.invoice_id))
    note = CreditNote.objects.select_for_update().get(pk=credit_note.pk)
    if note.status != CreditNoteStatus.ISSUED:
        raise InvalidTransition(f"Credit note {note.number} is {note.status}; only an ISSUED note can be voided",
                                extra={"status": note.status})
    reason = str(reason or "").strip()
    if "\x00" in reason:
        raise InvalidInput("reason cannot contain NUL characters", field="reason")
    if note.credit_amount > 0:
        customer_lock(invoice.customer_id)
        try:
            credit_entry_append(
                customer_id=invoice.customer_id, currency=invoice.currency, amount=-note.credit_amount,
                kind=CreditKind.CREDIT_NOTE_VOIDED, invoice=invoice, credit_note=note, actor=actor,
                reason=f"{note.number} voided",
            )
        except InvalidTransition as exc:
            raise InvalidTransition(
                f"{note.number} put {money_string(note.credit_amount, note.currency)} {note.currency} on the customer's "
                "credit balance and later invoices have used it; it cannot be voided now", field="status",
            ) from exc
    before = invoice.status
    invoice.amount_credited -= note.offset_amount
    invoice.amount_refunded -= note.refund_amount
    if invoice.status == InvoiceStatus.PAID and invoice.amount_remaining > 0:
        invoice.status = note.settled_from_status or InvoiceStatus.OPEN
        invoice.paid_at = None
    invoice.save()
    if note.offset_amount > 0:
        _document_outdated(invoice)
    note.status, note.voided_at, note.void_reason = CreditNoteStatus.VOID, now, reason[:500]
    note.save(update_fields=["status", "voided_at", "void_reason", "updated_at"])
    audit_event(invoice=invoice, action="credit_note_voided", actor=actor, from_status=before, to_status=invoice.status,
                detail=f"{note.number}{': ' + reason if reason else ''}"[:500]).save()
    emit("credit_note.voided", note, now=now)
    return note


def issued_credit_notes_check(invoice: Invoice) -> None:
    """An invoice with issued credit notes stays: void the notes first (they name its lines)."""
    numbers = list(
        CreditNote.objects.filter(invoice_id=invoice.pk, status=CreditNoteStatus.ISSUED).values_list("number", flat=True)
    )
    if numbers:
        raise InvalidTransition(
            f"{invoice} has issued credit notes ({', '.join(numbers)}); void them first", field="status",
            extra={"credit_notes": numbers},
        )
