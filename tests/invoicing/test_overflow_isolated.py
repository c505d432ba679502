"""One bad value cannot stop billing: an aggregate past what an invoice holds fails only its own subscription
(rollover) or its own draft (finalization); the failure is recorded on it and retried after a backoff."""

from decimal import Decimal

import pytest

from customers.models import Subscription
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice, InvoiceEvent
from invoicing.services import invoices_finalize_due, subscriptions_rollover

from .builders import ACTOR, event, plan_with, subscribe, utc

pytestmark = pytest.mark.django_db

HUGE = Decimal("900000000000000000")  # accepted by ingestion (numeric(28,10)); two of them are not


def test_two_huge_events_fail_only_their_subscription_and_ten_others_are_invoiced(settings):
    settings.FLUXBILL_BILLING_RETRY_BASE_SECONDS = 60
    plan, _, (charge,) = plan_with(fixed="10.00", usage=[{"unit_price": Decimal("0.01")}])
    start, end = utc(2025, 1, 1), utc(2025, 2, 1)
    bad = subscribe(plan, start)
    event(charge, bad.customer, HUGE, utc(2025, 1, 10))
    event(charge, bad.customer, HUGE, utc(2025, 1, 11))
    good = [subscribe(plan, start) for _ in range(10)]

    assert subscriptions_rollover(now=end, actor=ACTOR, batch_size=500) == 10
    assert Invoice.objects.filter(subscription__in=good).count() == 10
    assert not Invoice.objects.filter(subscription=bad).exists()
    bad.refresh_from_db()
    assert bad.current_period_start == start  # rolled back alone, not moved on
    assert "exceeds" in bad.billing_error and bad.billing_error_at == end
    assert bad.billing_retry_at == end + (utc(2025, 2, 1, 0, 1) - end)
    # A run inside the backoff leaves it alone; the error stays shown.
    assert subscriptions_rollover(now=utc(2025, 2, 1, 0, 0, 30), actor=ACTOR) == 0
    # After the backoff it is tried again, fails again, and waits twice as long.
    subscriptions_rollover(now=utc(2025, 2, 1, 0, 1), actor=ACTOR)
    bad.refresh_from_db()
    assert bad.billing_failures == 2 and bad.billing_retry_at == utc(2025, 2, 1, 0, 3)


def test_a_draft_that_cannot_be_finalized_does_not_hold_back_the_drafts_due_after_it(settings):
    settings.FLUXBILL_INVOICE_GRACE_PERIOD = 0
    plan, _, (charge,) = plan_with(fixed="10.00", usage=[{"unit_price": Decimal("0.01")}])
    start, end = utc(2025, 1, 1), utc(2025, 2, 1)
    bad = subscribe(plan, start)
    event(charge, bad.customer, HUGE, utc(2025, 1, 10))
    subscriptions_rollover(now=end, actor=ACTOR)
    bad_draft = Invoice.objects.get(subscription=bad)
    event(charge, bad.customer, HUGE, utc(2025, 1, 11))  # a late event makes the recompute overflow
    others = [subscribe(plan, start) for _ in range(3)]
    subscriptions_rollover(now=end, actor=ACTOR)

    assert invoices_finalize_due(now=utc(2025, 2, 2), actor=ACTOR) == 3
    assert Invoice.objects.filter(subscription__in=others, status=InvoiceStatus.OPEN).count() == 3
    bad_draft.refresh_from_db()
    assert bad_draft.status == InvoiceStatus.DRAFT
    assert "exceeds" in bad_draft.billing_error and bad_draft.billing_failures == 1
    assert bad_draft.finalize_at > utc(2025, 2, 2)
    assert InvoiceEvent.objects.filter(invoice=bad_draft, action="finalize_failed").count() == 1
    assert Subscription.objects.filter(billing_error="").count() == 4


def test_the_recorded_failure_is_shown_in_the_api(settings, admin_api):
    settings.FLUXBILL_INVOICE_GRACE_PERIOD = 0
    plan, _, (charge,) = plan_with(fixed="10.00", usage=[{"unit_price": Decimal("0.01")}])
    start, end = utc(2025, 1, 1), utc(2025, 2, 1)
    bad = subscribe(plan, start)
    event(charge, bad.customer, HUGE, utc(2025, 1, 10))
    event(charge, bad.customer, HUGE, utc(2025, 1, 11))
    subscriptions_rollover(now=end, actor=ACTOR)

    response = admin_api.get(f"/api/v1/subscriptions/{bad.pk}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "exceeds" in body["billing_error"]
    assert body["billing_error_at"].startswith("2025-02-01T00:00:00")
    assert body["billing_failures"] == 1 and body["billing_retry_at"].startswith("2025-02-01T00:01:00")


def test_a_draft_that_failed_to_finalize_shows_why_in_the_api(settings, admin_api):
    settings.FLUXBILL_INVOICE_GRACE_PERIOD = 0
    plan, _, (charge,) = plan_with(fixed="10.00", usage=[{"unit_price": Decimal("0.01")}])
    bad = subscribe(plan, utc(2025, 1, 1))
    event(charge, bad.customer, HUGE, utc(2025, 1, 10))
    subscriptions_rollover(now=utc(2025, 2, 1), actor=ACTOR)
    event(charge, bad.customer, HUGE, utc(2025, 1, 11))
    invoices_finalize_due(now=utc(2025, 2, 2), actor=ACTOR)

    draft = Invoice.objects.get(subscription=bad)
    body = admin_api.get(f"/api/v1/invoices/{draft.pk}").json()
    assert body["status"] == InvoiceStatus.DRAFT
    assert "exceeds" in body["billing_error"] and body["billing_failures"] == 1
    assert body["billing_error_at"].startswith("2025-02-02T00:00:00")
