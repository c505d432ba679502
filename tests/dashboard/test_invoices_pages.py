"""Invoice pages: the filtered list and its CSV, the invoice page, its PDF and every action, per role."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.http import StreamingHttpResponse
from django.utils import timezone

from catalog.choices import PricingModel
from invoicing.choices import InvoiceKind, InvoiceStatus
from invoicing.models import Invoice
from invoicing.services import Actor, invoice_finalize, subscriptions_rollover
from tests.factories import (
    default_entity,
    CustomerFactory,
    FixedChargeFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageChargeFactory,
    UsageEventFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc
TIERS = [{"up_to": "100", "unit_price": "1.00", "flat_amount": "0"}, {"up_to": None, "unit_price": "0.50", "flat_amount": "0"}]


def _draft(*, units: str = "150", email: str = "billing@acme.io") -> Invoice:
    """A period invoice drafted by the rollover: daily plan, 12.00 fee, graduated usage (0–100 @ 1.00, then 0.50).

    150 units → 100 × 1.00 + 50 × 0.50 = 125.00; total 137.00.
    """
    customer = CustomerFactory(name="Acme Corp", external_id="acme-001", email=email)
    plan = PlanFactory(billing_interval="day", currency="USD")
    FixedChargeFactory(plan=plan, amount=Decimal("12.00"), display_name="Platform fee")
    usage = UsageChargeFactory(
        plan=plan, pricing_model=PricingModel.GRADUATED, unit_price=None, tiers=TIERS, display_name="Requests"
    )
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=1, hours=1)
    subscription = SubscriptionFactory(
        customer=customer, plan=plan, start_date=start, current_period_start=start, current_period_end=start + dt.timedelta(days=1)
    )
    UsageEventFactory(customer=customer, meter=usage.meter, quantity=Decimal(units), timestamp=start + dt.timedelta(hours=1))
    subscriptions_rollover(now=timezone.now(), actor=Actor.task("rollover"))
    invoice = Invoice.objects.get(subscription=subscription)
    invoice.test_meter = usage.meter
    return invoice


def _open(**kwargs) -> Invoice:
    draft = _draft(**kwargs)
    invoice = invoice_finalize(invoice=draft, now=timezone.now(), actor=Actor.task("finalize"))
    invoice.test_meter = draft.test_meter
    return invoice


def _manual(customer, *, status=InvoiceStatus.OPEN, total="10.00", currency="USD", number=None, start=None, end=None, **extra):
    start = start or dt.datetime(2026, 1, 1, tzinfo=UTC)
    return Invoice.objects.create(
        billing_entity=default_entity(),
        customer=customer,
        kind=InvoiceKind.MANUAL,
        status=status,
        currency=currency,
        number=number,
        period_start=start,
        period_end=end or start + dt.timedelta(days=31),
        subtotal=Decimal(total),
        total=Decimal(total),
        **extra,
    )


def _status(invoice) -> str:
    invoice.refresh_from_db()
    return invoice.status


FINANCE_ONLY = ["finalize", "void", "mark-paid", "mark-uncollectible"]
SUPPORT_ALLOWED = ["regenerate", "resend"]


# --- permissions --------------------------------------------------------------------------


def test_anonymous_is_sent_to_login_from_every_invoice_page_and_action(client):
    invoice = _draft()
    base = f"/invoices/{invoice.pk}/"
    urls = ["/invoices/", "/invoices/export.csv", base, base + "pdf/"] + [f"{base}{a}/" for a in FINANCE_ONLY + SUPPORT_ALLOWED]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/login/?next={url}", url
    assert client.post(base + "finalize/").status_code == 302
    assert _status(invoice) == InvoiceStatus.DRAFT


def test_user_without_role_gets_403_everywhere(nobody_client):
    invoice = _draft()
    base = f"/invoices/{invoice.pk}/"
    for url in ["/invoices/", "/invoices/export.csv", base, base + "pdf/"]:
        assert nobody_client.get(url).status_code == 403, url
    for action in FINANCE_ONLY + SUPPORT_ALLOWED:
        assert nobody_client.post(f"{base}{action}/").status_code == 403, action
    assert _status(invoice) == InvoiceStatus.DRAFT


@pytest.mark.parametrize("action", FINANCE_ONLY)
def test_support_gets_403_on_finance_actions_and_nothing_changes(support_client, action):
    invoice = _open()
    url = f"/invoices/{invoice.pk}/{action}/"
    assert support_client.get(url).status_code == 403
    response = support_client.post(url, {"paid_on": timezone.now().date().isoformat(), "reference": "x", "reason": "x"})
    assert response.status_code == 403
    assert _status(invoice) == InvoiceStatus.OPEN
    assert not invoice.audit.filter(actor="user:sam").exists()


def test_support_sees_only_the_buttons_it_may_use(support_client, finance_client):
    invoice = _open()
    support_body = support_client.get(f"/invoices/{invoice.pk}/").content.decode()
    for allowed in ("regenerate/", "resend/", "pdf/"):
        assert f"/invoices/{invoice.pk}/{allowed}" in support_body
    for refused in FINANCE_ONLY:
        assert f"/invoices/{invoice.pk}/{refused}/" not in support_body
    finance_body = finance_client.get(f"/invoices/{invoice.pk}/").content.decode()
    for action in ("void", "mark-paid", "mark-uncollectible", "regenerate", "resend"):
        assert f"/invoices/{invoice.pk}/{action}/" in finance_body
    assert f"/invoices/{invoice.pk}/finalize/" not in finance_body  # already finalized


# --- the list -------------------------------------------------------------------------------


@pytest.fixture
def ledger():
    """Invoices to filter: three customers, several statuses, periods and currencies."""
    acme = CustomerFactory(name="Acme Corp", external_id="acme-001")
    globex = CustomerFactory(name="Globex", external_id="GLX-9")
    jan, feb, mar = (dt.datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3))
    return {
        "acme_jan": _manual(acme, number="INV-2026-000001", total="1234.50", start=jan, end=feb),
        "acme_feb_paid": _manual(acme, status=InvoiceStatus.PAID, number="INV-2026-000002", total="80.00", start=feb, end=mar),
        "acme_draft": _manual(acme, status=InvoiceStatus.DRAFT, total="5.00", start=feb, end=mar),
        "globex_jan": _manual(globex, number="INV-2026-000003", total="300.00", start=jan, end=feb),
        "globex_yen": _manual(globex, number="INV-2026-000010", total="1200", currency="JPY", start=feb, end=mar),
    }


def _listed(client, **params) -> set:
    response = client.get("/invoices/", params)
    assert response.status_code == 200
    return {invoice.pk for invoice in response.context["page"].object_list}


def test_filters(finance_client, ledger):
    pk = {name: invoice.pk for name, invoice in ledger.items()}
    assert _listed(finance_client) == set(pk.values())
    assert _listed(finance_client, status="PAID") == {pk["acme_feb_paid"]}
    assert _listed(finance_client, status="DRAFT") == {pk["acme_draft"]}
    # customer: name or external id, any case
    assert _listed(finance_client, customer="acme") == {pk["acme_jan"], pk["acme_feb_paid"], pk["acme_draft"]}
    assert _listed(finance_client, customer="glx-") == {pk["globex_jan"], pk["globex_yen"]}
    assert _listed(finance_client, customer_id=ledger["globex_jan"].customer_id) == {pk["globex_jan"], pk["globex_yen"]}
    assert _listed(finance_client, number="inv-2026-00000") == {pk["acme_jan"], pk["acme_feb_paid"], pk["globex_jan"]}
    assert _listed(finance_client, number="0010") == {pk["globex_yen"]}  # contains, not starts with
    # period: starting on/after Feb 1; ending by the end of Jan 31 (a period ending Feb 1 00:00 ends on Jan 31)
    assert _listed(finance_client, period_from="2026-02-01") == {pk["acme_feb_paid"], pk["acme_draft"], pk["globex_yen"]}
    assert _listed(finance_client, period_to="2026-01-31") == {pk["acme_jan"], pk["globex_jan"]}
    assert _listed(finance_client, period_from="2026-01-01", period_to="2026-01-30") == set()
    assert _listed(finance_client, status="OPEN", customer="ACME CORP") == {pk["acme_jan"]}


def test_invalid_filter_is_shown_beside_its_field_and_the_others_still_apply(finance_client, ledger):
    response = finance_client.get("/invoices/", {"period_from": "yesterday", "status": "PAID"})
    assert response.status_code == 400  # the page still renders, with the valid filters applied
    assert response.context["form"].errors["period_from"] == ["Enter a valid date."]
    assert [i.pk for i in response.context["page"].object_list] == [ledger["acme_feb_paid"].pk]
    assert '<div class="field has-error" data-field="period_from">' in response.content.decode()
    reversed_range = finance_client.get("/invoices/", {"period_from": "2026-03-01", "period_to": "2026-01-01"})
    assert reversed_range.status_code == 400
    assert reversed_range.context["form"].errors["period_to"] == ["The end of the range is before its start."]


def test_sorting(finance_client, ledger):
    def numbers(sort):
        return [i.number for i in finance_client.get("/invoices/", {"sort": sort, "status": "OPEN"}).context["page"].object_list]

    assert numbers("total") == ["INV-2026-000003", "INV-2026-000010", "INV-2026-000001"]  # 300, 1200, 1234.50
    assert numbers("-total") == ["INV-2026-000001", "INV-2026-000010", "INV-2026-000003"]
    assert numbers("number") == ["INV-2026-000001", "INV-2026-000003", "INV-2026-000010"]
    body = finance_client.get("/invoices/", {"sort": "number", "status": "OPEN"}).content.decode()
    assert 'href="?sort=-number&amp;status=OPEN"' in body  # the header flips the direction, filters kept


def test_amounts_and_dates_are_formatted(finance_client, ledger):
    body = finance_client.get("/invoices/").content.decode()
    assert "$1,234.50" in body and "¥1,200" in body
    # A billing day is a UTC day: shown as such, with the UTC time in the tooltip, not moved to the viewer's zone.
    assert '<time datetime="2026-01-01T00:00:00+00:00" title="2026-01-01 00:00 UTC">2026-01-01</time>' in body


def test_empty_states(finance_client):
    assert "No invoices yet." in finance_client.get("/invoices/").content.decode()
    body = finance_client.get("/invoices/", {"number": "nothing"}).content.decode()
    assert "No invoice matches these filters" in body


def test_eighty_invoices_paginated_with_constant_queries(finance_client, django_assert_max_num_queries):
    customers = [CustomerFactory(name=f"Customer {n}") for n in range(8)]
    for n in range(80):
        _manual(customers[n % 8], number=f"INV-2026-{n + 1:06d}", total=f"{n + 1}.00")
    # session, user, groups, count, rows, the page's customers (one query, not one per row)
    with django_assert_max_num_queries(7):
        response = finance_client.get("/invoices/", {"sort": "total"})
    page = response.context["page"]
    assert [i.total for i in page.object_list] == [Decimal(n) for n in range(1, 26)]
    assert "Page 1 of 4 · 80 total" in response.content.decode()
    with django_assert_max_num_queries(7):
        response = finance_client.get("/invoices/", {"sort": "-total", "page": 4, "customer": "customer"})
    assert [i.total for i in response.context["page"].object_list] == [Decimal(n) for n in range(5, 0, -1)]


# --- CSV ------------------------------------------------------------------------------------


def _csv(response, name: str = "invoices") -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{name}-')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


HEADER = [
    "number", "status", "kind", "customer_external_id", "customer_name", "currency", "period_start", "period_end",
    "issued_at", "due_date", "paid_at", "payment_reference", "subtotal", "total", "id",
]


def test_csv_export_of_the_filtered_sorted_list(finance_client, ledger):
    Invoice.objects.filter(pk=ledger["acme_feb_paid"].pk).update(
        issued_at=dt.datetime(2026, 3, 1, tzinfo=UTC), due_date=dt.date(2026, 3, 31),
        paid_at=dt.datetime(2026, 3, 5, 12, 30, tzinfo=UTC), payment_reference="WIRE-7",
    )
    rows = _csv(finance_client.get("/invoices/export.csv", {"customer": "ACME", "sort": "-total", "page": 9}))
    assert rows == [
        HEADER,
        ["INV-2026-000001", "OPEN", "MANUAL", "acme-001", "Acme Corp", "USD", "2026-01-01T00:00:00+00:00",
         "2026-02-01T00:00:00+00:00", "", "", "", "", "1234.50", "1234.50", str(ledger["acme_jan"].pk)],
        ["INV-2026-000002", "PAID", "MANUAL", "acme-001", "Acme Corp", "USD", "2026-02-01T00:00:00+00:00",
         "2026-03-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00", "2026-03-31", "2026-03-05T12:30:00+00:00", "WIRE-7",
         "80.00", "80.00", str(ledger["acme_feb_paid"].pk)],
        ["", "DRAFT", "MANUAL", "acme-001", "Acme Corp", "USD", "2026-02-01T00:00:00+00:00",
         "2026-03-01T00:00:00+00:00", "", "", "", "", "5.00", "5.00", str(ledger["acme_draft"].pk)],
    ]


def test_support_may_export_and_amounts_are_plain_decimals_in_their_currency(support_client, ledger):
    rows = _csv(support_client.get("/invoices/export.csv", {"customer": "globex", "sort": "total"}))
    assert [(r[0], r[5], r[13]) for r in rows[1:]] == [("INV-2026-000003", "USD", "300.00"), ("INV-2026-000010", "JPY", "1200")]


def test_csv_cells_cannot_become_spreadsheet_formulas(finance_client):
    _manual(CustomerFactory(name="=HYPERLINK(\"http://evil\")", external_id="@evil"), number="INV-2026-000099")
    (row,) = _csv(finance_client.get("/invoices/export.csv"))[1:]
    assert row[3:5] == ["'@evil", "'=HYPERLINK(\"http://evil\")"]


def test_csv_export_is_one_query_however_many_rows(finance_client, django_assert_max_num_queries):
    customer = CustomerFactory()
    for n in range(80):
        _manual(customer, number=f"INV-2026-{n + 1:06d}")
    with django_assert_max_num_queries(6):
        response = finance_client.get("/invoices/export.csv")
        rows = _csv(response)
    assert len(rows) == 81


# --- the invoice page ---------------------------------------------------------------------------


def test_invoice_page_shows_document_with_tiers_audit_and_email_status(support_client):
    invoice = _open()
    response = support_client.get(f"/invoices/{invoice.pk}/")
    assert response.status_code == 200
    assert "invoicing/invoice_document.html" in [t.name for t in response.templates]  # the PDF's own template
    body = response.content.decode()
    assert f"Invoice {invoice.number}" in body
    assert "$12.00" in body and "$125.00" in body and "$137.00" in body
    # the graduated breakdown in the currency: 100 units at $1.00, 50 at $0.50
    row = '<td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
    tight = re.sub(r">\s+<", "><", body)
    assert row.format("0 – 100", "100 units", "$1.00", "$100.00") in tight
    assert row.format("100 – ∞", "50 units", "$0.50", "$25.00") in tight
    assert "Open" not in body.split('class="invoice-document')[1].split("</article>")[0]  # no internal words
    assert [(e.action, e.actor) for e in response.context["audit"]] == [("created", "task:rollover"), ("finalized", "task:finalize")]
    assert "task:rollover" in body
    assert "Not sent" in body  # the email goes out after commit, by the worker
    assert "No events for this period arrived after the invoice was issued." in body


def test_late_usage_is_reported(finance_client):
    invoice = _open()
    UsageEventFactory(
        customer=invoice.customer, meter=invoice.test_meter, quantity=Decimal("40"), timestamp=invoice.period_start + dt.timedelta(hours=2)
    )
    response = finance_client.get(f"/invoices/{invoice.pk}/")
    assert response.context["late"] == {"events": 1, "quantity": "40"}
    assert "1 event</strong> (40 units) for this period arrived after the invoice was issued" in response.content.decode()


def test_email_failure_is_shown(finance_client):
    invoice = _open()
    Invoice.objects.filter(pk=invoice.pk).update(email_attempts=3, email_last_error="SMTPServerDisconnected: gone")
    body = finance_client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "SMTPServerDisconnected: gone" in body and "<dt>Attempts</dt><dd>3</dd>" in body


def test_invoice_page_queries_are_constant(finance_client, django_assert_max_num_queries):
    invoice = _open()
    # session, user, groups, invoice with customer/subscription/plan/replaces, lines, audit, late usage, replacement,
    # credit notes, payments, history panel
    with django_assert_max_num_queries(12):
        assert finance_client.get(f"/invoices/{invoice.pk}/").status_code == 200


def test_invoice_page_queries_do_not_grow_with_lines_and_their_meters(finance_client, django_assert_max_num_queries):
    from invoicing.choices import LineKind
    from invoicing.models import InvoiceLine

    invoice = _open()
    for i in range(30):  # each line with its own meter (its unit is printed) and charge (its free units)
        charge = UsageChargeFactory(display_name=f"Extra {i}", free_units=Decimal(5))
        InvoiceLine.objects.create(
            invoice=invoice, kind=LineKind.USAGE, charge=charge, meter=charge.meter, description=f"Extra {i} (5 free units)",
            quantity=Decimal(15), unit_price=Decimal("0.01"), amount=Decimal("0.10"), position=10 + i,
        )  # fmt: skip
    with django_assert_max_num_queries(12):
        body = finance_client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert body.count("Free units") == 30


def test_unknown_invoice_is_404(finance_client):
    assert finance_client.get("/invoices/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_pdf_download(support_client):
    invoice = _open()
    response = support_client.get(f"/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF")


# --- actions ------------------------------------------------------------------------------------


def test_finalize(finance_client):
    invoice = _draft()
    page = finance_client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert f'action="/invoices/{invoice.pk}/finalize/" class="inline" data-confirm="Finalize this invoice?' in page
    response = finance_client.post(f"/invoices/{invoice.pk}/finalize/", follow=True)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.number.startswith(f"INV-{timezone.now().year}-")
    assert invoice.total == Decimal("137.00")
    assert invoice.audit.filter(action="finalized", actor="user:fiona", actor_user__username="fiona").exists()
    assert response.redirect_chain == [(f"/invoices/{invoice.pk}/", 302)]
    assert f"Finalized as {invoice.number}" in response.content.decode()


def test_action_page_without_javascript_confirms_before_acting(finance_client):
    invoice = _draft()
    response = finance_client.get(f"/invoices/{invoice.pk}/finalize/")
    assert response.status_code == 200
    assert "numbered, frozen and emailed" in response.content.decode()
    assert _status(invoice) == InvoiceStatus.DRAFT


def test_void_with_reason(finance_client):
    invoice = _open()
    response = finance_client.post(f"/invoices/{invoice.pk}/void/", {"reason": "duplicate"}, follow=True)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID and invoice.voided_at is not None
    assert invoice.audit.get(action="voided").detail == "duplicate"
    assert f"{invoice.number} voided." in response.content.decode()


def test_mark_paid_on_an_earlier_day(finance_client):
    invoice = _open()
    yesterday = timezone.now().date() - dt.timedelta(days=1)
    response = finance_client.post(
        f"/invoices/{invoice.pk}/mark-paid/", {"paid_on": yesterday.isoformat(), "reference": "WIRE-123"}, follow=True
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.paid_at == dt.datetime.combine(yesterday, dt.time.min, tzinfo=UTC)
    assert invoice.payment_reference == "WIRE-123"
    assert invoice.audit.get(action="marked_paid").detail == f"137.00 USD received {yesterday.isoformat()}; WIRE-123"
    assert f"marked paid on {yesterday:%Y-%m-%d}" in response.content.decode()


def test_mark_paid_today_records_now(finance_client):
    invoice = _open()
    before = timezone.now()
    finance_client.post(f"/invoices/{invoice.pk}/mark-paid/", {"paid_on": before.date().isoformat()})
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert before <= invoice.paid_at <= timezone.now()


@pytest.mark.parametrize(
    "data, field, error",
    [
        ({"paid_on": "", "reference": "x"}, "paid_on", "This field is required."),
        ({"paid_on": "2999-01-01"}, "paid_on", "A payment cannot arrive in the future."),
        ({"paid_on": "2026-02-30"}, "paid_on", "Enter a valid date."),
        ({"paid_on": "2026-01-01", "reference": "r" * 201}, "reference", "Ensure this value has at most 200 characters (it has 201)."),
    ],
)
def test_mark_paid_form_errors_are_shown_beside_the_field(finance_client, data, field, error):
    invoice = _open()
    response = finance_client.post(f"/invoices/{invoice.pk}/mark-paid/", data)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [error]
    assert f'<div class="field has-error" data-field="{field}">' in response.content.decode()
    assert _status(invoice) == InvoiceStatus.OPEN


def test_refused_transition_is_a_flash_message_not_a_500(finance_client):
    invoice = _draft()
    response = finance_client.post(
        f"/invoices/{invoice.pk}/mark-paid/", {"paid_on": timezone.now().date().isoformat()}, follow=True
    )
    assert response.status_code == 200
    assert "Cannot mark paid an invoice that is DRAFT; allowed from: OPEN, UNCOLLECTIBLE" in response.content.decode()
    assert _status(invoice) == InvoiceStatus.DRAFT


def test_mark_uncollectible_then_paid(finance_client):
    invoice = _open()
    finance_client.post(f"/invoices/{invoice.pk}/mark-uncollectible/")
    assert _status(invoice) == InvoiceStatus.UNCOLLECTIBLE
    assert invoice.audit.filter(action="marked_uncollectible", actor="user:fiona").exists()
    finance_client.post(f"/invoices/{invoice.pk}/mark-paid/", {"paid_on": timezone.now().date().isoformat()})
    assert _status(invoice) == InvoiceStatus.PAID


def test_support_regenerates_a_finalized_invoice_with_late_usage(support_client):
    invoice = _open()
    UsageEventFactory(
        customer=invoice.customer, meter=invoice.test_meter, quantity=Decimal("50"), timestamp=invoice.period_start + dt.timedelta(hours=3)
    )
    response = support_client.post(f"/invoices/{invoice.pk}/regenerate/", follow=True)
    invoice.refresh_from_db()
    replacement = Invoice.objects.get(replaces=invoice)
    assert invoice.status == InvoiceStatus.VOID
    assert replacement.status == InvoiceStatus.OPEN
    # 200 units: 100 × 1.00 + 100 × 0.50 = 150.00, plus the 12.00 fee
    assert replacement.total == Decimal("162.00")
    assert replacement.audit.filter(action="finalized", actor="user:sam").exists()
    assert response.redirect_chain == [(f"/invoices/{replacement.pk}/", 302)]
    body = response.content.decode()
    assert f"{invoice.number} was voided and replaced by {replacement.number}" in body
    assert f'<dt>Replaces</dt><dd><a href="/invoices/{invoice.pk}/">{invoice.number}</a>' in body


def test_regenerating_a_draft_recomputes_it(support_client):
    invoice = _draft()
    UsageEventFactory(
        customer=invoice.customer, meter=invoice.test_meter, quantity=Decimal("10"), timestamp=invoice.period_start + dt.timedelta(hours=3)
    )
    response = support_client.post(f"/invoices/{invoice.pk}/regenerate/", follow=True)
    invoice.refresh_from_db()
    # 160 units: 100 + 60 × 0.50 = 130.00, plus 12.00
    assert (invoice.status, invoice.total) == (InvoiceStatus.DRAFT, Decimal("142.00"))
    assert "Draft recomputed" in response.content.decode()


def test_regenerating_a_manual_invoice_is_refused_with_a_message(finance_client):
    invoice = _manual(CustomerFactory(), number="INV-2026-000500")
    response = finance_client.post(f"/invoices/{invoice.pk}/regenerate/", follow=True)
    assert "A MANUAL invoice has no subscription to regenerate it from" in response.content.decode()
    assert _status(invoice) == InvoiceStatus.OPEN


def test_support_resends_the_email(support_client):
    invoice = _open(email="ap@acme.io")
    mail.outbox.clear()
    response = support_client.post(f"/invoices/{invoice.pk}/resend/", follow=True)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ap@acme.io"]
    assert mail.outbox[0].attachments[0][2] == "application/pdf"
    invoice.refresh_from_db()
    assert invoice.email_sent_at is not None
    assert invoice.audit.filter(action="email_sent", actor="user:sam").exists()
    assert "Invoice emailed to the customer again." in response.content.decode()


def test_resend_without_an_address_reports_the_failure(finance_client):
    invoice = _open(email="")
    response = finance_client.post(f"/invoices/{invoice.pk}/resend/", follow=True)
    assert response.status_code == 200
    assert "The email could not be sent: Customer has no email address" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.email_attempts == 1 and invoice.email_sent_at is None


def test_the_lines_export_follows_the_same_filters(finance_client):
    # Issue 15 §2: "invoices with their lines". 150 units → 100 × 1.00 + 50 × 0.50 = 125.00, plus the 12.00 fee.
    mine = _draft()
    _manual(CustomerFactory(name="Globex", external_id="glx"), number="INV-2026-000077")
    page = finance_client.get("/invoices/", {"customer": "acme-001"}).content.decode()
    assert 'href="/invoices/export-lines.csv?customer=acme-001"' in page

    rows = _csv(finance_client.get("/invoices/export-lines.csv", {"customer": mine.customer.external_id}), "invoice-lines")

    assert rows[0][:8] == ["invoice_number", "invoice_status", "customer_external_id", "currency", "period_start", "period_end", "kind", "description"]
    lines = sorted((row[7], row[9], row[11]) for row in rows[1:])
    assert lines == [("Platform fee", "1", "12.00"), ("Requests", "150", "125.00")]
    assert {row[12] for row in rows[1:]} == {str(mine.pk)}
    assert finance_client.get("/invoices/export-lines.csv", {"amount_min": "abc"}).status_code == 400


def test_the_xlsx_export_holds_the_csv_rows_with_numbers_as_numbers(finance_client, ledger):
    # Issue 15 §2: "CSV, and XLSX where a well-kept library makes it cheap" (openpyxl's write-only workbook).
    import openpyxl

    params = {"customer": "ACME", "sort": "-total"}
    csv_rows = _csv(finance_client.get("/invoices/export.csv", params))
    response = finance_client.get("/invoices/export.csv", {**params, "format": "xlsx"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].startswith('attachment; filename="invoices-') and ".xlsx" in response["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == csv_rows[0]
    assert [row[0] or "" for row in rows[1:]] == [row[0] for row in csv_rows[1:]]
    total_at = csv_rows[0].index("total")
    assert [row[total_at] for row in rows[1:]] == [float(row[total_at]) for row in csv_rows[1:]]  # numbers, not text
    page = finance_client.get("/invoices/").content.decode()
    assert 'href="/invoices/export.csv?format=xlsx"' in page
