"""The plans and charges management API: /api/v1/plans and /api/v1/plans/{id}/charges."""

import uuid
from decimal import Decimal

import pytest

from catalog.models import Charge, Plan
from tests.factories import (
    FixedChargeFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    UsageChargeFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/plans"


def plan_body(**overrides):
    body = {"name": "Starter", "lookup_id": "starter", "type": "USAGE", "billing_interval": "month", "currency": "USD"}
    body.update(overrides)
    return body


def charges_url(plan):
    return f"{URL}/{plan.id}/charges"


def assert_error(response, status, field):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field, body
    assert isinstance(body["error"], str) and body["error"]
    return body


# --- plans: create ----------------------------------------------------------------------


def test_create_plan(admin_api):
    response = admin_api.post(
        URL, plan_body(description="For small teams", trial_days=14, billing_interval="year"), format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    plan = Plan.objects.get()
    assert body["id"] == str(plan.id)
    assert body["name"] == "Starter"
    assert body["lookup_id"] == "starter"
    assert body["description"] == "For small teams"
    assert body["type"] == "USAGE"
    assert body["billing_interval"] == "year"
    assert body["currency"] == "USD"
    assert body["trial_days"] == 14
    assert body["active"] is True
    assert body["charges"] == []
    assert (plan.trial_days, plan.billing_interval) == (14, "year")


def test_create_plan_defaults(admin_api):
    response = admin_api.post(URL, {"name": "Basic", "lookup_id": "basic", "currency": "EUR"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["type"], body["billing_interval"], body["trial_days"], body["active"], body["description"]) == (
        "USAGE",
        "month",
        0,
        True,
        "",
    )


def test_lowercase_currency_is_normalised(admin_api):
    response = admin_api.post(URL, plan_body(currency="usd"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["currency"] == "USD"
    assert Plan.objects.get().currency == "USD"


@pytest.mark.parametrize("currency", ["XYZ", "DEM", "123"])
def test_unknown_currency_is_400(admin_api, currency):
    response = admin_api.post(URL, plan_body(currency=currency), format="json")

    error = assert_error(response, 400, "currency")
    assert currency in error["error"]
    assert not Plan.objects.exists()


@pytest.mark.parametrize("currency", ["US", "USDX", ""])
def test_currency_of_wrong_length_is_400(admin_api, currency):
    response = admin_api.post(URL, plan_body(currency=currency), format="json")

    assert_error(response, 400, "currency")


def test_duplicate_lookup_id_is_409(admin_api):
    PlanFactory(lookup_id="starter")

    response = admin_api.post(URL, plan_body(lookup_id="starter"), format="json")

    error = assert_error(response, 409, "lookup_id")
    assert "starter" in error["error"]
    assert Plan.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "METERED"}, "type"),
        ({"billing_interval": "fortnight"}, "billing_interval"),
        ({"trial_days": -1}, "trial_days"),
        ({"lookup_id": "not a slug"}, "lookup_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_create_plan_bad_input_is_400(admin_api, overrides, field):
    response = admin_api.post(URL, plan_body(**overrides), format="json")

    assert_error(response, 400, field)
    assert not Plan.objects.exists()


@pytest.mark.parametrize("missing", ["name", "lookup_id", "currency"])
def test_create_plan_missing_field_is_400(admin_api, missing):
    body = plan_body()
    del body[missing]

    response = admin_api.post(URL, body, format="json")

    error = assert_error(response, 400, missing)
    assert error["error"] == f"Missing required field: {missing}"


# --- plans: list, retrieve --------------------------------------------------------------


def test_list_plans_with_their_charges(admin_api):
    second = PlanFactory(name="B plan")
    first = PlanFactory(name="A plan")
    fee = FixedChargeFactory(plan=first, amount=Decimal("10.00"))
    usage = UsageChargeFactory(plan=first, unit_price=Decimal("0.002"))

    response = admin_api.get(URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == [str(first.id), str(second.id)]
    charges = body["results"][0]["charges"]
    assert [c["id"] for c in charges] == [str(fee.id), str(usage.id)]
    assert charges[0]["amount"] == "10"
    assert charges[1]["unit_price"] == "0.002"
    assert body["results"][1]["charges"] == []


def test_list_plans_filters(admin_api):
    PlanFactory(name="Dollar", lookup_id="dollar", currency="USD")
    PlanFactory(name="Euro", lookup_id="euro", currency="EUR", active=False)

    by_currency = admin_api.get(URL, {"currency": "eur"}).json()["results"]
    by_active = admin_api.get(URL, {"active": "true"}).json()["results"]
    by_lookup = admin_api.get(URL, {"lookup_id": "dollar"}).json()["results"]
    by_search = admin_api.get(URL, {"search": "EUR"}).json()["results"]

    assert [p["lookup_id"] for p in by_currency] == ["euro"]
    assert [p["lookup_id"] for p in by_active] == ["dollar"]
    assert [p["lookup_id"] for p in by_lookup] == ["dollar"]
    assert [p["lookup_id"] for p in by_search] == ["euro"]


def test_retrieve_plan(admin_api):
    plan = PlanFactory(name="Pro", currency="EUR", trial_days=7)
    FixedChargeFactory(plan=plan, amount=Decimal("99.50"), display_name="Base")

    response = admin_api.get(f"{URL}/{plan.id}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Pro"
    assert body["currency"] == "EUR"
    assert body["trial_days"] == 7
    assert [(c["display_name"], c["amount"]) for c in body["charges"]] == [("Base", "99.5")]


@pytest.mark.parametrize("plan_id", [str(uuid.uuid4()), "starter", "12"])
def test_retrieve_unknown_or_non_uuid_plan_is_404(admin_api, plan_id):
    PlanFactory(lookup_id="starter")

    response = admin_api.get(f"{URL}/{plan_id}")

    assert response.status_code == 404, response.content
    assert response.json()["error"]


# --- plans: patch -----------------------------------------------------------------------


def test_patch_plan(admin_api):
    plan = PlanFactory(name="Old", description="", trial_days=0)

    response = admin_api.patch(
        f"{URL}/{plan.id}", {"name": "New", "description": "Updated", "trial_days": 30}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["description"], body["trial_days"]) == ("New", "Updated", 30)
    plan.refresh_from_db()
    assert (plan.name, plan.description, plan.trial_days) == ("New", "Updated", 30)


def test_patch_plan_leaves_unsent_fields_alone(admin_api):
    plan = PlanFactory(type="HYBRID", billing_interval="quarter", currency="EUR", trial_days=5, active=True)

    response = admin_api.patch(f"{URL}/{plan.id}", {"name": "Renamed"}, format="json")

    assert response.status_code == 200, response.content
    plan.refresh_from_db()
    assert (plan.type, plan.billing_interval, plan.currency, plan.trial_days, plan.active) == (
        "HYBRID",
        "quarter",
        "EUR",
        5,
        True,
    )


def test_patch_plan_response_includes_charges(admin_api):
    plan = PlanFactory()
    charge = UsageChargeFactory(plan=plan)

    response = admin_api.patch(f"{URL}/{plan.id}", {"name": "x"}, format="json")

    assert [c["id"] for c in response.json()["charges"]] == [str(charge.id)]


def test_patch_currency_without_subscriptions_normalises(admin_api):
    plan = PlanFactory(currency="USD")

    response = admin_api.patch(f"{URL}/{plan.id}", {"currency": "eur"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["currency"] == "EUR"
    plan.refresh_from_db()
    assert plan.currency == "EUR"


def test_patch_bad_currency_is_400(admin_api):
    plan = PlanFactory(currency="USD")

    response = admin_api.patch(f"{URL}/{plan.id}", {"currency": "XYZ"}, format="json")

    assert_error(response, 400, "currency")
    plan.refresh_from_db()
    assert plan.currency == "USD"


@pytest.mark.parametrize(("field", "value"), [("currency", "EUR"), ("billing_interval", "year"), ("type", "FIXED")])
def test_patch_billing_terms_of_a_subscribed_plan_is_400(admin_api, field, value):
    plan = PlanFactory(currency="USD", billing_interval="month", type="HYBRID")
    SubscriptionFactory(plan=plan)

    response = admin_api.patch(f"{URL}/{plan.id}", {field: value}, format="json")

    error = assert_error(response, 400, field)
    assert "subscriptions" in error["error"]


def test_patch_same_currency_in_lowercase_on_a_subscribed_plan_is_allowed(admin_api):
    plan = PlanFactory(currency="USD")
    SubscriptionFactory(plan=plan)

    response = admin_api.patch(f"{URL}/{plan.id}", {"currency": "usd", "name": "Same money"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["currency"] == "USD"
    assert response.json()["name"] == "Same money"


def test_patch_name_of_a_subscribed_plan_is_allowed(admin_api):
    plan = PlanFactory(currency="USD")
    SubscriptionFactory(plan=plan)

    response = admin_api.patch(f"{URL}/{plan.id}", {"name": "Renamed", "currency": "USD"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Renamed"


def test_patch_type_to_fixed_with_usage_charges_is_400(admin_api):
    plan = PlanFactory(type="HYBRID")
    UsageChargeFactory(plan=plan)

    response = admin_api.patch(f"{URL}/{plan.id}", {"type": "FIXED"}, format="json")

    assert_error(response, 400, "type")
    plan.refresh_from_db()
    assert plan.type == "HYBRID"


def test_patch_type_to_usage_with_fixed_charges_is_400(admin_api):
    plan = PlanFactory(type="HYBRID")
    FixedChargeFactory(plan=plan)

    response = admin_api.patch(f"{URL}/{plan.id}", {"type": "USAGE"}, format="json")

    assert_error(response, 400, "type")


def test_patch_duplicate_lookup_id_is_409(admin_api):
    PlanFactory(lookup_id="taken")
    plan = PlanFactory(lookup_id="mine")

    response = admin_api.patch(f"{URL}/{plan.id}", {"lookup_id": "taken"}, format="json")

    error = assert_error(response, 409, "lookup_id")
    assert "taken" in error["error"]
    plan.refresh_from_db()
    assert plan.lookup_id == "mine"


def test_patch_unknown_field_is_400(admin_api):
    plan = PlanFactory()

    response = admin_api.patch(f"{URL}/{plan.id}", {"price": "10"}, format="json")

    assert_error(response, 400, "price")


def test_patch_unknown_plan_is_404(admin_api):
    response = admin_api.patch(f"{URL}/{uuid.uuid4()}", {"name": "x"}, format="json")

    assert response.status_code == 404, response.content


def test_plans_have_no_delete_route(admin_api):
    plan = PlanFactory()

    response = admin_api.delete(f"{URL}/{plan.id}")

    assert response.status_code == 405, response.content
    assert Plan.objects.filter(pk=plan.pk).exists()


# --- charges: each pricing model --------------------------------------------------------


def test_per_unit_charge(admin_api):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory(name="API calls")

    response = admin_api.post(
        charges_url(plan),
        {"type": "USAGE", "meter_id": str(meter.id), "unit_price": "0.0025", "free_units": "1000"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["plan_id"] == str(plan.id)
    assert body["meter_id"] == str(meter.id)
    assert body["type"] == "USAGE"
    assert body["pricing_model"] == "per_unit"
    assert body["unit_price"] == "0.0025"
    assert body["free_units"] == "1000"
    assert body["display_name"] == "API calls"
    assert body["amount"] is None
    assert body["tiers"] == []
    charge = Charge.objects.get()
    assert charge.unit_price == Decimal("0.0025")
    assert charge.free_units == Decimal("1000")


def test_per_unit_price_as_json_number_keeps_its_digits(admin_api):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()

    response = admin_api.post(
        charges_url(plan),
        '{"type": "USAGE", "meter_id": "%s", "unit_price": 0.1, "display_name": "Tokens"}' % meter.id,
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["unit_price"] == "0.1"
    assert response.json()["display_name"] == "Tokens"
    assert Charge.objects.get().unit_price == Decimal("0.1")


def test_graduated_charge(admin_api):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()
    tiers = [
        {"up_to": 1000, "unit_price": "0.01"},
        {"up_to": "10000", "unit_price": "0.008", "flat_amount": "5"},
        {"up_to": None, "unit_price": "0.005"},
    ]

    response = admin_api.post(
        charges_url(plan),
        {"type": "USAGE", "meter_id": str(meter.id), "pricing_model": "graduated", "tiers": tiers},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["pricing_model"] == "graduated"
    assert body["unit_price"] is None
    assert body["tiers"] == [
        {"up_to": "1000", "unit_price": "0.01", "flat_amount": "0"},
        {"up_to": "10000", "unit_price": "0.008", "flat_amount": "5"},
        {"up_to": None, "unit_price": "0.005", "flat_amount": "0"},
    ]
    assert Charge.objects.get().tiers == body["tiers"]


def test_volume_charge(admin_api):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()
    tiers = [{"up_to": "100", "unit_price": "2", "flat_amount": "10"}, {"up_to": None, "unit_price": "1.5"}]

    response = admin_api.post(
        charges_url(plan),
        {"type": "USAGE", "meter_id": str(meter.id), "pricing_model": "volume", "tiers": tiers},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["pricing_model"] == "volume"
    assert body["tiers"] == [
        {"up_to": "100", "unit_price": "2", "flat_amount": "10"},
        {"up_to": None, "unit_price": "1.5", "flat_amount": "0"},
    ]


def test_tier_prices_are_plain_decimal_strings(admin_api):
    # Fractions of a cent per token are normal; the API must not answer in scientific notation.
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()
    tiers = [{"up_to": "1000000", "unit_price": "0.0000001"}, {"up_to": None, "unit_price": "0.00000005"}]

    response = admin_api.post(
        charges_url(plan),
        {"type": "USAGE", "meter_id": str(meter.id), "pricing_model": "graduated", "tiers": tiers},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["tiers"] == [
        {"up_to": "1000000", "unit_price": "0.0000001", "flat_amount": "0"},
        {"up_to": None, "unit_price": "0.00000005", "flat_amount": "0"},
    ]


def test_package_charge(admin_api):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()

    response = admin_api.post(
        charges_url(plan),
        {
            "type": "USAGE",
            "meter_id": str(meter.id),
            "pricing_model": "package",
            "package_size": 1000,
            "package_price": "2.50",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["pricing_model"] == "package"
    assert body["package_size"] == "1000"
    assert body["package_price"] == "2.5"
    assert body["unit_price"] is None
    charge = Charge.objects.get()
    assert (charge.package_size, charge.package_price) == (Decimal("1000"), Decimal("2.50"))


def test_fixed_charge(admin_api):
    plan = PlanFactory(type="HYBRID", currency="USD")

    response = admin_api.post(charges_url(plan), {"type": "FIXED", "amount": "49.99"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "FIXED"
    assert body["amount"] == "49.99"
    assert body["display_name"] == "Subscription fee"
    assert body["pricing_model"] is None
    assert body["meter_id"] is None
    assert Charge.objects.get().amount == Decimal("49.99")


@pytest.mark.parametrize(("currency", "amount", "shown"), [("JPY", "1000", "1000"), ("BHD", "1.234", "1.234")])
def test_fixed_charge_in_currencies_with_other_minor_units(admin_api, currency, amount, shown):
    plan = PlanFactory(type="FIXED", currency=currency)

    response = admin_api.post(charges_url(plan), {"type": "FIXED", "amount": amount}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["amount"] == shown


@pytest.mark.parametrize(("currency", "amount"), [("JPY", "10.5"), ("USD", "1.234"), ("BHD", "1.2345")])
def test_fixed_charge_with_more_decimals_than_the_currency_allows_is_400(admin_api, currency, amount):
    plan = PlanFactory(type="FIXED", currency=currency)

    response = admin_api.post(charges_url(plan), {"type": "FIXED", "amount": amount}, format="json")

    error = assert_error(response, 400, "amount")
    assert currency in error["error"]
    assert not Charge.objects.exists()


def test_fixed_charge_without_amount_is_400(admin_api):
    plan = PlanFactory(type="FIXED")

    response = admin_api.post(charges_url(plan), {"type": "FIXED"}, format="json")

    error = assert_error(response, 400, "amount")
    assert error["error"].startswith("Missing required field: amount")


def test_negative_fixed_amount_is_400(admin_api):
    plan = PlanFactory(type="FIXED")

    response = admin_api.post(charges_url(plan), {"type": "FIXED", "amount": "-1"}, format="json")

    assert_error(response, 400, "amount")


def test_usage_charge_on_fixed_plan_is_400(admin_api):
    plan = PlanFactory(type="FIXED")
    meter = MeterFactory()

    response = admin_api.post(
        charges_url(plan), {"type": "USAGE", "meter_id": str(meter.id), "unit_price": "1"}, format="json"
    )

    error = assert_error(response, 400, "type")
    assert "FIXED plan" in error["error"]
    assert not Charge.objects.exists()


def test_fixed_charge_on_usage_plan_is_400(admin_api):
    plan = PlanFactory(type="USAGE")

    response = admin_api.post(charges_url(plan), {"type": "FIXED", "amount": "10"}, format="json")

    error = assert_error(response, 400, "type")
    assert "USAGE plan" in error["error"]
    assert not Charge.objects.exists()


def test_unknown_meter_is_404(admin_api):
    plan = PlanFactory(type="USAGE")
    missing = uuid.uuid4()

    response = admin_api.post(
        charges_url(plan), {"type": "USAGE", "meter_id": str(missing), "unit_price": "1"}, format="json"
    )

    error = assert_error(response, 404, "meter_id")
    assert str(missing) in error["error"]
    assert not Charge.objects.exists()


def test_non_uuid_meter_id_is_400(admin_api):
    plan = PlanFactory(type="USAGE")

    response = admin_api.post(
        charges_url(plan), {"type": "USAGE", "meter_id": "api_calls", "unit_price": "1"}, format="json"
    )

    assert_error(response, 400, "meter_id")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"unit_price": "1"}, "meter_id"),
        ({"with_meter": True}, "unit_price"),
        ({"with_meter": True, "pricing_model": "graduated"}, "tiers"),
        ({"with_meter": True, "pricing_model": "volume", "tiers": None}, "tiers"),
        ({"with_meter": True, "pricing_model": "package", "package_price": "1"}, "package_size"),
        ({"with_meter": True, "pricing_model": "package", "package_size": "10"}, "package_price"),
        ({"with_meter": True, "pricing_model": "package", "package_size": "0", "package_price": "1"}, "package_size"),
        ({"with_meter": True, "pricing_model": "tiered", "unit_price": "1"}, "pricing_model"),
        ({"with_meter": True, "unit_price": "-0.01"}, "unit_price"),
        ({"with_meter": True, "unit_price": "1", "free_units": "-5"}, "free_units"),
        ({"with_meter": True, "unit_price": "1", "colour": "red"}, "colour"),
    ],
)
def test_incomplete_usage_charge_is_400(admin_api, fields, field):
    plan = PlanFactory(type="USAGE")
    body = {"type": "USAGE", **fields}
    if body.pop("with_meter", False):
        body["meter_id"] = str(MeterFactory().id)

    response = admin_api.post(charges_url(plan), body, format="json")

    assert_error(response, 400, field)
    assert not Charge.objects.exists()


def test_charge_type_is_required(admin_api):
    plan = PlanFactory()

    response = admin_api.post(charges_url(plan), {"amount": "10"}, format="json")

    error = assert_error(response, 400, "type")
    assert error["error"] == "Missing required field: type"


# --- charges: tier validation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("tiers", "field", "says"),
    [
        ([{"up_to": 100}, {"up_to": 50}, {"up_to": None}], "tiers[1].up_to", "greater"),
        ([{"up_to": 100}, {"up_to": 100}, {"up_to": None}], "tiers[1].up_to", "greater"),
        ([{"up_to": None, "unit_price": "1"}, {"up_to": 100, "unit_price": "1"}], "tiers[0].up_to", "only the last"),
        ([{"up_to": 100, "unit_price": "1"}, {"up_to": 200, "unit_price": "1"}], "tiers[1].up_to", "must be null"),
        ([], "tiers", "non-empty"),
        ([{"up_to": 0, "unit_price": "1"}, {"up_to": None, "unit_price": "1"}], "tiers[0].up_to", "greater than 0"),
        ([{"up_to": "abc", "unit_price": "1"}, {"up_to": None, "unit_price": "1"}], "tiers[0].up_to", "number"),
        ([{"up_to": 10, "unit_price": "-1"}, {"up_to": None, "unit_price": "1"}], "tiers[0].unit_price", "negative"),
        ([{"up_to": None, "unit_price": "NaN"}], "tiers[0].unit_price", "finite"),
        ([{"up_to": None, "unit_price": "1", "flat_amount": True}], "tiers[0].flat_amount", "number"),
        ([{"up_to": None, "unit_price": "1", "price": "2"}], "tiers[0]", "unknown field"),
        # Each tier number is held to the column its kind of value has: quantity (28,10), price (24,12),
        # amount (20,4). Before, "1e40" was stored and every invoice priced with it overflowed.
        ([{"up_to": "1e18", "unit_price": "1"}, {"up_to": None, "unit_price": "1"}], "tiers[0].up_to", "10^18"),
        ([{"up_to": "1.00000000001", "unit_price": "1"}, {"up_to": None}], "tiers[0].up_to", "10 decimal places"),
        ([{"up_to": None, "unit_price": "1e40"}], "tiers[0].unit_price", "10^12"),
        ([{"up_to": None, "unit_price": "0.0000000000001"}], "tiers[0].unit_price", "12 decimal places"),
        ([{"up_to": None, "unit_price": "1", "flat_amount": "1e16"}], "tiers[0].flat_amount", "10^16"),
        ([{"up_to": None, "unit_price": "1", "flat_amount": "0.00001"}], "tiers[0].flat_amount", "4 decimal places"),
    ],
)
@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_bad_tiers_are_400_naming_the_tier(admin_api, model, tiers, field, says):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()

    response = admin_api.post(
        charges_url(plan),
        {"type": "USAGE", "meter_id": str(meter.id), "pricing_model": model, "tiers": tiers},
        format="json",
    )

    error = assert_error(response, 400, field)
    assert says in error["error"]
    assert not Charge.objects.exists()


def test_tier_that_is_not_an_object_is_400_naming_it(admin_api):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()

    response = admin_api.post(
        charges_url(plan),
        {"type": "USAGE", "meter_id": str(meter.id), "pricing_model": "graduated", "tiers": [{"up_to": 5}, 7]},
        format="json",
    )

    assert_error(response, 400, "tiers[1]")


# --- charges: listing, routing ----------------------------------------------------------


def test_list_charges_of_a_plan_in_creation_order(admin_api):
    plan = PlanFactory(type="HYBRID")
    other = PlanFactory()
    UsageChargeFactory(plan=other)
    first = admin_api.post(charges_url(plan), {"type": "FIXED", "amount": "5"}, format="json").json()
    meter = MeterFactory()
    second = admin_api.post(
        charges_url(plan), {"type": "USAGE", "meter_id": str(meter.id), "unit_price": "0.5"}, format="json"
    ).json()

    response = admin_api.get(charges_url(plan))

    assert response.status_code == 200, response.content
    assert [c["id"] for c in response.json()] == [first["id"], second["id"]]
    assert [c["amount"] for c in response.json()] == ["5", None]
    assert [c["unit_price"] for c in response.json()] == [None, "0.5"]


def test_charges_of_unknown_plan_is_404(admin_api):
    assert admin_api.get(f"{URL}/{uuid.uuid4()}/charges").status_code == 404
    response = admin_api.post(f"{URL}/{uuid.uuid4()}/charges", {"type": "FIXED", "amount": "1"}, format="json")
    assert response.status_code == 404, response.content
    assert not Charge.objects.exists()


# --- scopes -----------------------------------------------------------------------------


def test_plans_read_scope_can_read_charges_but_not_add_them(key_client):
    plan = PlanFactory(type="FIXED")
    client = key_client("plans.read")

    assert client.get(charges_url(plan)).status_code == 200
    response = client.post(charges_url(plan), {"type": "FIXED", "amount": "1"}, format="json")

    assert response.status_code == 403, response.content
    assert "plans.write" in response.json()["error"]
    assert not Charge.objects.exists()


# --- query count ------------------------------------------------------------------------


def test_list_query_count_does_not_grow_with_plans_and_charges(admin_api, django_assert_max_num_queries):
    for _ in range(30):
        plan = PlanFactory()
        FixedChargeFactory(plan=plan)
        UsageChargeFactory(plan=plan)
    admin_api.get(URL)  # the key's first use writes last_used_at; measure steady state

    # API key lookup, count, plans, charges (prefetched)
    with django_assert_max_num_queries(4):
        response = admin_api.get(URL, {"page_size": 30})

    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 30
    assert all(len(plan["charges"]) == 2 for plan in results)
