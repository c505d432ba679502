"""The hourly usage rollup: kept by `usage_rollup_advance` only, and charts read from it answer as the live query."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from metering.aggregation import BUCKETS, usage_buckets
from metering.choices import AggregationType
from metering.models import UsageEvent, UsageHourly, UsageRollupWatermark
from metering.services import usage_rollup_advance, usage_rollup_settle
from tests.factories import CustomerFactory, MeterFactory, UsageEventFactory

pytestmark = pytest.mark.django_db

MERGEABLE = [AggregationType.COUNT, AggregationType.SUM, AggregationType.MAX, AggregationType.MIN, AggregationType.AVG]
START = datetime(2025, 2, 24, tzinfo=UTC)  # a Monday, five days before a month boundary
END = datetime(2025, 3, 11, tzinfo=UTC)
CREATED_1 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
CREATED_LATE = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
CREATED_TAIL = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)


def at(day, hour, minute=0):
    return datetime(2025, 2 if day > 20 else 3, day, hour, minute, tzinfo=UTC)


def events(meter, customer, created_at, rows):
    made = [UsageEventFactory(meter=meter, customer=customer, timestamp=ts, quantity=Decimal(q)) for ts, q in rows]
    UsageEvent.objects.filter(pk__in=[e.pk for e in made]).update(created_at=created_at)


@pytest.fixture
def world():
    chart = MeterFactory(aggregation_type=AggregationType.SUM)
    other = MeterFactory(aggregation_type=AggregationType.SUM)
    alice, bob = CustomerFactory(), CustomerFactory()
    # Rolled up by the first advance: several hours of one day, several days, weeks and two months.
    events(chart, alice, CREATED_1, [
        (at(24, 9, 5), "1.5"), (at(24, 9, 55), "2.25"), (at(24, 10, 0), "0.3333333333"),
        (at(26, 23, 59), "7"), (at(28, 0, 0), "4"), (at(1, 0, 0), "10"), (at(3, 15, 30), "-2"),
    ])
    events(chart, bob, CREATED_1, [(at(24, 9, 30), "5"), (at(10, 11, 0), "3")])
    # Outside the range, and another meter in the same hours: neither may reach the chart.
    events(chart, alice, CREATED_1, [(datetime(2025, 2, 23, 23, 59, tzinfo=UTC), "100"), (END, "100")])
    events(other, alice, CREATED_1, [(at(24, 9, 10), "1000"), (at(1, 0, 0), "1000")])
    # Late: created after the first advance, with a timestamp in an hour already rolled up.
    events(chart, bob, CREATED_LATE, [(at(24, 9, 40), "0.5")])
    # The tail: created after the last advance, so only the live part of the chart sees them.
    events(chart, alice, CREATED_TAIL, [(at(24, 9, 45), "8"), (at(5, 6, 0), "0.25")])
    usage_rollup_advance(now=CREATED_1 + usage_rollup_settle())
    usage_rollup_advance(now=CREATED_LATE + usage_rollup_settle())
    return chart, other


def test_rollup_holds_the_events_up_to_the_watermark_by_created_at(world):
    chart, _ = world
    assert UsageRollupWatermark.objects.get().created_upto == CREATED_LATE
    nine = UsageHourly.objects.get(meter=chart, hour=at(24, 9))
    # 1.5 + 2.25 + 5 rolled up first, the late 0.5 added to the same hour; the tail's 8 is not here.
    assert (nine.event_count, nine.quantity_sum, nine.quantity_max, nine.quantity_min) == (
        4, Decimal("9.25"), Decimal("5"), Decimal("0.5"),
    )
    assert not UsageHourly.objects.filter(meter=chart, hour=at(5, 6)).exists()


@pytest.mark.parametrize("aggregation_type", MERGEABLE)
@pytest.mark.parametrize("group_by", BUCKETS)
def test_rollup_answer_equals_the_live_answer(world, aggregation_type, group_by):
    chart, _ = world
    chart.aggregation_type = aggregation_type
    live = usage_buckets(meter=chart, start=START, end=END, group_by=group_by, rollup=False)
    rolled = usage_buckets(meter=chart, start=START, end=END, group_by=group_by)
    assert rolled == live
    assert [str(v) for _, v in rolled[0]] == [str(v) for _, v in live[0]] and str(rolled[1]) == str(live[1])


def test_sum_per_day_by_hand(world):
    chart, _ = world
    rows, total = usage_buckets(meter=chart, start=START, end=END, group_by="day")
    assert rows == [
        (at(24, 0), Decimal("1.5") + Decimal("2.25") + Decimal("0.3333333333") + 5 + Decimal("0.5") + 8),
        (at(26, 0), Decimal("7")),
        (at(28, 0), Decimal("4")),
        (at(1, 0), Decimal("10")),
        (at(3, 0), Decimal("-2")),
        (at(5, 0), Decimal("0.25")),
        (at(10, 0), Decimal("3")),
    ]
    assert total == Decimal("39.8333333333")


def test_avg_count_max_min_by_hand_over_the_whole_range(world):
    chart, _ = world
    answers = {}
    for aggregation_type in MERGEABLE:
        chart.aggregation_type = aggregation_type
        answers[aggregation_type] = usage_buckets(meter=chart, start=START, end=END, group_by="month")
    assert answers[AggregationType.COUNT] == ([(at(1, 0).replace(month=2), Decimal(8)), (at(1, 0), Decimal(4))], Decimal(12))
    assert answers[AggregationType.MAX][1] == Decimal("10")
    assert answers[AggregationType.MIN][1] == Decimal("-2")
    # PostgreSQL's numeric division, as AVG's own: 16 significant digits here.
    assert answers[AggregationType.AVG][1] == Decimal("3.3194444444416667")  # 39.8333333333 / 12
    # February: 1.5 + 2.25 + 0.3333333333 + 5 + 0.5 + 8 + 7 + 4 over 8 events; March: 10 - 2 + 0.25 + 3 over 4.
    assert answers[AggregationType.AVG][0] == [
        (at(1, 0).replace(month=2), Decimal("3.5729166666625000")),
        (at(1, 0), Decimal("2.8125000000000000")),
    ]


def test_the_chart_reads_the_rollup_not_every_event(world):
    chart, _ = world
    UsageHourly.objects.filter(meter=chart, hour=at(10, 11)).update(quantity_sum=Decimal("300"))
    rows, _ = usage_buckets(meter=chart, start=START, end=END, group_by="day")
    assert rows[-1] == (at(10, 0), Decimal("300"))


def test_customer_filter_ranges_off_the_hour_and_other_aggregations_read_live(world):
    chart, _ = world
    UsageHourly.objects.update(quantity_sum=Decimal("300"), event_count=300)
    live = usage_buckets(meter=chart, start=START, end=END, group_by="day", rollup=False)
    off_the_hour = START + timedelta(minutes=30)
    assert usage_buckets(meter=chart, start=off_the_hour, end=END, group_by="day") == usage_buckets(
        meter=chart, start=off_the_hour, end=END, group_by="day", rollup=False
    )
    # Every hourly row now says 300: an answer without them is the live one.
    assert usage_buckets(meter=chart, start=START, end=at(10, 10, 30), group_by="day")[1] == live[1] - 3
    assert usage_buckets(meter=chart, start=START, end=at(10, 11, 30), group_by="day")[1] == live[1]
    customer_id = UsageEvent.objects.filter(meter=chart).first().customer_id
    assert usage_buckets(meter=chart, start=START, end=END, group_by="day", customer_id=customer_id) == usage_buckets(
        meter=chart, start=START, end=END, group_by="day", customer_id=customer_id, rollup=False
    )
    for aggregation_type in (AggregationType.LATEST, AggregationType.UNIQUE_COUNT):
        chart.aggregation_type = aggregation_type
        assert usage_buckets(meter=chart, start=START, end=END, group_by="day") == usage_buckets(
            meter=chart, start=START, end=END, group_by="day", rollup=False
        )


def test_before_any_advance_the_chart_is_the_live_query():
    chart = MeterFactory(aggregation_type=AggregationType.AVG)
    events(chart, CustomerFactory(), CREATED_1, [(at(24, 9), "1"), (at(25, 9), "2")])
    assert not UsageRollupWatermark.objects.exists()
    assert usage_buckets(meter=chart, start=START, end=END, group_by="week") == usage_buckets(
        meter=chart, start=START, end=END, group_by="week", rollup=False
    ) == ([(START, Decimal("1.5"))], Decimal("1.5"))


def test_an_advance_before_the_watermark_adds_nothing(world):
    before = list(UsageHourly.objects.order_by("pk").values())
    assert usage_rollup_advance(now=CREATED_1 + usage_rollup_settle()) == 0
    assert list(UsageHourly.objects.order_by("pk").values()) == before
    assert UsageRollupWatermark.objects.get().created_upto == CREATED_LATE


def test_an_event_within_the_settle_waits_for_a_later_advance():
    chart = MeterFactory(aggregation_type=AggregationType.COUNT)
    events(chart, CustomerFactory(), CREATED_1, [(at(24, 9), "1")])
    usage_rollup_advance(now=CREATED_1 + usage_rollup_settle() - timedelta(seconds=1))
    assert not UsageHourly.objects.exists()
    usage_rollup_advance(now=CREATED_1 + usage_rollup_settle())
    assert UsageHourly.objects.get().event_count == 1


def test_ingestion_writes_nothing_to_the_rollup(key_client):
    writer = key_client("usage.write")
    meter = MeterFactory(event_name="model.usage", aggregation_type=AggregationType.SUM, property_name="credits")
    CustomerFactory(external_id="cust_123")
    moment = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    for credits in (2, 3):
        response = writer.post(
            "/api/v1/events",
            {"event_name": "model.usage", "external_customer_id": "cust_123", "properties": {"credits": credits},
             "timestamp": moment.isoformat()},
            format="json",
        )
        assert response.status_code == 202, response.content
    assert UsageEvent.objects.count() == 2
    assert not UsageHourly.objects.exists() and not UsageRollupWatermark.objects.exists()
    usage_rollup_advance(now=timezone.now() + usage_rollup_settle())
    hour = UsageHourly.objects.get()
    assert (hour.meter_id, hour.hour, hour.event_count, hour.quantity_sum) == (meter.pk, moment, 2, Decimal("5"))


@pytest.mark.django_db(transaction=True)
def test_two_advances_at_once_add_each_event_once():
    chart = MeterFactory(aggregation_type=AggregationType.COUNT)
    events(chart, CustomerFactory(), CREATED_1, [(at(24, 9), "1"), (at(24, 9, 30), "2"), (at(25, 1), "3")])
    now = CREATED_1 + usage_rollup_settle()
    second = {}

    def advance():
        try:
            second["added"] = usage_rollup_advance(now=now)
        finally:
            connection.close()

    with transaction.atomic():
        assert usage_rollup_advance(now=now) == 2
        thread = threading.Thread(target=advance)
        thread.start()
        thread.join(timeout=1)
        # Held by the first advance's transaction: the second waits rather than reading the old watermark.
        assert thread.is_alive()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert second["added"] == 0
    assert sorted(UsageHourly.objects.values_list("event_count", flat=True)) == [1, 2]
