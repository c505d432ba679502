"""aggregate_usage_batch (the rollover's set-wise aggregation) answers exactly what aggregate_usage answers."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from metering.aggregation import UsageWindow, aggregate_usage, aggregate_usage_batch, unique_property
from metering.choices import AggregationType
from tests.factories import CustomerFactory, MeterFactory, UsageEventFactory

pytestmark = pytest.mark.django_db

START = datetime(2024, 2, 1, tzinfo=timezone.utc)
END = datetime(2024, 3, 1, tzinfo=timezone.utc)


def _window(meter, customer, start=START, end=END) -> UsageWindow:
    return UsageWindow(customer.pk, meter.pk, meter.aggregation_type, unique_property(meter), start, end)


def test_every_aggregation_type_matches_the_single_window_query_at_the_period_edges():
    customers = CustomerFactory.create_batch(2)
    meters = [
        MeterFactory(aggregation_type=kind, property_name="user_id" if kind == AggregationType.UNIQUE_COUNT else "value")
        for kind in AggregationType.values
    ]
    instants = [START - timedelta(seconds=1), START, START + timedelta(days=3), END - timedelta(microseconds=1), END]
    for meter in meters:
        for c, customer in enumerate(customers):
            for i, instant in enumerate(instants):
                UsageEventFactory(
                    meter=meter,
                    customer=customer,
                    quantity=Decimal(f"{(i + 1) * (c + 2)}.25"),
                    timestamp=instant,
                    properties={"user_id": f"u{i % 2}"},
                )
    windows = [_window(meter, customer) for meter in meters for customer in customers]
    answers = aggregate_usage_batch(windows)
    for window, meter in zip(windows, [m for m in meters for _ in customers]):
        expected = aggregate_usage(meter=meter, customer_id=window.customer_id, start=START, end=END)
        assert answers[window] == expected, meter.aggregation_type


def test_latest_takes_the_event_stored_last_among_those_at_the_latest_instant():
    meter = MeterFactory(aggregation_type=AggregationType.LATEST)
    customer = CustomerFactory()
    instant = START + timedelta(days=10)
    UsageEventFactory(meter=meter, customer=customer, quantity=Decimal("9"), timestamp=instant - timedelta(hours=1))
    UsageEventFactory(meter=meter, customer=customer, quantity=Decimal("5"), timestamp=instant)
    UsageEventFactory(meter=meter, customer=customer, quantity=Decimal("7"), timestamp=instant)
    UsageEventFactory(meter=meter, customer=customer, quantity=Decimal("3"), timestamp=instant - timedelta(hours=2))
    UsageEventFactory(meter=meter, customer=customer, quantity=Decimal("100"), timestamp=END)  # outside: half-open
    window = _window(meter, customer)
    assert aggregate_usage_batch([window])[window] == Decimal("7")
    assert aggregate_usage(meter=meter, customer_id=customer.pk, start=START, end=END) == Decimal("7")


def test_windows_without_events_are_zero_and_repeated_windows_are_answered_once():
    meters = [MeterFactory(aggregation_type=kind) for kind in AggregationType.values]
    customer = CustomerFactory()
    windows = [_window(meter, customer) for meter in meters]
    answers = aggregate_usage_batch(windows + windows)
    assert answers == {window: Decimal(0) for window in windows}
