"""Who bills whom on an invoice (issue 16 §3): numbers per billing entity and year, the entity recorded on every
invoice however it is made, due dates from net days, the seller and bill-to snapshots, and where the email goes."""

import base64
import subprocess
import threading
from datetime import date

import pytest
from django.core import mail
from django.db import connection

from customers.services import billing_entity_update, customer_update
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice, InvoiceNumberSequence
from invoicing.selectors import invoice_parties
from invoicing.services import (
    Actor,
    invoice_email_send,
    invoice_finalize,
    invoice_pdf_render,
    invoice_regenerate,
    invoices_finalize_due,
    subscription_generate_interim,
)
from tests.factories import BillingEntityFactory, CustomerFactory, default_entity

from .builders import ACTOR, period_draft, plan_with, subscribe, utc

NOW = utc(2026, 2, 1, 2, 0)  # after the January drafts' grace period
JAN, FEB = utc(2026, 1, 1), utc(2026, 2, 1)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _eu():
    return BillingEntityFactory(
        name="EU", legal_name="Acme Europe GmbH", invoice_prefix="EU", net_days=14, address_line1="Hauptstraße 1",
        postal_code="10115", city="Berlin", country="DE", tax_id="DE136695976", email="billing@acme.eu",
        phone="+49 30 123456", payment_instructions="IBAN DE89 3704 0044 0532 0130 00", invoice_footer="Acme Europe GmbH · HRB 1",
        logo="data:image/png;base64," + base64.b64encode(PNG).decode(),
    )  # fmt: skip


def _draft(entity=None, **customer_fields):
    customer = CustomerFactory(billing_entity=entity or default_entity(), **customer_fields)
    return period_draft(start=JAN, end=FEB, customer=customer)[0]


@pytest.mark.django_db
def test_two_entities_number_independently_and_without_gaps():
    eu = _eu()
    drafts = [_draft(eu), _draft(), _draft(eu), _draft(), _draft(eu)]
    assert [d.billing_entity_id for d in drafts] == [eu.pk, default_entity().pk, eu.pk, default_entity().pk, eu.pk]

    numbers = [invoice_finalize(invoice=d, now=NOW, actor=ACTOR).number for d in drafts]

    assert numbers == ["EU-2026-000001", "INV-2026-000001", "EU-2026-000002", "INV-2026-000002", "EU-2026-000003"]
    rows = dict(InvoiceNumberSequence.objects.filter(year=2026).values_list("billing_entity__invoice_prefix", "last_value"))
    assert rows == {"EU": 3, "INV": 2}
    # A new year starts each entity's count again.
    assert invoice_finalize(invoice=_draft(eu), now=utc(2027, 1, 2), actor=ACTOR).number == "EU-2027-000001"


@pytest.mark.django_db
def test_a_rolled_back_finalization_gives_its_number_back():
    eu = _eu()
    first, second = _draft(eu), _draft(eu)
    with pytest.raises(RuntimeError):
        from django.db import transaction

        with transaction.atomic():
            invoice_finalize(invoice=first, now=NOW, actor=ACTOR)
            raise RuntimeError("the caller's transaction fails after the number was taken")
    assert invoice_finalize(invoice=second, now=NOW, actor=ACTOR).number == "EU-2026-000001"


@pytest.mark.django_db(transaction=True)
def test_concurrent_finalizations_under_one_entity_get_distinct_consecutive_numbers():
    eu = _eu()
    drafts = [_draft(eu) for _ in range(8)] + [_draft() for _ in range(4)]
    barrier = threading.Barrier(3)
    errors = []

    def run(name):
        try:
            barrier.wait(timeout=10)
            invoices_finalize_due(now=NOW, actor=Actor.task(name))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"finalize-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    invoices = list(Invoice.objects.filter(pk__in=[d.pk for d in drafts]))
    assert {i.status for i in invoices} == {InvoiceStatus.OPEN}
    assert sorted(i.number for i in invoices if i.billing_entity_id == eu.pk) == [f"EU-2026-{n:06d}" for n in range(1, 9)]
    assert sorted(i.number for i in invoices if i.billing_entity_id != eu.pk) == [f"INV-2026-{n:06d}" for n in range(1, 5)]


@pytest.mark.django_db
def test_every_way_an_invoice_is_made_records_the_customers_entity():
    eu = _eu()
    plan, _, _ = plan_with(fixed="10.00", usage=[{"unit_price": "1.00"}])
    sub = subscribe(plan, JAN, customer=CustomerFactory(billing_entity=eu))

    interim = subscription_generate_interim(subscription=sub, now=utc(2026, 1, 15), actor=ACTOR)
    assert interim.billing_entity_id == eu.pk
    period = period_draft(start=JAN, end=FEB, customer=CustomerFactory(billing_entity=eu))[0]  # rollover's insert
    assert period.billing_entity_id == eu.pk
    issued = invoice_finalize(invoice=period, now=NOW, actor=ACTOR)
    replacement = invoice_regenerate(invoice=issued, now=NOW, actor=ACTOR)
    assert (replacement.billing_entity_id, replacement.number) == (eu.pk, "EU-2026-000002")


@pytest.mark.django_db
def test_due_date_is_issue_plus_the_customers_net_days_else_the_entitys():
    eu = _eu()  # net 14
    assert invoice_finalize(invoice=_draft(eu), now=NOW, actor=ACTOR).due_date == date(2026, 2, 15)
    assert invoice_finalize(invoice=_draft(eu, net_days=45), now=NOW, actor=ACTOR).due_date == date(2026, 3, 18)
    assert invoice_finalize(invoice=_draft(eu, net_days=0), now=NOW, actor=ACTOR).due_date == date(2026, 2, 1)
    assert invoice_finalize(invoice=_draft(), now=NOW, actor=ACTOR).due_date == date(2026, 3, 3)  # the default: 30


@pytest.mark.django_db
def test_finalization_snapshots_the_seller_and_the_bill_to_and_later_edits_change_neither():
    eu = _eu()
    draft = _draft(
        eu, name="Kunde", legal_name="Kunde AG", email="info@kunde.de", invoice_email="ap@kunde.de",
        cc_emails=["cfo@kunde.de"], address_line1="Marktplatz 5", address_line2="2. OG", postal_code="80331",
        city="München", country="DE", tax_id="DE136695976", external_id="kunde",
    )  # fmt: skip
    live_seller, live_bill_to = invoice_parties(draft)  # a draft shows the live values
    assert live_seller["legal_name"] == "Acme Europe GmbH" and live_bill_to["legal_name"] == "Kunde AG"

    invoice = invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
    billing_entity_update(entity=eu, data={"legal_name": "Renamed GmbH", "payment_instructions": "new bank"})
    customer_update(customer=invoice.customer, legal_name="Other AG", city="Köln")
    invoice.refresh_from_db()

    assert invoice.customer_snapshot == {
        "name": "Kunde", "legal_name": "Kunde AG", "email": "ap@kunde.de", "cc_emails": ["cfo@kunde.de"],
        "address_lines": ["Marktplatz 5", "2. OG", "80331 München", "Germany"], "country": "DE",
        "tax_id": "DE136695976", "external_id": "kunde",
    }  # fmt: skip
    assert invoice.seller_snapshot == {
        "name": "EU", "legal_name": "Acme Europe GmbH", "address_lines": ["Hauptstraße 1", "10115 Berlin", "Germany"],
        "country": "DE", "tax_id": "DE136695976", "email": "billing@acme.eu", "phone": "+49 30 123456",
        "payment_instructions": "IBAN DE89 3704 0044 0532 0130 00", "footer": "Acme Europe GmbH · HRB 1",
        "logo": eu.logo,
    }  # fmt: skip
    assert invoice_parties(invoice) == (invoice.seller_snapshot, invoice.customer_snapshot)


@pytest.mark.django_db
def test_the_pdf_prints_seller_bill_to_and_payment_instructions(tmp_path):
    invoice = invoice_finalize(
        invoice=_draft(_eu(), name="Kunde", legal_name="Kunde AG", address_line1="Marktplatz 5", city="München", country="DE"),
        now=NOW, actor=ACTOR,
    )  # fmt: skip
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(invoice_pdf_render(invoice))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for printed in ("Invoice EU-2026-000001", "Acme Europe GmbH", "Tax ID: DE136695976", "Kunde AG", "Marktplatz 5",
                    "München", "Germany", "IBAN DE89 3704 0044 0532 0130 00", "Acme Europe GmbH · HRB 1"):  # fmt: skip
        assert printed in text, printed


@pytest.mark.django_db
def test_the_email_says_how_to_pay_the_seller():
    eu = _eu()
    billing_entity_update(entity=eu, data={"payment_instructions": "IBAN DE89 & BIC COBADEFFXXX"})
    invoice = invoice_finalize(invoice=_draft(eu, email="ap@kunde.de"), now=NOW, actor=ACTOR)
    mail.outbox.clear()

    invoice_email_send(invoice=invoice, now=NOW, actor=ACTOR)

    (message,) = mail.outbox
    assert "How to pay:\nIBAN DE89 & BIC COBADEFFXXX" in message.body  # plain text: not HTML-escaped
    assert "IBAN DE89 &amp; BIC COBADEFFXXX" in message.alternatives[0][0]
    assert message.attachments[0][0] == "EU-2026-000001.pdf"


@pytest.mark.django_db
def test_the_email_goes_to_the_invoice_email_with_the_cc_addresses():
    invoice = invoice_finalize(
        invoice=_draft(email="hello@kunde.de", invoice_email="ap@kunde.de", cc_emails=["cfo@kunde.de", "ap@kunde.de"]),
        now=NOW, actor=ACTOR,
    )  # fmt: skip
    mail.outbox.clear()

    invoice_email_send(invoice=invoice, now=NOW, actor=ACTOR)

    (message,) = mail.outbox
    assert (message.to, message.cc) == (["ap@kunde.de"], ["cfo@kunde.de"])  # the To address is not copied again
    assert message.body.rstrip().endswith("Thank you.\nFluxbill")  # signed by the seller, the default entity
    # Without an invoice email, the customer's email.
    other = invoice_finalize(invoice=_draft(email="hello@other.de"), now=NOW, actor=ACTOR)
    invoice_email_send(invoice=other, now=NOW, actor=ACTOR)
    assert (mail.outbox[-1].to, mail.outbox[-1].cc) == (["hello@other.de"], [])
