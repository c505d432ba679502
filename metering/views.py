"""Dashboard pages for meters (features) and the event debugger. Writes go through the services."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from fluxbill.core import charts
from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import require
from fluxbill.core.errors import DomainError
from fluxbill.core.fields import decimal_to_string
from fluxbill.core.forms import add_domain_error
from fluxbill.core.lists import Button, ObjectListView

from . import lookups, selectors, services
from .exports import events_csv
from .selectors import keyset_page, with_properties_text
from .aggregation import usage_buckets
from .forms import (
    MAX_BUCKETS,
    EventFilterForm,
    MeterCreateForm,
    MeterUpdateForm,
    SendEventForm,
    UsageChartForm,
)
from .filters import MeterFilterSet
from .models import Meter, RejectedEvent, UsageEvent
from .tables import MeterTable
from .validation import EventRejected

LATEST_EVENTS = 20
DEBUGGER_PAGE_SIZE = 50
REJECTED_PAGE_SIZE = 25


# --- Meters ---------------------------------------------------------------------------


class MeterList(ObjectListView):
    permission = perms.VIEW_METER
    filterset_class = MeterFilterSet
    table_class = MeterTable
    title = "Features"
    heading = "Features (meters)"
    url_name = "metering:meter-list"
    toolbar_filters = ("q", "status")
    buttons = (Button("New meter", "metering:meter-create", perms.ADD_METER),)
    plural = "meters"
    empty_text = (
        "<p>No meters yet. A meter counts events your product sends (API calls, GB stored, tokens…): "
        "{% if user|can:'metering.add_meter' %}<a href=\"{% url 'metering:meter-create' %}\">create the first meter</a>, "
        "then send events with its event name.{% else %}ask someone in Finance to create one.{% endif %}</p>"
    )

    def get_queryset(self):
        return selectors.meter_list()


meter_list = MeterList.list_view()


@require(perms.ADD_METER)
def meter_create(request):
    form = MeterCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            meter = services.meter_create(**form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc, form.service_aliases)
        else:
            messages.success(
                request, f"Meter “{meter.name}” created. Send events named “{meter.event_name}” to start measuring."
            )
            return redirect("metering:meter-detail", pk=meter.pk)
    return render(request, "metering/meter_form.html", {"form": form, "meter": None})


@require(perms.CHANGE_METER)
def meter_edit(request, pk):
    meter = get_object_or_404(Meter, pk=pk)
    form = MeterUpdateForm(request.POST or None, initial={"name": meter.name, "unit": meter.unit})
    if request.method == "POST" and form.is_valid():
        try:
            meter = services.meter_update(meter=meter, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc, form.service_aliases)
        else:
            messages.success(request, f"Meter “{meter.name}” saved.")
            return redirect("metering:meter-detail", pk=meter.pk)
    return render(request, "metering/meter_form.html", {"form": form, "meter": meter})


@require(perms.DELETE_METER)
def meter_archive(request, pk):
    """GET asks for confirmation (the no-JavaScript path); POST archives."""
    meter = get_object_or_404(Meter, pk=pk)
    if request.method != "POST":
        return render(request, "metering/meter_archive.html", {"meter": meter})
    if not meter.active:
        messages.info(request, f"Meter “{meter.name}” was already archived.")
    else:
        services.meter_archive(meter=meter)
        messages.success(
            request, f"Meter “{meter.name}” archived: new “{meter.event_name}” events are refused; its history stays."
        )
    return redirect("metering:meter-detail", pk=meter.pk)


@require(perms.VIEW_METER)
def meter_detail(request, pk):
    meter = get_object_or_404(Meter, pk=pk)
    now = timezone.now()
    form = UsageChartForm(UsageChartForm.with_defaults(request.GET, now.date()))
    chart, total, customer_id = None, None, None
    if form.is_valid():
        params = form.cleaned_data
        if params["customer"]:
            customer_id = lookups.customer_ids({params["customer"]}, create=False).get(params["customer"])
            if customer_id is None:
                form.add_error("customer", f"No customer has the external id “{params['customer']}”.")
        start = dt.datetime.combine(params["start"], dt.time.min, tzinfo=dt.timezone.utc)
        end = dt.datetime.combine(params["end"] + dt.timedelta(days=1), dt.time.min, tzinfo=dt.timezone.utc)
        starts = bucket_starts(start, end, params["group_by"], limit=MAX_BUCKETS)
        if len(starts) > MAX_BUCKETS:
            form.add_error(
                "group_by",
                f"That is more than {MAX_BUCKETS} {params['group_by']}s: choose a larger bucket or a shorter range.",
            )
        if form.is_valid():
            rows, total = usage_buckets(
                meter=meter,
                start=start,
                end=end,
                group_by=params["group_by"],
                customer_id=customer_id,
            )
            if rows:
                values = dict(rows)
                points = [(bucket_label(s, params["group_by"]), _plain(values.get(s, 0))) for s in starts]
                chart = charts.bar_chart(points, unit=meter.unit)
    events = UsageEvent.objects.filter(meter=meter).select_related("customer").order_by("-timestamp", "-id")
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    context = {
        "meter": meter,
        "form": form,
        "chart": chart,
        "total": total,
        # The customer as the filter names it (its external id): customers are found through lookups.
        "customer": form.cleaned_data["customer"] if customer_id is not None else None,
        "events": with_properties_text(events[:LATEST_EVENTS]),
    }
    return render(request, "metering/meter_detail.html", context, status=400 if form.errors else 200)


def _plain(value) -> Decimal:
    """5 rather than 5.0000000000 (the quantity column's scale) in a bar's tooltip."""
    return Decimal(decimal_to_string(Decimal(value)))


def bucket_starts(start: dt.datetime, end: dt.datetime, group_by: str, *, limit: int) -> list[dt.datetime]:
    """The UTC bucket starts covering [start, end), as date_trunc draws them; at most `limit` + 1."""
    moment = _truncate(start, group_by)
    starts = []
    while moment < end and len(starts) <= limit:
        starts.append(moment)
        moment = _next_bucket(moment, group_by)
    return starts


def _truncate(moment: dt.datetime, group_by: str) -> dt.datetime:
    moment = moment.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    if group_by == "hour":
        return moment
    moment = moment.replace(hour=0)
    if group_by == "week":
        return moment - dt.timedelta(days=moment.weekday())  # ISO weeks start on Monday
    if group_by == "month":
        return moment.replace(day=1)
    return moment


def _next_bucket(moment: dt.datetime, group_by: str) -> dt.datetime:
    if group_by == "hour":
        return moment + dt.timedelta(hours=1)
    if group_by == "day":
        return moment + dt.timedelta(days=1)
    if group_by == "week":
        return moment + dt.timedelta(days=7)
    return (moment.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def bucket_label(moment: dt.datetime, group_by: str) -> str:
    if group_by == "hour":
        return moment.strftime("%Y-%m-%d %H:00 UTC")
    if group_by == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d} (from {moment:%Y-%m-%d})"
    if group_by == "month":
        return moment.strftime("%Y-%m")
    return moment.strftime("%Y-%m-%d")


# --- Event debugger -------------------------------------------------------------------


def _filtered_events(filters: EventFilterForm):
    """The debugger's events narrowed by its filters (meter, customer external id, source): the page and
    its export read the same rows."""
    events = UsageEvent.objects.select_related("meter", "customer")
    if filters.is_valid():
        wanted = filters.cleaned_data
        if wanted["meter"]:
            events = events.filter(meter=wanted["meter"])
        if wanted["customer"]:
            events = events.filter(customer__external_id__iexact=wanted["customer"].strip())
        if wanted["source"]:
            events = events.filter(source__iexact=wanted["source"].strip())
    return events


@require(perms.VIEW_EVENT)
def event_export(request):
    """Every event the debugger's filters select, oldest first, as CSV streamed in constant memory."""
    filters = EventFilterForm(request.GET)
    if filters.is_bound and not filters.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filters.errors.items())
        return HttpResponseBadRequest(f"Invalid filter: {problems}", content_type="text/plain; charset=utf-8")
    return events_csv(_filtered_events(filters), f"events-{timezone.now():%Y%m%d-%H%M}")


def _debugger(request, send_form: SendEventForm):
    now = timezone.now()
    filters = EventFilterForm(request.GET)
    events = _filtered_events(filters)
    newest_first = request.GET.get("sort", "-timestamp") != "timestamp"
    page = keyset_page(
        events,
        newest_first=newest_first,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        size=DEBUGGER_PAGE_SIZE,
    )
    rejected = RejectedEvent.objects.filter(created_at__gte=now - services.REJECTED_KEEP_FOR).order_by("-created_at", "-id")
    rejected_page = Paginator(rejected, REJECTED_PAGE_SIZE).get_page(request.GET.get("rpage"))
    context = {
        "filters": filters,
        "events": with_properties_text(page["rows"]),
        "next_cursor": page["next"],
        "previous_cursor": page["previous"],
        "sort": "-timestamp" if newest_first else "timestamp",
        "rejected_page": rejected_page,
        "send_form": send_form,
        "send_outcome": _send_outcome(request),
        "meter_choices": filters.fields["meter"].queryset,
    }
    return render(request, "metering/event_debugger.html", context)


def _send_outcome(request) -> str:
    """What the test form's last send did, from the redirect's query (only a stored event is named as one)."""
    sent, duplicate = request.GET.get("sent", ""), request.GET.get("duplicate", "")
    if sent.isdigit() and UsageEvent.objects.filter(pk=int(sent)).exists():
        return f"Event accepted (id {sent}). It is at the top of Recent events."
    if duplicate:
        return f"Duplicate: an event with event_id “{duplicate}” was already stored; nothing added."
    return ""


@require(perms.VIEW_EVENT)
def event_debugger(request):
    return _debugger(request, SendEventForm(initial={"source": "dashboard"}))


# How the debugger's "Rejected" list names the test form, beside the API paths.
SEND_FORM_ENDPOINT = "dashboard: send test event"


@require(perms.ADD_EVENT)
@require_POST
def event_send(request):
    """Send one event through the same service as `POST /api/v1/events`; a refusal is listed under Rejected
    like the API's, and the outcome is shown beside the form (#send-event)."""
    form = SendEventForm(request.POST)
    now = timezone.now()
    # The log keeps the fields as typed (text that arrived as valid UTF-8), not the parsed payload, which
    # may hold the very NUL or lone surrogate it was refused for.
    submitted = {name: request.POST.get(name, "") for name in form.fields}
    if form.is_valid():
        try:
            row_id, event_id, duplicate = services.event_ingest(data=form.payload(), now=now)
        except EventRejected as exc:
            add_domain_error(form, exc)
            services.rejection_record(endpoint=SEND_FORM_ENDPOINT, error=exc.message, field=exc.field, payload=submitted, now=now)
        else:
            outcome = {"duplicate": event_id} if duplicate else {"sent": row_id}
            return redirect(f"{reverse('metering:event-debugger')}?{urlencode(outcome)}#send-event")
    else:
        field, errors = next(iter(form.errors.items()))
        services.rejection_record(endpoint=SEND_FORM_ENDPOINT, error=errors[0], field=None if field == "__all__" else field, payload=submitted, now=now)
    return _debugger(request, form)
