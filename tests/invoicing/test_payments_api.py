"""Payments through the API: record (partial, overpaid), list, read, reverse, mark-paid; bad input is a 4xx.

The invoice: a 49.00 fee and 130 units at 0.25 = 32.50, VAT 19 % → 15.49, total 96.99 (test_credit_notes).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from invoicing.choices import InvoiceStatus
from invoicing.models import Payment
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .builders import keyed_client
from .test_credit_notes import _taxed_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice():
    return _taxed_invoice()


@pytest.fixture
def client():
    return keyed_client("payments.read", "payments.write", "invoices.read")[0]


def test_record_list_read_and_reverse(client, invoice):
    hook = WebhookEndpoint.objects.create(url="https://hooks.example.com/in", event_types=["payment.recorded",
                                                                                          "payment.reversed", "invoice.paid"])
    today = timezone.now().date().isoformat()
    first = client.post(f"/api/v1/invoices/{invoice.pk}/payments",
                        {"amount": "40.00", "method": "transfer", "reference": "SEPA-1"}, format="json")
    assert first.status_code == 201, first.content
    assert {k: first.json()[k] for k in ("amount", "applied_amount", "credit_amount", "received_at", "status", "currency")} == {
        "amount": "40.00", "applied_amount": "40.00", "credit_amount": "0.00", "received_at": today,
        "status": "RECORDED", "currency": "USD",
    }
    # 96.99 − 40.00 = 56.99 remains; 60.00 pays it and overpays 3.01.
    second = client.post(f"/api/v1/invoices/{invoice.pk}/payments", {"amount": "60.00"}, format="json").json()
    assert (second["applied_amount"], second["credit_amount"]) == ("56.99", "3.01")
    detail = client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (detail["status"], detail["amount_paid"], detail["amount_remaining"]) == ("PAID", "96.99", "0.00")

    listed = client.get(f"/api/v1/invoices/{invoice.pk}/payments").json()["results"]
    assert sorted(p["amount"] for p in listed) == ["40.00", "60.00"]
    assert client.get("/api/v1/payments", {"customer": str(invoice.customer_id)}).json()["results"][0]["invoice_number"] \
        == invoice.number
    assert client.get(f"/api/v1/payments/{second['id']}").json()["id"] == second["id"]

    reversed_ = client.post(f"/api/v1/payments/{second['id']}/reverse", {"reason": "card chargeback"}, format="json")
    assert reversed_.status_code == 200, reversed_.content
    assert (reversed_.json()["status"], reversed_.json()["reversal_reason"]) == ("REVERSED", "card chargeback")
    detail = client.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (detail["status"], detail["amount_paid"], detail["amount_remaining"]) == ("OPEN", "40.00", "56.99")
    assert client.get("/api/v1/payments", {"status": "REVERSED"}).json()["results"][0]["id"] == second["id"]
    again = client.post(f"/api/v1/payments/{second['id']}/reverse", {"reason": "twice"}, format="json")
    assert again.status_code == 409

    sent = list(WebhookDelivery.objects.filter(endpoint=hook).order_by("id").values_list("event__type", flat=True))
    assert sent == ["payment.recorded", "payment.recorded", "invoice.paid", "payment.reversed"]
    event = WebhookDelivery.objects.filter(endpoint=hook, event__type="payment.reversed").get().event
    assert (event.data["amount"], event.data["status"]) == ("60.00", "REVERSED")


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "10", "received_at": "yesterday"}, "received_at"),
        ({"amount": "10", "received_at": "2999-01-01"}, "received_at"),
        ({"amount": "10", "method": "x" * 51}, "method"),
        ({"amount": "10", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(client, invoice, body, field):
    response = client.post(f"/api/v1/invoices/{invoice.pk}/payments", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert Payment.objects.count() == 0


def test_a_payment_on_a_draft_is_a_409_and_a_reversal_without_reason_a_400(client, invoice):
    from invoicing.models import Invoice

    draft = Invoice.objects.create(
        billing_entity=invoice.billing_entity, customer=invoice.customer, kind="MANUAL", status="DRAFT", currency="USD",
        period_start=invoice.period_start, period_end=invoice.period_end,
    )
    refused = client.post(f"/api/v1/invoices/{draft.pk}/payments", {"amount": "1.00"}, format="json")
    assert refused.status_code == 409 and refused.json()["allowed_statuses"] == ["OPEN", "UNCOLLECTIBLE"]
    payment = client.post(f"/api/v1/invoices/{invoice.pk}/payments", {"amount": "1.00"}, format="json").json()
    missing = client.post(f"/api/v1/payments/{payment['id']}/reverse", {}, format="json")
    assert missing.status_code == 400 and missing.json()["field"] == "reason"


def test_mark_paid_records_one_payment_of_what_remains(invoice):
    client = keyed_client("invoices.read", "invoices.write", "payments.read")[0]
    client_pay = keyed_client("payments.write")[0]
    client_pay.post(f"/api/v1/invoices/{invoice.pk}/payments", {"amount": "0.99"}, format="json")
    yesterday = (timezone.now() - timedelta(days=1)).replace(microsecond=0)
    response = client.post(f"/api/v1/invoices/{invoice.pk}/mark-paid",
                           {"paid_at": yesterday.isoformat(), "reference": "wire"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["amount_paid"]) == (InvoiceStatus.PAID, "96.99")
    amounts = sorted(p["amount"] for p in client.get(f"/api/v1/invoices/{invoice.pk}/payments").json()["results"])
    assert amounts == ["0.99", "96.00"]  # 96.99 − 0.99


def test_a_key_without_payment_scopes_cannot_record_one(invoice):
    client = keyed_client("invoices.read", "invoices.write")[0]
    response = client.post(f"/api/v1/invoices/{invoice.pk}/payments", {"amount": "1.00"}, format="json")
    assert response.status_code == 403 and "payments.write" in response.json()["error"]
