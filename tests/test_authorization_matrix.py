"""Who may do what: every API route and dashboard URL × every kind of caller, with the exact status.

The tables below are the specification. A route added without a row fails
`test_every_route_has_a_row`, so nobody ships an endpoint whose access was never decided.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apikeys.scopes import SCOPES
from apikeys.services import api_key_revoke
from invoicing.models import Invoice
from tests.factories import (
    CustomerFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageChargeFactory,
    UsageEventFactory,
    UserFactory,
    make_api_key,
)

PUBLIC = "public"

# (url name, method, body, scope needed, status when allowed) — the world is built by `world` below.
API = [
    ("healthz", "get", None, PUBLIC, 200),
    ("readyz", "get", None, PUBLIC, 200),
    ("auth-login", "post", {}, PUBLIC, 400),
    ("auth-refresh", "post", {}, PUBLIC, 401),
    ("schema", "get", None, PUBLIC, 200),
    ("docs", "get", None, PUBLIC, 200),
    ("feature-list", "get", None, "features.read", 200),
    ("feature-list", "post", {}, "features.write", 400),
    ("feature-detail", "get", None, "features.read", 200),
    ("feature-detail", "patch", {}, "features.write", 200),
    ("feature-detail", "delete", None, "features.write", 204),
    ("plan-list", "get", None, "plans.read", 200),
    ("plan-list", "post", {}, "plans.write", 400),
    ("plan-detail", "get", None, "plans.read", 200),
    ("plan-detail", "patch", {}, "plans.write", 200),
    ("plan-charges", "get", None, "plans.read", 200),
    ("plan-charges", "post", {}, "plans.write", 400),
    ("customer-list", "get", None, "customers.read", 200),
    ("customer-list", "post", {}, "customers.write", 400),
    ("customer-detail", "get", None, "customers.read", 200),
    ("customer-detail", "patch", {}, "customers.write", 200),
    ("subscription-list", "get", None, "subscriptions.read", 200),
    ("subscription-list", "post", {}, "subscriptions.write", 400),
    ("subscription-detail", "get", None, "subscriptions.read", 200),
    ("subscription-cancel", "post", {}, "subscriptions.write", 200),
    ("subscription-generate-invoice", "post", None, "invoices.write", 201),
    ("subscription-preview-invoice", "get", None, "invoices.read", 200),
    ("api-key-list", "get", None, "api_keys.read", 200),
    ("api-key-list", "post", {}, "api_keys.write", 400),
    ("api-key-detail", "get", None, "api_keys.read", 200),
    ("api-key-revoke", "post", None, "api_keys.write", 200),
    ("invoice-list", "get", None, "invoices.read", 200),
    ("invoice-detail", "get", None, "invoices.read", 200),
    ("invoice-pdf", "get", None, "invoices.read", 200),
    ("invoice-finalize", "post", None, "invoices.write", 200),
    ("invoice-mark-paid", "post", {}, "invoices.write", 409),
    ("invoice-mark-uncollectible", "post", None, "invoices.write", 409),
    ("invoice-regenerate", "post", None, "invoices.write", 200),
    ("invoice-send-email", "post", None, "invoices.write", 409),
    ("invoice-void", "post", {}, "invoices.write", 200),
    ("sdk-track", "post", {}, "usage.write", 400),
    ("usage", "post", {}, "usage.write", 400),
    ("events", "post", {}, "usage.write", 400),
    ("events", "get", None, "usage.read", 200),
    ("events-bulk", "post", {}, "usage.write", 400),
    ("event-detail", "get", None, "usage.read", 200),
    ("meter-usage", "get", None, "usage.read", 200),
]

READ, SUPPORT, FINANCE = "read", "support_action", "finance"
# (url name, method, level, status when allowed) — GETs of action URLs show their confirmation page.
DASHBOARD = [
    ("core:overview", "get", READ, 200),
    ("metering:meter-list", "get", READ, 200),
    ("metering:meter-detail", "get", READ, 200),
    ("metering:meter-create", "get", FINANCE, 200),
    ("metering:meter-edit", "get", FINANCE, 200),
    ("metering:meter-archive", "get", FINANCE, 200),
    ("metering:event-debugger", "get", READ, 200),
    ("metering:event-send", "post", FINANCE, 200),
    ("catalog:plan-list", "get", READ, 200),
    ("catalog:plan-detail", "get", READ, 200),
    ("catalog:plan-create", "get", FINANCE, 200),
    ("catalog:plan-edit", "get", FINANCE, 200),
    ("catalog:plan-delete", "get", FINANCE, 200),
    ("catalog:charge-create", "get", FINANCE, 200),
    ("catalog:charge-preview", "get", READ, 200),
    ("customers:customer-list", "get", READ, 200),
    ("customers:customer-detail", "get", READ, 200),
    ("customers:customer-create", "get", FINANCE, 200),
    ("customers:customer-edit", "get", FINANCE, 200),
    ("customers:subscription-list", "get", READ, 200),
    ("customers:subscription-detail", "get", READ, 200),
    ("customers:subscription-create", "get", FINANCE, 200),
    ("customers:subscription-cancel", "get", FINANCE, 200),
    ("customers:subscription-interim", "get", FINANCE, 200),
    ("invoicing:invoice-list", "get", READ, 200),
    ("invoicing:invoice-export", "get", READ, 200),
    ("invoicing:invoice-detail", "get", READ, 200),
    ("invoicing:invoice-pdf", "get", READ, 200),
    ("invoicing:invoice-finalize", "get", FINANCE, 200),
    ("invoicing:invoice-void", "get", FINANCE, 200),
    ("invoicing:invoice-mark-paid", "get", FINANCE, 200),
    ("invoicing:invoice-mark-uncollectible", "get", FINANCE, 200),
    ("invoicing:invoice-regenerate", "get", SUPPORT, 200),
    ("invoicing:invoice-resend", "get", SUPPORT, 200),
    ("apikeys:key-list", "get", READ, 200),
    ("apikeys:key-create", "get", FINANCE, 200),
    ("apikeys:key-revoke", "get", FINANCE, 200),
]
# Reached without the dashboard's roles: the login page itself, logout, and the page that shows a new
# key once (it redirects to the list when there is nothing to show).
DASHBOARD_OPEN = {"core:login": 200, "core:logout": 302}
KEY_CREATED = "apikeys:key-created"

API_CALLERS = ["no key", "unknown key", "revoked key", "expired key", *[f"scope {s}" for s in SCOPES], "Support user", "Finance user"]
DASHBOARD_CALLERS = ["anonymous", "key with *", "no role", "Support user", "Finance user"]


def _routes(patterns=None, namespace=None):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("admin/"):
                continue
            yield from _routes(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_route_has_a_row():
    covered = {row[0] for row in API} | {row[0] for row in DASHBOARD} | set(DASHBOARD_OPEN) | {KEY_CREATED}
    routes = set(_routes()) - {"bench-plain"}
    assert routes - covered == set(), "routes without a row in the authorization matrix"
    assert covered - routes == set(), "rows for routes that no longer exist"


@pytest.fixture
def world(db):
    now = timezone.now()
    meter = MeterFactory(event_name="m.calls", property_name="n")
    plan = PlanFactory(type="HYBRID")
    UsageChargeFactory(plan=plan, meter=meter, unit_price=Decimal("0.10"))
    customer = CustomerFactory(email="billing@example.com")
    start = now - dt.timedelta(days=2)
    subscription = SubscriptionFactory(customer=customer, plan=plan, start_date=start)
    event = UsageEventFactory(meter=meter, customer=customer, quantity=Decimal("3"), timestamp=now - dt.timedelta(hours=1))
    invoice = Invoice.objects.create(
        customer=customer, subscription=subscription, kind="INTERIM", status="DRAFT", currency="USD",
        period_start=start, period_end=now - dt.timedelta(minutes=5),
    )  # fmt: skip
    target_key, _ = make_api_key(scopes=["usage.read"], name="target")
    # Which object a route with a <pk> is about, by the start of its name.
    ids = {
        "feature": meter.pk, "plan": plan.pk, "customer": customer.pk, "subscription": subscription.pk,
        "api-key": target_key.pk, "invoice": invoice.pk, "event": event.pk, "meter": meter.pk,
        "metering:meter": meter.pk, "catalog:plan": plan.pk, "catalog:charge": plan.pk,
        "customers:customer": customer.pk, "customers:subscription": subscription.pk,
        "invoicing:invoice": invoice.pk, "apikeys:key": target_key.pk,
    }  # fmt: skip
    return {"ids": ids, "now": now}


def _url(name: str, ids: dict) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        prefix = max((p for p in ids if name.startswith(p + "-")), key=len)
        return reverse(name, kwargs={"pk": ids[prefix]})


def _user(role: str | None, *, staff: bool = False):
    user = UserFactory(username=f"u-{role or 'none'}", is_staff=staff)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def _api_client(caller: str) -> APIClient:
    client = APIClient()
    now = timezone.now()
    if caller == "unknown key":
        client.credentials(HTTP_X_API_KEY="org_live_" + "x" * 43)
    elif caller == "revoked key":
        key, raw = make_api_key(scopes=["*"])
        api_key_revoke(key=key, now=now)
        client.credentials(HTTP_X_API_KEY=raw)
    elif caller == "expired key":
        key, raw = make_api_key(scopes=["*"], expires_at=now + dt.timedelta(seconds=1))
        type(key).objects.filter(pk=key.pk).update(expires_at=now - dt.timedelta(seconds=1))
        client.credentials(HTTP_X_API_KEY=raw)
    elif caller.startswith("scope "):
        _, raw = make_api_key(scopes=[caller.removeprefix("scope ")])
        client.credentials(HTTP_X_API_KEY=raw)
    elif caller in ("Support user", "Finance user"):
        client.force_login(_user(caller.split()[0]))
    return client


def _api_expected(caller: str, scope: str, ok: int) -> int:
    if scope == PUBLIC:
        return ok
    if caller in ("no key", "unknown key", "revoked key", "expired key"):
        return 401
    if caller in ("Support user", "Finance user"):
        return 403  # the management API is for API keys and staff accounts, not dashboard roles
    held = caller.removeprefix("scope ")
    return ok if held in ("*", scope) else 403


@pytest.mark.parametrize("caller", API_CALLERS)
@pytest.mark.parametrize("name,method,body,scope,ok", API, ids=[f"{r[1].upper()} {r[0]}" for r in API])
def test_api_matrix(world, settings, caller, name, method, body, scope, ok):
    settings.FLUXBILL_RATE_LIMIT_SINGLE = settings.FLUXBILL_RATE_LIMIT_BULK = 0
    client = _api_client(caller)
    url = _url(name, world["ids"])
    params = {}
    if name == "meter-usage":
        params = {"from": (world["now"] - dt.timedelta(days=1)).isoformat(), "to": world["now"].isoformat()}
    if method == "get":
        response = client.get(url, params)
    else:
        response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    assert response.status_code == _api_expected(caller, scope, ok), response.content[:300]


def _dashboard_expected(caller: str, level: str, ok: int) -> int:
    if caller in ("anonymous", "key with *"):
        return 302
    if caller == "no role":
        return 403
    if caller == "Support user" and level == FINANCE:
        return 403
    return ok


def _dashboard_client(caller: str) -> Client:
    client = Client()
    if caller == "key with *":
        _, raw = make_api_key(scopes=["*"])
        client.defaults["HTTP_X_API_KEY"] = raw
    elif caller == "no role":
        client.force_login(_user(None))
    elif caller in ("Support user", "Finance user"):
        client.force_login(_user(caller.split()[0]))
    return client


@pytest.mark.parametrize("caller", DASHBOARD_CALLERS)
@pytest.mark.parametrize("name,method,level,ok", DASHBOARD, ids=[r[0] for r in DASHBOARD])
def test_dashboard_matrix(world, caller, name, method, level, ok):
    client = _dashboard_client(caller)
    url = _url(name, world["ids"])
    response = client.get(url) if method == "get" else client.post(url, {})
    expected = _dashboard_expected(caller, level, ok)
    assert response.status_code == expected, (response.status_code, response.get("Location"))
    if expected == 302:
        assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("caller", DASHBOARD_CALLERS)
def test_dashboard_open_pages(world, caller):
    client = _dashboard_client(caller)
    created = client.get(reverse(KEY_CREATED, kwargs={"pk": world["ids"]["apikeys:key"]}))
    assert created.status_code == _dashboard_expected(caller, FINANCE, 302)
    logged_in = caller in ("no role", "Support user", "Finance user")
    # A logged-in user is sent on from the login page; everyone else sees the form.
    assert client.get(reverse("core:login")).status_code == (302 if logged_in else DASHBOARD_OPEN["core:login"])
    assert client.post(reverse("core:logout")).status_code == DASHBOARD_OPEN["core:logout"]
