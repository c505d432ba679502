"""Finding rows by id or human key in URLs (fluxbill.core.lookups)."""

import pytest

from tests.factories import CustomerFactory, MeterFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/v1/customers/acme%00corp", "/api/v1/meters/a%00b/usage"])
def test_key_holding_nul_is_404_not_a_database_error(admin_api, url):
    # Found by fuzzing: PostgreSQL text cannot hold NUL, so looking one up raised DataError (500).
    response = admin_api.get(url, {"from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"})

    assert response.status_code == 404, response.content
    assert "not found" in response.json()["error"]


def test_keys_still_find_their_rows(admin_api):
    CustomerFactory(external_id="acme-corp")
    MeterFactory(lookup_key="api_calls")

    assert admin_api.get("/api/v1/customers/acme-corp").status_code == 200
    window = {"from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"}
    usage = admin_api.get("/api/v1/meters/api_calls/usage", window)
    assert usage.status_code == 200, usage.content
