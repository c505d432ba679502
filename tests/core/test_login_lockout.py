"""Login lockout after repeated failures (django-axes), on the dashboard and admin logins (issue 14 §1)."""

import pytest
from axes.models import AccessAttempt
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_five_failures_lock_the_username_from_that_address_even_with_the_right_password(settings, url):
    user = UserFactory(username="finance", is_staff=True)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(url, {"username": "finance", "password": "wrong"}).status_code == 200
    locked = client.post(url, {"username": "finance", "password": "wrong"})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    right = client.post(url, {"username": "finance", "password": "pass-word-123"})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.filter(username="finance").exists()
    # Another address is not locked out: the lock is the (username, address) pair.
    elsewhere = Client(REMOTE_ADDR="10.9.8.7").post(url, {"username": "finance", "password": "pass-word-123"})
    assert elsewhere.status_code == 302


def test_a_success_before_the_limit_resets_the_count():
    UserFactory(username="support", is_staff=True)
    client = Client()
    for _ in range(3):
        client.post("/login/", {"username": "support", "password": "wrong"})
    assert client.post("/login/", {"username": "support", "password": "pass-word-123"}).status_code == 302
    client.post("/logout/")
    for _ in range(3):
        assert client.post("/login/", {"username": "support", "password": "wrong"}).status_code == 200


def test_the_api_login_locks_out_too_and_answers_429_in_json(settings):
    UserFactory(username="api-user", email="api@example.com", is_staff=True)
    client = Client()

    def login(password):
        return client.post("/api/v1/auth/login", {"email": "api@example.com", "password": password}, content_type="application/json")

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login("wrong").status_code == 401
    assert login("wrong").status_code == 429
    locked = login("pass-word-123")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.json()["error"]
    assert "access_token" not in locked.cookies
