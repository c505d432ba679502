"""Payments through the service: partial, settling, overpaid to credit, reversed; mark-paid; the limits.

The invoice (the credit-note tests' `_taxed_invoice`): a 49.00 fee and 130 units at 0.25 = 32.50, VAT 19 %
→ 15.49, total and amount due 96.99, issued 2025-02-01 for January 2025. Every expected figure is worked out
by hand in the comments.
"""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from fluxbill.core.errors import InvalidInput, InvalidTransition
from invoicing.choices import CreditKind, InvoiceKind, InvoiceStatus, PaymentStatus
from invoicing.models import CreditEntry, Invoice, Payment
from invoicing.services import Actor, invoice_finalize, invoice_mark_paid, invoice_void, subscriptions_rollover
from invoicing.services.credit import credit_balance
from invoicing.services.credit_notes import credit_note_issue, credit_note_void
from invoicing.services.payments import payment_record, payment_reverse

from .builders import ACTOR, utc
from .test_credit_notes import _lines, _taxed_invoice

pytestmark = pytest.mark.django_db
D = Decimal
NOW = utc(2025, 2, 10, 12)


def pay(invoice, amount, **kwargs):
    return payment_record(invoice=invoice, amount=amount, now=kwargs.pop("now", NOW), actor=ACTOR, **kwargs)


def _money(invoice):
    invoice.refresh_from_db()
    return invoice.status, invoice.amount_paid, invoice.amount_remaining


def test_two_partial_payments_pay_the_invoice_and_the_second_settles_it():
    invoice = _taxed_invoice()
    first = pay(invoice, "40.00", received_at=date(2025, 2, 5), method="transfer", reference="SEPA-1")
    # 96.99 − 40.00 = 56.99 remains; still OPEN.
    assert (first.applied_amount, first.credit_amount) == (D("40.00"), D("0"))
    assert _money(invoice) == (InvoiceStatus.OPEN, D("40.00"), D("56.99"))
    assert invoice.paid_at is None
    second = pay(invoice, "56.99", received_at=date(2025, 2, 6), method="cheque")
    assert (second.applied_amount, second.credit_amount) == (D("56.99"), D("0"))
    assert _money(invoice) == (InvoiceStatus.PAID, D("96.99"), D("0"))
    # Paid on the day the last money arrived (00:00 UTC), not when it was typed in.
    assert invoice.paid_at == utc(2025, 2, 6)
    assert invoice.payment_reference == "SEPA-1"
    assert list(invoice.audit.filter(action="payment_recorded").values_list("to_status", "detail")) == [
        (InvoiceStatus.OPEN, "40.00 USD received 2025-02-05; SEPA-1"),
        (InvoiceStatus.PAID, "56.99 USD received 2025-02-06"),
    ]
    assert credit_balance(customer_id=invoice.customer_id, currency="USD") == 0


def test_an_overpayment_pays_what_remains_and_the_rest_goes_to_credit_used_by_the_next_invoice():
    invoice = _taxed_invoice()
    payment = pay(invoice, "100.00")
    # 96.99 pays the invoice; 100.00 − 96.99 = 3.01 to the customer's USD balance.
    assert (payment.applied_amount, payment.credit_amount) == (D("96.99"), D("3.01"))
    assert _money(invoice) == (InvoiceStatus.PAID, D("96.99"), D("0"))
    assert invoice.paid_at == NOW  # received today: now
    entry = CreditEntry.objects.get(payment=payment)
    assert (entry.kind, entry.amount, entry.balance_after, entry.invoice_id) == (
        CreditKind.OVERPAYMENT, D("3.01"), D("3.01"), invoice.pk,
    )
    # February: the 49.00 fee, no usage, 49.00 × 0.19 = 9.31 tax, 58.31; the 3.01 credit → 55.30 due.
    subscriptions_rollover(now=utc(2025, 3, 1), actor=ACTOR)
    february = Invoice.objects.get(subscription=invoice.subscription, kind=InvoiceKind.PERIOD,
                                   period_start=utc(2025, 2, 1))
    february = invoice_finalize(invoice=february, now=utc(2025, 3, 1, 1), actor=ACTOR)
    assert (february.total, february.credit_applied, february.amount_due) == (D("58.31"), D("3.01"), D("55.30"))
    # The credit is spent: reversing the payment cannot take it back.
    with pytest.raises(InvalidTransition) as used:
        payment_reverse(payment=payment, reason="cheque bounced", now=NOW, actor=ACTOR)
    assert "overpaid" in used.value.message and "3.01 USD" in used.value.message
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.RECORDED
    assert _money(invoice) == (InvoiceStatus.PAID, D("96.99"), D("0"))


def test_reversing_a_payment_reopens_the_invoice_and_takes_its_unused_overpayment_back():
    invoice = _taxed_invoice()
    kept = pay(invoice, "50.00", received_at=date(2025, 2, 3))
    bounced = pay(invoice, "50.00", received_at=date(2025, 2, 4), method="cheque", reference="CHQ 0042")
    # 50.00 + 46.99 = 96.99 paid; the second cheque's 3.01 went to credit.
    assert (bounced.applied_amount, bounced.credit_amount) == (D("46.99"), D("3.01"))
    assert _money(invoice) == (InvoiceStatus.PAID, D("96.99"), D("0"))

    reversed_ = payment_reverse(payment=bounced, reason="cheque bounced", now=NOW, actor=ACTOR)

    assert (reversed_.status, reversed_.reversed_at, reversed_.reversal_reason) == (
        PaymentStatus.REVERSED, NOW, "cheque bounced",
    )
    # What the kept payment paid stands: 96.99 − 50.00 = 46.99 remains, OPEN again.
    assert _money(invoice) == (InvoiceStatus.OPEN, D("50.00"), D("46.99"))
    assert invoice.paid_at is None
    assert credit_balance(customer_id=invoice.customer_id, currency="USD") == 0
    assert CreditEntry.objects.filter(payment=bounced).order_by("id").values_list("kind", "amount")[1] == (
        CreditKind.PAYMENT_REVERSED, D("-3.01"),
    )
    assert invoice.audit.filter(action="payment_reversed", from_status=InvoiceStatus.PAID, to_status=InvoiceStatus.OPEN,
                                detail="50.00 USD of 2025-02-04: cheque bounced").exists()
    with pytest.raises(InvalidTransition):  # once only
        payment_reverse(payment=bounced, reason="again", now=NOW, actor=ACTOR)
    assert Payment.objects.get(pk=kept.pk).status == PaymentStatus.RECORDED


def test_a_reversal_needs_a_reason():
    invoice = _taxed_invoice()
    payment = pay(invoice, "10.00")
    for reason in ("", "   ", None):
        with pytest.raises(InvalidInput) as missing:
            payment_reverse(payment=payment, reason=reason, now=NOW, actor=ACTOR)
        assert missing.value.field == "reason"
    assert _money(invoice) == (InvoiceStatus.OPEN, D("10.00"), D("86.99"))


def test_mark_paid_pays_exactly_what_remains_after_payments_and_credit_note_offsets():
    invoice = _taxed_invoice()
    fee, _ = _lines(invoice)
    pay(invoice, "40.00", received_at=date(2025, 2, 5))
    # A note of 10.00 on the fee: 10.00 × 0.19 = 1.90 tax, 11.90 offset. 96.99 − 40.00 − 11.90 = 45.09 remains.
    credit_note_issue(invoice=invoice, items=[{"invoice_line_id": fee.pk, "amount": "10.00"}], reason="order_change",
                      now=NOW, actor=ACTOR)
    assert _money(invoice) == (InvoiceStatus.OPEN, D("40.00"), D("45.09"))

    invoice = invoice_mark_paid(invoice=invoice, now=NOW, actor=ACTOR, paid_at=utc(2025, 2, 8, 9), reference="wire 7")

    assert (invoice.status, invoice.amount_paid, invoice.amount_remaining, invoice.paid_at) == (
        InvoiceStatus.PAID, D("85.09"), D("0"), utc(2025, 2, 8, 9),
    )
    last = Payment.objects.filter(invoice=invoice).order_by("-created_at").first()
    assert (last.amount, last.applied_amount, last.received_at, last.reference) == (
        D("45.09"), D("45.09"), date(2025, 2, 8), "wire 7",
    )
    assert invoice.audit.filter(action="marked_paid", to_status=InvoiceStatus.PAID).exists()
    assert Payment.objects.filter(invoice=invoice).count() == 2


def test_an_invoice_with_recorded_payments_cannot_be_voided_until_they_are_reversed():
    invoice = _taxed_invoice()
    payment = pay(invoice, "20.00")
    with pytest.raises(InvalidTransition) as refused:
        invoice_void(invoice=invoice, now=NOW, actor=ACTOR, reason="wrong customer")
    assert "1 recorded payment" in refused.value.message
    payment_reverse(payment=payment, reason="sent back", now=NOW, actor=ACTOR)
    assert invoice_void(invoice=invoice, now=NOW, actor=ACTOR).status == InvoiceStatus.VOID


def test_a_payment_whose_money_a_credit_note_refunded_cannot_be_reversed_before_the_note_is_voided():
    invoice = _taxed_invoice()
    fee, _ = _lines(invoice)
    payment = pay(invoice, "96.99")
    # A 10.00 note on the fee, refunded: 11.90 paid back. Without the payment nothing was paid: 0 < 11.90.
    note = credit_note_issue(invoice=invoice, items=[{"invoice_line_id": fee.pk, "amount": "10.00"}],
                             reason="product_unsatisfactory", split={"refund_amount": "11.90"}, now=NOW, actor=ACTOR)
    with pytest.raises(InvalidTransition) as refused:
        payment_reverse(payment=payment, reason="chargeback", now=NOW, actor=ACTOR)
    assert "refunded 11.90 USD" in refused.value.message
    credit_note_void(credit_note=note, now=NOW, actor=ACTOR)
    payment_reverse(payment=payment, reason="chargeback", now=NOW, actor=ACTOR)
    assert _money(invoice) == (InvoiceStatus.OPEN, D("0"), D("96.99"))


def test_an_uncollectible_invoice_takes_payments_and_is_paid_when_nothing_remains():
    from invoicing.services import invoice_mark_uncollectible

    invoice = invoice_mark_uncollectible(invoice=_taxed_invoice(), now=NOW, actor=ACTOR)
    pay(invoice, "90.00")
    assert _money(invoice) == (InvoiceStatus.UNCOLLECTIBLE, D("90.00"), D("6.99"))
    pay(invoice, "6.99")
    assert _money(invoice) == (InvoiceStatus.PAID, D("96.99"), D("0"))


@pytest.mark.parametrize(
    "amount,field,says",
    [
        ("abc", "amount", "decimal string"),
        ("-5.00", "amount", "more than zero"),
        ("0", "amount", "more than zero"),
        ("0.001", "amount", "more decimals than USD allows"),
        ("NaN", "amount", "finite"),
        ("1e30", "amount", "larger than an amount can hold"),
    ],
)
def test_a_bad_amount_is_refused_naming_it_and_writes_nothing(amount, field, says):
    invoice = _taxed_invoice()
    with pytest.raises(InvalidInput) as refused:
        pay(invoice, amount)
    assert refused.value.field == field and says in refused.value.message
    assert Payment.objects.count() == 0
    assert _money(invoice) == (InvoiceStatus.OPEN, D("0"), D("96.99"))


@pytest.mark.parametrize(
    "received_at,says",
    [
        (date(2025, 2, 11), "cannot be in the future"),  # NOW is 2025-02-10
        (date(2024, 12, 31), "before the day the invoice's period starts (2025-01-01)"),
        ("31/01/2025", "a day such as"),
    ],
)
def test_a_bad_day_is_refused(received_at, says):
    invoice = _taxed_invoice()
    with pytest.raises(InvalidInput) as refused:
        pay(invoice, "10.00", received_at=received_at)
    assert refused.value.field == "received_at" and says in refused.value.message
    assert Payment.objects.count() == 0


def test_a_payment_on_a_paid_draft_or_void_invoice_is_a_conflict():
    invoice = _taxed_invoice()
    pay(invoice, "96.99")
    with pytest.raises(InvalidTransition) as paid:
        pay(invoice, "1.00")
    assert paid.value.extra["status"] == InvoiceStatus.PAID
    assert Payment.objects.count() == 1


def test_nul_bytes_in_method_or_reference_are_refused():
    invoice = _taxed_invoice()
    for name in ("method", "reference"):
        with pytest.raises(InvalidInput) as refused:
            pay(invoice, "1.00", **{name: "a\x00b"})
        assert refused.value.field == name
    assert Payment.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_never_pay_more_than_remains():
    # Three clerks record 40.00 each at once on 96.99: 40.00 + 40.00 + 16.99 is paid, the last 23.01 goes to
    # credit, whatever the order.
    invoice = _taxed_invoice()
    barrier = threading.Barrier(3)
    done, errors = [], []

    def run(name):
        try:
            barrier.wait(timeout=10)
            done.append(payment_record(invoice=invoice, amount="40.00", now=NOW, actor=Actor.task(name)))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"clerk-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(p.applied_amount for p in done) == [D("16.99"), D("40.00"), D("40.00")]
    assert sum(p.credit_amount for p in done) == D("23.01")
    assert _money(invoice) == (InvoiceStatus.PAID, D("96.99"), D("0"))
    assert credit_balance(customer_id=invoice.customer_id, currency="USD") == D("23.01")
