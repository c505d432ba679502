"""The single-event fast path answers exactly as DRF does, and hands DRF everything it does not judge.

Each case is sent twice, fast path on and off, and the two answers are compared field by field
(ids and times aside). A spy on DRF's `APIView.initial` tells which path answered.
"""

import uuid

import pytest
from django.urls import get_script_prefix, set_script_prefix
from rest_framework.views import APIView

from metering.choices import AggregationType
from metering.models import RejectedEvent, UsageEvent
from tests.factories import CustomerFactory, MeterFactory

pytestmark = pytest.mark.django_db

VARIABLE = {"id", "created_at", "timestamp", "customer_id", "event_id"}
NO_SUCH_TOKEN = str(uuid.uuid4())


@pytest.fixture
def drf_calls(monkeypatch):
    """Counts requests that went through DRF's checks (authentication, permissions, throttles)."""
    calls = []
    original = APIView.initial

    def counting(self, request, *args, **kwargs):
        calls.append(request.path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "initial", counting)
    return calls


@pytest.fixture
def meter(db):
    CustomerFactory(external_id="acme")
    return MeterFactory(event_name="api.calls", aggregation_type=AggregationType.SUM, property_name="calls")


# Headers whose values differ from request to request; that they are present is still compared.
VARYING_HEADERS = {"x-request-id", "content-length"}


def comparable(response):
    body = response.json()
    shown = {k: v for k, v in body.items() if k not in VARIABLE} if isinstance(body, dict) else body
    assert int(response["Content-Length"]) == len(response.content)
    # Every header, whichever middleware or view set it (security headers, X-Frame-Options, Allow, Vary, …).
    headers = {name.lower(): (None if name.lower() in VARYING_HEADERS else value) for name, value in response.items()}
    return response.status_code, shown, headers


def both_ways(settings, send):
    """(fast path answer, DRF answer) for the same request; `send(tag)` must vary keys by tag."""
    settings.FLUXBILL_INGEST_FAST_PATH = True
    fast = send("fast")
    settings.FLUXBILL_INGEST_FAST_PATH = False
    slow = send("slow")
    return fast, slow


CASES = {
    "track": ("/api/v1/sdk/track", lambda m, tag: {"meter_token": str(m.token), "customer_external_id": "acme", "quantity": "2.50", "idempotency_key": f"t-{tag}", "metadata": {"calls": 2, "model": "x"}}),
    "track new customer": ("/api/v1/sdk/track", lambda m, tag: {"meter_token": str(m.token), "customer_external_id": f"new-{tag}", "quantity": 1}),
    "usage": ("/api/v1/usage", lambda m, tag: {"meter_id": str(m.id), "customer_id": "acme", "quantity": 3, "idempotency_key": f"u-{tag}"}),
    "events": ("/api/v1/events", lambda m, tag: {"event_name": "api.calls", "external_customer_id": "acme", "event_id": f"e-{tag}", "properties": {"calls": 4}}),
    "bad quantity": ("/api/v1/sdk/track", lambda m, tag: {"meter_token": str(m.token), "customer_external_id": "acme", "quantity": -1}),
    "unknown meter": ("/api/v1/sdk/track", lambda m, tag: {"meter_token": NO_SUCH_TOKEN, "customer_external_id": "acme", "quantity": 1}),
    "unknown event name": ("/api/v1/events", lambda m, tag: {"event_name": "nope", "external_customer_id": "acme"}),
    "unknown customer": ("/api/v1/events", lambda m, tag: {"event_name": "api.calls", "external_customer_id": "ghost", "properties": {"calls": 1}}),
    "missing property": ("/api/v1/events", lambda m, tag: {"event_name": "api.calls", "external_customer_id": "acme"}),
    "not an object": ("/api/v1/sdk/track", lambda m, tag: [1, 2]),
}


@pytest.mark.parametrize("case", CASES)
def test_fast_path_answers_as_drf_does(case, key_client, meter, settings, drf_calls):
    path, body = CASES[case]
    client = key_client("usage.write")

    fast, slow = both_ways(settings, lambda tag: client.post(path, body(meter, tag), format="json"))

    assert comparable(fast) == comparable(slow)
    assert drf_calls == [path], "the fast path should have answered the first request, DRF the second"


def test_both_paths_store_the_same_event_and_log_the_same_rejection(key_client, meter, settings):
    client = key_client("usage.write")
    both_ways(settings, lambda tag: client.post("/api/v1/sdk/track", CASES["track"][1](meter, tag), format="json"))
    both_ways(settings, lambda tag: client.post("/api/v1/sdk/track", CASES["bad quantity"][1](meter, tag), format="json"))

    fast, slow = UsageEvent.objects.order_by("id")
    assert (fast.quantity, fast.properties, fast.customer_id) == (slow.quantity, slow.properties, slow.customer_id)
    rejections = list(RejectedEvent.objects.order_by("id").values_list("endpoint", "field", "error", "api_key_prefix"))
    assert len(rejections) == 2 and rejections[0] == rejections[1]


def test_a_repeated_key_is_answered_by_the_fast_path_with_the_original(key_client, meter, drf_calls):
    client = key_client("usage.write")
    body = CASES["track"][1](meter, "again")
    first = client.post("/api/v1/sdk/track", body, format="json")
    second = client.post("/api/v1/sdk/track", body, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert drf_calls == []


@pytest.mark.parametrize(
    "scenario, status",
    [
        ("no key", 401),
        ("unknown key", 401),
        ("read-only key", 403),
        ("malformed json", 400),
        ("form body", 415),
        ("html only", 406),
    ],
)
def test_what_the_fast_path_does_not_judge_goes_to_drf(scenario, status, key_client, meter, drf_calls):
    client = key_client("usage.read" if scenario == "read-only key" else "usage.write")
    if scenario == "no key":
        client.credentials()
    if scenario == "unknown key":
        client.credentials(HTTP_X_API_KEY="org_live_nosuchkey")
    body = CASES["track"][1](meter, scenario)
    if scenario == "malformed json":
        response = client.post("/api/v1/sdk/track", data='{"quantity": ', content_type="application/json")
    elif scenario == "form body":
        response = client.post("/api/v1/sdk/track", data="quantity=1", content_type="application/x-www-form-urlencoded")
    elif scenario == "html only":
        response = client.post("/api/v1/sdk/track", body, format="json", HTTP_ACCEPT="text/html")
    else:
        response = client.post("/api/v1/sdk/track", body, format="json")

    assert response.status_code == status, response.content
    assert drf_calls == ["/api/v1/sdk/track"]
    assert not UsageEvent.objects.exists()


def test_a_key_over_its_rate_limit_gets_drf_429_with_retry_after(key_client, meter, settings, drf_calls):
    settings.FLUXBILL_RATE_LIMIT_SINGLE = 2
    client = key_client("usage.write")
    answers = [
        client.post("/api/v1/sdk/track", CASES["track"][1](meter, str(i)), format="json") for i in range(3)
    ]

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert int(answers[2]["Retry-After"]) >= 1
    assert drf_calls == ["/api/v1/sdk/track"]
    assert UsageEvent.objects.count() == 2


def test_a_host_outside_allowed_hosts_is_refused_before_the_fast_path(key_client, meter):
    client = key_client("usage.write")
    response = client.post("/api/v1/sdk/track", CASES["track"][1](meter, "host"), format="json", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert not UsageEvent.objects.exists()


def test_a_malformed_body_counts_once_against_the_rate_limit(key_client, meter, settings):
    settings.FLUXBILL_RATE_LIMIT_SINGLE = 2
    client = key_client("usage.write")
    bad = client.post("/api/v1/sdk/track", data='{"quantity": ', content_type="application/json")
    good = client.post("/api/v1/sdk/track", CASES["track"][1](meter, "after-bad"), format="json")
    over = client.post("/api/v1/sdk/track", CASES["track"][1](meter, "over"), format="json")

    assert (bad.status_code, good.status_code, over.status_code) == (400, 201, 429)


@pytest.fixture
def mounted_under_billing():
    """The application mounted under /billing, as a proxy's SCRIPT_NAME would mount it."""
    previous = get_script_prefix()
    set_script_prefix("/billing/")
    yield {"SCRIPT_NAME": "/billing"}
    set_script_prefix(previous)


def test_the_fast_path_serves_an_application_mounted_under_a_prefix(key_client, meter, drf_calls, mounted_under_billing):
    client = key_client("usage.write")
    tracked = client.post("/api/v1/sdk/track", CASES["track"][1](meter, "mounted"), format="json", **mounted_under_billing)
    # Other POSTs go down the stack as before.
    login = client.post("/api/v1/auth/login", {"username": "nobody", "password": "x"}, format="json", **mounted_under_billing)

    assert tracked.status_code == 201, tracked.content
    assert login.status_code in (400, 401), login.content
    assert drf_calls == ["/billing/api/v1/auth/login"]
