"""Plans and charges pages: list, create, edit, delete, the charge form with its tier editor, and the price preview."""

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages

from catalog.models import Charge, Plan
from tests.dashboard.helpers import csv_rows
from tests.factories import FixedChargeFactory, MeterFactory, PlanFactory, SubscriptionFactory, UsageChargeFactory

pytestmark = pytest.mark.django_db


def field_errors(response, name: str) -> list[str]:
    """The error messages rendered inside the form field `name`'s own block (beside the field)."""
    body = response.content.decode()
    start = re.search(rf'<div class="field has-error"[^>]*data-field="{name}">', body)
    if not start:
        return []
    depth, end = 1, start.end()
    for tag in re.finditer(r"<(/?)div\b", body[start.end() :]):  # to the block's own </div>
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            end = start.end() + tag.start()
            break
    return re.findall(r'<p class="error"[^>]*>(.*?)</p>', body[start.end() : end], re.S)


def tier_cell_errors(response, row: int, column: str) -> list[str]:
    """Errors inside one cell of the tier editor (row counted from 0 as shown on the page)."""
    body = response.content.decode()
    cell = re.search(rf'<td class="has-error" data-field="tier-{row}-{column}">(.*?)</td>', body, re.S)
    return re.findall(r'<p class="error">(.*?)</p>', cell.group(1), re.S) if cell else []


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _urls(plan):
    return {
        "list": "/plans/",
        "create": "/plans/new/",
        "detail": f"/plans/{plan.pk}/",
        "edit": f"/plans/{plan.pk}/edit/",
        "delete": f"/plans/{plan.pk}/delete/",
        "charge": f"/plans/{plan.pk}/charges/new/",
        "preview": f"/plans/{plan.pk}/charges/preview/",
    }


PAGES = ["list", "create", "detail", "edit", "delete", "charge", "preview"]
FINANCE_PAGES = ["create", "edit", "delete", "charge"]


# --- permissions ----------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_is_sent_to_login(client, page):
    url = _urls(PlanFactory())[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


@pytest.mark.parametrize("page", PAGES)
def test_user_without_role_is_refused(nobody_client, page):
    assert nobody_client.get(_urls(PlanFactory())[page]).status_code == 403


@pytest.mark.parametrize("page", ["list", "detail", "preview"])
def test_support_can_read(support_client, page):
    assert support_client.get(_urls(PlanFactory())[page]).status_code == 200


@pytest.mark.parametrize("page", FINANCE_PAGES)
def test_support_cannot_write(support_client, page):
    plan = PlanFactory(name="Untouched")
    meter = MeterFactory()
    url = _urls(plan)[page]
    assert support_client.get(url).status_code == 403
    data = {
        "name": "Changed",
        "lookup_id": "changed",
        "currency": "EUR",
        "type": "HYBRID",
        "billing_interval": "month",
        "trial_days": "0",
        "active": "on",
        "meter": str(meter.pk),
        "pricing_model": "per_unit",
        "unit_price": "1",
    }
    assert support_client.post(url, data).status_code == 403
    plan.refresh_from_db()
    assert plan.name == "Untouched"
    assert Plan.objects.count() == 1
    assert Charge.objects.count() == 0


def test_support_cannot_delete_a_plan_and_sees_no_finance_buttons(support_client):
    plan = PlanFactory()
    assert support_client.post(f"/plans/{plan.pk}/delete/").status_code == 403
    assert Plan.objects.filter(pk=plan.pk).exists()
    body = support_client.get(f"/plans/{plan.pk}/").content.decode()
    for url in (f"/plans/{plan.pk}/edit/", f"/plans/{plan.pk}/delete/", f"/plans/{plan.pk}/charges/new/"):
        assert url not in body


# --- list and detail ------------------------------------------------------------------


def test_list_search_is_case_insensitive(support_client):
    PlanFactory(name="Pro Monthly", lookup_id="pro_monthly")
    PlanFactory(name="Starter", lookup_id="STARTER_2025")
    names = [p.name for p in support_client.get("/plans/", {"q": "PRO month"}).context["page"].object_list]
    assert names == ["Pro Monthly"]
    names = [p.name for p in support_client.get("/plans/", {"q": "starter_2025"}).context["page"].object_list]
    assert names == ["Starter"]


def test_list_sorts_by_number_of_charges_and_paginates(support_client):
    few, many = PlanFactory(name="A few"), PlanFactory(name="Many")
    FixedChargeFactory(plan=few)
    UsageChargeFactory.create_batch(3, plan=many)
    PlanFactory(name="None")
    rows = support_client.get("/plans/", {"sort": "-charges"}).context["page"].object_list
    assert [(p.name, p.charge_count) for p in rows] == [("Many", 3), ("A few", 1), ("None", 0)]

    PlanFactory.create_batch(30)
    page2 = support_client.get("/plans/", {"page": 2})
    assert len(page2.context["page"].object_list) == 8
    assert "Page 2 of 2 · 33 total" in page2.content.decode()


def test_list_empty_states(finance_client, support_client):
    assert "create the first plan" in finance_client.get("/plans/").content.decode()
    assert "ask someone in Finance" in support_client.get("/plans/").content.decode()
    PlanFactory()
    assert "No plans match “zzz”" in finance_client.get("/plans/", {"q": "zzz"}).content.decode()


def test_list_query_count_is_constant(support_client, django_assert_max_num_queries):
    for plan in PlanFactory.create_batch(40):
        FixedChargeFactory(plan=plan, amount=Decimal("49.00"))
        UsageChargeFactory.create_batch(2, plan=plan)
    with django_assert_max_num_queries(7):
        response = support_client.get("/plans/", {"sort": "-charges"})
    body = response.content.decode()
    assert len(response.context["page"].object_list) == 25
    assert body.count("Platform fee ($49.00)") == 25


def test_detail_lists_charges_in_constant_queries(support_client, django_assert_max_num_queries):
    plan = PlanFactory(name="Pro")
    FixedChargeFactory(plan=plan, amount=Decimal("29.00"), display_name="Base fee")
    UsageChargeFactory(plan=plan, display_name="API calls", unit_price=Decimal("0.002"))
    UsageChargeFactory(
        plan=plan,
        display_name="Storage",
        pricing_model="graduated",
        unit_price=None,
        tiers=[{"up_to": "100", "unit_price": "0.1", "flat_amount": "0"}, {"up_to": None, "unit_price": "0.05", "flat_amount": "0"}],
    )
    SubscriptionFactory(plan=plan)
    with django_assert_max_num_queries(7):  # 6 + the history panel
        response = support_client.get(f"/plans/{plan.pk}/")
    body = response.content.decode()
    assert "$29.00 per period" in body
    assert "0.002 USD per units" in body
    assert "up to 100" in body and "<td>the rest</td><td>0.05 USD / unit</td>" in body
    assert response.context["plan"].subscription_count == 1


def test_detail_empty_state_points_to_new_charge(finance_client):
    plan = PlanFactory()
    body = finance_client.get(f"/plans/{plan.pk}/").content.decode()
    assert "No charges yet" in body
    assert f'href="/plans/{plan.pk}/charges/new/">Add a charge</a>' in body


# --- create / edit / delete -----------------------------------------------------------


PLAN_DATA = {
    "name": "Pro",
    "lookup_id": "pro",
    "description": "",
    "type": "HYBRID",
    "billing_interval": "month",
    "currency": "eur",
    "trial_days": "14",
    "active": "on",
}


def test_finance_creates_a_plan(finance_client):
    response = finance_client.post("/plans/new/", PLAN_DATA)
    plan = Plan.objects.get(lookup_id="pro")
    assert response.status_code == 302
    assert response["Location"] == f"/plans/{plan.pk}/"
    assert (plan.name, plan.currency, plan.trial_days, plan.active) == ("Pro", "EUR", 14, True)
    assert flashes(response) == ["Plan “Pro” created. Add its charges next."]


def test_create_plan_errors_beside_the_field(finance_client):
    PlanFactory(lookup_id="pro")
    taken = finance_client.post("/plans/new/", PLAN_DATA)
    assert field_errors(taken, "lookup_id") == ["A plan with lookup_id &#x27;pro&#x27; already exists"]

    bad_currency = finance_client.post("/plans/new/", {**PLAN_DATA, "lookup_id": "pro2", "currency": "XYZ"})
    assert field_errors(bad_currency, "currency")[0].startswith("currency must be an active ISO 4217 code")
    assert field_errors(bad_currency, "lookup_id") == []

    blank = finance_client.post("/plans/new/", {**PLAN_DATA, "name": "", "trial_days": "-1"})
    assert field_errors(blank, "name") == ["This field is required."]
    assert field_errors(blank, "trial_days") == ["Ensure this value is greater than or equal to 0."]
    assert Plan.objects.count() == 1


def test_finance_edits_and_archives_a_plan(finance_client):
    plan = PlanFactory(name="Pro", lookup_id="pro", currency="USD", active=True)
    form = finance_client.get(f"/plans/{plan.pk}/edit/").content.decode()
    assert 'value="Pro"' in form and 'checked' in form
    data = {**PLAN_DATA, "name": "Pro (legacy)", "currency": "USD"}
    del data["active"]  # an unticked checkbox is not sent
    response = finance_client.post(f"/plans/{plan.pk}/edit/", data)
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.name, plan.active, plan.trial_days) == ("Pro (legacy)", False, 14)
    assert flashes(response) == ["Plan “Pro (legacy)” saved."]


def test_edit_refuses_currency_change_with_subscriptions_beside_the_field(finance_client):
    plan = PlanFactory(lookup_id="pro", currency="USD")
    SubscriptionFactory(plan=plan)
    response = finance_client.post(f"/plans/{plan.pk}/edit/", {**PLAN_DATA, "currency": "EUR"})
    assert field_errors(response, "currency") == ["currency cannot change while the plan has subscriptions"]
    plan.refresh_from_db()
    assert plan.currency == "USD"


def test_finance_deletes_a_plan_without_subscriptions(finance_client):
    plan = PlanFactory(name="Trial plan")
    FixedChargeFactory(plan=plan)
    detail = finance_client.get(f"/plans/{plan.pk}/").content.decode()
    assert re.search(rf'action="/plans/{plan.pk}/delete/" class="inline" data-confirm="Delete this plan', detail)
    assert finance_client.get(f"/plans/{plan.pk}/delete/").status_code == 200  # the no-JS confirmation
    assert Plan.objects.filter(pk=plan.pk).exists()

    response = finance_client.post(f"/plans/{plan.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == "/plans/"
    assert not Plan.objects.filter(pk=plan.pk).exists()
    assert Charge.objects.count() == 0
    assert flashes(response) == ["Plan “Trial plan” deleted."]


def test_deleting_a_plan_with_subscriptions_is_refused_with_advice(finance_client):
    plan = PlanFactory(name="Pro")
    SubscriptionFactory(plan=plan)
    response = finance_client.post(f"/plans/{plan.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == f"/plans/{plan.pk}/"
    assert Plan.objects.filter(pk=plan.pk).exists()
    (message,) = flashes(response)
    assert "has subscriptions, so it cannot be deleted: archive it instead" in message
    assert "untick Active" in message


def test_plan_delete_service_refuses_with_subscriptions_and_deletes_without():
    from catalog.services import plan_delete
    from fluxbill.core.errors import Conflict

    kept = PlanFactory()
    SubscriptionFactory(plan=kept)
    with pytest.raises(Conflict) as refused:
        plan_delete(plan=kept)
    assert refused.value.field == "active"
    gone = PlanFactory()
    UsageChargeFactory(plan=gone)
    plan_delete(plan=gone)
    assert list(Plan.objects.all()) == [kept]


# --- charges --------------------------------------------------------------------------


def _charge(**fields):
    """POST data for the charge form: the five blank tier rows a browser without JavaScript sends."""
    data = {"type": "USAGE", "display_name": "", "amount": "", "meter": "", "pricing_model": "per_unit",
            "unit_price": "", "package_size": "", "package_price": "", "free_units": "", "quantity": ""}  # fmt: skip
    tiers = fields.pop("tiers", [])
    data.update(fields)
    rows = list(tiers) + [("", "", "")] * (5 - len(tiers))
    data["tier_up_to"] = [r[0] for r in rows]
    data["tier_unit_price"] = [r[1] for r in rows]
    data["tier_flat_amount"] = [r[2] for r in rows]
    return data


def test_charge_form_shows_five_empty_tier_rows_without_javascript(finance_client):
    plan = PlanFactory()
    body = finance_client.get(f"/plans/{plan.pk}/charges/new/").content.decode()
    assert body.count('name="tier_up_to" value=""') == 5
    assert body.count('name="tier_unit_price"') == 5
    assert "fluxbill/tiers.js" in body


def test_finance_adds_a_fixed_charge(finance_client):
    plan = PlanFactory(type="HYBRID")
    response = finance_client.post(f"/plans/{plan.pk}/charges/new/", _charge(type="FIXED", amount="49.00"))
    assert response.status_code == 302
    charge = plan.charges.get()
    assert (charge.type, charge.amount, charge.display_name, charge.meter) == ("FIXED", Decimal("49.00"), "Subscription fee", None)
    assert flashes(response) == [f"Charge “Subscription fee” added to {plan.name}."]


def test_finance_adds_per_unit_and_package_charges(finance_client):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory(name="API calls")
    finance_client.post(
        f"/plans/{plan.pk}/charges/new/",
        _charge(meter=str(meter.pk), unit_price="0.002", free_units="1000"),
    )
    finance_client.post(
        f"/plans/{plan.pk}/charges/new/",
        _charge(meter=str(meter.pk), pricing_model="package", package_size="100", package_price="5", display_name="Packs"),
    )
    per_unit, package = plan.charges.order_by("created_at")
    assert (per_unit.display_name, per_unit.unit_price, per_unit.free_units) == ("API calls", Decimal("0.002"), Decimal("1000"))
    assert (package.pricing_model, package.package_size, package.package_price) == ("package", Decimal("100"), Decimal("5"))


@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_finance_adds_a_tiered_charge_from_the_rows(finance_client, model):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()
    tiers = [("100", "0.10", ""), ("", "", ""), ("", "0.05", "2")]  # a blank row in between is ignored
    response = finance_client.post(
        f"/plans/{plan.pk}/charges/new/", _charge(meter=str(meter.pk), pricing_model=model, tiers=tiers)
    )
    assert response.status_code == 302
    charge = plan.charges.get()
    assert charge.pricing_model == model
    assert charge.tiers == [
        {"up_to": "100", "unit_price": "0.1", "flat_amount": "0"},
        {"up_to": None, "unit_price": "0.05", "flat_amount": "2"},
    ]


def test_charge_service_errors_beside_the_field(finance_client):
    usage_plan = PlanFactory(type="USAGE")
    meter = MeterFactory()
    url = f"/plans/{usage_plan.pk}/charges/new/"

    fixed_on_usage_plan = finance_client.post(url, _charge(type="FIXED", amount="10"))
    assert field_errors(fixed_on_usage_plan, "type") == ["A FIXED charge cannot be added to a USAGE plan"]

    no_meter = finance_client.post(url, _charge(unit_price="1"))
    assert field_errors(no_meter, "meter")[0].startswith("Missing required field: meter_id")

    no_price = finance_client.post(url, _charge(meter=str(meter.pk)))
    assert field_errors(no_price, "unit_price") == ["Missing required field: unit_price (per_unit pricing)"]

    zero_package = finance_client.post(
        url, _charge(meter=str(meter.pk), pricing_model="package", package_size="0", package_price="5")
    )
    assert field_errors(zero_package, "package_size") == ["package_size must be greater than 0"]

    negative = finance_client.post(url, _charge(meter=str(meter.pk), unit_price="-1"))
    assert field_errors(negative, "unit_price") == ["Ensure this value is greater than or equal to 0."]

    hybrid = PlanFactory(type="HYBRID")
    no_amount = finance_client.post(f"/plans/{hybrid.pk}/charges/new/", _charge(type="FIXED"))
    assert field_errors(no_amount, "amount")[0].startswith("Missing required field: amount")
    assert Charge.objects.count() == 0


def test_tier_errors_land_on_the_row_shown(finance_client):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()
    url = f"/plans/{plan.pk}/charges/new/"

    no_tiers = finance_client.post(url, _charge(meter=str(meter.pk), pricing_model="graduated"))
    assert re.search(r'<p class="error" data-field="tiers">Missing required field: tiers \(graduated pricing\)</p>', no_tiers.content.decode())

    # The service's tiers[1] is the editor's third row: the blank second row is skipped.
    not_ascending = finance_client.post(
        url, _charge(meter=str(meter.pk), pricing_model="graduated", tiers=[("100", "0.1", ""), ("", "", ""), ("50", "0.05", ""), ("", "0.01", "")])
    )
    assert tier_cell_errors(not_ascending, 2, "up_to") == ["up_to must be greater than the previous tier&#x27;s up_to (100)"]
    assert tier_cell_errors(not_ascending, 0, "up_to") == []
    assert 'name="tier_up_to" value="50"' in not_ascending.content.decode()  # what was typed is shown back

    closed_last = finance_client.post(url, _charge(meter=str(meter.pk), pricing_model="volume", tiers=[("100", "0.1", ""), ("500", "0.05", "")]))
    assert tier_cell_errors(closed_last, 1, "up_to") == ["up_to must be null: the last tier has no upper bound"]

    not_a_number = finance_client.post(url, _charge(meter=str(meter.pk), pricing_model="volume", tiers=[("100", "abc", ""), ("", "0.05", "")]))
    assert tier_cell_errors(not_a_number, 0, "unit_price") == ["unit_price must be a number, got &#x27;abc&#x27;"]
    assert Charge.objects.count() == 0


# --- the price preview ------------------------------------------------------------------

GRADUATED = {"pricing_model": "graduated", "tier_up_to": ["100", ""], "tier_unit_price": ["0.10", "0.05"]}


def _preview(client, plan, **params):
    return client.get(f"/plans/{plan.pk}/charges/preview/", {**params, "fragment": "1"})


def _amount(response) -> str:
    found = re.search(r"<strong data-preview-amount>(.*?)</strong>", response.content.decode())
    return found.group(1) if found else ""


def test_preview_fragment_prices_graduated_and_volume_tiers(support_client):
    plan = PlanFactory(currency="USD")
    graduated = _preview(support_client, plan, quantity="150", **GRADUATED)
    # 100 × 0.10 + 50 × 0.05 = 10.00 + 2.50
    assert _amount(graduated) == "$12.50"
    assert "<html" not in graduated.content.decode()
    # volume: all 150 units at the tier they fall in, 0.05
    assert _amount(_preview(support_client, plan, quantity="150", **{**GRADUATED, "pricing_model": "volume"})) == "$7.50"
    # a flat amount on the second tier is added once it is reached: 12.50 + 3
    with_flat = {**GRADUATED, "tier_flat_amount": ["", "3"]}
    assert _amount(_preview(support_client, plan, quantity="150", **with_flat)) == "$15.50"
    assert _amount(_preview(support_client, plan, quantity="100", **with_flat)) == "$10.00"


def test_preview_per_unit_package_and_rounding(support_client):
    usd, jpy = PlanFactory(currency="USD"), PlanFactory(currency="JPY")
    # (1000 − 100 free) × 0.002 = 1.80
    per_unit = _preview(support_client, usd, quantity="1000", pricing_model="per_unit", unit_price="0.002", free_units="100")
    assert _amount(per_unit) == "$1.80"
    assert "900 billable after free units" in per_unit.content.decode()
    # ceil(250 / 100) = 3 packages × 5
    assert _amount(_preview(support_client, usd, quantity="250", pricing_model="package", package_size="100", package_price="5")) == "$15.00"
    # 150 × 0.333 = 49.95 → rounded once, half up, to whole yen
    assert _amount(_preview(support_client, jpy, quantity="150", pricing_model="per_unit", unit_price="0.333")) == "¥50"


def test_preview_errors(support_client):
    plan = PlanFactory()
    bad_quantity = _preview(support_client, plan, quantity="lots", **GRADUATED)
    assert '<p class="error" role="alert">Enter a number.</p>' in bad_quantity.content.decode()
    no_price = _preview(support_client, plan, quantity="5", pricing_model="per_unit")
    assert "Missing required field: unit_price (per_unit pricing)" in no_price.content.decode()
    bad_tiers = _preview(support_client, plan, quantity="5", pricing_model="graduated", tier_up_to=["100", "50"], tier_unit_price=["1", "1"])
    assert "tiers[1].up_to must be null" in bad_tiers.content.decode()
    assert "Enter a number of units" in _preview(support_client, plan, **GRADUATED).content.decode()


def test_preview_without_javascript_is_a_get_form_page(support_client):
    plan = PlanFactory()
    page = support_client.get(f"/plans/{plan.pk}/charges/preview/", {"quantity": "150", **GRADUATED})
    body = page.content.decode()
    assert re.search(r'<form method="get" class="card" id="calculator"', body)
    assert 'name="tier_up_to" value="100"' in body  # the form comes back filled in
    assert _amount(page) == "$12.50"
    bad = support_client.get(f"/plans/{plan.pk}/charges/preview/", {"quantity": "5", "pricing_model": "volume", "tier_up_to": ["100", "50"], "tier_unit_price": ["1", "1"]})
    assert tier_cell_errors(bad, 1, "up_to") == ["up_to must be null: the last tier has no upper bound"]


def test_preview_button_on_the_charge_form_prices_without_saving(finance_client):
    plan = PlanFactory(type="USAGE")
    meter = MeterFactory()
    data = _charge(meter=str(meter.pk), pricing_model="graduated", tiers=[("100", "0.10", ""), ("", "0.05", "")], quantity="150", preview="1")
    response = finance_client.post(f"/plans/{plan.pk}/charges/new/", data)
    assert response.status_code == 200
    assert _amount(response) == "$12.50"
    assert Charge.objects.count() == 0


def test_saved_charge_links_to_a_filled_in_calculator(support_client):
    plan = PlanFactory()
    UsageChargeFactory(
        plan=plan,
        pricing_model="graduated",
        unit_price=None,
        tiers=[{"up_to": "100", "unit_price": "0.1", "flat_amount": "0"}, {"up_to": None, "unit_price": "0.05", "flat_amount": "0"}],
    )
    (charge,) = support_client.get(f"/plans/{plan.pk}/").context["charges"]
    response = support_client.get(charge.calculator_url + "&quantity=150&fragment=1")
    assert _amount(response) == "$12.50"


def test_list_and_api_read_one_filterset(support_client, admin_api):
    PlanFactory(name="Pro Monthly", lookup_id="pro_monthly")
    PlanFactory(name="Legacy Pro", lookup_id="legacy", active=False)
    PlanFactory(name="Starter", lookup_id="starter")

    def page(params):
        response = support_client.get("/plans/", params)
        assert response.status_code == 200
        return {p.lookup_id for p in response.context["page"].object_list}

    def api(params):
        return {p["lookup_id"] for p in admin_api.get("/api/v1/plans", params).json()["results"]}

    assert page({"q": "pro"}) == api({"search": "pro"}) == {"pro_monthly", "legacy"}
    assert page({"status": "archived"}) == api({"active": "false"}) == api({"status": "archived"}) == {"legacy"}
    assert page({"q": "pro", "status": "active"}) == {"pro_monthly"}
    bad = support_client.get("/plans/", {"status": "gone"})
    assert bad.status_code == 400 and "status" in bad.context["form"].errors
    assert admin_api.get("/api/v1/plans", {"status": "gone"}).json()["field"] == "status"


def test_csv_export_of_the_filtered_list_with_charge_counts(support_client):
    pro = PlanFactory(name="Pro", lookup_id="pro", currency="EUR")
    UsageChargeFactory.create_batch(2, plan=pro)
    PlanFactory(name="Legacy Pro", lookup_id="legacy", active=False)
    PlanFactory(name="Starter", lookup_id="starter")
    rows = csv_rows(support_client.get("/plans/export.csv", {"q": "pro", "sort": "-charges"}), "plans")
    assert rows[0] == ["lookup_id", "name", "type", "billing_interval", "currency", "trial_days", "active", "charges",
                       "created_at", "id"]
    assert [(r[0], r[4], r[6], r[7]) for r in rows[1:]] == [("pro", "EUR", "True", "2"), ("legacy", "USD", "False", "0")]
