"""Payments in the dashboard and in admin: recorded on the invoice page, listed (and exported), reversed with a
reason — through payment_record and payment_reverse, the services the API calls.

The invoice: a 49.00 fee and 130 units at 0.25 = 32.50, VAT 19 % → 15.49, total 96.99 (tests/invoicing).
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from invoicing.choices import InvoiceStatus, PaymentStatus
from invoicing.models import Payment
from invoicing.services.payments import payment_record
from tests.dashboard.helpers import csv_rows
from tests.factories import StaffFactory
from tests.invoicing.builders import ACTOR
from tests.invoicing.test_credit_notes import _taxed_invoice

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def invoice():
    return _taxed_invoice()


def test_record_a_partial_then_an_overpaying_payment_on_the_invoice_page(finance_client, invoice):
    page = finance_client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'id="record-payment"' in page and "$96.99 remains" in page
    today = timezone.now().date().isoformat()
    response = finance_client.post(f"/invoices/{invoice.pk}/record-payment/",
                                   {"amount": "40.00", "received_on": today, "method": "transfer", "reference": "SEPA 9"},
                                   follow=True)
    assert "40.00 USD recorded on" in response.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, D("40.00"))
    # 56.99 remains; 60.00 pays it and puts 3.01 on the customer's credit.
    response = finance_client.post(f"/invoices/{invoice.pk}/record-payment/",
                                   {"amount": "60.00", "received_on": today}, follow=True)
    body = response.content.decode()
    assert "3.01 USD beyond what remained went to the customer&#x27;s credit" in body
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, D("96.99"))
    assert "$3.01 to credit" in body and "SEPA 9" in body
    assert 'id="record-payment"' not in body  # PAID: nothing left to record


def test_a_bad_payment_is_shown_on_the_page_and_writes_nothing(finance_client, invoice):
    response = finance_client.post(f"/invoices/{invoice.pk}/record-payment/",
                                   {"amount": "1.005", "received_on": timezone.now().date().isoformat()}, follow=True)
    assert "more decimals than USD allows" in response.content.decode()
    tomorrow = (timezone.now().date() + timezone.timedelta(days=1)).isoformat()
    response = finance_client.post(f"/invoices/{invoice.pk}/record-payment/", {"amount": "5", "received_on": tomorrow},
                                   follow=True)
    assert "cannot be in the future" in response.content.decode()
    assert Payment.objects.count() == 0


def test_reverse_asks_why_and_reopens_the_invoice(finance_client, invoice):
    payment = payment_record(invoice=invoice, amount="96.99", now=timezone.now(), actor=ACTOR)
    page = finance_client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert f"/payments/{payment.pk}/reverse/" in page
    asked = finance_client.get(f"/payments/{payment.pk}/reverse/")
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    finance_client.post(f"/payments/{payment.pk}/reverse/", {"reason": ""})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.RECORDED  # no reason, no reversal
    response = finance_client.post(f"/payments/{payment.pk}/reverse/", {"reason": "cheque bounced"}, follow=True)
    assert "owes it again" in response.content.decode()
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, invoice.status, invoice.amount_remaining) == (PaymentStatus.REVERSED, InvoiceStatus.OPEN,
                                                                          D("96.99"))


def test_support_sees_payments_but_cannot_record_or_reverse_them(support_client, invoice):
    payment = payment_record(invoice=invoice, amount="10.00", now=timezone.now(), actor=ACTOR)
    page = support_client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'id="record-payment"' not in page and "/reverse/" not in page and "$10.00" in page
    assert support_client.post(f"/invoices/{invoice.pk}/record-payment/", {"amount": "1"}).status_code == 403
    assert support_client.post(f"/payments/{payment.pk}/reverse/", {"reason": "x"}).status_code == 403
    assert Payment.objects.count() == 1


def test_the_list_filters_and_exports(finance_client, invoice):
    payment_record(invoice=invoice, amount="10.00", method="card", now=timezone.now(), actor=ACTOR)
    payment_record(invoice=invoice, amount="90.00", method="transfer", now=timezone.now(), actor=ACTOR)
    page = finance_client.get("/payments/").content.decode()
    assert invoice.number in page and "$90.00" in page and "$10.00" in page
    rows = csv_rows(finance_client.get("/payments/export.csv"), "payments")
    header = rows[0]
    by_amount = sorted((row[header.index("amount")], row[header.index("applied_amount")], row[header.index("credit_amount")])
                       for row in rows[1:])
    # 10.00 then 90.00 on 96.99: the second pays 86.99 and overpays 3.01.
    assert by_amount == [("10.00", "10.00", "0.00"), ("90.00", "86.99", "3.01")]
    filtered = csv_rows(finance_client.get("/payments/export.csv", {"status": "REVERSED"}), "payments")
    assert filtered[1:] == []


def _admin(client, role="Finance"):
    user = StaffFactory(username=role.lower())
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def test_admin_records_through_the_service_and_reverses_by_action(client, invoice):
    client = _admin(client)
    added = client.post("/admin/invoicing/payment/add/", {
        "invoice": str(invoice.pk), "amount": "100.00", "received_at": timezone.now().date().isoformat(),
        "method": "cheque", "reference": "CHQ 1",
    }, follow=True)
    assert added.status_code == 200
    payment = Payment.objects.get()
    assert (payment.applied_amount, payment.credit_amount) == (D("96.99"), D("3.01"))
    reversed_ = client.post("/admin/invoicing/payment/", {
        "action": "reverse", "_selected_action": [str(payment.pk)], "reason": "cheque bounced", "apply": "yes",
    }, follow=True)
    assert "reversed" in reversed_.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REVERSED
    assert client.get(f"/admin/invoicing/payment/{payment.pk}/change/").status_code == 200


def test_admin_refuses_a_bad_payment_naming_the_problem(client, invoice):
    client = _admin(client)
    response = client.post("/admin/invoicing/payment/add/", {
        "invoice": str(invoice.pk), "amount": "0", "received_at": timezone.now().date().isoformat(),
    }, follow=True)
    assert "more than zero" in response.content.decode()
    assert Payment.objects.count() == 0
