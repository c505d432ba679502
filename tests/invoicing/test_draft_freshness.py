"""Drafts that show what they will bill (issue 16 §6): a late event for a draft's period shows on its page, in
the API and in its PDF within about a minute, each saying when the figures were computed; beat recomputes the
stale drafts (and only those), one failing draft does not hold back the others, issued invoices never move.

Money by hand: the drafts bill a 49.00 fixed fee plus usage at 0.25 per unit, so 100 late units are 25.00 and
the draft goes from 49.00 to 74.00.
"""

import io
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from pypdf import PdfReader

from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice, InvoiceEvent
from invoicing.services import drafts_refresh, invoice_finalize, invoice_regenerate, subscription_generate_interim
from tests.factories import UserFactory

from .builders import ACTOR, event, period_draft, utc

pytestmark = pytest.mark.django_db

JAN_START, JAN_END = utc(2025, 1, 1), utc(2025, 2, 1)
LATE = utc(2025, 1, 20)  # inside January: a late event for the draft's period
BIG = Decimal("9000000000000000")  # 2,250,000,000,000,000.00 at 0.25: fits an invoice (under 10^16)
HUGE = Decimal("90000000000000000")  # with BIG, 24,750,000,000,000,000.00: too large for an invoice


def draft(**kwargs):
    """A January PERIOD draft from a real rollover at 2025-02-01 00:00 (so computed then), 49.00 + 0.25/unit."""
    return period_draft(fixed="49.00", unit_price="0.25", **kwargs)


def usage_line(invoice):
    (line,) = [line for line in invoice.lines.all() if line.meter_id]
    return line


@pytest.fixture
def viewer():
    """A dashboard user who may view invoices and nothing else (no regenerate permission)."""
    user = UserFactory(username="vera", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_invoice", content_type__app_label="invoicing"))
    client = Client()
    client.force_login(user)
    return client


def test_a_late_event_shows_on_the_api_detail_and_the_page_with_when_it_was_computed(key_client, viewer):
    invoice, sub, charge = draft()
    assert invoice.total == Decimal("49.00") and invoice.computed_at == JAN_END
    event(charge, sub.customer, 100, LATE)  # stored after the draft was computed, during its grace
    reader = key_client("invoices.read")

    before = timezone.now()
    response = reader.get(f"/api/v1/invoices/{invoice.pk}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "DRAFT"
    assert body["total"] == "74.00" and body["subtotal"] == "74.00"
    (usage,) = [line for line in body["lines"] if line["meter_id"]]
    assert (usage["quantity"], usage["amount"]) == ("100", "25.00")
    computed_at = Invoice.objects.get(pk=invoice.pk).computed_at
    assert computed_at >= before
    assert parse_datetime(body["computed_at"]) == computed_at
    # Kept current by the system, not changed by anyone: no audit row.
    assert list(InvoiceEvent.objects.filter(invoice=invoice).values_list("action", flat=True)) == ["created"]

    event(charge, sub.customer, 100, LATE)
    Invoice.objects.filter(pk=invoice.pk).update(computed_at=timezone.now() - timedelta(seconds=61))
    page = viewer.get(f"/invoices/{invoice.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    document = html.split('<article class="invoice-document')[1].split("</article>")[0]
    assert "99.00" in document and "74.00" not in document  # 49.00 + 200 × 0.25
    refreshed = Invoice.objects.get(pk=invoice.pk)
    assert refreshed.total == Decimal("99.00") and usage_line(refreshed).quantity == 200
    assert "Figures as of" in html and refreshed.computed_at.strftime("%Y-%m-%d %H:%M:%S UTC") in html


def test_a_draft_computed_less_than_a_minute_ago_is_shown_as_stored(admin_api):
    invoice, sub, charge = draft()
    just_now = timezone.now() - timedelta(seconds=5)
    Invoice.objects.filter(pk=invoice.pk).update(computed_at=just_now)
    event(charge, sub.customer, 100, LATE)

    body = admin_api.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert body["total"] == "49.00"  # what was computed 5 s ago, and it says so
    assert Invoice.objects.get(pk=invoice.pk).computed_at == just_now


def test_the_draft_pdf_is_refreshed_and_says_when(admin_api):
    invoice, sub, charge = draft()
    event(charge, sub.customer, 100, LATE)

    response = admin_api.get(f"/api/v1/invoices/{invoice.pk}/pdf")
    assert response.status_code == 200
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    computed_at = Invoice.objects.get(pk=invoice.pk).computed_at
    assert "74.00" in text
    assert f"Figures as of {computed_at:%Y-%m-%d %H:%M:%S} UTC" in text


def test_the_list_carries_computed_at(admin_api):
    invoice, _, _ = draft()
    (row,) = admin_api.get("/api/v1/invoices").json()["results"]
    assert row["id"] == str(invoice.pk) and parse_datetime(row["computed_at"]) == JAN_END


def test_beat_refreshes_the_stale_draft_and_leaves_the_fresh_one_untouched():
    stale, stale_sub, stale_charge = draft(units=10)
    fresh, _, _ = draft(units=10)
    now = timezone.now()
    assert drafts_refresh(now=now, actor=ACTOR) == 2  # both computed at 2025-02-01, before their events were stored
    assert drafts_refresh(now=now, actor=ACTOR) == 0

    event(stale_charge, stale_sub.customer, 100, LATE)
    fresh_before = Invoice.objects.get(pk=fresh.pk)
    later = timezone.now()
    assert drafts_refresh(now=later, actor=ACTOR) == 1

    stale.refresh_from_db()
    assert stale.total == Decimal("76.50") and stale.computed_at == later  # 49.00 + 110 × 0.25
    fresh_after = Invoice.objects.get(pk=fresh.pk)
    assert (fresh_after.computed_at, fresh_after.updated_at, fresh_after.total) == (
        now, fresh_before.updated_at, Decimal("51.50")  # 49.00 + 10 × 0.25
    )
    assert not InvoiceEvent.objects.exclude(action="created").exists()


def test_an_event_outside_the_drafts_period_does_not_make_it_stale():
    invoice, sub, charge = draft()
    event(charge, sub.customer, 100, utc(2025, 2, 3))  # February: the next period's, not this draft's
    assert drafts_refresh(now=timezone.now(), actor=ACTOR) == 0
    assert Invoice.objects.get(pk=invoice.pk).computed_at == JAN_END
    event(charge, sub.customer, 1, utc(2025, 1, 31, 23, 59, 59))  # the period's last second: it is
    assert drafts_refresh(now=timezone.now(), actor=ACTOR) == 1
    assert Invoice.objects.get(pk=invoice.pk).total == Decimal("49.25")


def _stale(n):
    drafts = [draft() for _ in range(n)]
    for _, sub, charge in drafts:
        event(charge, sub.customer, 100, LATE)
    return drafts


def test_beat_queries_are_a_small_constant_per_draft(django_assert_max_num_queries):
    # One aggregate and one statement find and lock the stale drafts; invoice_recompute then costs a fixed 12 per
    # draft (savepoint, subscription, charges, aggregate, interim credits, tax rates, entity rates, credit balance, delete + insert
    # lines, update, release).
    _stale(1)
    with django_assert_max_num_queries(4 + 12 * 1):
        assert drafts_refresh(now=timezone.now(), actor=ACTOR) == 1
    _stale(20)
    with django_assert_max_num_queries(4 + 12 * 20):
        assert drafts_refresh(now=timezone.now(), actor=ACTOR) == 20


def test_a_draft_that_cannot_be_recomputed_does_not_stop_the_others(settings):
    settings.FLUXBILL_BILLING_RETRY_BASE_SECONDS = 60
    bad, bad_sub, bad_charge = draft(units=BIG)
    others = _stale(2)
    event(bad_charge, bad_sub.customer, HUGE, LATE)  # the second makes the recompute overflow
    now = timezone.now()
    in_grace = now + timedelta(minutes=50)
    Invoice.objects.filter(pk=bad.pk).update(finalize_at=in_grace)

    assert drafts_refresh(now=now, actor=ACTOR) == 2
    for invoice, _, _ in others:
        assert Invoice.objects.get(pk=invoice.pk).total == Decimal("74.00")
    bad_after = Invoice.objects.get(pk=bad.pk)
    assert bad_after.status == InvoiceStatus.DRAFT and bad_after.total == bad.total
    assert "exceeds" in bad_after.billing_error and bad_after.billing_error_at == now
    assert bad_after.billing_failures == 1
    # Recorded as the finalizer records it, but the grace is not cut short by the 60 s backoff.
    assert bad_after.finalize_at == in_grace
    assert list(InvoiceEvent.objects.filter(invoice=bad).values_list("action", flat=True)) == ["created", "refresh_failed"]
    # Left to the finalizer's backoff from now on: no audit row every 30 s.
    assert drafts_refresh(now=timezone.now(), actor=ACTOR) == 0
    assert InvoiceEvent.objects.filter(invoice=bad).count() == 2


def test_issued_and_void_invoices_are_never_touched(admin_api):
    issued, sub, charge = draft()
    invoice_finalize(invoice=issued, now=utc(2025, 2, 1, 2), actor=ACTOR)
    voided, _, _ = draft()
    Invoice.objects.filter(pk=voided.pk).update(status=InvoiceStatus.VOID)
    event(charge, sub.customer, 100, LATE)
    before = {row.pk: (row.total, row.computed_at, row.updated_at) for row in Invoice.objects.all()}

    assert drafts_refresh(now=timezone.now(), actor=ACTOR) == 0
    body = admin_api.get(f"/api/v1/invoices/{issued.pk}").json()
    assert body["total"] == "49.00" and body["late_usage"]["events"] == 1
    admin_api.get(f"/api/v1/invoices/{voided.pk}")
    assert {row.pk: (row.total, row.computed_at, row.updated_at) for row in Invoice.objects.all()} == before


@pytest.mark.django_db(transaction=True)
def test_a_draft_locked_by_a_finalization_is_skipped_and_shown_as_stored(admin_api):
    """Another transaction holds one draft's row lock (as invoice_finalize does): the beat run and a read go
    on without waiting for it (a 3 s lock_timeout turns any wait into a failure instead of a hang)."""
    (locked, _, _), (other, _, _) = _stale(2)
    holding, release = threading.Event(), threading.Event()

    def finalization():
        try:
            with transaction.atomic():
                Invoice.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=finalization)
    thread.start()
    try:
        assert holding.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        assert drafts_refresh(now=timezone.now(), actor=ACTOR) == 1
        assert Invoice.objects.get(pk=other.pk).total == Decimal("74.00")
        started = time.monotonic()
        body = admin_api.get(f"/api/v1/invoices/{locked.pk}").json()
        assert time.monotonic() - started < 1.5  # answered at once, not after waiting out the lock timeout
        assert body["total"] == "49.00" and parse_datetime(body["computed_at"]) == JAN_END
    finally:
        release.set()
        thread.join(10)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    # Once the lock is gone the next read shows the late units.
    assert admin_api.get(f"/api/v1/invoices/{locked.pk}").json()["total"] == "74.00"


def test_every_write_of_lines_records_computed_at():
    """Rollover, interim generation, regenerate of a draft and finalization each set computed_at to their `now`."""
    invoice, sub, charge = draft()
    assert invoice.computed_at == JAN_END  # rollover
    event(charge, sub.customer, 8, utc(2025, 2, 5))
    interim = subscription_generate_interim(subscription=sub, now=utc(2025, 2, 10), actor=ACTOR)
    assert interim.computed_at == utc(2025, 2, 10) and interim.total == Decimal("51.00")  # the fee + 8 × 0.25
    event(charge, sub.customer, 4, utc(2025, 2, 6))
    regenerated = invoice_regenerate(invoice=interim, now=utc(2025, 2, 11), actor=ACTOR)
    assert regenerated.computed_at == utc(2025, 2, 11) and regenerated.total == Decimal("52.00")  # the fee + 12 × 0.25
    finalized = invoice_finalize(invoice=invoice, now=utc(2025, 2, 1, 2), actor=ACTOR)
    assert Invoice.objects.get(pk=finalized.pk).computed_at == utc(2025, 2, 1, 2)
