"""The overview: what needs a person today, across every app (hence its own layer above invoicing)."""

from django.shortcuts import render
from django.utils import timezone

from fluxbill.core import charts
from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import require

from . import selectors


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
    return render(request, "desk/overview.html", context)
