"""Found (issue 14 §3): absurd query values on dashboard pages gave 500s; each is a 400 naming the problem."""

import pytest

from tests.factories import MeterFactory, PlanFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url, params, field_message",
    [
        ("/invoices/", {"period_to": "9999-12-31"}, "9998-12-31"),
        ("/invoices/", {"period_from": "0001-01-01"}, "1900-01-01"),
        ("/invoices/export.csv", {"period_to": "9999-12-31"}, "9998-12-31"),
        ("/invoices/export.csv", {"period_from": "not a date"}, "valid date"),
    ],
)
def test_invoice_pages_answer_400_for_dates_out_of_range(finance_client, url, params, field_message):
    response = finance_client.get(url, params)
    assert response.status_code == 400
    assert field_message in response.content.decode()


@pytest.mark.parametrize("params", [{"end": "9999-12-31"}, {"start": "0001-01-01", "end": "0001-01-02"}])
def test_meter_chart_answers_400_for_dates_out_of_range(finance_client, params):
    meter = MeterFactory()
    response = finance_client.get(f"/meters/{meter.pk}/", params)
    assert response.status_code == 400
    assert "between 1900-01-01 and 9998-12-31" in response.content.decode()


@pytest.mark.parametrize("fragment", ["", "1"])
def test_charge_preview_of_a_quantity_too_large_to_price_answers_400(finance_client, fragment):
    plan = PlanFactory(currency="USD")
    params = {"pricing_model": "per_unit", "unit_price": "999999999999.999999999999", "quantity": "999999999999999999"}
    if fragment:
        params["fragment"] = fragment
    response = finance_client.get(f"/plans/{plan.pk}/charges/preview/", params)
    assert response.status_code == 400
    assert "too large" in response.content.decode()
