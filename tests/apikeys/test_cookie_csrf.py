"""An unsafe API request authenticated by the JWT cookie passes Django's CSRF check, as a session one does.

The browser sends the cookie by itself, so SameSite alone would be the only guard; a Bearer header or an
X-API-Key is something a forged cross-site request cannot add, so those need no CSRF token."""

import pytest
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from catalog.models import Plan
from tests.factories import PlanFactory, make_api_key

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"
PLANS = "/api/v1/plans"
NEW_PLAN = {"name": "Pro", "lookup_id": "pro", "currency": "EUR"}
PASSWORD = "pass-word-123"  # the factories' password


@pytest.fixture
def access_token(staff_user):
    response = APIClient().post(LOGIN, {"email": "finance@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def _cookie_client(access_token):
    # enforce_csrf_checks: DRF's test client skips the check otherwise, which would hide a missing one.
    client = APIClient(enforce_csrf_checks=True)
    client.cookies["access_token"] = access_token
    return client


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_cookie_write_without_csrf_token_is_403(access_token, method):
    plan = PlanFactory(lookup_id="starter", name="Starter")
    url = PLANS if method == "post" else f"{PLANS}/{plan.pk}"

    response = getattr(_cookie_client(access_token), method)(url, NEW_PLAN, format="json")

    assert response.status_code == 403, response.content
    assert "CSRF" in response.json()["error"]
    assert list(Plan.objects.values_list("lookup_id", "name")) == [("starter", "Starter")]


def test_cookie_write_with_a_wrong_csrf_token_is_403(access_token):
    client = _cookie_client(access_token)
    client.cookies["csrftoken"] = get_random_string(32)

    response = client.post(PLANS, NEW_PLAN, format="json", headers={"X-CSRFToken": get_random_string(32)})

    assert response.status_code == 403, response.content
    assert "CSRF" in response.json()["error"]


def test_cookie_write_with_the_csrf_token_passes(access_token):
    client = _cookie_client(access_token)
    token = get_random_string(32)
    client.cookies["csrftoken"] = token

    response = client.post(PLANS, NEW_PLAN, format="json", headers={"X-CSRFToken": token})

    assert response.status_code == 201, response.content
    assert Plan.objects.filter(lookup_id="pro").exists()


def test_cookie_read_needs_no_csrf_token(access_token):
    assert _cookie_client(access_token).get(PLANS).status_code == 200


def test_bearer_write_needs_no_csrf_token(access_token):
    client = APIClient(enforce_csrf_checks=True)

    response = client.post(PLANS, NEW_PLAN, format="json", headers={"Authorization": f"Bearer {access_token}"})

    assert response.status_code == 201, response.content


def test_bearer_write_beside_a_cookie_needs_no_csrf_token(access_token):
    client = _cookie_client(access_token)

    response = client.post(PLANS, NEW_PLAN, format="json", headers={"Authorization": f"Bearer {access_token}"})

    assert response.status_code == 201, response.content


def test_api_key_write_needs_no_csrf_token(db):
    _, raw = make_api_key(scopes=["plans.write"])
    client = APIClient(enforce_csrf_checks=True)

    response = client.post(PLANS, NEW_PLAN, format="json", headers={"X-API-Key": raw})

    assert response.status_code == 201, response.content


def test_invalid_cookie_is_still_401_not_a_csrf_403(staff_user):
    response = _cookie_client("not-a-token").post(PLANS, NEW_PLAN, format="json")

    assert response.status_code == 401, response.content
