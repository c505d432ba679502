"""Content-Security-Policy on dashboard and admin pages (issue 14 §1)."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part for part in (p.strip() for p in header.split(";")) if part}


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_pages_carry_a_policy_without_inline_scripts(client, url):
    policy = _policy(client.get(url))
    assert policy["script-src"] == "script-src 'self'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["object-src"] == "object-src 'none'"


def test_dashboard_and_admin_pages_of_a_logged_in_user_carry_it(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456"))
    for url in ["/", "/invoices/", "/admin/", "/admin/invoicing/invoice/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response["Content-Security-Policy"], url


def test_the_json_api_is_left_out(client):
    assert "Content-Security-Policy" not in client.get("/api/v1/schema/")
