"""A password change or a deactivation ends the staff member's JWTs at once, access and refresh alike."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
CUSTOMERS = "/api/v1/customers"
PASSWORD = "pass-word-123"  # the factories' password


def _tokens():
    response = APIClient().post(LOGIN, {"email": "finance@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    return body["access_token"], body["refresh_token"]


def _as_bearer(access):
    return APIClient().get(CUSTOMERS, headers={"Authorization": f"Bearer {access}"})


def _as_cookie(access):
    client = APIClient()
    client.cookies["access_token"] = access
    return client.get(CUSTOMERS)


def _refresh_in_body(refresh):
    return APIClient().post(REFRESH, {"refresh": refresh}, format="json")


def _refresh_in_cookie(refresh):
    client = APIClient()
    client.cookies["refresh_token"] = refresh
    return client.post(REFRESH)


def _change_password(user):
    user.set_password("new")
    user.save()


def _deactivate(user):
    user.is_active = False
    user.save()


def test_tokens_work_until_something_changes(staff_user):
    access, refresh = _tokens()

    assert _as_bearer(access).status_code == 200
    assert _as_cookie(access).status_code == 200
    refreshed = _refresh_in_body(refresh)
    assert refreshed.status_code == 200, refreshed.content
    assert _as_bearer(refreshed.json()["access_token"]).status_code == 200


@pytest.mark.parametrize("change", [_change_password, _deactivate], ids=["password-changed", "deactivated"])
@pytest.mark.parametrize(
    "use",
    [_as_bearer, _as_cookie, _refresh_in_body, _refresh_in_cookie],
    ids=["bearer", "access-cookie", "refresh-body", "refresh-cookie"],
)
def test_old_tokens_are_401_after_the_change(staff_user, change, use):
    access, refresh = _tokens()

    change(staff_user)
    response = use(refresh if use in (_refresh_in_body, _refresh_in_cookie) else access)

    assert response.status_code == 401, response.content
    assert response.json()["error"]
    assert "access_token" not in response.cookies


def test_an_access_token_refreshed_before_the_change_dies_with_it(staff_user):
    _, refresh = _tokens()
    refreshed_access = _refresh_in_body(refresh).json()["access_token"]

    _change_password(staff_user)

    assert _as_bearer(refreshed_access).status_code == 401


def test_refresh_of_a_user_who_is_no_longer_staff_is_401(staff_user):
    _, refresh = _tokens()
    staff_user.is_staff = False
    staff_user.save()

    assert _refresh_in_body(refresh).status_code == 401


def test_tokens_from_after_the_change_work(staff_user):
    _tokens()
    _change_password(staff_user)

    response = APIClient().post(LOGIN, {"email": "finance@example.com", "password": "new"}, format="json")

    assert response.status_code == 200, response.content
    assert _as_bearer(response.json()["access_token"]).status_code == 200
    assert _refresh_in_body(response.json()["refresh_token"]).status_code == 200
