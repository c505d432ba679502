"""Django admin is a way in for finance staff beside the dashboard and the API, not a way around their rules:
its forms refuse what the services refuse, beside the field, and its saves go through the services."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalog.choices import PlanType
from catalog.models import Charge, Plan
from customers.choices import SubscriptionStatus
from customers.models import BillingEntity, Customer, Subscription
from metering import lookups
from metering.models import Meter
from tests.factories import (
    CustomerFactory,
    FixedChargeFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageChargeFactory,
    UsageEventFactory,
    default_entity,
)

pytestmark = pytest.mark.django_db

# The read-only inlines still post their (empty) management forms.
PLAN_INLINES = {"charges-TOTAL_FORMS": "0", "charges-INITIAL_FORMS": "0"}
CUSTOMER_INLINES = {"subscriptions-TOTAL_FORMS": "0", "subscriptions-INITIAL_FORMS": "0"}


@pytest.fixture
def admin(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456"))
    return client


def errors(response, field):
    """The admin form's errors for `field` (None: the form-wide ones)."""
    assert response.status_code == 200, response.status_code
    form = response.context["adminform"].form
    return form.errors.get(field or "__all__", [])


# --- meters ------------------------------------------------------------------------------


def meter_post(**overrides):
    data = {
        "name": "Tokens",
        "lookup_key": "tokens",
        "event_name": "llm.tokens",
        "aggregation_type": "SUM",
        "property_name": "tokens",
        "unit": "tokens",
        "active": "on",
    }
    data.update(overrides)
    return data


def test_a_meter_that_reads_a_property_needs_its_name(admin):
    response = admin.post("/admin/metering/meter/add/", meter_post(property_name=""))

    assert "property_name is required for SUM meters" in errors(response, "property_name")[0]
    assert not Meter.objects.exists()


def test_a_meter_added_in_admin_is_the_services(admin, django_capture_on_commit_callbacks):
    # "No such meter" is remembered briefly by ingestion; the service forgets it once the meter exists.
    assert lookups.meter_by_event_name("llm.tokens") is None
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/admin/metering/meter/add/", meter_post())

    assert response.status_code == 302, response.content
    meter = Meter.objects.get()
    assert (meter.lookup_key, meter.event_name, meter.aggregation_type, meter.property_name) == (
        "tokens", "llm.tokens", "SUM", "tokens",
    )
    assert lookups.meter_by_event_name("llm.tokens").id == meter.pk


def test_a_meter_added_archived_stays_archived(admin):
    data = meter_post()
    del data["active"]
    admin.post("/admin/metering/meter/add/", data)

    assert Meter.objects.get().active is False


def test_what_a_meter_measures_cannot_change_in_admin(admin):
    meter = MeterFactory(aggregation_type="SUM", property_name="value", name="Old")
    page = admin.get(f"/admin/metering/meter/{meter.pk}/change/")
    assert set(page.context["adminform"].form.fields) == {"name", "unit", "active"}

    response = admin.post(
        f"/admin/metering/meter/{meter.pk}/change/",
        meter_post(name="New", aggregation_type="MAX", property_name="other", event_name="changed"),
    )

    assert response.status_code == 302
    meter.refresh_from_db()
    assert (meter.name, meter.aggregation_type, meter.property_name) == ("New", "SUM", "value")
    assert meter.event_name != "changed"


def test_meters_are_not_deleted_from_admin(admin):
    meter = MeterFactory()
    assert admin.post(f"/admin/metering/meter/{meter.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Meter.objects.filter(pk=meter.pk).exists()


# --- plans -------------------------------------------------------------------------------


def plan_post(**overrides):
    data = {
        "name": "Pro",
        "lookup_id": "pro",
        "description": "",
        "type": PlanType.HYBRID,
        "billing_interval": "month",
        "currency": "usd",
        "trial_days": "0",
        "active": "on",
        **PLAN_INLINES,
    }
    data.update(overrides)
    return data


def test_a_plan_gets_a_checked_currency(admin):
    refused = admin.post("/admin/catalog/plan/add/", plan_post(currency="XYZ"))
    assert "ISO 4217" in errors(refused, "currency")[0]
    assert not Plan.objects.exists()

    accepted = admin.post("/admin/catalog/plan/add/", plan_post())
    assert accepted.status_code == 302
    assert Plan.objects.get().currency == "USD"


def test_a_subscribed_plan_keeps_its_interval_and_currency(admin):
    plan = PlanFactory(billing_interval="month", currency="USD", name="Pro")
    SubscriptionFactory(plan=plan)
    change = f"/admin/catalog/plan/{plan.pk}/change/"
    same = {"lookup_id": plan.lookup_id, "type": plan.type, "currency": "USD"}

    interval = admin.post(change, plan_post(**same, billing_interval="year", name="Renamed"))
    currency = admin.post(change, plan_post(**{**same, "currency": "EUR"}))

    assert "billing_interval cannot change while the plan has subscriptions" in errors(interval, "billing_interval")
    assert "currency cannot change while the plan has subscriptions" in errors(currency, "currency")
    plan.refresh_from_db()
    assert (plan.billing_interval, plan.currency, plan.name) == ("month", "USD", "Pro")
    # What may change still does.
    renamed = admin.post(change, plan_post(**same, name="Pro 2024"))
    assert renamed.status_code == 302
    plan.refresh_from_db()
    assert plan.name == "Pro 2024"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"trial_days": "3651"}, "trial_days", "trial_days must be a whole number from 0 to 3650, got 3651"),
        ({"lookup_id": "pro monthly!"}, "lookup_id", None),
    ],
)
def test_a_plan_is_refused_as_the_api_refuses_it(admin, overrides, field, message):
    response = admin.post("/admin/catalog/plan/add/", plan_post(**overrides))

    assert errors(response, field)
    if message:
        assert errors(response, field) == [message]
    assert not Plan.objects.exists()


def test_a_plan_type_must_fit_its_charges(admin):
    plan = PlanFactory(type=PlanType.HYBRID)
    UsageChargeFactory(plan=plan)

    response = admin.post(
        f"/admin/catalog/plan/{plan.pk}/change/",
        plan_post(lookup_id=plan.lookup_id, type=PlanType.FIXED, currency="USD"),
    )

    assert "A FIXED plan cannot have USAGE charges" in errors(response, "type")[0]
    assert Plan.objects.get(pk=plan.pk).type == PlanType.HYBRID


def test_a_subscribed_plan_is_not_deleted_from_admin(admin):
    subscribed = PlanFactory()
    SubscriptionFactory(plan=subscribed)
    unused = PlanFactory()
    FixedChargeFactory(plan=unused)

    assert admin.post(f"/admin/catalog/plan/{subscribed.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.post(f"/admin/catalog/plan/{unused.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(Plan.objects.all()) == [subscribed]
    assert not Charge.objects.filter(plan=unused.pk).exists()


# --- charges -----------------------------------------------------------------------------


def charge_post(plan, **overrides):
    data = {
        "plan": str(plan.pk),
        "type": "USAGE",
        "display_name": "",
        "amount": "",
        "meter": "",
        "pricing_model": "per_unit",
        "unit_price": "",
        "package_size": "",
        "package_price": "",
        "free_units": "0",
    }
    tiers = overrides.pop("tiers", [])
    data.update(overrides)
    data.update(tier_rows(*tiers))
    return data


def tier_rows(*rows, blank=2):
    """The tier editor's inputs: one (up_to, unit_price, flat_amount) row per tier, then `blank` empty rows."""
    data = {}
    for index, row in enumerate([*rows, *[("", "", "")] * blank]):
        for column, value in zip(("up_to", "unit_price", "flat_amount"), row):
            data[f"tiers-{index}-{column}"] = value
    return data


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"pricing_model": "graduated", "tiers": [("100", "0.1", ""), ("50", "", ""), ("", "0.01", "")]},
         "tiers", "tiers[1].up_to must be greater than the previous tier's up_to (100)"),
        ({"pricing_model": "volume"}, "tiers", "Missing required field: tiers (volume pricing)"),
        ({"pricing_model": "graduated", "tiers": [("100", "0.1", "")]},
         "tiers", "tiers[0].up_to must be null: the last tier has no upper bound"),
        # A blank row between two filled ones is dropped: the second filled row is tiers[1], as it is shown again.
        ({"pricing_model": "graduated", "tiers": [("100", "0.1", ""), ("", "", ""), ("", "0.05", "x")]},
         "tiers", "tiers[1].flat_amount must be a number, got 'x'"),
        ({"pricing_model": "per_unit", "unit_price": ""}, "unit_price", "Missing required field: unit_price (per_unit pricing)"),
        ({"pricing_model": "per_unit", "unit_price": "-0.01"}, "unit_price", "unit_price must not be negative"),
        ({"pricing_model": "package", "package_size": "0", "package_price": "5"}, "package_size", "package_size must be greater than 0"),
        ({"meter": None}, "meter", "Missing required field: meter_id (a USAGE charge prices a meter's usage)"),
        ({"free_units": "-1"}, "free_units", "free_units must not be negative"),
        ({"pricing_model": "graduated", "tiers": [(str(n), "", "") for n in range(1, 101)] + [("", "0.01", "")]},
         "tiers", "tiers may hold at most 100 tiers, got 101"),
    ],
)
def test_a_usage_charge_is_refused_as_the_service_refuses_it(admin, overrides, field, message):
    plan = PlanFactory(type=PlanType.USAGE)
    meter = MeterFactory()
    overrides = {name: value if value is not None else "" for name, value in overrides.items()}
    data = charge_post(plan, **{"meter": str(meter.pk), "unit_price": "0.01", **overrides})

    response = admin.post("/admin/catalog/charge/add/", data)

    assert errors(response, field) == [message]
    assert not Charge.objects.exists()


def test_an_archived_meter_takes_no_new_charges(admin):
    plan = PlanFactory(type=PlanType.USAGE)
    meter = MeterFactory(active=False, name="Old calls")

    response = admin.post("/admin/catalog/charge/add/", charge_post(plan, meter=str(meter.pk), unit_price="1"))

    assert errors(response, "meter") == ["Meter 'Old calls' is archived and takes no new charges"]


def test_a_charge_must_fit_its_plan_type(admin):
    fixed_plan = PlanFactory(type=PlanType.FIXED)
    response = admin.post("/admin/catalog/charge/add/", charge_post(fixed_plan, meter=str(MeterFactory().pk), unit_price="1"))

    assert errors(response, "type") == ["A USAGE charge cannot be added to a FIXED plan"]
    assert not Charge.objects.exists()


def test_a_fixed_charge_amount_fits_the_currency(admin):
    plan = PlanFactory(type=PlanType.FIXED, currency="JPY")
    response = admin.post("/admin/catalog/charge/add/", charge_post(plan, type="FIXED", pricing_model="", amount="10.5"))

    assert errors(response, "amount") == ["amount has more decimals than JPY allows"]


def test_a_graduated_charge_added_in_admin_is_stored_as_the_service_stores_it(admin):
    plan = PlanFactory(type=PlanType.USAGE)
    meter = MeterFactory(name="Tokens")
    tiers = [("1000", "0.010", ""), ("", "0.008", "5")]

    response = admin.post(
        "/admin/catalog/charge/add/",
        charge_post(plan, meter=str(meter.pk), pricing_model="graduated", tiers=tiers, unit_price="9", package_size="3"),
    )

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    charge = Charge.objects.get()
    # Normalized tiers, the name taken from the meter, and no leftovers of other pricing models.
    assert charge.tiers == [
        {"up_to": "1000", "unit_price": "0.01", "flat_amount": "0"},
        {"up_to": None, "unit_price": "0.008", "flat_amount": "5"},
    ]
    assert (charge.display_name, charge.unit_price, charge.package_size) == ("Tokens", None, None)


def test_tiers_are_edited_as_rows_not_as_json(admin):
    page = admin.get("/admin/catalog/charge/add/").content.decode()

    assert '<textarea name="tiers"' not in page
    for index in range(8):
        for column in ("up_to", "unit_price", "flat_amount"):
            assert f'name="tiers-{index}-{column}"' in page
    assert 'name="tiers-8-up_to"' not in page


def test_refused_tiers_come_back_as_the_rows_posted_with_blank_rows_after(admin):
    plan = PlanFactory(type=PlanType.USAGE)
    rows = [("100", "0.1", ""), ("", "", ""), ("50", "0.05", ""), ("", "0.01", "2")]
    rows += [(str(n), "", "") for n in range(200, 207)]  # 10 filled rows: more than the editor's 8

    response = admin.post("/admin/catalog/charge/add/", charge_post(plan, meter=str(MeterFactory().pk), pricing_model="graduated", tiers=rows))

    assert errors(response, "tiers") == ["tiers[1].up_to must be greater than the previous tier's up_to (100)"]
    page = response.content.decode()
    # The blank row is gone, so the row labelled tiers[1] is the one the message names.
    assert '<th scope="row">tiers[1]</th><td><input type="text" name="tiers-1-up_to" value="50"' in page
    assert 'name="tiers-2-flat_amount" value="2"' in page
    assert 'name="tiers-12-up_to" value=""' in page and 'name="tiers-13-up_to"' not in page
    assert not Charge.objects.exists()


def test_a_charge_page_shows_its_money_in_the_plans_currency_and_its_tiers_as_a_table(admin):
    plan = PlanFactory(type=PlanType.USAGE, currency="EUR")
    tiered = UsageChargeFactory(
        plan=plan, pricing_model="graduated", unit_price=None,
        tiers=[{"up_to": "1000", "unit_price": "0.0035", "flat_amount": "0"}, {"up_to": None, "unit_price": "0.002", "flat_amount": "12.5"}],
    )
    UsageChargeFactory(plan=plan, pricing_model="package", unit_price=None, package_size=Decimal("100"), package_price=Decimal("4.5"))
    FixedChargeFactory(plan=PlanFactory(currency="JPY"), amount=Decimal("1200"))

    changelist = admin.get("/admin/catalog/charge/").content.decode()
    assert "€4.50" in changelist and "¥1,200" in changelist
    assert "4.500000000000" not in changelist and "1200.0000" not in changelist

    page = admin.get(f"/admin/catalog/charge/{tiered.pk}/change/").content.decode()
    assert '<textarea' not in page and "0.0035" in page
    assert "<tr><td>1000</td><td>€0.0035</td><td>€0.00</td></tr><tr><td>∞</td><td>€0.002</td><td>€12.50</td></tr>" in page
    assert "0.0000000000" not in page  # free units as a count, not the column's ten places

    # The plan page's charges (read-only rows) show their prices in the plan's currency too.
    UsageChargeFactory(plan=plan, unit_price=Decimal("0.25"))
    plan_page = admin.get(f"/admin/catalog/plan/{plan.pk}/change/").content.decode()
    assert "€0.25" in plan_page and "0.250000000000" not in plan_page


def test_the_charge_list_costs_the_same_few_queries_for_many_charges(admin, django_assert_max_num_queries):
    for currency in ("USD", "EUR", "JPY", "GBP", "CHF"):
        UsageChargeFactory(plan=PlanFactory(currency=currency), unit_price=Decimal("2"))
    with django_assert_max_num_queries(8):
        assert admin.get("/admin/catalog/charge/").status_code == 200


def test_a_usage_event_page_shows_its_properties_as_a_table(admin):
    event = UsageEventFactory(quantity=Decimal("1.5"), properties={"model": "<gpt>", "region": "eu"})

    page = admin.get(f"/admin/metering/usageevent/{event.pk}/change/").content.decode()

    assert '<th scope="row">model</th><td>&lt;gpt&gt;</td>' in page and '<th scope="row">region</th><td>eu</td>' in page
    assert "&quot;region&quot;" not in page
    assert '<div class="readonly">1.5</div>' in page  # the quantity as a count, not 1.5000000000


def test_a_charge_is_fixed_once_added_and_leaves_only_an_unsubscribed_plan(admin):
    charge = UsageChargeFactory(unit_price=Decimal("0.01"))
    subscribed = UsageChargeFactory()
    SubscriptionFactory(plan=subscribed.plan)

    edited = admin.post(f"/admin/catalog/charge/{charge.pk}/change/", charge_post(charge.plan, meter=str(charge.meter_id), unit_price="5"))
    assert edited.status_code == 403
    assert Charge.objects.get(pk=charge.pk).unit_price == Decimal("0.01")

    assert admin.post(f"/admin/catalog/charge/{subscribed.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.post(f"/admin/catalog/charge/{charge.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(Charge.objects.all()) == [subscribed]


# --- customers and subscriptions --------------------------------------------------------------


def customer_post(**overrides):
    data = {
        "name": "Acme", "external_id": "acme", "email": "", "billing_entity": str(default_entity().pk), "country": "",
        "tax_id": "", "metadata": "{}", **CUSTOMER_INLINES,
    }  # fmt: skip
    data.update(overrides)
    return data


def test_a_customers_external_id_is_fixed_in_admin(admin):
    customer = CustomerFactory(external_id="acme", name="Acme")
    page = admin.get(f"/admin/customers/customer/{customer.pk}/change/")
    assert "external_id" not in page.context["adminform"].form.fields

    response = admin.post(f"/admin/customers/customer/{customer.pk}/change/", customer_post(external_id="acme-2", name="Acme 2"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.external_id, customer.name) == ("acme", "Acme 2")


def test_a_customer_added_in_admin_is_the_services(admin):
    response = admin.post("/admin/customers/customer/add/", customer_post(external_id="new-co", metadata=""))

    assert response.status_code == 302
    assert Customer.objects.get(external_id="new-co").metadata == {}


@pytest.mark.parametrize(("metadata", "stored"), [("", {}), ("null", {}), ('{"tier": "gold"}', {"tier": "gold"})])
def test_customer_metadata_is_an_object_or_empty(admin, metadata, stored):
    customer = CustomerFactory(metadata={"old": 1})

    response = admin.post(f"/admin/customers/customer/{customer.pk}/change/", customer_post(metadata=metadata))

    assert response.status_code == 302
    assert Customer.objects.get(pk=customer.pk).metadata == stored


def test_customer_metadata_that_is_not_an_object_is_refused(admin):
    customer = CustomerFactory(metadata={"old": 1})

    response = admin.post(f"/admin/customers/customer/{customer.pk}/change/", customer_post(metadata="[1, 2]"))

    assert errors(response, "metadata") == ["metadata must be a JSON object, got list"]
    assert Customer.objects.get(pk=customer.pk).metadata == {"old": 1}


def test_a_customers_tax_id_is_checked_for_its_country_in_admin(admin):
    customer = CustomerFactory()

    refused = admin.post(f"/admin/customers/customer/{customer.pk}/change/", customer_post(country="DE", tax_id="DE136695977"))
    assert "not a valid DE VAT number" in errors(refused, "tax_id")[0]

    saved = admin.post(f"/admin/customers/customer/{customer.pk}/change/", customer_post(country="DE", tax_id="136 695 976"))
    assert saved.status_code == 302
    customer.refresh_from_db()
    assert (customer.country, customer.tax_id) == ("DE", "DE136695976")


def test_a_billing_entity_is_added_and_made_default_in_admin_through_the_service(admin):
    data = {
        "name": "EU", "legal_name": "Acme Europe GmbH", "country": "DE", "tax_id": "DE136695976", "invoice_prefix": "eu",
        "net_days": "14", "is_default": "on",
    }  # fmt: skip
    assert admin.post("/admin/customers/billingentity/add/", {**data, "invoice_prefix": "E U"}).status_code == 200

    response = admin.post("/admin/customers/billingentity/add/", data)

    assert response.status_code == 302
    entity = BillingEntity.objects.get(name="EU")
    assert (entity.invoice_prefix, entity.net_days, entity.is_default) == ("EU", 14, True)
    assert list(BillingEntity.objects.filter(is_default=True)) == [entity]  # the old default stopped being it


def test_a_subscription_added_in_admin_starts_as_the_service_starts_it(admin):
    customer = CustomerFactory()
    plan = PlanFactory(trial_days=14, billing_interval="month")
    start = timezone.now().replace(microsecond=0)

    response = admin.post(
        "/admin/customers/subscription/add/",
        {"customer": str(customer.pk), "plan": str(plan.pk), "start_date_0": start.strftime("%Y-%m-%d"), "start_date_1": start.strftime("%H:%M:%S")},
    )

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    subscription = Subscription.objects.get()
    assert subscription.status == SubscriptionStatus.TRIAL
    assert subscription.trial_end == subscription.start_date + dt.timedelta(days=14)
    assert subscription.billing_interval == "month"
    assert subscription.current_period_start == subscription.start_date
    assert subscription.current_period_end > subscription.current_period_start


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"active": False}, "plan", "is archived and takes no new subscriptions"),
        ({"start": -dt.timedelta(days=366 * 11)}, "start_date", "start_date may be at most 10 years in the past"),
    ],
)
def test_a_subscription_is_refused_as_the_service_refuses_it(admin, change, field, message):
    plan = PlanFactory(active=change.get("active", True))
    start = timezone.now() + change.get("start", dt.timedelta(0))

    response = admin.post(
        "/admin/customers/subscription/add/",
        {"customer": str(CustomerFactory().pk), "plan": str(plan.pk), "start_date_0": start.strftime("%Y-%m-%d"), "start_date_1": "00:00:00"},
    )

    assert message in errors(response, field)[0]
    assert not Subscription.objects.exists()


def test_a_subscription_changes_only_by_its_actions(admin):
    subscription = SubscriptionFactory()
    period_end = subscription.current_period_end
    other_plan = PlanFactory()

    page = admin.get(f"/admin/customers/subscription/{subscription.pk}/change/")
    assert page.context["adminform"].form.fields == {}
    saved = admin.post(f"/admin/customers/subscription/{subscription.pk}/change/", {"plan": str(other_plan.pk), "status": "ENDED"})
    assert saved.status_code == 302
    subscription.refresh_from_db()
    assert subscription.plan_id != other_plan.pk
    assert subscription.status == SubscriptionStatus.ACTIVE

    admin.post(
        "/admin/customers/subscription/",
        {"action": "cancel_at_period_end", "_selected_action": [str(subscription.pk)]},
    )
    subscription.refresh_from_db()
    assert subscription.canceled_at is not None
    assert subscription.cancel_at >= period_end
    assert admin.post(f"/admin/customers/subscription/{subscription.pk}/delete/", {"post": "yes"}).status_code == 403


def test_every_admin_page_of_these_models_opens(admin):
    charge = UsageChargeFactory()
    subscription = SubscriptionFactory(plan=charge.plan)
    pages = ["/admin/metering/meter/add/", f"/admin/metering/meter/{charge.meter_id}/change/"]
    pages += ["/admin/catalog/plan/add/", f"/admin/catalog/plan/{charge.plan_id}/change/"]
    pages += ["/admin/catalog/charge/add/", f"/admin/catalog/charge/{charge.pk}/change/"]
    pages += ["/admin/customers/customer/add/", f"/admin/customers/customer/{subscription.customer_id}/change/"]
    pages += ["/admin/customers/subscription/add/", f"/admin/customers/subscription/{subscription.pk}/change/"]
    for page in pages:
        response = admin.get(page)
        assert response.status_code == 200, page
    # The plan page lists its charges (read-only) and links to them.
    assert f"/admin/catalog/charge/{charge.pk}/change/" in admin.get(f"/admin/catalog/plan/{charge.plan_id}/change/").content.decode()
