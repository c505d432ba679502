"""The periodic tasks beat runs, upserted by name by `manage.py setup_schedules`."""

from django.conf import settings


def schedules() -> list[tuple[str, str, int]]:
    """(name, task, every N seconds)."""
    return [
        ("fluxbill: rollover subscriptions", "invoicing.rollover_subscriptions", settings.FLUXBILL_ROLLOVER_EVERY_SECONDS),
        ("fluxbill: finalize due invoices", "invoicing.finalize_due_invoices", settings.FLUXBILL_FINALIZE_EVERY_SECONDS),
        ("fluxbill: send pending invoice emails", "invoicing.send_pending_emails", settings.FLUXBILL_EMAIL_SWEEP_EVERY_SECONDS),
        ("fluxbill: warm the overview", "core.warm_overview", settings.FLUXBILL_OVERVIEW_WARM_EVERY_SECONDS),
    ]
