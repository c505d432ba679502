"""The finance desk's new flows in a real browser: the subscription picker, and line → events behind it."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from catalog.choices import PricingModel
from customers.models import Subscription
from invoicing.models import Invoice
from invoicing.services import Actor, subscriptions_rollover
from tests.factories import CustomerFactory, PlanFactory, SubscriptionFactory, UsageChargeFactory, UsageEventFactory, default_entity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_subscription_form_picks_the_customer_by_search(finance_page, screenshot):
    page = finance_page
    CustomerFactory(name="Acme Corporation", external_id="acme-001", email="billing@acme.io")
    CustomerFactory(name="Globex", external_id="glx-7")
    plan = PlanFactory(name="Starter", lookup_id="starter")

    page.goto("/subscriptions/new/")
    customer = page.get_by_label("Customer")
    customer.press_sequentially("corpor", delay=30)
    # picker.js fills the datalist from /customers/search.json as one types.
    expect(customer).to_have_attribute("data-options", "1")
    options = page.locator("#customer-options option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == "acme-001"
    assert "Acme Corporation" in options.first.get_attribute("label")
    screenshot(page, "subscription-picker")

    customer.fill(options.first.get_attribute("value"))  # what choosing the suggestion puts in the field
    page.get_by_label("Plan").fill("starter")
    page.get_by_role("button", name="Create subscription").click()

    expect(page.get_by_text("is subscribed to Starter")).to_be_visible()
    assert Subscription.objects.get().plan == plan


def test_support_opens_the_events_behind_an_invoice_line(support_page, screenshot):
    page = support_page
    customer = CustomerFactory(name="Acme Corp", external_id="acme-001")
    plan = PlanFactory(billing_interval="day", currency="USD")
    tiers = [{"up_to": "100", "unit_price": "1.00", "flat_amount": "0"}, {"up_to": None, "unit_price": "0.50", "flat_amount": "0"}]
    charge = UsageChargeFactory(plan=plan, pricing_model=PricingModel.GRADUATED, unit_price=None, tiers=tiers, display_name="Requests")
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=1, hours=1)
    SubscriptionFactory(customer=customer, plan=plan, start_date=start, current_period_start=start, current_period_end=start + dt.timedelta(days=1))
    for hour, units in ((1, "40"), (2, "60"), (3, "50")):
        UsageEventFactory(customer=customer, meter=charge.meter, quantity=Decimal(units), timestamp=start + dt.timedelta(hours=hour))
    subscriptions_rollover(now=timezone.now(), actor=Actor.task("rollover"))
    invoice = Invoice.objects.get()

    page.goto(f"/invoices/{invoice.pk}/")
    page.get_by_role("link", name="Why this amount?").click()

    expect(page.get_by_role("heading", name="Why is this line $125.00?")).to_be_visible()
    expect(page.locator("[data-event-count]")).to_have_text("3")
    expect(page.locator("tr[data-event]")).to_have_count(3)
    screenshot(page, "line-usage")

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"Export all 3 as CSV")).click()
    lines = open(download.value.path()).read().splitlines()
    assert len(lines) == 4 and lines[0].startswith("id,timestamp,meter,customer,quantity")


def test_times_read_the_same_on_every_page_in_the_viewers_zone_with_its_name(browser, live_server, screenshot):
    # Found: each page formatted times its own way, with no zone shown. Tokyo has no summer time: GMT+9.
    from .conftest import log_in, make_staff

    make_staff("tokyo-support", "Support")
    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Tokyo", locale="en-US")
    try:
        page = log_in(context.new_page(), "tokyo-support")
        customer = CustomerFactory(external_id="acme-001")
        charge = UsageChargeFactory()
        stamp = dt.datetime(2026, 3, 1, 23, 30, 5, tzinfo=dt.timezone.utc)
        UsageEventFactory(customer=customer, meter=charge.meter, quantity=Decimal(1), timestamp=stamp)

        page.goto("/events/")
        first = page.locator("time[data-local]").first
        expect(first).to_have_text("2026-03-02 08:30:05 GMT+9")  # 23:30:05 UTC is 08:30:05 the next day in Tokyo
        assert first.get_attribute("title") == "2026-03-01 23:30:05 UTC"
        shapes = page.locator("time[data-local]").all_inner_texts()
        assert shapes and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? GMT\+9", text) for text in shapes), shapes
        screenshot(page, "times-in-viewer-zone")
    finally:
        context.close()


def test_the_void_form_opens_on_demand(finance_page, screenshot):
    # Found: the void form sat above every invoice. It now opens from its button, beside the others.
    from invoicing.services import invoice_finalize

    page = finance_page
    customer = CustomerFactory(name="Acme Corp", external_id="acme-001")
    plan = PlanFactory(billing_interval="day", currency="USD")
    charge = UsageChargeFactory(plan=plan, unit_price=Decimal("2.00"))
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=1, hours=1)
    SubscriptionFactory(customer=customer, plan=plan, start_date=start, current_period_start=start, current_period_end=start + dt.timedelta(days=1))
    UsageEventFactory(customer=customer, meter=charge.meter, quantity=Decimal("3"), timestamp=start + dt.timedelta(hours=1))
    subscriptions_rollover(now=timezone.now(), actor=Actor.task("rollover"))
    invoice = invoice_finalize(invoice=Invoice.objects.get(), now=timezone.now(), actor=Actor.task("finalize"))

    page.goto(f"/invoices/{invoice.pk}/")
    reason = page.get_by_label("Reason")
    expect(reason).to_be_hidden()
    page.get_by_text("Void…").click()
    expect(reason).to_be_visible()
    reason.fill("Duplicate of a manual invoice")
    screenshot(page, "invoice-void-on-demand")
    page.get_by_role("button", name="Void invoice").click()

    expect(page.locator(".badge.VOID")).to_be_visible()
    invoice.refresh_from_db()
    assert invoice.status == "VOID"
    assert page.dialogs, "the void asked for confirmation first"


def test_finance_filters_the_invoices_and_exports_what_is_shown(finance_page, screenshot):
    import csv
    import io

    page = finance_page
    rows = (("Acme Corp", "acme-001", "125.00"), ("Globex", "glx", "80.00"), ("Acme Labs", "acme-002", "9.50"))
    for n, (name, external_id, total) in enumerate(rows, start=1):
        customer = CustomerFactory(name=name, external_id=external_id)
        Invoice.objects.create(
        billing_entity=default_entity(),
            customer=customer, kind="MANUAL", status="OPEN", currency="USD", subtotal=Decimal(total), total=Decimal(total),
            number=f"INV-2026-{n:06d}", issued_at=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc), due_date=dt.date(2026, 3, 3),
            period_start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), period_end=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc),
        )  # fmt: skip

    page.goto("/invoices/")
    page.get_by_label("Customer").fill("acme")
    page.get_by_label("Total from").fill("10")
    page.get_by_role("button", name=re.compile("^Filter")).click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    expect(page.locator("table tbody")).to_contain_text("Acme Corp")
    screenshot(page, "invoices-filtered")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.reader(io.StringIO(open(download.value.path()).read())))
    assert [(row[4], row[13]) for row in rows[1:]] == [("Acme Corp", "125.00")]  # what the page showed, no more
