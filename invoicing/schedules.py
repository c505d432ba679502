"""The periodic tasks beat runs, upserted by name by `manage.py setup_schedules`."""

from django.conf import settings


def schedules() -> list[tuple[str, str, int]]:
    """(name, task, every N seconds)."""
    return [
        ("fluxbill: rollover subscriptions", "invoicing.rollover_subscriptions", settings.FLUXBILL_ROLLOVER_EVERY_SECONDS),
        ("fluxbill: finalize due invoices", "invoicing.finalize_due_invoices", settings.FLUXBILL_FINALIZE_EVERY_SECONDS),
        ("fluxbill: refresh stale drafts", "invoicing.refresh_drafts", settings.FLUXBILL_DRAFT_REFRESH_EVERY_SECONDS),
        ("fluxbill: send pending invoice emails", "invoicing.send_pending_emails", settings.FLUXBILL_EMAIL_SWEEP_EVERY_SECONDS),
        ("fluxbill: warm the overview", "desk.warm_overview", settings.FLUXBILL_OVERVIEW_WARM_EVERY_SECONDS),
        ("fluxbill: advance the usage rollup", "metering.usage_rollup_advance", settings.FLUXBILL_USAGE_ROLLUP_EVERY_SECONDS),
        ("fluxbill: deliver webhooks", "webhooks.deliver_due", settings.FLUXBILL_WEBHOOK_SWEEP_EVERY_SECONDS),
        ("fluxbill: prune old webhook events", "webhooks.prune", 24 * 3600),
    ]


def schedules_install() -> list[tuple[str, int, bool]]:
    """Create or update every beat schedule by name; returns (name, seconds, created) per schedule."""
    from django.db import transaction
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    done = []
    with transaction.atomic():
        for name, task, seconds in schedules():
            interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
            _, created = PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": interval, "enabled": True}
            )
            done.append((name, seconds, created))
    return done


def schedules_after_migrate(sender, using="default", **kwargs) -> None:
    """post_migrate: a deploy that runs only `migrate` still gets the schedules beat needs to bill."""
    from django.db import connections
    from django_celery_beat.models import PeriodicTask

    # A partial migrate (one app, or back to zero) may leave the beat tables absent.
    if PeriodicTask._meta.db_table not in connections[using].introspection.table_names():
        return
    schedules_install()
