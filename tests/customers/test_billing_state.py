"""customers.services: the billing state the rollover moves, written by customers' own functions."""

import datetime as dt

import pytest
from django.utils import timezone

from customers.choices import SubscriptionStatus
from customers.models import Subscription
from customers.services import subscription_billing_failed, subscriptions_billing_state_save
from tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_a_batch_is_saved_in_one_statement_and_only_billing_fields_are_written(django_assert_num_queries):
    a, b = SubscriptionFactory(), SubscriptionFactory()
    later = timezone.now().replace(microsecond=0) + dt.timedelta(days=40)
    for sub in (a, b):
        sub.current_period_end = later
        sub.status = SubscriptionStatus.ENDED
        sub.ended_at = later
        sub.billing_error, sub.billing_failures = "", 0
        sub.cancel_at = later  # not billing state: stays as stored
    with django_assert_num_queries(1):
        subscriptions_billing_state_save(subscriptions=[a, b])
    for sub in (a, b):
        stored = Subscription.objects.get(pk=sub.pk)
        assert (stored.status, stored.current_period_end, stored.ended_at) == (SubscriptionStatus.ENDED, later, later)
        assert stored.cancel_at is None


def test_a_failure_is_recorded_with_its_retry_time():
    sub = SubscriptionFactory()
    now = timezone.now().replace(microsecond=0)
    subscription_billing_failed(subscription=sub, error="boom", failed_at=now, failures=3, retry_at=now + dt.timedelta(minutes=8))
    sub.refresh_from_db()
    assert (sub.billing_error, sub.billing_error_at, sub.billing_failures, sub.billing_retry_at) == (
        "boom", now, 3, now + dt.timedelta(minutes=8)
    )
