"""Features (meters) pages: list, create, edit, archive and the meter page with its usage chart."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from metering.models import Meter
from tests.factories import CustomerFactory, MeterFactory, UsageEventFactory

pytestmark = pytest.mark.django_db


def field_errors(response, name: str) -> list[str]:
    """The error messages rendered inside the form field `name`'s own block (beside the field)."""
    body = response.content.decode()
    start = re.search(rf'<div class="field has-error"[^>]*data-field="{name}">', body)
    if not start:
        return []
    depth, end = 1, start.end()
    for tag in re.finditer(r"<(/?)div\b", body[start.end() :]):  # to the block's own </div>
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            end = start.end() + tag.start()
            break
    return re.findall(r'<p class="error"[^>]*>(.*?)</p>', body[start.end() : end], re.S)


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _urls(meter):
    return {
        "list": "/meters/",
        "create": "/meters/new/",
        "detail": f"/meters/{meter.pk}/",
        "edit": f"/meters/{meter.pk}/edit/",
        "archive": f"/meters/{meter.pk}/archive/",
    }


# --- permissions ----------------------------------------------------------------------


@pytest.mark.parametrize("page", ["list", "create", "detail", "edit", "archive"])
def test_anonymous_is_sent_to_login(client, page):
    url = _urls(MeterFactory())[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


@pytest.mark.parametrize("page", ["list", "create", "detail", "edit", "archive"])
def test_user_without_role_is_refused(nobody_client, page):
    assert nobody_client.get(_urls(MeterFactory())[page]).status_code == 403


@pytest.mark.parametrize("page", ["list", "detail"])
def test_support_can_read(support_client, page):
    assert support_client.get(_urls(MeterFactory())[page]).status_code == 200


@pytest.mark.parametrize("page", ["create", "edit", "archive"])
def test_support_cannot_write(support_client, page):
    meter = MeterFactory(name="Untouched")
    url = _urls(meter)[page]
    assert support_client.get(url).status_code == 403
    data = {"name": "Changed", "lookup_key": "x", "event_name": "x", "aggregation_type": "COUNT", "unit": "u"}
    assert support_client.post(url, data).status_code == 403
    meter.refresh_from_db()
    assert (meter.name, meter.active) == ("Untouched", True)
    assert Meter.objects.count() == 1


def test_support_sees_no_write_buttons(support_client):
    meter = MeterFactory()
    assert "New meter" not in support_client.get("/meters/").content.decode()
    body = support_client.get(f"/meters/{meter.pk}/").content.decode()
    assert f"/meters/{meter.pk}/edit/" not in body
    assert f"/meters/{meter.pk}/archive/" not in body


# --- list -----------------------------------------------------------------------------


def test_list_search_is_case_insensitive_on_name_and_event_name(finance_client):
    MeterFactory(name="API Calls", event_name="api.request")
    MeterFactory(name="Storage", event_name="Storage.GB_Hours")
    MeterFactory(name="Seats", event_name="seat.active")

    names = [m.name for m in finance_client.get("/meters/", {"q": "api CALLS"}).context["page"].object_list]
    assert names == ["API Calls"]
    names = [m.name for m in finance_client.get("/meters/", {"q": "gb_hours"}).context["page"].object_list]
    assert names == ["Storage"]


def test_list_sorts_and_paginates(finance_client):
    for index in range(30):
        MeterFactory(name=f"Meter {index:02d}")
    first = finance_client.get("/meters/", {"sort": "-name"})
    assert [m.name for m in first.context["page"].object_list][:3] == ["Meter 29", "Meter 28", "Meter 27"]
    second = finance_client.get("/meters/", {"sort": "-name", "page": 2})
    assert [m.name for m in second.context["page"].object_list] == ["Meter 04", "Meter 03", "Meter 02", "Meter 01", "Meter 00"]
    assert "Page 2 of 2" in second.content.decode()


def test_list_filters_archived(finance_client):
    MeterFactory(name="Live")
    MeterFactory(name="Old", active=False)
    names = [m.name for m in finance_client.get("/meters/", {"status": "archived"}).context["page"].object_list]
    assert names == ["Old"]


def test_list_and_the_feature_api_read_one_filterset(finance_client, admin_api):
    MeterFactory(name="Tokens", lookup_key="tokens", event_name="llm.tokens")
    MeterFactory(name="Storage", lookup_key="storage", event_name="disk.bytes", active=False)

    def both(page_params, api_params):
        page = {m.lookup_key for m in finance_client.get("/meters/", page_params).context["page"].object_list}
        api = {row["lookup_key"] for row in admin_api.get("/api/v1/features", api_params).json()["results"]}
        assert page == api
        return page

    assert both({"q": "llm."}, {"search": "llm."}) == {"tokens"}  # the event name, on both
    assert both({"status": "archived"}, {"active": "false"}) == {"storage"}
    assert both({"meter_name": "disk.bytes"}, {"meter_name": "disk.bytes"}) == {"storage"}
    assert finance_client.get("/meters/", {"status": "deleted"}).status_code == 400


def test_list_empty_states(finance_client, support_client):
    body = finance_client.get("/meters/").content.decode()
    assert "No meters yet" in body and "create the first meter" in body
    assert "ask someone in Finance" in support_client.get("/meters/").content.decode()
    MeterFactory(name="Storage")
    body = finance_client.get("/meters/", {"q": "nothing-like-it"}).content.decode()
    assert "No meters match “nothing-like-it”" in body


def test_list_query_count_is_constant(finance_client, django_assert_max_num_queries):
    MeterFactory.create_batch(60)
    with django_assert_max_num_queries(6):
        response = finance_client.get("/meters/", {"sort": "-created", "page": 2})
    assert len(response.context["page"].object_list) == 25


# --- create / edit / archive ----------------------------------------------------------


def test_finance_creates_a_meter(finance_client):
    response = finance_client.post(
        "/meters/new/",
        {
            "name": "Tokens",
            "lookup_key": "tokens",
            "event_name": "llm.tokens",
            "aggregation_type": "SUM",
            "property_name": "tokens",
            "unit": "tokens",
        },
    )
    meter = Meter.objects.get(lookup_key="tokens")
    assert response.status_code == 302
    assert response["Location"] == f"/meters/{meter.pk}/"
    assert (meter.event_name, meter.aggregation_type, meter.property_name, meter.active) == ("llm.tokens", "SUM", "tokens", True)
    assert flashes(response) == ["Meter “Tokens” created. Send events named “llm.tokens” to start measuring."]


def test_create_shows_service_errors_beside_the_field(finance_client):
    MeterFactory(event_name="api.request", lookup_key="calls")
    base = {"name": "Calls", "lookup_key": "calls2", "event_name": "api.request", "aggregation_type": "COUNT"}

    taken = finance_client.post("/meters/new/", base)
    assert taken.status_code == 200
    assert field_errors(taken, "event_name") == ["A meter with meter_name &#x27;api.request&#x27; already exists"]

    no_property = finance_client.post("/meters/new/", {**base, "event_name": "new.one", "aggregation_type": "SUM"})
    assert field_errors(no_property, "property_name")[0].startswith("property_name is required for SUM meters")
    assert field_errors(no_property, "event_name") == []

    blank = finance_client.post("/meters/new/", {**base, "name": "", "event_name": "other"})
    assert field_errors(blank, "name") == ["This field is required."]
    assert Meter.objects.count() == 1


def test_finance_edits_name_and_unit(finance_client):
    meter = MeterFactory(name="Calls", unit="calls", event_name="api.request")
    page = finance_client.get(f"/meters/{meter.pk}/edit/")
    assert 'value="Calls"' in page.content.decode()
    response = finance_client.post(f"/meters/{meter.pk}/edit/", {"name": "API calls", "unit": "requests"})
    assert response.status_code == 302
    meter.refresh_from_db()
    assert (meter.name, meter.unit, meter.event_name) == ("API calls", "requests", "api.request")
    assert flashes(response) == ["Meter “API calls” saved."]


def test_edit_errors_beside_the_field(finance_client):
    meter = MeterFactory(name="Calls")
    response = finance_client.post(f"/meters/{meter.pk}/edit/", {"name": "", "unit": "x" * 51})
    assert field_errors(response, "name") == ["This field is required."]
    assert field_errors(response, "unit") == ["Ensure this value has at most 50 characters (it has 51)."]
    meter.refresh_from_db()
    assert meter.name == "Calls"


def test_archive_asks_first_then_archives_on_post(finance_client):
    meter = MeterFactory(name="Calls")
    detail = finance_client.get(f"/meters/{meter.pk}/").content.decode()
    assert re.search(rf'action="/meters/{meter.pk}/archive/" class="inline" data-confirm="Archive this meter\?', detail)

    confirm_page = finance_client.get(f"/meters/{meter.pk}/archive/")
    assert confirm_page.status_code == 200
    meter.refresh_from_db()
    assert meter.active  # a GET never archives

    response = finance_client.post(f"/meters/{meter.pk}/archive/")
    assert response.status_code == 302
    meter.refresh_from_db()
    assert not meter.active
    assert flashes(response)[0].startswith("Meter “Calls” archived")
    assert "data-confirm" not in finance_client.get(f"/meters/{meter.pk}/").content.decode()


def test_unknown_meter_is_404(finance_client):
    assert finance_client.get("/meters/00000000-0000-0000-0000-000000000000/").status_code == 404


# --- meter page -----------------------------------------------------------------------


def test_meter_page_shows_token_with_copy_button(support_client):
    meter = MeterFactory()
    body = support_client.get(f"/meters/{meter.pk}/").content.decode()
    assert f'<code class="secret" id="meter-token">{meter.token}</code>' in body
    assert 'data-copy="meter-token"' in body


def _bars(response) -> list[str]:
    return re.findall(r"<title>(.*?)</title>", str(response.context["chart"]))


def test_usage_chart_per_day_fills_empty_days(support_client):
    meter = MeterFactory(unit="GB")
    acme, other = CustomerFactory(external_id="acme"), CustomerFactory()
    day = (timezone.now() - dt.timedelta(days=5)).replace(hour=10, minute=0, second=0, microsecond=0)
    UsageEventFactory(meter=meter, customer=acme, quantity=Decimal("2"), timestamp=day)
    UsageEventFactory(meter=meter, customer=other, quantity=Decimal("3.5"), timestamp=day + dt.timedelta(hours=5))
    UsageEventFactory(meter=meter, customer=acme, quantity=Decimal("10"), timestamp=day + dt.timedelta(days=2))
    UsageEventFactory(customer=acme, quantity=Decimal("99"), timestamp=day)  # another meter

    params = {"group_by": "day", "start": day.date().isoformat(), "end": (day + dt.timedelta(days=2)).date().isoformat()}
    response = support_client.get(f"/meters/{meter.pk}/", params)
    d0, d1, d2 = (f"{(day + dt.timedelta(days=n)):%Y-%m-%d}" for n in range(3))
    assert _bars(response) == [f"{d0}: 5.5 GB", f"{d1}: 0 GB", f"{d2}: 10 GB"]
    assert response.context["total"] == Decimal("15.5")

    only_acme = support_client.get(f"/meters/{meter.pk}/", {**params, "customer": "acme"})
    assert _bars(only_acme) == [f"{d0}: 2 GB", f"{d1}: 0 GB", f"{d2}: 10 GB"]
    assert [e.quantity for e in only_acme.context["events"]] == [Decimal("10"), Decimal("2")]


def test_usage_chart_defaults_to_the_last_30_days_per_day(support_client):
    meter = MeterFactory(unit="GB")
    now = timezone.now()
    UsageEventFactory(meter=meter, quantity=Decimal("4"), timestamp=now)
    UsageEventFactory(meter=meter, quantity=Decimal("7"), timestamp=now - dt.timedelta(days=30))  # before the range
    response = support_client.get(f"/meters/{meter.pk}/")
    today, first = now.date(), now.date() - dt.timedelta(days=29)
    bars = _bars(response)
    assert len(bars) == 30
    assert bars[0] == f"{first:%Y-%m-%d}: 0 GB"
    assert bars[-1] == f"{today:%Y-%m-%d}: 4 GB"
    body = response.content.decode()  # the controls show the range the chart shows
    assert '<option value="day" selected>' in body
    assert f'name="start" value="{first:%Y-%m-%d}"' in body and f'name="end" value="{today:%Y-%m-%d}"' in body

    # only an end date: the 30 days up to it
    end = today - dt.timedelta(days=1)
    earlier = support_client.get(f"/meters/{meter.pk}/", {"end": end.isoformat()})
    assert _bars(earlier)[0] == f"{end - dt.timedelta(days=29):%Y-%m-%d}: 7 GB"
    assert len(_bars(earlier)) == 30


def test_usage_chart_empty_range_says_so(support_client):
    meter = MeterFactory(event_name="storage.gb")
    response = support_client.get(f"/meters/{meter.pk}/")
    assert response.context["chart"] is None
    assert "No usage in this range. Usage appears as events named <code>storage.gb</code> arrive." in response.content.decode()


def test_usage_chart_per_hour_and_month(support_client):
    meter = MeterFactory(aggregation_type="COUNT", property_name="", unit="")
    start = (timezone.now() - dt.timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    UsageEventFactory.create_batch(2, meter=meter, timestamp=start + dt.timedelta(minutes=30))
    UsageEventFactory(meter=meter, timestamp=start + dt.timedelta(hours=2, minutes=1))
    day = start.date().isoformat()

    hourly = support_client.get(f"/meters/{meter.pk}/", {"group_by": "hour", "start": day, "end": day})
    bars = _bars(hourly)
    assert len(bars) == 24
    assert bars[:3] == [f"{day} 00:00 UTC: 2", f"{day} 01:00 UTC: 0", f"{day} 02:00 UTC: 1"]

    monthly = support_client.get(f"/meters/{meter.pk}/", {"group_by": "month", "start": day, "end": day})
    assert _bars(monthly) == [f"{start:%Y-%m}: 3"]


def test_usage_chart_form_errors_beside_the_field(support_client):
    meter = MeterFactory()
    today = timezone.now().date()
    unknown = support_client.get(f"/meters/{meter.pk}/", {"customer": "nobody-has-this"})
    assert field_errors(unknown, "customer") == ["No customer has the external id “nobody-has-this”."]
    assert unknown.context["chart"] is None

    too_many = support_client.get(
        f"/meters/{meter.pk}/", {"group_by": "hour", "start": (today - dt.timedelta(days=60)).isoformat()}
    )
    assert field_errors(too_many, "group_by") == [
        "That is more than 750 hours: choose a larger bucket or a shorter range."
    ]
    assert too_many.context["chart"] is None

    backwards = support_client.get(f"/meters/{meter.pk}/", {"start": today.isoformat(), "end": (today - dt.timedelta(days=1)).isoformat()})
    assert field_errors(backwards, "end") == ["The end date must not be before the start date."]


def test_meter_page_lists_the_latest_20_events_in_constant_queries(support_client, django_assert_max_num_queries):
    meter = MeterFactory()
    now = timezone.now()
    for minutes in range(25):
        UsageEventFactory(meter=meter, quantity=Decimal(minutes + 1), timestamp=now - dt.timedelta(minutes=minutes))
    # 9: the chart reads the rollup's watermark first, so the planner sees how small the live tail is.
    with django_assert_max_num_queries(9):
        response = support_client.get(f"/meters/{meter.pk}/")
    quantities = [e.quantity for e in response.context["events"]]
    assert quantities == [Decimal(n) for n in range(1, 21)]


def test_meter_page_without_events_says_how_to_send_one(support_client):
    meter = MeterFactory(event_name="api.request")
    body = support_client.get(f"/meters/{meter.pk}/").content.decode()
    assert "No events yet. Send one named <code>api.request</code>" in body
