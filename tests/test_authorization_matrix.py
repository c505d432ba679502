"""Who may do what: every API route and dashboard URL × every kind of caller, with the exact status.

The tables below are the specification. A route added without a row fails
`test_every_route_has_a_row`, so nobody ships an endpoint whose access was never decided.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apikeys.scopes import SCOPES
from apikeys.services import api_key_revoke
from catalog.models import TaxRate
from invoicing.models import CreditNote, CreditNoteItem, Invoice, InvoiceLine, Payment
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import emit
from tests.factories import (
    default_entity,
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

# (url name, method, body, scope a key needs, permission a staff user needs, status when allowed) — the world is built by `world` below.
API = [
    ("healthz", "get", None, PUBLIC, PUBLIC, 200),
    ("readyz", "get", None, PUBLIC, PUBLIC, 200),
    ("auth-login", "post", {}, PUBLIC, PUBLIC, 400),
    ("auth-refresh", "post", {}, PUBLIC, PUBLIC, 401),
    ("schema", "get", None, PUBLIC, PUBLIC, 200),
    ("docs", "get", None, PUBLIC, PUBLIC, 200),
    ("feature-list", "get", None, "features.read", "metering.view_meter", 200),
    ("feature-list", "post", {}, "features.write", "metering.add_meter", 400),
    ("feature-detail", "get", None, "features.read", "metering.view_meter", 200),
    ("feature-detail", "patch", {}, "features.write", "metering.change_meter", 200),
    ("feature-detail", "delete", None, "features.write", "metering.delete_meter", 204),
    ("plan-list", "get", None, "plans.read", "catalog.view_plan", 200),
    ("plan-list", "post", {}, "plans.write", "catalog.add_plan", 400),
    ("plan-detail", "get", None, "plans.read", "catalog.view_plan", 200),
    ("plan-detail", "patch", {}, "plans.write", "catalog.change_plan", 200),
    ("plan-charges", "get", None, "plans.read", "catalog.view_charge", 200),
    ("plan-charges", "post", {}, "plans.write", "catalog.add_charge", 400),
    ("tax-rate-list", "get", None, "tax_rates.read", "catalog.view_taxrate", 200),
    ("tax-rate-list", "post", {}, "tax_rates.write", "catalog.add_taxrate", 400),
    ("tax-rate-detail", "get", None, "tax_rates.read", "catalog.view_taxrate", 200),
    ("tax-rate-detail", "patch", {}, "tax_rates.write", "catalog.change_taxrate", 200),
    ("customer-balance", "get", None, "customers.read", "invoicing.view_creditentry", 200),
    ("customer-balance-transactions", "get", None, "customers.read", "invoicing.view_creditentry", 200),
    ("customer-balance-transactions", "post", {}, "invoices.write", "invoicing.add_creditentry", 400),
    ("customer-list", "get", None, "customers.read", "customers.view_customer", 200),
    ("customer-list", "post", {}, "customers.write", "customers.add_customer", 400),
    ("customer-detail", "get", None, "customers.read", "customers.view_customer", 200),
    ("customer-detail", "patch", {}, "customers.write", "customers.change_customer", 200),
    ("billing-entity-list", "get", None, "billing_entities.read", "customers.view_billingentity", 200),
    ("billing-entity-list", "post", {}, "billing_entities.write", "customers.add_billingentity", 400),
    ("billing-entity-detail", "get", None, "billing_entities.read", "customers.view_billingentity", 200),
    ("billing-entity-detail", "patch", {}, "billing_entities.write", "customers.change_billingentity", 200),
    ("subscription-list", "get", None, "subscriptions.read", "customers.view_subscription", 200),
    ("subscription-list", "post", {}, "subscriptions.write", "customers.add_subscription", 400),
    ("subscription-detail", "get", None, "subscriptions.read", "customers.view_subscription", 200),
    ("subscription-cancel", "post", {}, "subscriptions.write", "customers.cancel_subscription", 200),
    ("subscription-generate-invoice", "post", None, "invoices.write", "invoicing.generate_interim_invoice", 201),
    ("subscription-preview-invoice", "get", None, "invoices.read", "invoicing.view_invoice", 200),
    ("api-key-list", "get", None, "api_keys.read", "apikeys.view_apikey", 200),
    ("api-key-list", "post", {}, "api_keys.write", "apikeys.manage_apikey", 400),
    ("api-key-detail", "get", None, "api_keys.read", "apikeys.view_apikey", 200),
    ("api-key-revoke", "post", None, "api_keys.write", "apikeys.manage_apikey", 200),
    ("invoice-list", "get", None, "invoices.read", "invoicing.view_invoice", 200),
    ("invoice-detail", "get", None, "invoices.read", "invoicing.view_invoice", 200),
    ("invoice-pdf", "get", None, "invoices.read", "invoicing.view_invoice", 200),
    ("invoice-finalize", "post", None, "invoices.write", "invoicing.finalize_invoice", 200),
    ("invoice-mark-paid", "post", {}, "invoices.write", "invoicing.mark_paid_invoice", 409),
    ("invoice-mark-uncollectible", "post", None, "invoices.write", "invoicing.mark_uncollectible_invoice", 409),
    ("invoice-regenerate", "post", None, "invoices.write", "invoicing.regenerate_invoice", 200),
    ("invoice-send-email", "post", None, "invoices.write", "invoicing.send_invoice_email", 409),
    ("invoice-credit-note-preview", "post", {}, "credit_notes.read", "invoicing.view_creditnote", 400),
    ("credit-note-list", "get", None, "credit_notes.read", "invoicing.view_creditnote", 200),
    ("credit-note-list", "post", {}, "credit_notes.write", "invoicing.add_creditnote", 400),
    ("credit-note-detail", "get", None, "credit_notes.read", "invoicing.view_creditnote", 200),
    ("credit-note-pdf", "get", None, "credit_notes.read", "invoicing.view_creditnote", 200),
    ("credit-note-void", "post", {}, "credit_notes.write", "invoicing.void_creditnote", 200),
    ("credit-note-send-email", "post", None, "credit_notes.write", "invoicing.send_creditnote_email", 200),
    ("invoice-void", "post", {}, "invoices.write", "invoicing.void_invoice", 200),
    ("invoice-payments", "get", None, "payments.read", "invoicing.view_payment", 200),
    ("invoice-payments", "post", {}, "payments.write", "invoicing.add_payment", 400),
    ("payment-list", "get", None, "payments.read", "invoicing.view_payment", 200),
    ("payment-detail", "get", None, "payments.read", "invoicing.view_payment", 200),
    ("payment-reverse", "post", {}, "payments.write", "invoicing.reverse_payment", 400),
    ("webhook-endpoint-list", "get", None, "webhooks.read", "webhooks.view_webhookendpoint", 200),
    ("webhook-endpoint-list", "post", {}, "webhooks.write", "webhooks.add_webhookendpoint", 400),
    ("webhook-endpoint-detail", "get", None, "webhooks.read", "webhooks.view_webhookendpoint", 200),
    ("webhook-endpoint-detail", "patch", {}, "webhooks.write", "webhooks.change_webhookendpoint", 200),
    ("webhook-endpoint-detail", "delete", None, "webhooks.write", "webhooks.delete_webhookendpoint", 204),
    ("webhook-endpoint-rotate-secret", "post", None, "webhooks.write", "webhooks.change_webhookendpoint", 200),
    ("webhook-endpoint-send-test", "post", None, "webhooks.write", "webhooks.manage_webhookendpoint", 202),
    ("webhook-endpoint-replay", "post", {}, "webhooks.write", "webhooks.manage_webhookendpoint", 400),
    ("webhook-endpoint-deliveries", "get", None, "webhooks.read", "webhooks.view_webhookendpoint", 200),
    ("webhook-delivery-detail", "get", None, "webhooks.read", "webhooks.view_webhookendpoint", 200),
    ("webhook-delivery-resend", "post", None, "webhooks.write", "webhooks.manage_webhookendpoint", 202),
    ("sdk-track", "post", {}, "usage.write", "metering.add_usageevent", 400),
    ("usage", "post", {}, "usage.write", "metering.add_usageevent", 400),
    ("events", "post", {}, "usage.write", "metering.add_usageevent", 400),
    ("events", "get", None, "usage.read", "metering.view_usageevent", 200),
    ("events-bulk", "post", {}, "usage.write", "metering.add_usageevent", 400),
    ("event-detail", "get", None, "usage.read", "metering.view_usageevent", 200),
    ("meter-usage", "get", None, "usage.read", "metering.view_usageevent", 200),
]

# (url name, method, permission, status when allowed) — GETs of action URLs show their confirmation page.
DASHBOARD = [
    ("desk:overview", "get", "invoicing.view_invoice", 200),
    ("metering:meter-list", "get", "metering.view_meter", 200),
    ("metering:meter-detail", "get", "metering.view_meter", 200),
    ("metering:meter-create", "get", "metering.add_meter", 200),
    ("metering:meter-edit", "get", "metering.change_meter", 200),
    ("metering:meter-archive", "get", "metering.delete_meter", 200),
    ("metering:event-debugger", "get", "metering.view_usageevent", 200),
    ("metering:event-send", "post", "metering.add_usageevent", 200),
    ("metering:event-export", "get", "metering.view_usageevent", 200),
    ("catalog:plan-list", "get", "catalog.view_plan", 200),
    ("catalog:plan-export", "get", "catalog.view_plan", 200),
    ("catalog:plan-detail", "get", "catalog.view_plan", 200),
    ("catalog:plan-create", "get", "catalog.add_plan", 200),
    ("catalog:plan-edit", "get", "catalog.change_plan", 200),
    ("catalog:plan-delete", "get", "catalog.delete_plan", 200),
    ("catalog:plan-search", "get", "catalog.view_plan", 200),
    ("catalog:charge-create", "get", "catalog.add_charge", 200),
    ("catalog:charge-preview", "get", "catalog.view_charge", 200),
    ("catalog:tax-rate-list", "get", "catalog.view_taxrate", 200),
    ("catalog:tax-rate-export", "get", "catalog.view_taxrate", 200),
    ("catalog:tax-rate-create", "get", "catalog.add_taxrate", 200),
    ("catalog:tax-rate-edit", "get", "catalog.change_taxrate", 200),
    ("customers:customer-list", "get", "customers.view_customer", 200),
    ("customers:customer-export", "get", "customers.view_customer", 200),
    ("customers:customer-detail", "get", "customers.view_customer", 200),
    ("customers:customer-create", "get", "customers.add_customer", 200),
    ("customers:customer-edit", "get", "customers.change_customer", 200),
    ("customers:billing-entity-list", "get", "customers.view_billingentity", 200),
    ("customers:billing-entity-export", "get", "customers.view_billingentity", 200),
    ("customers:billing-entity-create", "get", "customers.add_billingentity", 200),
    ("customers:billing-entity-edit", "get", "customers.view_billingentity", 200),
    ("customers:customer-search", "get", "customers.view_customer", 200),
    ("customers:subscription-list", "get", "customers.view_subscription", 200),
    ("customers:subscription-export", "get", "customers.view_subscription", 200),
    ("customers:subscription-detail", "get", "customers.view_subscription", 200),
    ("customers:subscription-create", "get", "customers.add_subscription", 200),
    ("customers:subscription-cancel", "get", "customers.cancel_subscription", 200),
    ("customers:subscription-interim", "get", "invoicing.generate_interim_invoice", 200),
    ("invoicing:invoice-list", "get", "invoicing.view_invoice", 200),
    ("invoicing:invoice-export", "get", "invoicing.view_invoice", 200),
    ("invoicing:invoice-lines-export", "get", "invoicing.view_invoice", 200),
    ("invoicing:invoice-detail", "get", "invoicing.view_invoice", 200),
    ("invoicing:invoice-pdf", "get", "invoicing.view_invoice", 200),
    ("invoicing:invoice-finalize", "get", "invoicing.finalize_invoice", 200),
    ("invoicing:invoice-void", "get", "invoicing.void_invoice", 200),
    ("invoicing:invoice-mark-paid", "get", "invoicing.mark_paid_invoice", 200),
    ("invoicing:invoice-mark-uncollectible", "get", "invoicing.mark_uncollectible_invoice", 200),
    ("invoicing:invoice-regenerate", "get", "invoicing.regenerate_invoice", 200),
    ("invoicing:invoice-resend", "get", "invoicing.send_invoice_email", 200),
    ("invoicing:line-usage", "get", "invoicing.view_invoice", 200),
    ("invoicing:invoice-credit-note-new", "get", "invoicing.add_creditnote", 200),
    ("invoicing:invoice-credit-note-preview", "get", "invoicing.view_creditnote", 200),
    ("invoicing:credit-note-list", "get", "invoicing.view_creditnote", 200),
    ("invoicing:credit-note-export", "get", "invoicing.view_creditnote", 200),
    ("invoicing:credit-note-detail", "get", "invoicing.view_creditnote", 200),
    ("invoicing:credit-note-pdf", "get", "invoicing.view_creditnote", 200),
    ("invoicing:credit-note-void", "get", "invoicing.void_creditnote", 200),
    ("invoicing:credit-note-resend", "get", "invoicing.send_creditnote_email", 200),
    ("invoicing:invoice-record-payment", "get", "invoicing.add_payment", 200),
    ("invoicing:payment-list", "get", "invoicing.view_payment", 200),
    ("invoicing:payment-export", "get", "invoicing.view_payment", 200),
    ("invoicing:payment-reverse", "get", "invoicing.reverse_payment", 200),
    ("invoicing:window-usage", "get", "customers.view_subscription", 400),  # no window named: a 400 page
    ("webhooks:endpoint-list", "get", "webhooks.view_webhookendpoint", 200),
    ("webhooks:endpoint-export", "get", "webhooks.view_webhookendpoint", 200),
    ("webhooks:endpoint-create", "get", "webhooks.add_webhookendpoint", 200),
    ("webhooks:endpoint-detail", "get", "webhooks.view_webhookendpoint", 200),
    ("webhooks:endpoint-rotate", "get", "webhooks.change_webhookendpoint", 302),  # a POST action: GET goes back
    ("webhooks:endpoint-test", "get", "webhooks.manage_webhookendpoint", 302),
    ("webhooks:endpoint-replay", "get", "webhooks.manage_webhookendpoint", 302),
    ("webhooks:delivery-resend", "get", "webhooks.manage_webhookendpoint", 302),
    ("apikeys:key-list", "get", "apikeys.view_apikey", 200),
    ("apikeys:key-create", "get", "apikeys.manage_apikey", 200),
    ("apikeys:key-revoke", "get", "apikeys.manage_apikey", 200),
]
# Reached without the dashboard's roles: the login page itself, logout, and the page that shows a new
# key once (it redirects to the list when there is nothing to show).
DASHBOARD_OPEN = {"core:login": 200, "core:logout": 302}
KEY_CREATED = "apikeys:key-created"

# Staff reach the management API through a session or the JWT cookie of /auth/login, each checked the same way.
STAFF = ["Finance staff", "Support staff", "staff in no group", "non-staff Finance member"]
API_CALLERS = [
    "no key", "unknown key", "revoked key", "expired key", *[f"scope {s}" for s in SCOPES],
    *[f"{who} by {via}" for who in STAFF for via in ("session", "JWT cookie")],
]
DASHBOARD_CALLERS = ["anonymous", "key with *", *STAFF]


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
    tax_rate = TaxRate.objects.create(code="VAT", name="VAT", rate=Decimal("19"))
    event = UsageEventFactory(meter=meter, customer=customer, quantity=Decimal("3"), timestamp=now - dt.timedelta(hours=1))
    invoice = Invoice.objects.create(
        billing_entity=default_entity(),
        customer=customer, subscription=subscription, kind="INTERIM", status="DRAFT", currency="USD",
        period_start=start, period_end=now - dt.timedelta(minutes=5),
    )  # fmt: skip
    line = InvoiceLine.objects.create(invoice=invoice, kind="USAGE", meter=meter, description="Calls", quantity=3, amount=0)
    # A note on an issued invoice, refunded outside Fluxbill (so voiding it, allowed, only takes the refund off the
    # record). Its own invoice: a draft's lines are replaced when it is recomputed, and notes name issued lines.
    issued = Invoice.objects.create(
        billing_entity=default_entity(), number="INV-2026-900001", issued_at=now, due_date=now.date(),
        customer=customer, subscription=subscription, kind="INTERIM", status="OPEN", currency="USD",
        period_start=start, period_end=now - dt.timedelta(minutes=5), subtotal=Decimal("1.00"),
        tax_total=Decimal("0.19"), total=Decimal("1.19"), amount_due=Decimal("1.19"), amount_refunded=Decimal("1.19"),
    )  # fmt: skip
    issued_line = InvoiceLine.objects.create(invoice=issued, kind="USAGE", meter=meter, description="Calls", quantity=3,
                                             amount=Decimal("1.00"))
    note = CreditNote.objects.create(
        number="INV-CN-2026-000001", invoice=issued, customer=customer, billing_entity=default_entity(), currency="USD",
        reason="other", subtotal=Decimal("1.00"), tax_total=Decimal("0.19"), total=Decimal("1.19"),
        refund_amount=Decimal("1.19"), issued_at=now, actor="test",
    )  # fmt: skip
    CreditNoteItem.objects.create(credit_note=note, invoice_line=issued_line, description="Calls", amount=Decimal("1.00"),
                                  tax_amount=Decimal("0.19"), total=Decimal("1.19"))
    payment = Payment.objects.create(invoice=issued, customer=customer, currency="USD", amount=Decimal("1.00"),
                                     applied_amount=Decimal("1.00"), received_at=now.date(), actor="test")
    hook = WebhookEndpoint.objects.create(url="https://hooks.example.com/fluxbill")
    emit("billing.error", data={"world": True})
    delivery = WebhookDelivery.objects.get(endpoint=hook)
    target_key, _ = make_api_key(scopes=["api_keys.write"], name="target")  # a key with that one scope may revoke it
    # Which object a route with a <pk> is about, by the start of its name.
    ids = {
        "feature": meter.pk, "plan": plan.pk, "customer": customer.pk, "subscription": subscription.pk,
        "api-key": target_key.pk, "tax-rate": tax_rate.pk, "catalog:tax-rate": tax_rate.pk, "invoice": invoice.pk, "event": event.pk, "meter": meter.pk,
        "metering:meter": meter.pk, "catalog:plan": plan.pk, "catalog:charge": plan.pk,
        "customers:customer": customer.pk, "customers:subscription": subscription.pk,
        "billing-entity": default_entity().pk, "customers:billing-entity": default_entity().pk,
        "invoicing:invoice": invoice.pk, "invoicing:line": line.pk, "apikeys:key": target_key.pk,
        "webhook-endpoint": hook.pk, "webhook-delivery": delivery.pk, "webhooks:endpoint": hook.pk,
        "webhooks:delivery": delivery.pk,
        "credit-note": note.pk, "invoicing:credit-note": note.pk, "invoicing:invoice-credit-note": issued.pk,
        "payment": payment.pk, "invoicing:payment": payment.pk,
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


def _api_client(caller: str, *, csrf_token: bool = True) -> APIClient:
    # A JWT-cookie caller is checked for CSRF as a browser would be (DRF's test client skips the check
    # unless told); it sends the token, so its cells say what its permissions allow.
    client = APIClient(enforce_csrf_checks=caller.endswith(" by JWT cookie"))
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
    elif " by " in caller:
        who, via = caller.split(" by ")
        user = _staff_user(who)
        if via == "session":
            client.force_login(user)
        else:
            client.cookies[settings.JWT_ACCESS_COOKIE] = str(RefreshToken.for_user(user).access_token)
            if csrf_token:
                token = get_random_string(32)
                client.cookies[settings.CSRF_COOKIE_NAME] = token
                client.credentials(HTTP_X_CSRFTOKEN=token)
    return client


def _staff_user(who: str):
    role = {"Finance staff": "Finance", "Support staff": "Support", "non-staff Finance member": "Finance"}.get(who)
    return _user(role, staff=who != "non-staff Finance member")


# What Support may do beyond reading (fluxbill.core.roles says the same; this table is the specification).
SUPPORT_OPERATIONS = {
    "invoicing.regenerate_invoice", "invoicing.send_invoice_email", "invoicing.send_creditnote_email",
    "invoicing.generate_interim_invoice",
}


def _support_holds(perm: str) -> bool:
    return perm.split(".")[1].startswith("view_") or perm in SUPPORT_OPERATIONS


def _api_expected(caller: str, scope: str, perm: str, ok: int) -> int:
    if scope == PUBLIC:
        return ok
    if caller in ("no key", "unknown key", "revoked key", "expired key"):
        return 401
    if " by " in caller:
        who = caller.split(" by ")[0]
        if who == "Finance staff" or (who == "Support staff" and _support_holds(perm)):
            return ok
        return 403  # no group, a permission the role lacks, or not staff at all
    held = caller.removeprefix("scope ")
    return ok if held in ("*", scope) else 403


@pytest.mark.parametrize("caller", API_CALLERS)
@pytest.mark.parametrize("name,method,body,scope,perm,ok", API, ids=[f"{r[1].upper()} {r[0]}" for r in API])
def test_api_matrix(world, settings, caller, name, method, body, scope, perm, ok):
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
    assert response.status_code == _api_expected(caller, scope, perm, ok), response.content[:300]


UNSAFE_STAFF_ROUTES = [r for r in API if r[1] != "get" and r[4] != PUBLIC]


@pytest.mark.parametrize(
    "name,method,body,scope,perm,ok", UNSAFE_STAFF_ROUTES, ids=[f"{r[1].upper()} {r[0]}" for r in UNSAFE_STAFF_ROUTES]
)
def test_api_jwt_cookie_without_csrf_token_is_403(world, settings, name, method, body, scope, perm, ok):
    """The same cells for Finance staff by JWT cookie, without the CSRF token: every write is refused."""
    settings.FLUXBILL_RATE_LIMIT_SINGLE = settings.FLUXBILL_RATE_LIMIT_BULK = 0
    client = _api_client("Finance staff by JWT cookie", csrf_token=False)
    url = _url(name, world["ids"])

    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)

    assert response.status_code == 403, response.content[:300]
    assert "CSRF" in response.json()["error"]


def _dashboard_expected(caller: str, perm: str, ok: int) -> int:
    if caller in ("anonymous", "key with *"):
        return 302
    if caller == "Finance staff" or (caller == "Support staff" and _support_holds(perm)):
        return ok
    return 403


def _dashboard_client(caller: str) -> Client:
    client = Client()
    if caller == "key with *":
        _, raw = make_api_key(scopes=["*"])
        client.defaults["HTTP_X_API_KEY"] = raw
    elif caller in STAFF:
        client.force_login(_staff_user(caller))
    return client


@pytest.mark.parametrize("caller", DASHBOARD_CALLERS)
@pytest.mark.parametrize("name,method,perm,ok", DASHBOARD, ids=[r[0] for r in DASHBOARD])
def test_dashboard_matrix(world, caller, name, method, perm, ok):
    client = _dashboard_client(caller)
    url = _url(name, world["ids"])
    response = client.get(url) if method == "get" else client.post(url, {})
    expected = _dashboard_expected(caller, perm, ok)
    assert response.status_code == expected, (response.status_code, response.get("Location"))
    if expected == 302 and caller in ("anonymous", "key with *"):
        assert response["Location"].startswith("/login/")  # an allowed POST-only action's GET goes back to its page


@pytest.mark.parametrize("caller", DASHBOARD_CALLERS)
def test_dashboard_open_pages(world, caller):
    client = _dashboard_client(caller)
    created = client.get(reverse(KEY_CREATED, kwargs={"pk": world["ids"]["apikeys:key"]}))
    assert created.status_code == _dashboard_expected(caller, "apikeys.manage_apikey", 302)
    logged_in = caller in STAFF
    # A logged-in user is sent on from the login page; everyone else sees the form.
    assert client.get(reverse("core:login")).status_code == (302 if logged_in else DASHBOARD_OPEN["core:login"])
    assert client.post(reverse("core:logout")).status_code == DASHBOARD_OPEN["core:logout"]


# Django admin: each changelist, and each action, × the staff callers. (model, permission to view it)
ADMIN_CHANGELISTS = [
    ("metering", "meter"), ("metering", "usageevent"), ("catalog", "plan"), ("catalog", "charge"),
    ("customers", "customer"), ("customers", "subscription"), ("invoicing", "invoice"), ("apikeys", "apikey"),
]
# (admin action, the permission it needs, the invoice status it leaves behind when it runs on the DRAFT)
ADMIN_INVOICE_ACTIONS = [
    ("finalize", "invoicing.finalize_invoice", "OPEN"),
    ("void", "invoicing.void_invoice", "VOID"),
    ("regenerate", "invoicing.regenerate_invoice", "DRAFT"),
]
# What an action's intermediate page asks, posted back with it (void asks why).
ADMIN_ACTION_ANSWERS = {"void": {"reason": "authorization matrix", "apply": "yes"}}


def _admin_client(caller: str) -> Client:
    client = Client()
    client.force_login(_staff_user(caller))
    return client


@pytest.mark.parametrize("caller", STAFF)
@pytest.mark.parametrize("app_label,model", ADMIN_CHANGELISTS, ids=[m for _, m in ADMIN_CHANGELISTS])
def test_admin_changelists(world, caller, app_label, model):
    response = _admin_client(caller).get(reverse(f"admin:{app_label}_{model}_changelist"))
    if caller == "non-staff Finance member":
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    else:
        # Both roles read every model; staff in no group hold no permission at all.
        assert response.status_code == (403 if caller == "staff in no group" else 200)


@pytest.mark.parametrize("caller", STAFF)
def test_admin_index_lists_what_the_role_may_see(world, caller):
    response = _admin_client(caller).get(reverse("admin:index"))
    if caller == "non-staff Finance member":
        assert response.status_code == 302
        return
    body = response.content.decode()
    if caller == "staff in no group":
        assert "You don’t have permission to view or edit anything" in body
    else:
        assert "permission to view or edit anything" not in body
        assert reverse("admin:invoicing_invoice_changelist") in body


@pytest.mark.parametrize("caller", STAFF)
@pytest.mark.parametrize("action,perm,after", ADMIN_INVOICE_ACTIONS, ids=[a[0] for a in ADMIN_INVOICE_ACTIONS])
def test_admin_invoice_actions(world, caller, action, perm, after):
    invoice_id = world["ids"]["invoice"]
    client = _admin_client(caller)
    response = client.post(
        reverse("admin:invoicing_invoice_changelist"),
        {"action": action, "_selected_action": [str(invoice_id)], **ADMIN_ACTION_ANSWERS.get(action, {})},
    )
    allowed = caller == "Finance staff" or (caller == "Support staff" and _support_holds(perm))
    status = Invoice.objects.get(pk=invoice_id).status
    assert status == (after if allowed else "DRAFT"), (caller, action, response.status_code)
    if caller == "non-staff Finance member":
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_actions_need_their_permission_not_only_view(world):
    """Found: void, mark paid and finalize ran in admin for a staff user holding only view_invoice."""
    from django.contrib.auth.models import Permission

    user = _user(None, staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client = Client()
    client.force_login(user)
    changelist = reverse("admin:invoicing_invoice_changelist")
    page = client.get(changelist).content.decode()
    assert 'value="void"' not in page and 'value="finalize"' not in page
    invoice_id = world["ids"]["invoice"]
    answers = {"reason": "not allowed", "paid_on": timezone.now().date().isoformat(), "reference": "", "apply": "yes"}
    for action in ("finalize", "void", "mark_paid"):
        client.post(changelist, {"action": action, "_selected_action": [str(invoice_id)]})
        client.post(changelist, {"action": action, "_selected_action": [str(invoice_id)], **answers})
    assert Invoice.objects.get(pk=invoice_id).status == "DRAFT"


def test_role_groups_hold_their_permission_sets(db):
    """The data migration and post_migrate give Finance everything of Fluxbill's apps, Support views and four operations."""
    from django.contrib.auth.models import Permission

    ours = Permission.objects.filter(content_type__app_label__in=["core", "apikeys", "webhooks", "metering", "catalog", "customers", "invoicing"])
    finance = set(Group.objects.get(name="Finance").permissions.values_list("content_type__app_label", "codename"))
    support = set(Group.objects.get(name="Support").permissions.values_list("content_type__app_label", "codename"))
    assert finance == set(ours.values_list("content_type__app_label", "codename"))
    assert ("invoicing", "void_invoice") in finance and ("invoicing", "void_invoice") not in support
    assert {c for _, c in support if not c.startswith("view_")} == {
        "regenerate_invoice", "send_invoice_email", "send_creditnote_email", "generate_interim_invoice",
    }
