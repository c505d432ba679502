"""Credit notes through the service: items, their tax at the line's rates, the split, the limits, void.

Every expected amount is worked out by hand in the comments. The invoice most tests use (`_taxed_invoice`):
a 49.00 fee and 130 units at 0.25 = 32.50, VAT 19 % over the invoice: 81.50 × 0.19 = 15.485 → 15.49, split
by the largest remainder: 9.31 on the fee (9.31 exact) and 6.18 on the usage (6.175 takes the cent).
Total 96.99.
"""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from catalog.taxes import tax_rate_create
from fluxbill.core.errors import InvalidInput, InvalidTransition
from invoicing.choices import CreditKind, CreditNoteStatus, InvoiceKind, InvoiceStatus
from invoicing.models import CreditEntry, CreditNote, Invoice
from invoicing.services import Actor, invoice_finalize, invoice_mark_paid, invoice_void, subscriptions_rollover
from invoicing.services.credit import credit_balance
from invoicing.services.credit_notes import credit_note_issue, credit_note_preview, credit_note_void

from .builders import ACTOR, event, plan_with, subscribe, utc

pytestmark = pytest.mark.django_db
D = Decimal
NOW = utc(2025, 2, 10)


def _issued(plan, units_by_charge, *, customer=None):
    sub = subscribe(plan, utc(2025, 1, 1), customer=customer)
    for charge, units in units_by_charge:
        event(charge, sub.customer, units, utc(2025, 1, 9))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    draft = Invoice.objects.get(subscription=sub, kind=InvoiceKind.PERIOD, period_start=utc(2025, 1, 1))
    return invoice_finalize(invoice=draft, now=utc(2025, 2, 1, 1), actor=ACTOR)


def _taxed_invoice(**kwargs):
    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    plan, _, (charge,) = plan_with(fixed="49.00", usage=[{"unit_price": D("0.25")}], tax_rates=["VAT19"], **kwargs)
    return _issued(plan, [(charge, 130)])


def _lines(invoice):
    fee, usage = invoice.lines.order_by("position", "id")
    return fee, usage


def issue(invoice, items, **kwargs):
    kwargs.setdefault("reason", "order_change")
    return credit_note_issue(invoice=invoice, items=items, now=kwargs.pop("now", NOW), actor=ACTOR, **kwargs)


def _figures(note):
    return (note.subtotal, note.tax_total, note.total, note.offset_amount, note.credit_amount, note.refund_amount)


def test_the_taxed_invoice_is_what_the_comments_say():
    invoice = _taxed_invoice()
    fee, usage = _lines(invoice)
    assert (fee.amount, fee.tax_amount, usage.amount, usage.tax_amount, invoice.total) == (
        D("49.00"), D("9.31"), D("32.50"), D("6.18"), D("96.99"),
    )


def test_crediting_every_line_in_full_gives_back_exactly_the_invoices_tax_and_settles_it():
    invoice = _taxed_invoice()
    fee, usage = _lines(invoice)
    note = issue(invoice, [{"invoice_line_id": fee.pk}, {"invoice_line_id": usage.pk}])
    # 81.50 before tax, the 15.49 tax the invoice charged (not 81.50 × 0.19 re-rounded per line), 96.99 offset.
    assert _figures(note) == (D("81.50"), D("15.49"), D("96.99"), D("96.99"), D("0"), D("0"))
    assert [(i.amount, i.tax_amount) for i in note.items.order_by("position")] == [
        (D("49.00"), D("9.31")), (D("32.50"), D("6.18")),
    ]
    assert note.tax_summary == [
        {"code": "VAT19", "name": "VAT 19%", "rate": "19", "taxable_amount": "81.50", "tax_amount": "15.49"}
    ]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_credited, invoice.amount_remaining) == (InvoiceStatus.PAID, D("96.99"), D("0"))
    assert invoice.audit.filter(action="settled_by_credit_note", to_status=InvoiceStatus.PAID, detail=note.number).exists()
    assert note.settled_from_status == InvoiceStatus.OPEN
    assert note.number == "INV-CN-2025-000001"
    credit_note_void(credit_note=note, now=NOW, actor=ACTOR)  # reopens what it settled
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_at, invoice.amount_remaining) == (InvoiceStatus.OPEN, None, D("96.99"))


def test_a_run_of_partial_notes_never_gives_back_more_tax_than_the_line_had():
    invoice = _taxed_invoice()
    _, usage = _lines(invoice)
    # Usage line: 32.50, tax 6.18. Three notes of 10.00: 1.90 tax each (10 × 0.19), 5.70 in all; the last note
    # takes what is left, 2.50, and the tax left on the line, 6.18 − 5.70 = 0.48 (2.50 × 0.19 = 0.475 → 0.48).
    totals = [issue(invoice, [{"invoice_line_id": usage.pk, "amount": "10.00"}]).total for _ in range(3)]
    last = issue(invoice, [{"invoice_line_id": usage.pk}])
    assert totals == [D("11.90")] * 3
    assert (last.subtotal, last.tax_total, last.total) == (D("2.50"), D("0.48"), D("2.98"))
    assert sum(totals) + last.total == D("32.50") + D("6.18")
    with pytest.raises(InvalidInput) as nothing_left:
        issue(invoice, [{"invoice_line_id": usage.pk, "amount": "0.01"}])
    assert nothing_left.value.field == "items[0].amount"
    assert "nothing left to credit" in nothing_left.value.message


def test_a_line_whose_tax_was_allocated_down_gives_back_what_it_was_charged():
    # Two lines of 0.05 at 10 %: 0.005 + 0.005 = 0.01 of tax on the invoice, allocated to the first line (a tie
    # in remainders goes to the first). The second line was charged 0.00: crediting it whole gives back 0.00
    # (not 0.05 × 0.10 = 0.005 → 0.01), so the two together give back 0.01, what the invoice had.
    tax_rate_create(code="T10", name="Tax 10%", rate="10")
    plan, _, (a, b) = plan_with(usage=[{"unit_price": D("0.05")}, {"unit_price": D("0.05")}], tax_rates=["T10"])
    invoice = _issued(plan, [(a, 1), (b, 1)])
    first, second = invoice.lines.order_by("position", "id")
    assert (invoice.tax_total, first.tax_amount, second.tax_amount) == (D("0.01"), D("0.01"), D("0.00"))
    note = issue(invoice, [{"invoice_line_id": second.pk}])
    assert (note.subtotal, note.tax_total) == (D("0.05"), D("0.00"))
    note = issue(invoice, [{"invoice_line_id": first.pk}])
    assert (note.subtotal, note.tax_total) == (D("0.05"), D("0.01"))


def test_two_rates_on_one_line_each_credit_their_share():
    # The fee 100.00 taxed VAT 19 % and CITY 2.5 %: 19.00 and 2.50. A note of 30.00: 5.70 and 0.75 → 36.45.
    # Then the rest, 70.00, whole: 19.00 − 5.70 = 13.30 and 2.50 − 0.75 = 1.75 → 85.05. Together 121.50.
    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    tax_rate_create(code="CITY", name="City 2.5%", rate="2.5")
    plan, _, _ = plan_with(fixed="100.00", tax_rates=["VAT19", "CITY"])
    invoice = _issued(plan, [])
    line = invoice.lines.get()
    note = issue(invoice, [{"invoice_line_id": line.pk, "amount": "30.00"}])
    assert (note.tax_total, note.total) == (D("6.45"), D("36.45"))
    assert [(t["code"], t["amount"]) for t in note.items.get().taxes] == [("VAT19", "5.70"), ("CITY", "0.75")]
    rest = issue(invoice, [{"invoice_line_id": line.pk}])
    assert [(t["code"], t["amount"]) for t in rest.items.get().taxes] == [("VAT19", "13.30"), ("CITY", "1.75")]
    assert note.total + rest.total == invoice.total == D("121.50")


def test_a_discount_set_by_hand_lowers_what_a_line_can_be_credited():
    # The fee line discounted by hand by 9.00: taxed on 40.00, tax 7.60. It can be credited 40.00 before tax,
    # 47.60 with tax; 40.01 is refused naming the limit.
    invoice = _taxed_invoice()
    fee, _ = _lines(invoice)
    type(fee).objects.filter(pk=fee.pk).update(
        discount_amount=D("9.00"), taxable_amount=D("40.00"), tax_amount=D("7.60"),
        taxes=[{"code": "VAT19", "name": "VAT 19%", "rate": "19", "amount": "7.60"}],
    )
    with pytest.raises(InvalidInput) as too_much:
        issue(invoice, [{"invoice_line_id": fee.pk, "amount": "40.01"}])
    assert too_much.value.field == "items[0].amount"
    assert "at most 40.00 USD before tax (47.60 with tax)" in too_much.value.message
    note = issue(invoice, [{"invoice_line_id": fee.pk}])
    assert (note.subtotal, note.tax_total, note.total) == (D("40.00"), D("7.60"), D("47.60"))


def test_the_split_offset_credit_and_refund_and_their_limits():
    invoice = _taxed_invoice()
    fee, usage = _lines(invoice)
    # 10.00 of the fee: 11.90. Offset 5.00 and credit 6.90: remaining 96.99 − 5.00 = 91.99, balance 6.90.
    note = issue(invoice, [{"invoice_line_id": fee.pk, "amount": "10.00"}],
                 split={"offset_amount": "5.00", "credit_amount": "6.90"})
    assert _figures(note) == (D("10.00"), D("1.90"), D("11.90"), D("5.00"), D("6.90"), D("0"))
    invoice.refresh_from_db()
    assert (invoice.amount_remaining, invoice.status) == (D("91.99"), InvoiceStatus.OPEN)
    assert credit_balance(customer_id=invoice.customer_id, currency="USD") == D("6.90")
    entry = CreditEntry.objects.get(credit_note=note)
    assert (entry.kind, entry.amount, entry.invoice_id) == (CreditKind.CREDIT_NOTE, D("6.90"), invoice.pk)

    item = [{"invoice_line_id": usage.pk, "amount": "1.00"}]  # 1.19 with tax
    cases = [
        ({"offset_amount": "1.00"}, "offset_amount", "add up to the note's total 1.19"),
        ({"refund_amount": "1.19"}, "refund_amount", "at most 0.00 USD"),  # nothing was paid
        ({"offset_amount": "-1.19"}, "offset_amount", "zero or more"),
        ({"offset_amount": "1.191"}, "offset_amount", "more decimals than USD"),
        ({"credit_amount": "abc"}, "credit_amount", "decimal string"),
    ]
    for split, field, words in cases:
        with pytest.raises(InvalidInput) as refused:
            issue(invoice, item, split=split)
        assert (refused.value.field, words in refused.value.message) == (field, True), refused.value.message
    assert CreditNote.objects.count() == 1


def test_refunds_are_capped_at_what_was_paid_less_earlier_refunds():
    invoice = _taxed_invoice()
    fee, usage = _lines(invoice)
    invoice = invoice_mark_paid(invoice=invoice, now=NOW, actor=ACTOR)
    assert invoice.amount_paid == D("96.99")
    # The fee in full, 58.31, refunded; then the usage, 38.68: 96.99 − 58.31 = 38.68 may still be refunded.
    first = issue(invoice, [{"invoice_line_id": fee.pk}], split={"refund_amount": "58.31"})
    assert _figures(first) == (D("49.00"), D("9.31"), D("58.31"), D("0"), D("0"), D("58.31"))
    with pytest.raises(InvalidInput) as offset:
        issue(invoice, [{"invoice_line_id": usage.pk}], split={"offset_amount": "38.68"})
    assert (offset.value.field, "at most 0.00" in offset.value.message) == ("offset_amount", True)  # PAID: nothing remains
    second = issue(invoice, [{"invoice_line_id": usage.pk}], split={"refund_amount": "38.68"})
    invoice.refresh_from_db()
    assert (invoice.amount_refunded, invoice.status, second.settled_from_status) == (D("96.99"), InvoiceStatus.PAID, "")


def test_unsaid_split_offsets_what_remains_and_credits_the_rest():
    invoice = _taxed_invoice()
    fee, usage = _lines(invoice)
    invoice = invoice_mark_paid(invoice=invoice, now=NOW, actor=ACTOR)  # nothing remains: all to credit
    note = issue(invoice, [{"invoice_line_id": usage.pk}])
    assert (note.offset_amount, note.credit_amount) == (D("0"), D("38.68"))
    assert credit_balance(customer_id=invoice.customer_id, currency="USD") == D("38.68")


def test_credit_from_a_note_is_used_by_the_next_invoice():
    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    plan, _, _ = plan_with(fixed="100.00", tax_rates=["VAT19"])
    january = _issued(plan, [])
    january = invoice_mark_paid(invoice=january, now=NOW, actor=ACTOR)
    # 40.00 credited: 47.60 to the balance. February: 119.00 − 47.60 = 71.40 due.
    issue(january, [{"invoice_line_id": january.lines.get().pk, "amount": "40.00"}])
    subscriptions_rollover(now=utc(2025, 3, 1), actor=ACTOR)
    february = Invoice.objects.get(subscription=january.subscription, period_start=utc(2025, 2, 1))
    february = invoice_finalize(invoice=february, now=utc(2025, 3, 1, 1), actor=ACTOR)
    assert (february.total, february.credit_applied, february.amount_due) == (D("119.00"), D("47.60"), D("71.40"))


def test_void_undoes_exactly_what_the_note_did():
    invoice = _taxed_invoice()
    fee, usage = _lines(invoice)
    # The whole invoice, 96.99: offset 90.00 (6.99 still to pay), credit 6.99; void → 96.99 to pay, balance 0.
    note = issue(invoice, [{"invoice_line_id": fee.pk}, {"invoice_line_id": usage.pk}],
                 split={"offset_amount": "90.00", "credit_amount": "6.99"})
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_remaining) == (InvoiceStatus.OPEN, D("6.99"))
    assert credit_balance(customer_id=invoice.customer_id, currency="USD") == D("6.99")
    with pytest.raises(InvalidTransition, match="void them first"):
        invoice_void(invoice=invoice, now=NOW, actor=ACTOR)
    credit_note_void(credit_note=note, now=NOW, actor=ACTOR, reason="wrong customer")
    invoice.refresh_from_db()
    note.refresh_from_db()
    assert (note.status, note.void_reason) == (CreditNoteStatus.VOID, "wrong customer")
    assert (invoice.status, invoice.amount_credited, invoice.amount_remaining, invoice.paid_at) == (
        InvoiceStatus.OPEN, D("0"), D("96.99"), None,
    )
    assert credit_balance(customer_id=invoice.customer_id, currency="USD") == D("0")
    with pytest.raises(InvalidTransition, match="only an ISSUED note"):
        credit_note_void(credit_note=note, now=NOW, actor=ACTOR)
    # The lines can be credited again in full; the invoice itself can now be voided.
    again = issue(invoice, [{"invoice_line_id": usage.pk}])
    assert again.total == D("38.68")
    credit_note_void(credit_note=again, now=NOW, actor=ACTOR)
    invoice_void(invoice=invoice, now=NOW, actor=ACTOR)


def test_void_is_refused_when_the_notes_credit_was_used():
    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    plan, _, _ = plan_with(fixed="100.00", tax_rates=["VAT19"])
    january = invoice_mark_paid(invoice=_issued(plan, []), now=NOW, actor=ACTOR)
    note = issue(january, [{"invoice_line_id": january.lines.get().pk}])  # 119.00 to credit
    subscriptions_rollover(now=utc(2025, 3, 1), actor=ACTOR)
    february = Invoice.objects.get(subscription=january.subscription, period_start=utc(2025, 2, 1))
    invoice_finalize(invoice=february, now=utc(2025, 3, 1, 1), actor=ACTOR)  # uses the 119.00
    with pytest.raises(InvalidTransition, match="later invoices have used it"):
        credit_note_void(credit_note=note, now=NOW, actor=ACTOR)
    note.refresh_from_db()
    assert note.status == CreditNoteStatus.ISSUED


def test_a_note_that_settled_an_uncollectible_invoice_gives_it_back_that_status_when_voided():
    from invoicing.services import invoice_mark_uncollectible

    invoice = _taxed_invoice()
    invoice = invoice_mark_uncollectible(invoice=invoice, now=NOW, actor=ACTOR)
    fee, usage = _lines(invoice)
    note = issue(invoice, [{"invoice_line_id": fee.pk}, {"invoice_line_id": usage.pk}])
    invoice.refresh_from_db()
    assert (invoice.status, note.settled_from_status) == (InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)
    credit_note_void(credit_note=note, now=NOW, actor=ACTOR)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.UNCOLLECTIBLE


def test_what_cannot_be_credited():
    invoice = _taxed_invoice()
    fee, usage = _lines(invoice)
    other = _issued(*_fee_plan())
    cases = [
        ([], "items"),
        ("fee", "items"),
        ([{"amount": "1.00"}], "items[0].invoice_line_id"),
        ([{"invoice_line_id": other.lines.get().pk}], "items[0].invoice_line_id"),
        ([{"invoice_line_id": fee.pk}, {"invoice_line_id": fee.pk}], "items[1].invoice_line_id"),
        ([{"invoice_line_id": fee.pk, "amount": "0"}], "items[0].amount"),
        ([{"invoice_line_id": fee.pk, "amount": "49.01"}], "items[0].amount"),
        ([{"invoice_line_id": fee.pk, "amount": "NaN"}], "items[0].amount"),
        ([{"invoice_line_id": fee.pk, "amount": "1e30"}], "items[0].amount"),
    ]
    for items, field in cases:
        with pytest.raises(InvalidInput) as refused:
            issue(invoice, items)
        assert refused.value.field == field, (items, refused.value.message)
    with pytest.raises(InvalidInput) as reason:
        issue(invoice, [{"invoice_line_id": fee.pk}], reason="because")
    assert reason.value.field == "reason"
    assert CreditNote.objects.count() == 0
    invoice.refresh_from_db()
    assert invoice.amount_credited == 0


def _fee_plan():
    plan, _, _ = plan_with(fixed="10.00")
    return plan, []


def test_drafts_and_voided_invoices_take_no_credit_note():
    plan, _, _ = plan_with(fixed="10.00")
    sub = subscribe(plan, utc(2025, 1, 1))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    draft = Invoice.objects.get(subscription=sub)
    with pytest.raises(InvalidTransition, match="DRAFT"):
        issue(draft, [{"invoice_line_id": draft.lines.get().pk}])
    issued = invoice_finalize(invoice=draft, now=utc(2025, 2, 1, 1), actor=ACTOR)
    invoice_void(invoice=issued, now=NOW, actor=ACTOR)
    with pytest.raises(InvalidTransition, match="VOID"):
        issue(issued, [{"invoice_line_id": issued.lines.get().pk}])


def test_preview_stores_nothing_and_shows_the_limits():
    invoice = _taxed_invoice()
    fee, usage = _lines(invoice)
    draft = credit_note_preview(invoice=invoice, items=[{"invoice_line_id": fee.pk, "amount": "10.00"}])
    assert (draft.subtotal, draft.tax_total, draft.total, draft.offset_amount, draft.offset_max) == (
        D("10.00"), D("1.90"), D("11.90"), D("11.90"), D("96.99"),
    )
    assert [(room.line.pk, room.amount, room.tax) for room in draft.rooms] == [
        (fee.pk, D("49.00"), D("9.31")), (usage.pk, D("32.50"), D("6.18")),
    ]
    assert CreditNote.objects.count() == 0


def test_jpy_note_has_no_decimals():
    # ¥1,000 fee at 10 %: ¥100 tax. Credit ¥333: ¥33.3 → ¥33; the rest ¥667 takes ¥100 − ¥33 = ¥67.
    tax_rate_create(code="JCT", name="JCT 10%", rate="10")
    plan, _, _ = plan_with(currency="JPY", fixed="1000", tax_rates=["JCT"])
    invoice = _issued(plan, [])
    line = invoice.lines.get()
    with pytest.raises(InvalidInput, match="more decimals than JPY"):
        issue(invoice, [{"invoice_line_id": line.pk, "amount": "333.5"}])
    first = issue(invoice, [{"invoice_line_id": line.pk, "amount": "333"}])
    rest = issue(invoice, [{"invoice_line_id": line.pk}])
    assert [(n.subtotal, n.tax_total) for n in (first, rest)] == [(D("333"), D("33")), (D("667"), D("67"))]


def test_numbers_run_per_entity_and_year_apart_from_invoices():
    invoice = _taxed_invoice()
    fee, usage = _lines(invoice)
    a = issue(invoice, [{"invoice_line_id": fee.pk, "amount": "1.00"}])
    b = issue(invoice, [{"invoice_line_id": fee.pk, "amount": "1.00"}])
    c = issue(invoice, [{"invoice_line_id": fee.pk, "amount": "1.00"}], now=utc(2026, 1, 2))
    assert [a.number, b.number, c.number] == ["INV-CN-2025-000001", "INV-CN-2025-000002", "INV-CN-2026-000001"]
    assert invoice.number == "INV-2025-000001"


@pytest.mark.django_db(transaction=True)
def test_concurrent_notes_on_one_invoice_never_credit_more_than_it_has():
    # Four threads each credit 20.00 of the 49.00 fee at once: two fit (40.00), the other two are refused,
    # whatever the order; the numbers have no gaps.
    invoice = _taxed_invoice()
    fee, _ = _lines(invoice)
    barrier = threading.Barrier(4)
    done, refused, errors = [], [], []

    def run(name):
        try:
            barrier.wait(timeout=10)
            done.append(credit_note_issue(invoice=invoice, items=[{"invoice_line_id": fee.pk, "amount": "20.00"}],
                                          reason="other", now=NOW, actor=Actor.task(name)))
        except InvalidInput as exc:
            refused.append(exc)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"cn-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert (len(done), len(refused)) == (2, 2)
    assert all("at most 9.00 USD before tax" in exc.message for exc in refused)
    assert sorted(n.number for n in done) == ["INV-CN-2025-000001", "INV-CN-2025-000002"]
    invoice.refresh_from_db()
    assert invoice.amount_credited == D("47.60")  # 2 × 23.80


def test_the_readme_example_half_a_line_then_the_rest_gives_back_exactly_its_tax():
    # README "Credit notes": 24.50 of the 49.00 fee → 24.50 × 0.19 = 4.655 → 4.66; the rest takes 9.31 − 4.66 = 4.65.
    invoice = _taxed_invoice()
    fee, _ = _lines(invoice)
    first = issue(invoice, [{"invoice_line_id": fee.pk, "amount": "24.50"}])
    second = issue(invoice, [{"invoice_line_id": fee.pk}])
    assert (first.tax_total, first.total) == (D("4.66"), D("29.16"))
    assert (second.subtotal, second.tax_total, second.total) == (D("24.50"), D("4.65"), D("29.15"))
