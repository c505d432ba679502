"""A Celery worker killed with SIGKILL in the middle of rollover: after a restart every subscription
has exactly one invoice per period. Real worker processes, real Redis, the test database."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from catalog.models import Charge
from customers.models import Customer, Subscription
from invoicing.models import Invoice
from tests.celery_broker import celery_broker
from tests.factories import MeterFactory, PlanFactory, default_entity

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = settings.FLUXBILL_TEST_REDIS_URL
SUBSCRIPTIONS = 600
MISSED_DAYS = 8


def _worker() -> subprocess.Popen:
    s = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="fluxbill.settings.local",
        DATABASE_URL=f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
        CELERY_BROKER_URL=REDIS_URL,
        FLUXBILL_ROLLOVER_BATCH_SIZE="5",
        DEBUG="false",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fluxbill", "worker", "--pool", "solo", "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _invoices() -> int:
    return Invoice.objects.count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_rollover_leaves_one_invoice_per_period():
    now = timezone.now()
    start = (now - dt.timedelta(days=MISSED_DAYS, minutes=5)).replace(microsecond=0)
    plan = PlanFactory(billing_interval="day", currency="USD")
    Charge.objects.create(plan=plan, type="FIXED", amount=Decimal("1.00"), display_name="Daily fee")
    meter = MeterFactory()
    Charge.objects.create(plan=plan, type="USAGE", meter=meter, pricing_model="per_unit", unit_price=Decimal("0.10"))
    entity = default_entity()
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"k-{i}", name=f"K {i}", billing_entity=entity) for i in range(SUBSCRIPTIONS)
    )
    Subscription.objects.bulk_create(
        Subscription(
            customer=c,
            plan=plan,
            billing_interval="day",
            status="ACTIVE",
            start_date=start,
            current_period_start=start,
            current_period_end=start + dt.timedelta(days=1),
        )
        for c in customers
    )
    expected_total = SUBSCRIPTIONS * MISSED_DAYS
    redis.Redis.from_url(REDIS_URL).flushdb()

    worker = _worker()
    try:
        with celery_broker(REDIS_URL) as app:
            app.send_task("invoicing.rollover_subscriptions")
            deadline = time.monotonic() + 90
            while _invoices() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            after_kill = _invoices()
            print(f"invoices when the worker was killed: {after_kill} of {expected_total}")
            assert 0 < after_kill < expected_total, "the kill did not land in the middle of the rollover"

            # Beat runs the task again; a restarted worker takes it.
            worker = _worker()
            app.send_task("invoicing.rollover_subscriptions")
            deadline = time.monotonic() + 120
            while _invoices() < expected_total and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1)  # anything extra would show up now
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(15)

    per_period = Counter(Invoice.objects.values_list("subscription_id", "period_start"))
    print(f"invoices after restart: {sum(per_period.values())}, expected {expected_total}, doubled: "
          f"{sum(1 for n in per_period.values() if n > 1)}")
    assert len(per_period) == expected_total
    assert set(per_period.values()) == {1}
    ends = set(Subscription.objects.values_list("current_period_start", flat=True))
    assert ends == {start + dt.timedelta(days=MISSED_DAYS)}
