"""The invoice API: list with filters and pagination, detail, PDF, and sending by email (locmem backend)."""

import io
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from catalog.choices import PricingModel
from customers.services import customer_update
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice, InvoiceEvent
from invoicing.services import (
    EmailResult,
    invoice_email_send,
    invoice_finalize,
    invoice_mark_paid,
    subscriptions_rollover,
)

from .builders import ACTOR, event, keyed_client, period_draft, plan_with, subscribe, utc

pytestmark = pytest.mark.django_db

NOW = utc(2025, 2, 1, 2)


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def invoices():
    """Customer A: January OPEN (000001), February DRAFT. Customer B: January PAID (000002)."""
    a_jan, sub_a, _ = period_draft(units=5, external_id="cust-a")
    b_jan, _, _ = period_draft(units=1, external_id="cust-b")
    invoice_finalize(invoice=a_jan, now=NOW, actor=ACTOR)
    invoice_finalize(invoice=b_jan, now=NOW, actor=ACTOR)
    invoice_mark_paid(invoice=b_jan, now=NOW, actor=ACTOR, reference="wire")
    subscriptions_rollover(now=utc(2025, 3, 1), actor=ACTOR)
    a_feb = Invoice.objects.get(subscription=sub_a, period_start=utc(2025, 2, 1))
    Invoice.objects.filter(subscription=b_jan.subscription, period_start=utc(2025, 2, 1)).delete()
    return {"a_jan": a_jan, "a_feb": a_feb, "b_jan": b_jan, "customer_a": sub_a.customer_id}


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- list --------------------------------------------------------------------------------------------------------


def test_list_filters(invoices, admin_api):
    a_jan, a_feb, b_jan = (str(invoices[k].pk) for k in ("a_jan", "a_feb", "b_jan"))
    assert ids(admin_api.get("/api/v1/invoices")) == {a_jan, a_feb, b_jan}
    assert ids(admin_api.get("/api/v1/invoices?status=OPEN")) == {a_jan}
    assert ids(admin_api.get("/api/v1/invoices?status=DRAFT")) == {a_feb}
    assert ids(admin_api.get("/api/v1/invoices?status=PAID")) == {b_jan}
    assert ids(admin_api.get(f"/api/v1/invoices?customer={invoices['customer_a']}")) == {a_jan, a_feb}
    assert ids(admin_api.get("/api/v1/invoices?number=INV-2025-000002")) == {b_jan}
    assert ids(admin_api.get("/api/v1/invoices?number=000001")) == {a_jan}
    assert ids(admin_api.get("/api/v1/invoices?period_from=2025-02-01T00:00:00Z")) == {a_feb}
    assert ids(admin_api.get("/api/v1/invoices?period_to=2025-02-01T00:00:00Z")) == {a_jan, b_jan}
    assert ids(
        admin_api.get("/api/v1/invoices?period_from=2025-01-01T00:00:00Z&period_to=2025-02-01T00:00:00Z&status=OPEN")
    ) == {a_jan}
    assert ids(admin_api.get("/api/v1/invoices?period_from=2025-03-01T00:00:00Z")) == set()


def test_list_rejects_malformed_filters_with_400(invoices, admin_api):
    for field, value in (("subscription", "not-a-uuid"), ("period_from", "yesterday"), ("amount_max", "much")):
        response = admin_api.get("/api/v1/invoices", {field: value})
        assert response.status_code == 400, (field, response.content)
        assert response.json()["error"]
        assert response.json()["field"] == field


def test_customer_is_an_id_or_an_external_id(invoices, admin_api):
    # A customer is named the way the dashboard names it; before, anything but a UUID was a 400.
    a_jan, a_feb = str(invoices["a_jan"].pk), str(invoices["a_feb"].pk)
    assert ids(admin_api.get("/api/v1/invoices", {"customer": "cust-a"})) == {a_jan, a_feb}
    assert ids(admin_api.get("/api/v1/invoices", {"customer": str(invoices["customer_a"])})) == {a_jan, a_feb}
    assert ids(admin_api.get("/api/v1/invoices", {"customer": "not-a-customer"})) == set()


def test_list_rows_carry_amounts_as_strings(invoices, admin_api):
    rows = {row["id"]: row for row in admin_api.get("/api/v1/invoices").json()["results"]}
    a_jan = rows[str(invoices["a_jan"].pk)]
    assert a_jan["total"] == "54.00"  # 49.00 + 5 × 1.00
    assert a_jan["subtotal"] == "54.00"
    assert a_jan["currency"] == "USD"
    assert a_jan["number"] == "INV-2025-000001"
    assert a_jan["zero_total"] is False
    assert rows[str(invoices["b_jan"].pk)]["total"] == "50.00"
    assert "lines" not in a_jan  # lines are on the detail only


def test_list_is_paginated():
    plan, _, _ = plan_with(fixed="1.00")
    for _ in range(25):
        subscribe(plan, utc(2025, 1, 1))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    client, _ = keyed_client("invoices.read")
    first = client.get("/api/v1/invoices?page_size=10").json()
    assert first["count"] == 25
    assert len(first["results"]) == 10
    assert first["next"] is not None and first["previous"] is None
    third = client.get("/api/v1/invoices?page_size=10&page=3").json()
    assert len(third["results"]) == 5
    assert third["next"] is None
    everything = client.get("/api/v1/invoices").json()
    assert len(everything["results"]) == 20  # the default page
    seen = set()
    for page in (1, 2, 3):
        seen |= {row["id"] for row in client.get(f"/api/v1/invoices?page_size=10&page={page}").json()["results"]}
    assert len(seen) == 25


def test_list_query_count_does_not_grow_with_invoices(admin_api, django_assert_max_num_queries):
    plan, _, _ = plan_with(fixed="1.00", usage=[{"unit_price": Decimal("1")}])
    for _ in range(3):
        subscribe(plan, utc(2025, 1, 1))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    admin_api.get("/api/v1/invoices")  # the key's first use also records when it was last used
    with CaptureQueriesContext(connection) as three:
        assert len(admin_api.get("/api/v1/invoices?page_size=100").json()["results"]) == 3

    for _ in range(27):
        subscribe(plan, utc(2025, 1, 1))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    with django_assert_max_num_queries(len(three)) as thirty:
        assert len(admin_api.get("/api/v1/invoices?page_size=100").json()["results"]) == 30
    assert len(thirty) == len(three)
    assert len(thirty) <= 8


# --- detail ------------------------------------------------------------------------------------------------------


def test_detail_has_lines_with_breakdown_and_audit(admin_api):
    tiers = [
        {"up_to": "10", "unit_price": "2.00", "flat_amount": "1"},
        {"up_to": None, "unit_price": "0.50", "flat_amount": "0"},
    ]
    plan, _, (charge,) = plan_with(
        fixed="20.00", usage=[{"display_name": "Tokens", "pricing_model": PricingModel.GRADUATED, "tiers": tiers}]
    )
    sub = subscribe(plan, utc(2025, 1, 1))
    event(charge, sub.customer, 14, utc(2025, 1, 15))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    invoice = invoice_finalize(invoice=Invoice.objects.get(), now=NOW, actor=ACTOR)

    body = admin_api.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert body["total"] == "43.00"  # 20.00 + (10 × 2.00 + 1 flat) + 4 × 0.50 = 20 + 21 + 2
    fee, tokens = body["lines"]
    assert (fee["kind"], fee["description"], fee["quantity"], fee["unit_price"], fee["amount"]) == (
        "FIXED",
        "Platform fee",
        "1",
        "20",
        "20.00",
    )
    assert (tokens["kind"], tokens["description"], tokens["quantity"], tokens["amount"]) == ("USAGE", "Tokens", "14", "23.00")
    assert tokens["unit_price"] is None
    assert tokens["meter_id"] == str(charge.meter_id)
    assert tokens["charge_id"] == str(charge.pk)
    assert [
        (Decimal(t["units"]), Decimal(t["unit_price"]), Decimal(t["flat_amount"]), Decimal(t["amount"]))
        for t in tokens["breakdown"]
    ] == [
        (Decimal("10"), Decimal("2.00"), Decimal("1"), Decimal("21")),
        (Decimal("4"), Decimal("0.50"), Decimal("0"), Decimal("2")),
    ]
    assert [(a["action"], a["from_status"], a["to_status"], a["actor"]) for a in body["audit"]] == [
        ("created", "", "DRAFT", "task:test"),
        ("finalized", "DRAFT", "OPEN", "task:test"),
    ]
    assert body["replaces_id"] is None and body["replaced_by_id"] is None


def test_unknown_invoice_is_a_404(admin_api):
    response = admin_api.get("/api/v1/invoices/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["error"]


def test_invoices_need_the_invoices_scopes(key_client, invoices):
    invoice = invoices["a_jan"]
    assert key_client("customers.read").get("/api/v1/invoices").status_code == 403
    assert key_client("invoices.read").post(f"/api/v1/invoices/{invoice.pk}/void").status_code == 403
    assert key_client("invoices.read").get(f"/api/v1/invoices/{invoice.pk}").status_code == 200


# --- PDF ---------------------------------------------------------------------------------------------------------


def test_pdf_contains_number_customer_and_total(admin_api):
    invoice, sub, _ = period_draft(units=5, name="Acme Ltd", external_id="acme")
    invoice_finalize(invoice=invoice, now=NOW, actor=ACTOR)
    customer_update(customer=sub.customer, name="Renamed Later Inc")  # the issued invoice keeps its snapshot
    response = admin_api.get(f"/api/v1/invoices/{invoice.pk}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="INV-2025-000001.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert "INV-2025-000001" in text
    assert "$54.00" in text
    assert "Acme Ltd" in text
    assert "Renamed Later" not in text
    assert "2025-03-03" in text  # due: Feb 1 + 30 days


def test_pdf_of_a_draft(admin_api):
    invoice, _, _ = period_draft(units=2)
    response = admin_api.get(f"/api/v1/invoices/{invoice.pk}/pdf")
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "Draft invoice" in text
    assert "$51.00" in text


def test_pdf_errors_stay_readable_for_clients_that_accept_only_pdf(admin_api, key_client):
    missing = admin_api.get("/api/v1/invoices/00000000-0000-0000-0000-000000000000/pdf", HTTP_ACCEPT="application/pdf")
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("application/json")
    assert missing.json()["error"]

    invoice, _, _ = period_draft()
    refused = key_client("customers.read").get(f"/api/v1/invoices/{invoice.pk}/pdf", HTTP_ACCEPT="application/pdf")
    assert refused.status_code == 403
    assert "invoices.read" in refused.json()["error"]

    ok = admin_api.get(f"/api/v1/invoices/{invoice.pk}/pdf", HTTP_ACCEPT="application/pdf")
    assert (ok.status_code, ok["Content-Type"]) == (200, "application/pdf")
    assert ok.content.startswith(b"%PDF")


# --- email -------------------------------------------------------------------------------------------------------


def test_send_email_sends_one_message_with_the_pdf_and_no_automatic_resend(admin_api):
    invoice, sub, _ = period_draft(units=5, email="ap@acme.test")
    invoice_finalize(invoice=invoice, now=NOW, actor=ACTOR)
    mail.outbox.clear()

    response = admin_api.post(f"/api/v1/invoices/{invoice.pk}/send-email")
    assert response.status_code == 200, response.content
    assert response.json()["email_sent_at"] is not None
    assert response.json()["email_attempts"] == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ap@acme.test"]
    assert message.subject == "Invoice INV-2025-000001"
    assert "INV-2025-000001" in message.body and "$54.00" in message.body
    assert [mimetype for _, mimetype in message.alternatives] == ["text/html"]
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == ("INV-2025-000001.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert "INV-2025-000001" in pdf_text(content)

    # A retry of the automatic send finds it sent and does nothing.
    assert invoice_email_send(invoice=invoice, now=NOW, actor=ACTOR) == (EmailResult.ALREADY_SENT, "")
    assert len(mail.outbox) == 1
    invoice.refresh_from_db()
    assert invoice.email_attempts == 1
    assert [a.action for a in InvoiceEvent.objects.filter(invoice=invoice)] == ["created", "finalized", "email_sent"]


def test_send_email_without_customer_address_is_a_409_and_records_the_error(admin_api):
    invoice, _, _ = period_draft(units=5, email="")
    invoice_finalize(invoice=invoice, now=NOW, actor=ACTOR)
    mail.outbox.clear()

    response = admin_api.post(f"/api/v1/invoices/{invoice.pk}/send-email")
    assert response.status_code == 409, response.content
    assert "no email address" in response.json()["error"]
    assert response.json()["field"] == "email"
    assert mail.outbox == []
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.email_last_error == "Customer has no email address"
    assert invoice.email_attempts == 1
    assert invoice.email_sent_at is None
    assert InvoiceEvent.objects.filter(invoice=invoice, action="email_failed").count() == 1


def test_a_draft_cannot_be_emailed(admin_api):
    invoice, _, _ = period_draft(units=5)
    response = admin_api.post(f"/api/v1/invoices/{invoice.pk}/send-email")
    assert response.status_code == 409
    assert response.json()["allowed_statuses"] == ["OPEN", "PAID", "UNCOLLECTIBLE"]
    assert mail.outbox == []
