"""POST /api/v1/auth/login must not tell, by its timing, which emails belong to an account."""

import pytest
from django.contrib.auth.hashers import get_hasher
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"


@pytest.fixture
def hasher_runs(monkeypatch):
    """Counts how many times the configured password hasher does its (slow) work.

    Only the outermost encode/verify call counts: most hashers' verify calls encode, and one
    verification is one run of the hasher."""
    hasher_class = type(get_hasher())
    runs = {"count": 0, "depth": 0}

    def counted(original):
        def wrapper(self, *args, **kwargs):
            if runs["depth"] == 0:
                runs["count"] += 1
            runs["depth"] += 1
            try:
                return original(self, *args, **kwargs)
            finally:
                runs["depth"] -= 1

        return wrapper

    monkeypatch.setattr(hasher_class, "encode", counted(hasher_class.encode))
    monkeypatch.setattr(hasher_class, "verify", counted(hasher_class.verify))
    return runs


def _login_counting(runs, **body):
    runs["count"] = 0
    response = APIClient().post(LOGIN, body, format="json")
    return response, runs["count"]


@pytest.mark.parametrize("field", ["email", "username"])
def test_unknown_account_runs_the_hasher_as_often_as_a_wrong_password(staff_user, hasher_runs, field):
    known = {"email": "finance@example.com", "username": "finance"}[field]
    unknown = {"email": "nobody@example.com", "username": "nobody"}[field]

    wrong_password, known_runs = _login_counting(hasher_runs, **{field: known, "password": "wrong"})
    no_account, unknown_runs = _login_counting(hasher_runs, **{field: unknown, "password": "wrong"})

    assert known_runs >= 1
    assert unknown_runs == known_runs
    assert wrong_password.status_code == no_account.status_code == 401
    assert wrong_password.json() == no_account.json()
    assert "access_token" not in no_account.cookies
