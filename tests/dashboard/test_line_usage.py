""""Why is this line this much?": from an invoice's usage line, or a preview's, to the events behind it.

The invoice below is drafted by the real rollover: graduated tiers 0–100 at 1.00, then 0.50, over a SUM
meter. Three events of 40, 60 and 50 units → 150 units → 100 × 1.00 + 50 × 0.50 = 125.00.
"""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.choices import PricingModel
from invoicing.models import Invoice
from invoicing.services import Actor, subscriptions_rollover
from tests.factories import CustomerFactory, PlanFactory, SubscriptionFactory, UsageChargeFactory, UsageEventFactory

pytestmark = pytest.mark.django_db

TIERS = [{"up_to": "100", "unit_price": "1.00", "flat_amount": "0"}, {"up_to": None, "unit_price": "0.50", "flat_amount": "0"}]
LINK = re.compile(r'<a class="why" href="([^"]+)" data-usage-link>')


@pytest.fixture
def billed():
    customer = CustomerFactory(name="Acme Corp", external_id="acme-001")
    plan = PlanFactory(billing_interval="day", currency="USD")
    charge = UsageChargeFactory(plan=plan, pricing_model=PricingModel.GRADUATED, unit_price=None, tiers=TIERS, display_name="Requests")
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=1, hours=1)
    subscription = SubscriptionFactory(
        customer=customer, plan=plan, start_date=start, current_period_start=start, current_period_end=start + dt.timedelta(days=1)
    )
    for hour, units in ((1, "40"), (2, "60"), (3, "50")):
        UsageEventFactory(customer=customer, meter=charge.meter, quantity=Decimal(units), timestamp=start + dt.timedelta(hours=hour))
    # Outside the period: not behind the line.
    UsageEventFactory(customer=customer, meter=charge.meter, quantity=Decimal("999"), timestamp=start - dt.timedelta(hours=1))
    subscriptions_rollover(now=timezone.now(), actor=Actor.task("rollover"))
    invoice = Invoice.objects.get(subscription=subscription)
    return {"invoice": invoice, "line": invoice.lines.get(), "charge": charge, "customer": customer, "start": start}


def _link(response) -> str:
    found = LINK.findall(response.content.decode())
    assert len(found) == 1, response.content.decode()
    return found[0].replace("&amp;", "&")


def _cell(body: str, row: str, column: int) -> str:
    found = re.search(rf"<tr {row}><th>[^<]*</th>(.*?)</tr>", body, re.S)
    assert found, body
    return re.findall(r'<td class="num">([^<]*)</td>', found.group(1))[column]


def test_a_usage_line_links_to_its_events_counted_and_priced_again(support_client, billed):
    page = support_client.get(f"/invoices/{billed['invoice'].pk}/")
    url = _link(page)
    assert url == f"/invoices/lines/{billed['line'].pk}/usage/"

    response = support_client.get(url)

    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(r"<dd data-event-count>3</dd>", body)
    assert _cell(body, "data-billed", 0) == "150" and _cell(body, "data-billed", 1) == "$125.00"
    assert _cell(body, "data-live", 0) == "150" and _cell(body, "data-live", 1) == "$125.00"
    assert "data-changed" not in body
    # The pricing breakdown, tier by tier, as the invoice shows it.
    assert re.search(r"0 – 100</td>\s*<td class=\"num\">100</td>", body)
    assert re.search(r"100 – ∞</td>\s*<td class=\"num\">50</td>", body)
    assert len(re.findall(r"<tr data-event=", body)) == 3


def test_an_event_arriving_later_shows_as_a_difference(support_client, billed):
    UsageEventFactory(
        customer=billed["customer"], meter=billed["charge"].meter, quantity=Decimal("10"),
        timestamp=billed["start"] + dt.timedelta(hours=5),
    )  # fmt: skip

    body = support_client.get(f"/invoices/lines/{billed['line'].pk}/usage/").content.decode()

    assert _cell(body, "data-billed", 0) == "150"
    assert _cell(body, "data-live", 0) == "160" and _cell(body, "data-live", 1) == "$130.00"  # 100 + 60 × 0.50
    assert "data-changed" in body


def test_the_events_export_is_every_event_of_the_window_in_time_order(support_client, billed):
    response = support_client.get(f"/invoices/lines/{billed['line'].pk}/usage/", {"format": "csv"})

    assert response.status_code == 200
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["id", "timestamp", "meter", "customer", "quantity", "idempotency_key", "source", "properties", "created_at"]
    assert [row[4] for row in rows[1:]] == ["40", "60", "50"]
    assert {row[3] for row in rows[1:]} == {"acme-001"}


def test_events_page_through_every_event_once(support_client, billed):
    meter, customer, start = billed["charge"].meter, billed["customer"], billed["start"]
    for i in range(117):
        UsageEventFactory(customer=customer, meter=meter, quantity=Decimal(1), timestamp=start + dt.timedelta(hours=4, seconds=i // 2))
    url = f"/invoices/lines/{billed['line'].pk}/usage/"
    seen, params = [], {}
    while True:
        response = support_client.get(url, params)
        seen += [int(pk) for pk in re.findall(r"<tr data-event=\"(\d+)\"", response.content.decode())]
        if response.context["next_cursor"] is None:
            break
        params = {"after": response.context["next_cursor"]}
    assert len(seen) == 120 == len(set(seen))


def test_the_page_keeps_a_constant_number_of_queries(support_client, billed):
    url = f"/invoices/lines/{billed['line'].pk}/usage/"
    support_client.get(url)  # warm: session, permission caches
    with CaptureQueriesContext(connection) as few:
        support_client.get(url)
    for i in range(40):
        UsageEventFactory(customer=billed["customer"], meter=billed["charge"].meter, quantity=Decimal(1), timestamp=billed["start"] + dt.timedelta(hours=6, seconds=i))
    with CaptureQueriesContext(connection) as many:
        support_client.get(url)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_a_preview_line_links_to_the_events_of_its_window(support_client):
    customer = CustomerFactory(external_id="globex")
    plan = PlanFactory(billing_interval="month", currency="USD")
    charge = UsageChargeFactory(plan=plan, unit_price=Decimal("0.10"), display_name="Calls")
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    subscription = SubscriptionFactory(customer=customer, plan=plan, start_date=start)
    UsageEventFactory(customer=customer, meter=charge.meter, quantity=Decimal("7"), timestamp=start + dt.timedelta(hours=1))

    url = _link(support_client.get(f"/subscriptions/{subscription.pk}/"))
    assert url.startswith("/usage/window/?")
    response = support_client.get(url)

    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(r"<dd data-event-count>1</dd>", body)
    assert _cell(body, "data-live", 0) == "7" and _cell(body, "data-live", 1) == "$0.70"
    assert "data-billed" not in body  # a preview stores nothing to compare with


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "customer"),
        ({"customer": "not-a-uuid", "charge": "1", "start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"}, "customer"),
        ({"start": "2025-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}, "end"),
        ({"start": "2025-02-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"}, "end"),
    ],
)
def test_a_window_link_that_names_nothing_valid_is_a_400_naming_the_field(support_client, query, field):
    customer = CustomerFactory()
    charge = UsageChargeFactory()
    query = {"customer": str(customer.pk), "charge": str(charge.pk), **query} if field != "customer" else query

    response = support_client.get("/usage/window/", query)

    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()


def test_fixed_lines_and_the_pdf_have_no_link(support_client, billed):
    invoice = billed["invoice"]
    html = render_to_string("invoicing/invoice_document.html", {"invoice": invoice, "lines": [billed["line"]]})
    assert "data-usage-link" not in html
    assert support_client.get(f"/invoices/lines/{billed['line'].pk + 1000}/usage/").status_code == 404


def test_staff_in_no_group_may_not_see_it(nobody_client, billed):
    assert nobody_client.get(f"/invoices/lines/{billed['line'].pk}/usage/").status_code == 403
