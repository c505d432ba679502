"""Subscription pages: list (filters, sort, pages), create, the subscription page with its preview,
cancel now / at period end, and interim invoices."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.choices import PricingModel
from customers.choices import SubscriptionStatus
from customers.models import Subscription
from invoicing.choices import InvoiceKind, InvoiceStatus
from invoicing.models import Invoice
from tests.dashboard.helpers import csv_rows
from tests.factories import (
    CustomerFactory,
    FixedChargeFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageChargeFactory,
    UsageEventFactory,
)

pytestmark = pytest.mark.django_db

TIERS = [{"up_to": "100", "unit_price": "1.00", "flat_amount": "0"}, {"up_to": None, "unit_price": "0.50", "flat_amount": "0"}]


def _graduated_subscription(*, units: str | None = "150", customer=None):
    """Monthly USD: a 49.00 fee and graduated usage (0–100 @ 1.00, over 100 @ 0.50); started 2 days ago."""
    plan = PlanFactory(name="Pro", currency="USD")
    FixedChargeFactory(plan=plan, amount=Decimal("49.00"), display_name="Platform fee")
    usage = UsageChargeFactory(
        plan=plan, pricing_model=PricingModel.GRADUATED, unit_price=None, tiers=TIERS, display_name="Requests"
    )
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    subscription = SubscriptionFactory(plan=plan, start_date=start, **({"customer": customer} if customer else {}))
    if units:
        UsageEventFactory(
            customer=subscription.customer, meter=usage.meter, quantity=Decimal(units), timestamp=start + dt.timedelta(hours=1)
        )
    return subscription


def _urls(subscription):
    base = f"/subscriptions/{subscription.pk}/"
    return ["/subscriptions/", "/subscriptions/new/", base, base + "cancel/", base + "interim/"]


# --- permissions --------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    subscription = SubscriptionFactory()
    for url in _urls(subscription):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/login/?next={url}", url
    response = client.post(f"/subscriptions/{subscription.pk}/cancel/", {"when": "now"})
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.canceled_at is None


def test_user_without_role_gets_403(nobody_client):
    subscription = SubscriptionFactory()
    for url in _urls(subscription):
        assert nobody_client.get(url).status_code == 403, url


def test_support_reads_and_bills_interim_but_cannot_create_or_cancel(support_client):
    subscription = _graduated_subscription()
    plan = subscription.plan
    assert support_client.get("/subscriptions/").status_code == 200
    page = support_client.get(f"/subscriptions/{subscription.pk}/")
    assert page.status_code == 200
    # Support may draft an interim invoice (a correction tool), not cancel or subscribe.
    assert "Cancel now" not in page.content.decode() and "Generate interim invoice" in page.content.decode()
    assert support_client.get("/subscriptions/new/").status_code == 403
    response = support_client.post(
        "/subscriptions/new/", {"customer": subscription.customer.external_id, "plan": plan.pk}
    )
    assert response.status_code == 403
    assert support_client.post(f"/subscriptions/{subscription.pk}/cancel/", {"when": "now"}).status_code == 403
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE and subscription.cancel_at is None
    assert Subscription.objects.count() == 1
    assert support_client.post(f"/subscriptions/{subscription.pk}/interim/").status_code == 302
    assert Invoice.objects.get().kind == "INTERIM"


# --- the list -------------------------------------------------------------------------------


def test_filter_by_status_and_plan(finance_client):
    basic, pro = PlanFactory(name="Basic"), PlanFactory(name="Pro")
    a = SubscriptionFactory(plan=basic, customer=CustomerFactory(name="A"))
    b = SubscriptionFactory(plan=pro, customer=CustomerFactory(name="B"), status=SubscriptionStatus.TRIAL)
    c = SubscriptionFactory(plan=pro, customer=CustomerFactory(name="C"))

    def pks(**params):
        return {s.pk for s in finance_client.get("/subscriptions/", params).context["page"].object_list}

    assert pks() == {a.pk, b.pk, c.pk}
    assert pks(status="TRIAL") == {b.pk}
    assert pks(plan=pro.pk) == {b.pk, c.pk}
    assert pks(plan=pro.pk, status="ACTIVE") == {c.pk}
    assert pks(customer=a.customer.pk) == {a.pk}
    # an invalid filter value is reported beside its field, with a 400 as on every list
    response = finance_client.get("/subscriptions/", {"status": "BOGUS"})
    assert response.status_code == 400
    assert "status" in response.context["form"].errors


def test_sorting_by_customer_and_plan(finance_client):
    SubscriptionFactory(plan=PlanFactory(name="Zeta"), customer=CustomerFactory(name="Alpha"))
    SubscriptionFactory(plan=PlanFactory(name="Beta"), customer=CustomerFactory(name="Omega"))

    def customers(sort):
        return [s.customer.name for s in finance_client.get("/subscriptions/", {"sort": sort}).context["page"].object_list]

    assert customers("customer") == ["Alpha", "Omega"]
    assert customers("-customer") == ["Omega", "Alpha"]
    assert customers("plan") == ["Omega", "Alpha"]  # Beta before Zeta


def test_empty_states(finance_client, support_client):
    assert "Subscribe a customer to a plan" in finance_client.get("/subscriptions/").content.decode()
    assert "Subscribe a customer to a plan" not in support_client.get("/subscriptions/").content.decode()
    body = finance_client.get("/subscriptions/", {"status": "ENDED"}).content.decode()
    assert "No subscription matches these filters" in body


def test_sixty_subscriptions_constant_queries(finance_client, django_assert_max_num_queries):
    plans = [PlanFactory() for _ in range(3)]
    for n in range(60):
        SubscriptionFactory(plan=plans[n % 3])
    # session, user, groups, plans for the filter, count, rows with customer and plan joined
    with django_assert_max_num_queries(7):
        response = finance_client.get("/subscriptions/", {"page": 2})
    page = response.context["page"]
    assert len(page.object_list) == 25 and page.paginator.count == 60
    # filtering by plan adds one: the form looks the chosen plan up
    with django_assert_max_num_queries(8):
        response = finance_client.get("/subscriptions/", {"page": 1, "plan": plans[0].pk, "sort": "-customer"})
    assert len(response.context["page"].object_list) == 20


# --- create -----------------------------------------------------------------------------------


def test_finance_creates_a_subscription_starting_on_a_day(finance_client):
    customer = CustomerFactory(external_id="acme-001")
    plan = PlanFactory(billing_interval="month")
    response = finance_client.post(
        "/subscriptions/new/", {"customer": "acme-001", "plan": plan.pk, "start_date": "2026-01-31"}, follow=True
    )
    subscription = Subscription.objects.get(customer=customer)
    utc = dt.timezone.utc
    assert subscription.plan == plan
    assert subscription.start_date == dt.datetime(2026, 1, 31, tzinfo=utc)
    # the first period is [Jan 31, Feb 28), the day clamped to February's length
    assert subscription.current_period_start == dt.datetime(2026, 1, 31, tzinfo=utc)
    assert subscription.current_period_end == dt.datetime(2026, 2, 28, tzinfo=utc)
    assert response.redirect_chain == [(f"/subscriptions/{subscription.pk}/", 302)]
    assert "is subscribed to" in response.content.decode()


def test_without_a_start_date_it_starts_now(finance_client):
    customer = CustomerFactory(external_id="acme-001")
    plan = PlanFactory()
    before = timezone.now()
    finance_client.post("/subscriptions/new/", {"customer": "acme-001", "plan": plan.pk})
    subscription = Subscription.objects.get(customer=customer)
    assert before <= subscription.start_date <= timezone.now()


def test_create_is_prefilled_from_the_customer_page(finance_client):
    customer = CustomerFactory(external_id="acme-001")
    form = finance_client.get("/subscriptions/new/", {"customer": customer.pk}).context["form"]
    assert form.initial["customer"] == "acme-001"
    # a malformed id is ignored rather than failing
    assert finance_client.get("/subscriptions/new/", {"customer": "nope"}).status_code == 200


def test_create_form_errors_beside_fields(finance_client):
    archived = PlanFactory(active=False)
    response = finance_client.post("/subscriptions/new/", {"customer": "ghost", "plan": archived.pk, "start_date": "31/01/2026"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["customer"] == ["No customer has the external id 'ghost'. Type part of a name to search."]
    assert errors["plan"] == [f"No active plan has the lookup id or name '{archived.pk}'."]
    assert errors["start_date"] == ["Enter a valid date."]
    body = response.content.decode()
    assert '<div class="field has-error" data-field="customer">' in body
    assert not Subscription.objects.exists()


def test_a_refusal_from_the_service_is_shown_on_the_form(finance_client, monkeypatch):
    """Rules live in the service; its DomainError lands on the field it names."""
    from customers import views
    from fluxbill.core.errors import InvalidInput

    def refuse(**kwargs):
        raise InvalidInput("Plan 'pro' is archived and takes no new subscriptions", field="plan_id")

    monkeypatch.setattr(views.services, "subscription_create", refuse)
    customer = CustomerFactory(external_id="acme-001")
    response = finance_client.post("/subscriptions/new/", {"customer": "acme-001", "plan": PlanFactory().pk})
    assert response.status_code == 200
    assert response.context["form"].errors["plan"] == ["Plan 'pro' is archived and takes no new subscriptions"]
    assert not customer.subscriptions.exists()


# --- the subscription page ------------------------------------------------------------------------


def test_preview_of_the_next_invoice(support_client):
    subscription = _graduated_subscription(units="150")
    response = support_client.get(f"/subscriptions/{subscription.pk}/")
    preview = response.context["preview"]
    # 49.00 fee + graduated 150 units: 100 × 1.00 + 50 × 0.50 = 125.00 → 174.00
    assert [(line.description, line.amount) for line in preview.lines] == [
        ("Platform fee", Decimal("49.00")),
        ("Requests", Decimal("125.00")),
    ]
    assert preview.total == Decimal("174.00")
    body = response.content.decode()
    assert "$174.00" in body and "$125.00" in body
    # the tier rows, in the meter's unit and the currency
    assert '<td class="num">100 units</td>' in body and '<td class="num">50 units</td>' in body
    assert '<td class="num">$0.50</td>' in body
    assert not Invoice.objects.exists()  # a preview stores nothing


def test_no_preview_for_an_ended_subscription(finance_client):
    subscription = SubscriptionFactory(status=SubscriptionStatus.ENDED)
    response = finance_client.get(f"/subscriptions/{subscription.pk}/")
    assert response.context["preview"] is None
    assert "No preview: Subscription is ENDED; nothing left to bill" in response.content.decode()
    assert "Cancel now" not in response.content.decode()


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_at_period_end(finance_client):
    subscription = _graduated_subscription()
    end = subscription.current_period_end
    response = finance_client.post(f"/subscriptions/{subscription.pk}/cancel/", {"when": "period_end"}, follow=True)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.cancel_at == end and subscription.current_period_end == end
    assert subscription.canceled_at is not None
    assert f"will end at the end of its current period ({end:%Y-%m-%d %H:%M} UTC)" in response.content.decode()


def test_cancel_now(finance_client):
    subscription = _graduated_subscription()
    before = timezone.now()
    response = finance_client.post(f"/subscriptions/{subscription.pk}/cancel/", {"when": "now"}, follow=True)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCELED
    assert before <= subscription.cancel_at <= timezone.now()
    assert subscription.current_period_end == subscription.cancel_at
    assert "Subscription canceled now" in response.content.decode()


def test_cancel_twice_is_a_message_not_a_500(finance_client):
    subscription = _graduated_subscription()
    finance_client.post(f"/subscriptions/{subscription.pk}/cancel/", {"when": "now"})
    response = finance_client.post(f"/subscriptions/{subscription.pk}/cancel/", {"when": "period_end"}, follow=True)
    assert response.status_code == 200
    assert "Subscription is already CANCELED" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCELED


def test_cancel_without_saying_when_changes_nothing(finance_client):
    subscription = _graduated_subscription()
    response = finance_client.post(f"/subscriptions/{subscription.pk}/cancel/", {"when": "tomorrow"}, follow=True)
    assert "Choose when to cancel" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.canceled_at is None


def test_cancel_page_confirms_first(finance_client):
    subscription = _graduated_subscription()
    response = finance_client.get(f"/subscriptions/{subscription.pk}/cancel/")
    assert response.status_code == 200
    assert "Canceling now bills the period up to this moment" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.canceled_at is None
    detail = finance_client.get(f"/subscriptions/{subscription.pk}/").content.decode()
    assert 'data-confirm="Cancel this subscription now?' in detail


# --- interim invoices ---------------------------------------------------------------------------


def test_generate_interim_invoice(finance_client):
    subscription = _graduated_subscription(units="150")
    response = finance_client.post(f"/subscriptions/{subscription.pk}/interim/", follow=True)
    invoice = Invoice.objects.get(subscription=subscription)
    assert (invoice.kind, invoice.status) == (InvoiceKind.INTERIM, InvoiceStatus.DRAFT)
    assert invoice.total == Decimal("174.00")
    assert invoice.audit.get().actor == "user:fiona"
    assert response.redirect_chain == [(f"/invoices/{invoice.pk}/", 302)]
    assert "Interim invoice drafted" in response.content.decode()


def test_interim_for_an_ended_subscription_is_refused_with_a_message(finance_client):
    subscription = SubscriptionFactory(status=SubscriptionStatus.ENDED)
    response = finance_client.post(f"/subscriptions/{subscription.pk}/interim/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(f"/subscriptions/{subscription.pk}/", 302)]
    assert "Subscription is ENDED; nothing left to bill" in response.content.decode()
    assert not Invoice.objects.exists()


# --- picking customer and plan by search -------------------------------------------------------------


def test_customer_search_finds_by_part_of_a_name_email_or_external_id(finance_client):
    # Found: the form wanted the exact external id typed in; the picker offers matches instead.
    CustomerFactory(name="Acme Corporation", external_id="acme-001", email="billing@acme.io")
    CustomerFactory(name="Globex", external_id="glx-7", email="ap@globex.example")
    CustomerFactory(name="Initech", external_id="acme-lookalike", email="it@initech.example")

    def values(q):
        response = finance_client.get("/customers/search.json", {"q": q})
        assert response.status_code == 200
        return [item["value"] for item in response.json()["results"]]

    assert values("corpor") == ["acme-001"]
    assert values("globex.example") == ["glx-7"]
    assert values("acme-001") == ["acme-001"]  # the exact external id first
    assert values("acme") == ["acme-001", "acme-lookalike"]
    assert values("") == []
    assert finance_client.get("/customers/search.json", {"q": "acme"}).json()["results"][0]["label"] == "Acme Corporation · billing@acme.io"


def test_plan_search_offers_active_plans_only(finance_client):
    PlanFactory(name="Pro monthly", lookup_id="pro-m")
    PlanFactory(name="Pro legacy", lookup_id="pro-old", active=False)

    found = finance_client.get("/plans/search.json", {"q": "pro"}).json()["results"]

    assert [item["value"] for item in found] == ["pro-m"]


def test_the_form_takes_what_the_picker_fills_in_and_names_too(finance_client):
    customer = CustomerFactory(external_id="acme-001")
    plan = PlanFactory(name="Starter", lookup_id="starter")

    by_lookup = finance_client.post("/subscriptions/new/", {"customer": "acme-001", "plan": "starter"})
    assert by_lookup.status_code == 302
    by_name = finance_client.post("/subscriptions/new/", {"customer": str(customer.pk), "plan": "starter "})
    assert by_name.status_code == 302
    assert customer.subscriptions.filter(plan=plan).count() == 2
    page = finance_client.get("/subscriptions/new/").content.decode()
    assert 'data-search-url="/customers/search.json"' in page and 'list="customer-options"' in page
    assert '<option value="starter"' in page


def test_search_endpoints_need_the_view_permission(nobody_client):
    assert nobody_client.get("/customers/search.json", {"q": "a"}).status_code == 403
    assert nobody_client.get("/plans/search.json", {"q": "a"}).status_code == 403
def test_csv_export_and_the_api_read_the_same_filters(finance_client, admin_api):
    pro = PlanFactory(name="Pro", lookup_id="pro")
    acme = CustomerFactory(name="Acme Corp", external_id="acme-001")
    mine = SubscriptionFactory(plan=pro, customer=acme)
    SubscriptionFactory(plan=pro, customer=CustomerFactory(name="Globex", external_id="glx"))
    SubscriptionFactory(customer=acme)  # another plan
    params = {"plan": pro.pk, "customer": "acme-001"}
    rows = csv_rows(finance_client.get("/subscriptions/export.csv", params), "subscriptions")
    assert rows[0][:5] == ["customer_external_id", "customer_name", "plan_lookup_id", "plan_name", "status"]
    assert [(row[0], row[2], row[-1]) for row in rows[1:]] == [("acme-001", "pro", str(mine.pk))]
    # The API's `customer` takes the external id too (it took only an id before).
    api = admin_api.get("/api/v1/subscriptions", params)
    assert [row["id"] for row in api.json()["results"]] == [str(mine.pk)]
    assert {s.pk for s in finance_client.get("/subscriptions/", params).context["page"].object_list} == {mine.pk}


def test_a_customers_subscriptions_are_titled_with_them_and_new_ones_are_for_them(finance_client):
    acme = CustomerFactory(name="Acme Corp")
    SubscriptionFactory(customer=acme)
    body = finance_client.get("/subscriptions/", {"customer": str(acme.pk)}).content.decode()
    assert f'Subscriptions of <a href="/customers/{acme.pk}/">Acme Corp</a>' in body
    assert f'href="/subscriptions/new/?customer={acme.pk}"' in body
    assert 'href="/subscriptions/new/"' in finance_client.get("/subscriptions/").content.decode()
