import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from desk.selectors import DAY_SETTLES_AFTER, events_per_day
from desk.tasks import warm_overview
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from metering.models import UsageEvent
from tests.factories import CustomerFactory, UsageEventFactory, default_entity


def _invoice(customer, *, status, total, currency="USD", issued_days_ago=0, due_days=30, number=None):
    now = timezone.now()
    return Invoice.objects.create(
        billing_entity=default_entity(),
        customer=customer,
        kind="MANUAL",
        status=status,
        currency=currency,
        period_start=now - dt.timedelta(days=30),
        period_end=now - dt.timedelta(days=1),
        subtotal=Decimal(total),
        total=Decimal(total),
        amount_due=Decimal(total),
        amount_paid=Decimal(total) if status == InvoiceStatus.PAID else 0,
        number=number,
        issued_at=None if status == InvoiceStatus.DRAFT else now - dt.timedelta(days=issued_days_ago),
        due_date=(now + dt.timedelta(days=due_days)).date(),
        finalize_at=now + dt.timedelta(minutes=30),
    )


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


@pytest.mark.django_db
def test_user_without_role_is_refused(nobody_client):
    assert nobody_client.get("/").status_code == 403


@pytest.mark.django_db
def test_overview_figures(finance_client, django_assert_max_num_queries):
    customer = CustomerFactory(name="Acme Corp")
    _invoice(customer, status=InvoiceStatus.OPEN, total="120.50", number="INV-2026-000001")
    _invoice(customer, status=InvoiceStatus.PAID, total="80.00", number="INV-2026-000002")
    _invoice(customer, status=InvoiceStatus.OPEN, total="999.00", number="INV-2026-000003", due_days=-3)
    _invoice(customer, status=InvoiceStatus.DRAFT, total="10.00")
    UsageEventFactory.create_batch(3, customer=customer)
    with django_assert_max_num_queries(14):  # 12 + the two "needs attention" lists
        response = finance_client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    # Billed this month: 120.50 + 80.00 + 999.00; open: 120.50 + 999.00
    assert "$1,199.50" in body
    assert "$1,119.50" in body
    assert "INV-2026-000003" in body  # overdue
    assert "Acme Corp" in body  # awaiting finalization
    assert response.context["events_today"] == 3


@pytest.mark.django_db
def test_overview_empty_state(support_client):
    body = support_client.get("/").content.decode()
    assert "No invoices issued yet" in body
    assert "No drafts waiting" in body


@pytest.mark.django_db
def test_events_per_day_counts_by_stored_day_and_reads_past_days_once_a_day(django_assert_num_queries):
    now = timezone.now().replace(hour=12)
    customer = CustomerFactory()
    stored = UsageEventFactory.create_batch(4, customer=customer)
    UsageEvent.objects.filter(pk=stored[0].pk).update(created_at=now - dt.timedelta(days=1))
    UsageEvent.objects.filter(pk=stored[1].pk).update(created_at=now - dt.timedelta(days=29))
    UsageEvent.objects.filter(pk=stored[2].pk).update(created_at=now - dt.timedelta(days=30))  # outside
    UsageEvent.objects.filter(pk=stored[3].pk).update(created_at=now)

    with django_assert_num_queries(2):
        first = events_per_day(now)
    day = lambda ago: (now - dt.timedelta(days=ago)).date().isoformat()  # noqa: E731
    assert len(first) == 30
    assert first[0] == (day(29), 1) and first[-2] == (day(1), 1) and first[-1] == (day(0), 1)
    assert sum(count for _, count in first) == 3

    UsageEventFactory(customer=customer)  # stored now
    with django_assert_num_queries(1):  # only today is counted again
        second = events_per_day(now)
    assert second[:-1] == first[:-1] and second[-1] == (day(0), 2)


@pytest.mark.django_db
def test_the_warm_task_leaves_only_today_to_count(django_assert_num_queries):
    UsageEventFactory.create_batch(2)

    assert warm_overview.apply().get() == 2
    with django_assert_num_queries(1):
        assert events_per_day(timezone.now())[-1][1] == 2


@pytest.mark.django_db
def test_yesterday_is_counted_live_until_it_has_settled():
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    just_after = midnight + DAY_SETTLES_AFTER / 2
    before = events_per_day(just_after)
    # A transaction that began a moment before midnight commits now: its event is yesterday's.
    late = UsageEventFactory()
    UsageEvent.objects.filter(pk=late.pk).update(created_at=midnight - dt.timedelta(milliseconds=100))

    during = events_per_day(just_after)
    settled = events_per_day(midnight + DAY_SETTLES_AFTER)
    again = events_per_day(midnight + DAY_SETTLES_AFTER * 2)

    assert before[-2][1] == 0 and during[-2][1] == 1  # yesterday, counted live in the first minutes
    assert settled[-2][1] == 1 and again[-2][1] == 1
    assert during[-1][1] == settled[-1][1] == 0


@pytest.mark.django_db
def test_billing_failures_need_attention_on_the_overview_and_their_pages(finance_client, settings):
    """Issue 14 §3: a subscription or draft whose billing failed is listed on the overview and explained on its page."""
    from tests.invoicing.builders import ACTOR, event, plan_with, subscribe, utc

    from invoicing.services import invoices_finalize_due, subscriptions_rollover

    settings.FLUXBILL_INVOICE_GRACE_PERIOD = 0
    huge = Decimal("900000000000000000")
    plan, _, (charge,) = plan_with(fixed="10.00", usage=[{"unit_price": Decimal("0.01")}])
    stuck = subscribe(plan, utc(2025, 1, 1))
    event(charge, stuck.customer, huge, utc(2025, 1, 10))
    event(charge, stuck.customer, huge, utc(2025, 1, 11))
    late = subscribe(plan, utc(2025, 1, 1))
    event(charge, late.customer, huge, utc(2025, 1, 10))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    event(charge, late.customer, huge, utc(2025, 1, 11))
    invoices_finalize_due(now=utc(2025, 2, 2), actor=ACTOR)
    draft = Invoice.objects.get(subscription=late)

    body = finance_client.get("/").content.decode()
    assert "Needs attention" in body
    assert f"/subscriptions/{stuck.pk}/" in body and f"/invoices/{draft.pk}/" in body
    assert body.count("exceeds the largest") == 2
    page = finance_client.get(f"/subscriptions/{stuck.pk}/").content.decode()
    assert "Billing this subscription failed 1×" in page and "exceeds" in page
    page = finance_client.get(f"/invoices/{draft.pk}/").content.decode()
    assert "Finalizing this draft failed 1×" in page and "exceeds" in page


def test_the_overview_panels_link_to_their_full_filtered_lists(finance_client, settings):
    """Issue 15 §2: "awaiting finalization", "needs attention" and "overdue" each open the whole filtered list."""
    import re

    from tests.invoicing.builders import ACTOR, event, plan_with, subscribe, utc

    from invoicing.services import subscriptions_rollover

    plan, _, (charge,) = plan_with(fixed="10.00", usage=[{"unit_price": Decimal("0.01")}])
    stuck = subscribe(plan, utc(2025, 1, 1))
    event(charge, stuck.customer, Decimal("900000000000000000"), utc(2025, 1, 10))
    event(charge, stuck.customer, Decimal("900000000000000000"), utc(2025, 1, 11))
    fine = subscribe(plan, utc(2025, 1, 1))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)

    body = finance_client.get("/").content.decode()
    links = dict((text.strip(), href.replace("&amp;", "&")) for href, text in re.findall(r'<a href="([^"]+)" data-full-list>([^<]+)</a>', body))

    failed = finance_client.get(links["All subscriptions whose billing failed ›"])
    assert [row.pk for row in failed.context["page"].object_list] == [stuck.pk]
    drafts = finance_client.get(links["All drafts, by period ›"])
    assert [row.subscription_id for row in drafts.context["page"].object_list] == [fine.pk]
    assert list(finance_client.get("/invoices/", {"status": "DRAFT", "billing_failed": "true"}).context["page"].object_list) == []


@pytest.mark.django_db
def test_todays_count_is_cached_for_at_most_its_seconds(settings, django_assert_num_queries):
    # At 20:00 UTC, counting today live read ~280,000 events of a 10-million-event month on every view
    # (bench/dashboard.py: overview 226 ms); now at most one count per FLUXBILL_OVERVIEW_TODAY_SECONDS.
    settings.FLUXBILL_OVERVIEW_TODAY_SECONDS = 30
    now = timezone.now().replace(microsecond=0)
    events_per_day(now)  # the settled days are read (and cached) once
    with django_assert_num_queries(0):
        first = events_per_day(now)
    later = now + dt.timedelta(seconds=31)
    with django_assert_num_queries(1):  # a new window: today counted again
        events_per_day(later)
    assert first[-1][0] == now.date().isoformat()
