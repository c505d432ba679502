"""Pages every app shares: the overview, login and logout."""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

from fluxbill.core import charts, selectors
from fluxbill.core.dashboard import require


@require()
def overview(request):
    now = timezone.now()
    revenue = selectors.revenue_by_month(now)
    context = {
        "now": now,
        "amounts": selectors.amounts_by_currency(now),
        "awaiting": selectors.awaiting_finalization(),
        "overdue": selectors.overdue(now),
        "events_today": selectors.events_today(now),
        "revenue_charts": [(currency, charts.bar_chart(points, unit=currency)) for currency, points in revenue.items()],
        "events_chart": charts.bar_chart(selectors.events_per_day(now), unit="events"),
    }
    return render(request, "core/overview.html", context)


def bench_plain(request):
    """The yardstick bench/ingest.py compares /sdk/track against: the same server, no work at all.

    Routed only when FLUXBILL_BENCH_PLAIN_VIEW is on.
    """
    return JsonResponse({"ok": True})
