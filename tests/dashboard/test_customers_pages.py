"""Customer pages: list (search, sort, pages), create/edit (Finance), the customer page with estimates."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from tests.dashboard.helpers import csv_rows
from tests.factories import (
    default_entity,
    CustomerFactory,
    FixedChargeFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageChargeFactory,
    UsageEventFactory,
)

pytestmark = pytest.mark.django_db


def _names(response) -> list[str]:
    return [c.name for c in response.context["page"].object_list]


def _subscribed(customer, *, fixed: str, unit_price: str, meter=None, started_hours_ago: int = 24):
    """A monthly USD subscription (started a day ago) to a plan with a fixed fee and per-unit usage."""
    plan = PlanFactory(currency="USD")
    FixedChargeFactory(plan=plan, amount=Decimal(fixed))
    usage = UsageChargeFactory(plan=plan, meter=meter or MeterFactory(), unit_price=Decimal(unit_price), display_name="API calls")
    start = timezone.now().replace(microsecond=0) - dt.timedelta(hours=started_hours_ago)
    subscription = SubscriptionFactory(customer=customer, plan=plan, start_date=start)
    return subscription, usage.meter


# --- permissions --------------------------------------------------------------------------


def _urls(customer):
    return ["/customers/", "/customers/new/", f"/customers/{customer.pk}/", f"/customers/{customer.pk}/edit/"]


def test_anonymous_is_sent_to_login_from_every_customer_page(client):
    customer = CustomerFactory()
    for url in _urls(customer):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/login/?next={url}"


def test_user_without_role_gets_403_everywhere(nobody_client):
    customer = CustomerFactory()
    for url in _urls(customer):
        assert nobody_client.get(url).status_code == 403, url
    assert nobody_client.post("/customers/new/", {"external_id": "x"}).status_code == 403
    assert not Customer.objects.filter(external_id="x").exists()


def test_support_reads_but_cannot_create_or_edit(support_client):
    customer = CustomerFactory(name="Acme Corp", external_id="acme")
    assert support_client.get("/customers/").status_code == 200
    assert support_client.get(f"/customers/{customer.pk}/").status_code == 200
    assert support_client.get("/customers/new/").status_code == 403
    assert support_client.post("/customers/new/", {"external_id": "sneaky"}).status_code == 403
    assert support_client.get(f"/customers/{customer.pk}/edit/").status_code == 403
    response = support_client.post(f"/customers/{customer.pk}/edit/", {"external_id": "acme", "name": "Renamed"})
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.name == "Acme Corp"
    assert not Customer.objects.filter(external_id="sneaky").exists()
    # and the buttons are not offered to them
    body = support_client.get("/customers/").content.decode()
    assert "/customers/new/" not in body


# --- the list -------------------------------------------------------------------------------


@pytest.fixture
def three_customers():
    CustomerFactory(name="Acme Corp", email="billing@acme.io", external_id="acme-001")
    CustomerFactory(name="Globex", email="ops@globex.com", external_id="GLX-9")
    CustomerFactory(name="Initech", email="pay@initech.example", external_id="init-7")


@pytest.mark.parametrize(
    "query, expected",
    [
        ("ACME", ["Acme Corp"]),  # name, other case
        ("glx", ["Globex"]),  # external id, other case
        ("OPS@GLOBEX", ["Globex"]),  # email
        ("  initech ", ["Initech"]),  # surrounding spaces ignored
        ("e", ["Acme Corp", "Globex", "Initech"]),
    ],
)
def test_search_is_case_insensitive_over_name_email_and_external_id(finance_client, three_customers, query, expected):
    response = finance_client.get("/customers/", {"q": query})
    assert _names(response) == expected


def test_search_without_match_says_what_to_do(finance_client, three_customers):
    body = finance_client.get("/customers/", {"q": "umbrella"}).content.decode()
    assert "No customer" in body and "umbrella" in body
    assert "show all customers" in body


def test_empty_list_points_finance_to_creating_a_customer(finance_client):
    body = finance_client.get("/customers/").content.decode()
    assert "No customers yet" in body
    assert 'href="/customers/new/"' in body


def test_sorting(finance_client, three_customers):
    assert _names(finance_client.get("/customers/")) == ["Acme Corp", "Globex", "Initech"]
    assert _names(finance_client.get("/customers/", {"sort": "-name"})) == ["Initech", "Globex", "Acme Corp"]
    by_email = _names(finance_client.get("/customers/", {"sort": "email"}))
    assert by_email == ["Acme Corp", "Globex", "Initech"]  # billing@ < ops@ < pay@
    assert _names(finance_client.get("/customers/", {"sort": "-email"})) == ["Initech", "Globex", "Acme Corp"]
    # an unknown sort key falls back to the default instead of failing
    assert _names(finance_client.get("/customers/", {"sort": "password"})) == ["Acme Corp", "Globex", "Initech"]


def test_sort_links_flip_direction_and_keep_the_search(finance_client, three_customers):
    body = finance_client.get("/customers/", {"q": "o", "sort": "name"}).content.decode()
    assert 'href="?q=o&amp;sort=-name"' in body  # clicking Name again sorts descending, search kept


def test_sixty_customers_are_paginated_with_a_constant_number_of_queries(finance_client, django_assert_max_num_queries):
    for n in range(60):
        CustomerFactory(name=f"Customer {n:02d}")
    # session, user, groups, count, rows
    with django_assert_max_num_queries(6):
        first = finance_client.get("/customers/")
    assert _names(first) == [f"Customer {n:02d}" for n in range(25)]
    assert "Page 1 of 3 · 60 total" in first.content.decode()
    with django_assert_max_num_queries(6):
        last = finance_client.get("/customers/", {"page": 3, "sort": "-name"})
    assert _names(last) == [f"Customer {n:02d}" for n in range(9, -1, -1)]


# --- create / edit ---------------------------------------------------------------------------


def test_finance_creates_a_customer(finance_client):
    response = finance_client.post(
        "/customers/new/",
        {"name": "Acme Corp", "email": "billing@acme.io", "external_id": " acme-001 ", "address_line1": "1 Main St",
         "city": "Springfield", "country": "NL", "tax_id": "004495445B01", "cc_emails": "ap@acme.io, cfo@acme.io"},
        follow=True,
    )  # fmt: skip
    customer = Customer.objects.get(external_id="acme-001")
    assert (customer.name, customer.email, customer.address_line1, customer.city) == ("Acme Corp", "billing@acme.io", "1 Main St", "Springfield")
    assert (customer.country, customer.tax_id, customer.cc_emails) == ("NL", "NL004495445B01", ["ap@acme.io", "cfo@acme.io"])
    assert customer.billing_entity == default_entity()
    assert response.redirect_chain == [(f"/customers/{customer.pk}/", 302)]
    assert "Customer Acme Corp created" in response.content.decode()


def test_create_form_errors_are_shown_beside_the_field(finance_client):
    response = finance_client.post("/customers/new/", {"name": "No id", "email": "not-an-email", "external_id": ""})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["external_id"] == ["This field is required."]
    assert form.errors["email"] == ["Enter a valid email address."]
    body = response.content.decode()
    assert '<div class="field has-error" data-field="external_id">' in body
    assert 'id="id_external_id-error">This field is required.' in body
    assert Customer.objects.count() == 0


def test_duplicate_external_id_is_refused_on_the_field(finance_client):
    CustomerFactory(external_id="acme-001")
    response = finance_client.post("/customers/new/", {"name": "Again", "external_id": "acme-001"})
    assert response.status_code == 200
    assert response.context["form"].errors["external_id"] == ["A customer with external_id 'acme-001' already exists"]
    assert Customer.objects.count() == 1


def test_finance_edits_a_customer(finance_client):
    customer = CustomerFactory(name="Acme", external_id="acme-001", email="old@acme.io")
    form = finance_client.get(f"/customers/{customer.pk}/edit/").context["form"]
    assert form.initial["email"] == "old@acme.io"
    response = finance_client.post(
        f"/customers/{customer.pk}/edit/",
        {"name": "Acme Corp", "email": "new@acme.io", "external_id": "acme-001", "address_line1": ""},
        follow=True,
    )
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("Acme Corp", "new@acme.io")
    assert "Customer Acme Corp saved." in response.content.decode()


def test_the_external_id_is_fixed_on_the_edit_page(finance_client):
    customer = CustomerFactory(name="Acme", external_id="acme-001")
    UsageEventFactory(customer=customer)
    page = finance_client.get(f"/customers/{customer.pk}/edit/")
    assert page.context["form"].fields["external_id"].disabled
    response = finance_client.post(
        f"/customers/{customer.pk}/edit/", {"name": "Acme Corp", "external_id": "acme-002", "address_line1": ""}
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.name, customer.external_id) == ("Acme Corp", "acme-001")


def test_unknown_customer_is_404(finance_client):
    assert finance_client.get("/customers/00000000-0000-0000-0000-000000000000/").status_code == 404


# --- the customer page ----------------------------------------------------------------------


def test_customer_page_shows_current_usage_and_estimate(finance_client):
    customer = CustomerFactory(name="Acme Corp", external_id="acme-001")
    subscription, meter = _subscribed(customer, fixed="49.00", unit_price="0.25")
    inside = timezone.now() - dt.timedelta(hours=1)
    for quantity in ("10", "30", "60"):
        UsageEventFactory(customer=customer, meter=meter, quantity=Decimal(quantity), timestamp=inside)
    # before the period started: not part of the estimate
    UsageEventFactory(customer=customer, meter=meter, quantity=Decimal("1000"), timestamp=subscription.start_date - dt.timedelta(hours=1))
    # another customer's usage of the same meter: not theirs
    UsageEventFactory(meter=meter, quantity=Decimal("500"), timestamp=inside)

    response = finance_client.get(f"/customers/{customer.pk}/")
    assert response.status_code == 200
    (row,) = response.context["subscription_rows"]
    _, estimate, _ = row
    # 100 units × 0.25 = 25.00, plus the 49.00 fixed fee for the whole period
    assert [line.quantity for line in estimate.usage_lines] == [Decimal("100")]
    assert estimate.total == Decimal("74.00")
    body = response.content.decode()
    assert "$74.00" in body
    assert f"{meter.name}: 100 {meter.unit}" in body


def test_customer_page_lists_invoices_and_recent_events(finance_client):
    customer = CustomerFactory()
    other = CustomerFactory()
    now = timezone.now()
    Invoice.objects.create(
        billing_entity=default_entity(),
        customer=customer, kind="MANUAL", status=InvoiceStatus.OPEN, currency="EUR", number="INV-2026-000042",
        period_start=now - dt.timedelta(days=30), period_end=now, total=Decimal("1234.50"), subtotal=Decimal("1234.50"),
    )
    Invoice.objects.create(
        billing_entity=default_entity(),
        customer=other, kind="MANUAL", status=InvoiceStatus.OPEN, currency="EUR", number="INV-2026-000043",
        period_start=now - dt.timedelta(days=30), period_end=now, total=Decimal("1"), subtotal=Decimal("1"),
    )
    meter_a, meter_b = MeterFactory(name="Tokens"), MeterFactory(name="Seats")
    for minutes in range(25):  # 25 events over two meters; the page shows the newest 20
        UsageEventFactory(
            customer=customer, meter=meter_a if minutes % 2 else meter_b,
            quantity=Decimal(minutes + 1), timestamp=now - dt.timedelta(minutes=minutes),
        )
    UsageEventFactory(customer=other, meter=meter_a, quantity=Decimal("777"), timestamp=now)

    response = finance_client.get(f"/customers/{customer.pk}/")
    assert [i.number for i in response.context["invoices"]] == ["INV-2026-000042"]
    events = response.context["events"]
    assert [e.quantity for e in events] == [Decimal(n) for n in range(1, 21)]  # newest first, across both meters
    assert [e.meter_name for e in events[:2]] == ["Seats", "Tokens"]
    body = response.content.decode()
    assert "€1,234.50" in body and "INV-2026-000043" not in body


def test_customer_page_empty_states(support_client):
    customer = CustomerFactory(external_id="acme-001")
    body = support_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "No subscriptions: nothing is billed yet." in body
    assert "No invoices yet" in body
    assert "Send events with <code>customer_id</code> “acme-001”" in body
    assert "Subscribe this customer to a plan" not in body  # Support cannot, so it is not offered


def test_subscription_that_has_not_started_has_no_estimate(finance_client):
    customer = CustomerFactory()
    subscription, _ = _subscribed(customer, fixed="10.00", unit_price="1", started_hours_ago=-48)
    response = finance_client.get(f"/customers/{customer.pk}/")
    (row,) = response.context["subscription_rows"]
    assert row[1] is None
    assert row[2] == "The current period has not started yet"


def _page_queries(client, customer) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/customers/{customer.pk}/")
    assert response.status_code == 200
    return len(captured)


def test_customer_page_queries_do_not_grow_with_subscriptions(finance_client, django_assert_max_num_queries):
    one = CustomerFactory()
    _subscribed(one, fixed="1.00", unit_price="1")
    baseline = _page_queries(finance_client, one)

    five = CustomerFactory()
    inside = timezone.now() - dt.timedelta(hours=1)
    for i in range(1, 6):
        _, meter = _subscribed(five, fixed=f"{10 * i}.00", unit_price="0.50")
        UsageEventFactory(customer=five, meter=meter, quantity=Decimal(4 * i), timestamp=inside)
        UsageEventFactory(customer=five, meter=meter, quantity=Decimal(i), timestamp=inside)
    assert _page_queries(finance_client, five) == baseline

    # 12, plus the estimates' tax rates, entity rates and credit balances and the page's credit balance and ledger.
    with django_assert_max_num_queries(17):
        response = finance_client.get(f"/customers/{five.pk}/")
    # subscription i: fixed 10·i, usage (4i + i) units × 0.50 = 2.5·i → 12.5·i
    totals = sorted(estimate.total for _, estimate, _ in response.context["subscription_rows"])
    assert totals == [Decimal("12.50"), Decimal("25.00"), Decimal("37.50"), Decimal("50.00"), Decimal("62.50")]


def test_one_subscription_too_large_to_price_does_not_break_the_customer_page(finance_client):
    """Found (issue 14 §3): one subscription whose estimate overflows made the whole customer page a 500."""
    customer = CustomerFactory()
    huge, huge_meter = _subscribed(customer, fixed="0", unit_price="999999999999.999999999999")
    UsageEventFactory(
        customer=customer, meter=huge_meter, quantity=Decimal("999999999999999999"),
        timestamp=timezone.now() - dt.timedelta(hours=1),
    )
    ordinary, meter = _subscribed(customer, fixed="10.00", unit_price="0.50")
    UsageEventFactory(customer=customer, meter=meter, quantity=Decimal("4"), timestamp=timezone.now() - dt.timedelta(hours=1))

    response = finance_client.get(f"/customers/{customer.pk}/")

    assert response.status_code == 200
    rows = {subscription.pk: (estimate, reason) for subscription, estimate, reason in response.context["subscription_rows"]}
    assert rows[ordinary.pk][0].total == Decimal("12.00")
    # Priced exactly (no longer an ArithmeticError past 28 digits), then refused by the invoice bounds.
    assert rows[huge.pk][0] is None and "exceeds the largest an invoice holds" in rows[huge.pk][1]
    assert "exceeds the largest an invoice holds" in response.content.decode()


def test_csv_export_of_the_searched_sorted_list(support_client):
    CustomerFactory(name="Acme Corp", external_id="acme-001", email="billing@acme.io", address_line1="1 Road")
    CustomerFactory(name="Acme Labs", external_id="=cmd|' /C calc'!A0", email="labs@acme.io")
    CustomerFactory(name="Globex", external_id="glx", email="a@globex.io")
    rows = csv_rows(support_client.get("/customers/export.csv", {"q": "acme", "sort": "-name", "page": 3}), "customers")
    assert rows[0] == [
        "external_id", "name", "email", "legal_name", "address_line1", "address_line2", "city", "state", "postal_code",
        "country", "tax_id", "billing_entity", "created_at", "id",
    ]  # fmt: skip
    assert [row[:3] + row[4:5] + row[11:12] for row in rows[1:]] == [
        ["'=cmd|' /C calc'!A0", "Acme Labs", "labs@acme.io", "", "Default"],  # not a formula once in a spreadsheet
        ["acme-001", "Acme Corp", "billing@acme.io", "1 Road", "Default"],
    ]


def test_the_api_searches_customers_as_the_page_does(finance_client, admin_api):
    CustomerFactory(name="Acme Corp", external_id="acme-001", email="billing@acme.io")
    CustomerFactory(name="Globex", external_id="glx", email="ops@initech.example")
    page = _names(finance_client.get("/customers/", {"q": "initech"}))
    api = [row["name"] for row in admin_api.get("/api/v1/customers", {"search": "initech"}).json()["results"]]
    assert page == api == ["Globex"]  # the email matched, on both
