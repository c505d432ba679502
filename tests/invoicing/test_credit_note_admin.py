"""Credit notes in Django admin: read-only pages; void (asking why) and resend run the credit-note services."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from catalog.taxes import tax_rate_create
from invoicing.choices import CreditNoteStatus, InvoiceKind
from invoicing.models import CreditNote, Invoice
from invoicing.services import invoice_finalize, subscriptions_rollover
from invoicing.services.credit_notes import credit_note_issue
from tests.factories import StaffFactory

from .builders import ACTOR, event, plan_with, subscribe, utc

pytestmark = pytest.mark.django_db
D = Decimal


def _staff_client(client, role):
    user = StaffFactory(username=role.lower())
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


@pytest.fixture
def note():
    # 130 units at 0.25 = 32.50 and VAT 19 % = 6.18 (6.175 rounds up): the whole line credits 38.68.
    tax_rate_create(code="VAT19", name="VAT 19%", rate="19")
    plan, _, (charge,) = plan_with(usage=[{"unit_price": D("0.25")}], tax_rates=["VAT19"])
    sub = subscribe(plan, utc(2025, 1, 1), email="billing@example.com")
    event(charge, sub.customer, 130, utc(2025, 1, 9))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    draft = Invoice.objects.get(subscription=sub, kind=InvoiceKind.PERIOD, period_start=utc(2025, 1, 1))
    invoice = invoice_finalize(invoice=draft, now=utc(2025, 2, 1, 1), actor=ACTOR)
    line = invoice.lines.get()
    return credit_note_issue(invoice=invoice, reason="other", items=[{"invoice_line_id": line.pk}],
                             split={"credit_amount": "38.68"}, now=utc(2025, 2, 10), actor=ACTOR)


def _act(client, action, *notes, follow=True, **answers):
    data = {"action": action, "_selected_action": [str(n.pk) for n in notes]}
    if answers:
        data.update(answers, apply="yes")
    return client.post("/admin/invoicing/creditnote/", data, follow=follow)


def test_the_note_page_is_read_only_and_shows_its_items(client, note):
    finance = _staff_client(client, "Finance")
    page = finance.get(f"/admin/invoicing/creditnote/{note.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert note.number in body and "$38.68" in body
    assert page.context["adminform"].form.fields == {}
    assert finance.get("/admin/invoicing/creditnote/add/").status_code == 403


def test_void_asks_why_then_voids_through_the_service(client, note):
    finance = _staff_client(client, "Finance")
    asked = _act(finance, "void", note, follow=False)
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    assert "1 selected credit note" in asked.content.decode()
    assert CreditNote.objects.get(pk=note.pk).status == CreditNoteStatus.ISSUED

    done = _act(finance, "void", note, reason="issued twice")
    assert f"{note.number}: voided." in done.content.decode()
    note.refresh_from_db()
    assert (note.status, note.void_reason) == (CreditNoteStatus.VOID, "issued twice")
    # The 38.68 it put on the balance came back out (the ledger's last entry).
    assert note.customer.credit_entries.order_by("-id").first().balance_after == D("0")


def test_a_refused_void_is_said_per_note(client, note):
    finance = _staff_client(client, "Finance")
    _act(finance, "void", note, reason="once")
    again = _act(finance, "void", note, reason="twice")
    assert "only an ISSUED note can be voided" in again.content.decode()


def test_resend_emails_the_note_and_support_may_but_not_void(client, note, mailoutbox):
    support = _staff_client(client, "Support")
    listing = support.get("/admin/invoicing/creditnote/").content.decode()
    assert 'value="resend_email"' in listing and 'value="void"' not in listing
    _act(support, "resend_email", note)
    assert [m.subject for m in mailoutbox][-1] == f"Credit note {note.number} for invoice {note.invoice.number}"
