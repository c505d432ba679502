"""Invoices in admin read as finance reads them: amounts in the invoice's currency, breakdowns and the customer
snapshot as tables, and a list that costs the same few queries however many invoices it shows."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from invoicing.choices import LineKind
from invoicing.models import Invoice, InvoiceLine
from tests.factories import CustomerFactory, default_entity

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456"))
    return client


def _invoice(currency="USD", **fields):
    now = timezone.now()
    return Invoice.objects.create(
        billing_entity=default_entity(),
        customer=CustomerFactory(), currency=currency, period_start=now - dt.timedelta(days=30), period_end=now, **fields
    )


def test_invoice_totals_are_shown_in_the_invoice_currency(admin):
    _invoice("USD", subtotal=Decimal("113.69"), total=Decimal("113.69"))
    _invoice("JPY", subtotal=Decimal("1200"), total=Decimal("1200"))
    _invoice("EUR", subtotal=Decimal("1234.5"), total=Decimal("1234.5"))

    page = admin.get("/admin/invoicing/invoice/").content.decode()

    assert "$113.69" in page and "¥1,200" in page and "€1,234.50" in page
    assert "113.6900" not in page and "1200.0000" not in page


def test_the_total_column_still_sorts_by_the_amount(admin):
    small, large = _invoice(total=Decimal("5")), _invoice(total=Decimal("50"))
    response = admin.get("/admin/invoicing/invoice/", {"o": "6"})  # the seventh column: total

    assert [invoice.pk for invoice in response.context["cl"].result_list] == [small.pk, large.pk]


def test_the_invoice_list_costs_the_same_few_queries_for_many_invoices(admin, django_assert_max_num_queries):
    for _ in range(6):
        _invoice(total=Decimal("7"))
    with django_assert_max_num_queries(9):
        assert admin.get("/admin/invoicing/invoice/").status_code == 200


def test_an_invoice_page_shows_its_money_breakdowns_and_snapshot_as_tables(admin, django_assert_max_num_queries):
    invoice = _invoice(
        "EUR", subtotal=Decimal("113.69"), total=Decimal("113.69"),
        customer_snapshot={"name": "Acme <GmbH>", "email": "billing@acme.example", "address": ""},
    )
    InvoiceLine.objects.create(
        invoice=invoice, kind=LineKind.USAGE, description="Tokens", quantity=Decimal("1500"), unit_price=None,
        amount=Decimal("18.50"), position=0,
        breakdown=[
            {"from": "0", "up_to": "1000", "units": "1000", "unit_price": "0.0035", "flat_amount": "0", "amount": "3.5"},
            {"from": "1000", "up_to": None, "units": "500", "unit_price": "0.01", "flat_amount": "10", "amount": "15"},
        ],
    )
    InvoiceLine.objects.create(
        invoice=invoice, kind=LineKind.USAGE, description="Storage", quantity=Decimal("250"), unit_price=None,
        amount=Decimal("95.19"), position=1,
        breakdown=[{"packages": "3", "package_size": "100", "package_price": "31.73", "amount": "95.19"}],
    )
    InvoiceLine.objects.create(
        invoice=invoice, kind=LineKind.USAGE, description="Calls", quantity=Decimal("0"), unit_price=Decimal("0.002"),
        amount=Decimal("0"), position=2,
    )

    with django_assert_max_num_queries(20):
        page = admin.get(f"/admin/invoicing/invoice/{invoice.pk}/change/").content.decode()

    assert "€113.69" in page and "113.6900" not in page
    assert "€18.50" in page and "€95.19" in page and "€0.002" in page
    assert re.search(r'field-quantity_shown">\s*<p>1500</p>', page)  # a count, not 1500.0000000000
    assert (
        "<thead><tr><th>From</th><th>Up to</th><th>Units</th><th>Unit price</th><th>Flat amount</th><th>Amount</th></tr></thead>"
        "<tbody><tr><td>0</td><td>1000</td><td>1000</td><td>€0.0035</td><td>€0.00</td><td>€3.50</td></tr>"
        "<tr><td>1000</td><td>∞</td><td>500</td><td>€0.01</td><td>€10.00</td><td>€15.00</td></tr></tbody>"
    ) in page
    assert (
        "<thead><tr><th>Packages</th><th>Package size</th><th>Package price</th><th>Amount</th></tr></thead>"
        "<tbody><tr><td>3</td><td>100</td><td>€31.73</td><td>€95.19</td></tr></tbody>"
    ) in page
    # The snapshot as a definition table, escaped.
    assert '<th scope="row">name</th><td>Acme &lt;GmbH&gt;</td>' in page
    assert '<th scope="row">address</th><td>—</td>' in page
    assert "&quot;email&quot;" not in page and "&quot;from&quot;" not in page  # no JSON left


def test_the_lines_of_an_invoice_cost_no_query_each(admin):
    def page_queries(invoice):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            admin.get(f"/admin/invoicing/invoice/{invoice.pk}/change/")
        return len(queries)

    one, many = _invoice(), _invoice()
    InvoiceLine.objects.create(invoice=one, kind=LineKind.FIXED, description="Fee", amount=Decimal("1"), unit_price=Decimal("1"))
    for position in range(8):
        InvoiceLine.objects.create(
            invoice=many, kind=LineKind.FIXED, description="Fee", amount=Decimal("1"), unit_price=Decimal("1"), position=position
        )
    assert page_queries(many) == page_queries(one)
