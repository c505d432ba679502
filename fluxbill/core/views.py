"""Pages every app shares: the overview, login and logout."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.utils import timezone

from fluxbill.core import charts, selectors
from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import require
from fluxbill.core.errors import error_body


@require(perms.VIEW_INVOICE)
def overview(request):
    now = timezone.now()
    failed_subscriptions, failed_invoices = selectors.needs_attention()
    revenue = selectors.revenue_by_month(now)
    per_day = selectors.events_per_day(now)
    context = {
        "now": now,
        "amounts": selectors.amounts_by_currency(now),
        "awaiting": selectors.awaiting_finalization(),
        "overdue": selectors.overdue(now),
        "failed_subscriptions": failed_subscriptions,
        "failed_invoices": failed_invoices,
        "events_today": per_day[-1][1],
        "revenue_charts": [(currency, charts.bar_chart(points, unit=currency)) for currency, points in revenue.items()],
        "events_chart": charts.bar_chart(per_day, unit="events"),
    }
    return render(request, "core/overview.html", context)


def bench_plain(request):
    """The yardstick bench/ingest.py compares /sdk/track against: the same server, no work at all.

    Routed only when FLUXBILL_BENCH_PLAIN_VIEW is on.
    """
    return JsonResponse({"ok": True})


def not_found(request, exception=None):
    """handler404: under /api/ a URL no route matches (`/api/v1/invoices/0.5/`) is answered like every
    other API error, in JSON; pages keep Django's HTML 404."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(f"No API route matches {request.path}"), status=404)
    return defaults.page_not_found(request, exception)
