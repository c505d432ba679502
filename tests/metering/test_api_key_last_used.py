"""A key's last use is recorded without a write per request: at most once a minute."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apikeys.models import ApiKey
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def client_for(raw_key):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client


def test_first_use_is_recorded_and_a_second_within_a_minute_writes_nothing(django_assert_num_queries):
    key, raw_key = make_api_key(scopes=["usage.read"])
    assert key.last_used_at is None
    client = client_for(raw_key)

    before = timezone.now()
    assert client.get("/api/v1/events").status_code == 200
    first = ApiKey.objects.get(pk=key.pk).last_used_at

    assert first is not None
    assert before <= first <= timezone.now()

    # Key lookup and the page; no UPDATE of the key.
    with django_assert_num_queries(2) as captured:
        assert client.get("/api/v1/events").status_code == 200
    assert not any("UPDATE" in query["sql"] for query in captured.captured_queries)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first


def test_use_after_more_than_a_minute_is_recorded_again():
    key, raw_key = make_api_key(scopes=["usage.read"])
    long_ago = timezone.now() - datetime.timedelta(minutes=2)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=long_ago)

    assert client_for(raw_key).get("/api/v1/events").status_code == 200

    recorded = ApiKey.objects.get(pk=key.pk).last_used_at
    assert recorded > long_ago + datetime.timedelta(minutes=1)


def test_rejected_key_is_not_recorded():
    key, raw_key = make_api_key(scopes=["usage.read"])
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())

    assert client_for(raw_key).get("/api/v1/events").status_code == 401

    assert ApiKey.objects.get(pk=key.pk).last_used_at is None


def test_use_30_seconds_after_the_last_record_writes_nothing():
    key, raw_key = make_api_key(scopes=["usage.read"])
    recent = timezone.now() - datetime.timedelta(seconds=30)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=recent)

    assert client_for(raw_key).get("/api/v1/events").status_code == 200

    assert ApiKey.objects.get(pk=key.pk).last_used_at == recent
