"""`manage.py setup_schedules`: the beat schedules, upserted by name, never duplicated."""

import io

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from desk.tasks import warm_overview
from metering.tasks import usage_rollup_advance
from invoicing.tasks import finalize_due_invoices, refresh_drafts, rollover_subscriptions, send_pending_emails
from webhooks.tasks import deliver_due, prune

pytestmark = pytest.mark.django_db

EXPECTED = {
    "fluxbill: rollover subscriptions": ("invoicing.rollover_subscriptions", 60),
    "fluxbill: finalize due invoices": ("invoicing.finalize_due_invoices", 60),
    "fluxbill: refresh stale drafts": ("invoicing.refresh_drafts", 30),
    "fluxbill: send pending invoice emails": ("invoicing.send_pending_emails", 60),
    "fluxbill: warm the overview": ("desk.warm_overview", 600),
    "fluxbill: advance the usage rollup": ("metering.usage_rollup_advance", 60),
    "fluxbill: deliver webhooks": ("webhooks.deliver_due", 5),
    "fluxbill: prune old webhook events": ("webhooks.prune", 86400),
}


def rows():
    return {
        task.name: (task.task, task.interval.every)
        for task in PeriodicTask.objects.select_related("interval")
        if task.name.startswith("fluxbill:")
    }


def test_running_setup_schedules_twice_leaves_each_task_once():
    call_command("setup_schedules", stdout=io.StringIO())
    assert rows() == EXPECTED
    call_command("setup_schedules", stdout=io.StringIO())
    assert rows() == EXPECTED
    assert PeriodicTask.objects.filter(name__startswith="fluxbill:").count() == len(EXPECTED)
    assert all(task.enabled for task in PeriodicTask.objects.filter(name__startswith="fluxbill:"))
    assert all(
        task.interval.period == IntervalSchedule.SECONDS for task in PeriodicTask.objects.filter(name__startswith="fluxbill:")
    )


def test_setup_schedules_updates_a_changed_interval_in_place(settings):
    call_command("setup_schedules", stdout=io.StringIO())
    settings.FLUXBILL_ROLLOVER_EVERY_SECONDS = 15
    PeriodicTask.objects.filter(name="fluxbill: finalize due invoices").update(enabled=False)
    call_command("setup_schedules", stdout=io.StringIO())
    assert rows()["fluxbill: rollover subscriptions"] == ("invoicing.rollover_subscriptions", 15)
    assert PeriodicTask.objects.get(name="fluxbill: finalize due invoices").enabled
    assert PeriodicTask.objects.filter(name__startswith="fluxbill:").count() == len(EXPECTED)


def test_the_scheduled_task_names_are_registered_tasks():
    assert {rollover_subscriptions.name, finalize_due_invoices.name, send_pending_emails.name, warm_overview.name,
            usage_rollup_advance.name, refresh_drafts.name, deliver_due.name, prune.name} == {
        task for task, _ in EXPECTED.values()
    }


@pytest.mark.django_db(databases=[])
def test_a_fresh_migrate_creates_the_schedules_without_setup_schedules(tmp_path):
    """A deploy that runs only `migrate`, then the Procfile's worker and beat, must bill."""
    import os
    import subprocess
    import sys

    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_migrate"
    admin = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None)
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgres://{admin['user']}@{admin['host']}:{admin['port']}/{name}"
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "fluxbill.settings.local"}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], env=env, check=True,
                       capture_output=True, cwd=settings.BASE_DIR)
        with psycopg.connect(dbname=name, **admin) as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM django_celery_beat_periodictask")}
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    assert set(EXPECTED) <= names
