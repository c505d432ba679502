"""One FilterSet (invoicing.filters) behind the invoice list page, its CSV export and the API list: the
same query string finds the same invoices in all three, and a bad value is a 400 naming the field."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.choices import InvoiceStatus
from tests.dashboard.helpers import csv_rows
from tests.factories import CustomerFactory, InvoiceFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def day(month, d=1):
    return dt.datetime(2026, month, d, tzinfo=UTC)


@pytest.fixture
def ledger():
    acme = CustomerFactory(name="Acme Corp", external_id="acme-001")
    globex = CustomerFactory(name="Globex", external_id="GLX-9")
    today = timezone.now().date()
    return {
        "acme": acme,
        "globex": globex,
        "late": InvoiceFactory(customer=acme, number="INV-2026-000001", total=Decimal("1234.50"),
                               issued_at=day(1, 31), due_date=today - dt.timedelta(days=3)),
        "due_later": InvoiceFactory(customer=acme, number="INV-2026-000002", total=Decimal("80.00"),
                                    issued_at=day(2, 28), due_date=today + dt.timedelta(days=10),
                                    period_start=day(2), period_end=day(3)),
        "paid_late": InvoiceFactory(customer=globex, number="INV-2026-000003", status=InvoiceStatus.PAID,
                                    total=Decimal("300.00"), issued_at=day(1, 31), due_date=today - dt.timedelta(days=30)),
        "yen": InvoiceFactory(customer=globex, number="INV-2026-000004", currency="JPY", total=Decimal("1200"),
                              issued_at=day(3, 1), due_date=today + dt.timedelta(days=1),
                              period_start=day(2), period_end=day(3)),
        "draft_feb": InvoiceFactory(customer=acme, status=InvoiceStatus.DRAFT, total=Decimal("5.00"),
                                    period_start=day(2), period_end=day(3)),
        "draft_jan": InvoiceFactory(customer=acme, status=InvoiceStatus.DRAFT, total=Decimal("6.00"),
                                    period_start=day(1), period_end=day(2)),
    }


def page_ids(client, params) -> list[str]:
    response = client.get("/invoices/", params)
    assert response.status_code == 200, response.content
    return [str(invoice.pk) for invoice in response.context["page"].object_list]


def export_ids(client, params) -> list[str]:
    return [row[-1] for row in csv_rows(client.get("/invoices/export.csv", params), "invoices")[1:]]


def api_ids(client, params) -> list[str]:
    response = client.get("/api/v1/invoices", params)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def names(ledger, ids) -> set[str]:
    by_id = {str(v.pk): k for k, v in ledger.items() if hasattr(v, "total")}
    return {by_id[i] for i in ids}


def everywhere(finance_client, admin_api, ledger, params) -> set[str]:
    """The invoices the page, the export and the API list find for `params`; fails unless all three agree."""
    page, export, api = (names(ledger, f(c, params)) for f, c in
                         ((page_ids, finance_client), (export_ids, finance_client), (api_ids, admin_api)))
    assert page == export == api, (params, page, export, api)
    return page


def test_customer_by_external_id_or_id_is_the_same_filter_on_the_page_and_the_api(finance_client, admin_api, ledger):
    # Found: the API's `customer` took only a UUID and answered 400 to the external id the dashboard takes.
    acme = {"late", "due_later", "draft_feb", "draft_jan"}
    assert everywhere(finance_client, admin_api, ledger, {"customer": "acme-001"}) == acme
    assert everywhere(finance_client, admin_api, ledger, {"customer": str(ledger["acme"].pk)}) == acme
    assert everywhere(finance_client, admin_api, ledger, {"customer": "glx-"}) == {"paid_late", "yen"}
    assert everywhere(finance_client, admin_api, ledger, {"customer": "nobody"}) == set()


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"issued_from": "2026-02-01"}, {"due_later", "yen"}),
        ({"issued_to": "2026-01-31"}, {"late", "paid_late"}),  # the whole last day
        ({"issued_from": "2026-02-01T00:00:00Z", "issued_to": "2026-02-28"}, {"due_later"}),
        ({"overdue": "true"}, {"late"}),  # open and past due; the paid one is not overdue
        ({"amount_min": "80", "amount_max": "300"}, {"due_later", "paid_late"}),
        ({"amount_min": "1000"}, {"late", "yen"}),
        ({"currency": "jpy"}, {"yen"}),
        ({"status": "OPEN", "customer": "acme"}, {"late", "due_later"}),
    ],
)
def test_invoice_filters_agree_everywhere(finance_client, admin_api, ledger, params, expected):
    assert everywhere(finance_client, admin_api, ledger, params) == expected


def test_due_date_range(finance_client, admin_api, ledger):
    today = timezone.now().date()
    params = {"due_from": (today - dt.timedelta(days=3)).isoformat(), "due_to": (today + dt.timedelta(days=1)).isoformat()}
    assert everywhere(finance_client, admin_api, ledger, params) == {"late", "yen"}


def test_drafts_are_ordered_by_period_start(finance_client, admin_api, ledger):
    expected = [str(ledger["draft_jan"].pk), str(ledger["draft_feb"].pk)]  # created the other way round
    assert page_ids(finance_client, {"status": "DRAFT"}) == expected
    assert export_ids(finance_client, {"status": "DRAFT"}) == expected
    assert api_ids(admin_api, {"status": "DRAFT"}) == expected
    # Without status=DRAFT the newest come first.
    assert api_ids(admin_api, {"customer": "acme"})[0] == str(ledger["draft_jan"].pk)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("amount_min", "lots", "Enter a number."),
        ("status", "LATE", "Select a valid choice."),
        ("issued_to", "9999-12-31", "9998-12-31"),
        ("due_from", "yesterday", "Enter a valid date."),
        ("overdue", "perhaps", "Select a valid choice."),
    ],
)
def test_bad_filter_value_is_400_naming_the_field(finance_client, admin_api, ledger, field, value, message):
    api = admin_api.get("/api/v1/invoices", {field: value})
    assert api.status_code == 400
    assert api.json()["field"] == field
    assert message in api.json()["error"]
    page = finance_client.get("/invoices/", {field: value})
    assert page.status_code == 400
    assert field in page.context["form"].errors
    assert f'<div class="field has-error" data-field="{field}">' in page.content.decode()
    assert finance_client.get("/invoices/export.csv", {field: value}).status_code == 400


def test_a_range_running_backwards_is_400(finance_client, admin_api, ledger):
    params = {"amount_min": "100", "amount_max": "10"}
    assert admin_api.get("/api/v1/invoices", params).json()["field"] == "amount_max"
    assert finance_client.get("/invoices/", params).context["form"].errors["amount_max"] == [
        "The end of the range is before its start."
    ]
