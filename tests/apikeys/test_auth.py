"""API keys (/api/v1/api-keys), key and staff-JWT authentication, scopes, createapikey."""

import datetime
import re
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apikeys.models import ApiKey
from apikeys.services import hash_key
from catalog.models import Plan
from tests.factories import PlanFactory, StaffFactory, UserFactory, make_api_key

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/api-keys"
PLANS = "/api/v1/plans"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
PREFIX = "org_live_"
PASSWORD = "pass-word-123"  # the factories' password


def with_key(raw):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def with_cookie(token):
    client = APIClient()
    client.cookies["access_token"] = token
    return client


def login(client, **credentials):
    return client.post(LOGIN, {"password": PASSWORD, **credentials}, format="json")


# --- creating keys ----------------------------------------------------------------------


def test_create_key_returns_the_full_key_once(admin_api):
    response = admin_api.post(KEYS, {"name": "Production SDK", "scopes": ["usage.write", "usage.read"]}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["key"]
    assert raw.startswith(PREFIX)
    random_part = raw[len(PREFIX) :]
    assert len(random_part) >= 32
    assert re.fullmatch(r"[A-Za-z0-9_-]+", random_part)
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.key_hash == hash_key(raw)
    assert raw not in {stored.key_hash, stored.prefix, stored.name}
    assert body["prefix"] == raw[: len(PREFIX) + 8] == stored.prefix
    assert body["name"] == "Production SDK"
    assert body["scopes"] == ["usage.write", "usage.read"]
    assert body["revoked_at"] is None
    assert body["last_used_at"] is None
    assert "key_hash" not in body


def test_each_key_is_different(admin_api):
    first = admin_api.post(KEYS, {"name": "a", "scopes": ["*"]}, format="json").json()["key"]
    second = admin_api.post(KEYS, {"name": "a", "scopes": ["*"]}, format="json").json()["key"]

    assert first != second


def test_new_key_works_immediately(admin_api):
    PlanFactory(lookup_id="starter")
    raw = admin_api.post(KEYS, {"name": "reader", "scopes": ["plans.read"]}, format="json").json()["key"]

    response = with_key(raw).get(PLANS)

    assert response.status_code == 200, response.content
    assert [p["lookup_id"] for p in response.json()["results"]] == ["starter"]


def test_list_and_retrieve_never_show_the_key_or_its_hash(admin_api):
    created = admin_api.post(KEYS, {"name": "secret", "scopes": ["usage.write"]}, format="json").json()
    raw = created["key"]
    digest = hash_key(raw)

    listed = admin_api.get(KEYS)
    one = admin_api.get(f"{KEYS}/{created['id']}")

    assert listed.status_code == 200 and one.status_code == 200
    expected_fields = {
        "id", "name", "prefix", "scopes", "created_by", "parent_id", "last_used_at", "expires_at", "revoked_at", "created_at"
    }
    assert all(set(item) == expected_fields for item in listed.json()["results"])
    assert set(one.json()) == expected_fields
    for response in (listed, one):
        assert raw not in response.content.decode()
        assert digest not in response.content.decode()
    assert created["id"] in [item["id"] for item in listed.json()["results"]]


def test_scopes_are_deduplicated_in_canonical_order(admin_api):
    response = admin_api.post(
        KEYS, {"name": "k", "scopes": ["*", "plans.read", "usage.write", "plans.read"]}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["scopes"] == ["usage.write", "plans.read", "*"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"name": "k", "scopes": ["plans.delete"]}, "scopes", "plans.delete"),
        ({"name": "k", "scopes": ["usage.write", "admin"]}, "scopes", "admin"),
        ({"name": "k", "scopes": []}, "scopes", ""),
        ({"name": "k", "scopes": "usage.write"}, "scopes", "list"),
        ({"name": "k"}, "scopes", "Missing required field: scopes"),
        ({"scopes": ["*"]}, "name", "Missing required field: name"),
        ({"name": "   ", "scopes": ["*"]}, "name", ""),
        ({"name": "k", "scopes": ["*"], "owner": "me"}, "owner", "Unknown field: owner"),
        ({"name": "k", "scopes": ["*"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at", "future"),
    ],
)
def test_create_key_bad_input_is_400(admin_api, body, field, says):
    before = ApiKey.objects.count()

    response = admin_api.post(KEYS, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert says in response.json()["error"]
    assert ApiKey.objects.count() == before


def test_key_created_by_staff_records_the_creator(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)

    response = client.post(KEYS, {"name": "k", "scopes": ["*"]}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == "finance"
    assert ApiKey.objects.get(pk=response.json()["id"]).created_by == staff_user


def test_key_created_with_a_key_has_no_creator(admin_api):
    response = admin_api.post(KEYS, {"name": "k", "scopes": ["*"]}, format="json")

    assert response.json()["created_by"] is None


# --- rejected keys ----------------------------------------------------------------------


def test_revoked_key_gets_401(admin_api):
    key, raw = make_api_key(scopes=["plans.read"])
    assert with_key(raw).get(PLANS).status_code == 200

    revoked = admin_api.post(f"{KEYS}/{key.id}/revoke")

    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["revoked_at"] is not None
    response = with_key(raw).get(PLANS)
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "API key has been revoked"


def test_revoke_twice_is_409(admin_api):
    key, _ = make_api_key()
    admin_api.post(f"{KEYS}/{key.id}/revoke")
    revoked_at = ApiKey.objects.get(pk=key.pk).revoked_at

    response = admin_api.post(f"{KEYS}/{key.id}/revoke")

    assert response.status_code == 409, response.content
    assert "already revoked" in response.json()["error"]
    assert ApiKey.objects.get(pk=key.pk).revoked_at == revoked_at


@pytest.mark.parametrize("key_id", [str(uuid.uuid4()), "nope"])
def test_revoke_unknown_key_is_404(admin_api, key_id):
    assert admin_api.post(f"{KEYS}/{key_id}/revoke").status_code == 404


def test_expired_key_gets_401():
    key, raw = make_api_key(scopes=["plans.read"], expires_at=timezone.now() + datetime.timedelta(hours=1))
    assert with_key(raw).get(PLANS).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    response = with_key(raw).get(PLANS)

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "API key has expired"


@pytest.mark.parametrize("raw", [PREFIX + "x" * 43, "garbage", PREFIX])
def test_unknown_key_gets_401(raw):
    make_api_key()  # a real key exists; the presented one is not it

    response = with_key(raw).get(PLANS)

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "Invalid API key"


def test_key_with_one_character_changed_gets_401():
    _, raw = make_api_key(scopes=["plans.read"])
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")

    assert with_key(tampered).get(PLANS).status_code == 401


def test_missing_key_gets_401(api_client):
    response = api_client.get(PLANS)

    assert response.status_code == 401, response.content
    assert response.json()["error"]
    assert response.headers["WWW-Authenticate"]


def test_empty_key_header_gets_401(api_client):
    response = api_client.get(PLANS, headers={"X-API-Key": ""})

    assert response.status_code == 401, response.content


def test_missing_key_cannot_write(api_client):
    response = api_client.post(PLANS, {"name": "x", "lookup_id": "x", "currency": "USD"}, format="json")

    assert response.status_code == 401
    assert not Plan.objects.exists()


@pytest.mark.parametrize("header", ["x-api-key", "X-API-KEY", "X-Api-Key"])
def test_header_name_is_case_insensitive(api_client, header):
    _, raw = make_api_key(scopes=["plans.read"])

    response = api_client.get(PLANS, headers={header: raw})

    assert response.status_code == 200, response.content


def test_surrounding_whitespace_in_the_header_is_ignored(api_client):
    _, raw = make_api_key(scopes=["plans.read"])

    assert api_client.get(PLANS, headers={"X-API-Key": f"  {raw} "}).status_code == 200


# --- scopes -----------------------------------------------------------------------------


def test_key_without_the_scope_gets_403_naming_it():
    _, raw = make_api_key(scopes=["usage.write"])

    response = with_key(raw).post(PLANS, {"name": "x", "lookup_id": "x", "currency": "USD"}, format="json")

    assert response.status_code == 403, response.content
    assert response.json()["error"] == "API key lacks the required scope: plans.write"
    assert not Plan.objects.exists()


def test_plans_read_can_get_but_not_post_plans():
    plan = PlanFactory()
    client = with_key(make_api_key(scopes=["plans.read"])[1])

    assert client.get(PLANS).status_code == 200
    assert client.get(f"{PLANS}/{plan.id}").status_code == 200
    created = client.post(PLANS, {"name": "x", "lookup_id": "x", "currency": "USD"}, format="json")
    patched = client.patch(f"{PLANS}/{plan.id}", {"name": "changed"}, format="json")

    assert created.status_code == 403
    assert "plans.write" in created.json()["error"]
    assert patched.status_code == 403
    plan.refresh_from_db()
    assert plan.name != "changed"
    assert Plan.objects.count() == 1


def test_plans_write_alone_cannot_read():
    client = with_key(make_api_key(scopes=["plans.write"])[1])

    response = client.get(PLANS)

    assert response.status_code == 403
    assert response.json()["error"] == "API key lacks the required scope: plans.read"


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        ("/api/v1/features", "features.read"),
        ("/api/v1/customers", "customers.read"),
        ("/api/v1/subscriptions", "subscriptions.read"),
        (KEYS, "api_keys.read"),
    ],
)
def test_each_resource_needs_its_own_read_scope(url, scope):
    wrong = with_key(make_api_key(scopes=["plans.read"])[1])
    right = with_key(make_api_key(scopes=[scope])[1])

    denied = wrong.get(url)

    assert denied.status_code == 403
    assert scope in denied.json()["error"]
    assert right.get(url).status_code == 200


def test_star_grants_every_scope():
    client = with_key(make_api_key(scopes=["*"])[1])

    plan = client.post(PLANS, {"name": "x", "lookup_id": "x", "currency": "USD", "type": "FIXED"}, format="json")
    charge = client.post(f"{PLANS}/{plan.json()['id']}/charges", {"type": "FIXED", "amount": "5"}, format="json")
    customer = client.post("/api/v1/customers", {"external_id": "c"}, format="json")
    subscription = client.post("/api/v1/subscriptions", {"customer_id": "c", "plan_id": "x"}, format="json")
    key = client.post(KEYS, {"name": "k", "scopes": ["usage.read"]}, format="json")

    assert [r.status_code for r in (plan, charge, customer, subscription, key)] == [201, 201, 201, 201, 201]
    for url in ("/api/v1/features", PLANS, "/api/v1/customers", "/api/v1/subscriptions", KEYS):
        assert client.get(url).status_code == 200, url


def test_revoking_needs_api_keys_write():
    target, target_raw = make_api_key(scopes=["plans.read"])
    client = with_key(make_api_key(scopes=["api_keys.read"])[1])

    response = client.post(f"{KEYS}/{target.id}/revoke")

    assert response.status_code == 403
    assert "api_keys.write" in response.json()["error"]
    assert with_key(target_raw).get(PLANS).status_code == 200


# --- last_used_at -----------------------------------------------------------------------


def test_last_used_at_is_set_on_first_use_and_not_rewritten_within_a_minute():
    key, raw = make_api_key(scopes=["plans.read"])
    client = with_key(raw)
    assert ApiKey.objects.get(pk=key.pk).last_used_at is None
    before = timezone.now()

    assert client.get(PLANS).status_code == 200

    first_use = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first_use is not None
    assert before <= first_use <= timezone.now()

    assert client.get(PLANS).status_code == 200
    assert client.get(PLANS).status_code == 200
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first_use


def test_last_used_at_moves_once_a_minute_has_passed():
    key, raw = make_api_key(scopes=["plans.read"])
    long_ago = timezone.now() - datetime.timedelta(minutes=2)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=long_ago)
    before = timezone.now()

    assert with_key(raw).get(PLANS).status_code == 200

    assert ApiKey.objects.get(pk=key.pk).last_used_at >= before


def test_last_used_at_just_under_a_minute_ago_is_kept():
    key, raw = make_api_key(scopes=["plans.read"])
    recent = timezone.now() - datetime.timedelta(seconds=50)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=recent)

    assert with_key(raw).get(PLANS).status_code == 200

    assert ApiKey.objects.get(pk=key.pk).last_used_at == recent


def test_repeat_use_within_a_minute_writes_nothing(django_assert_num_queries):
    _, raw = make_api_key(scopes=["plans.read"])
    client = with_key(raw)
    client.get(PLANS)

    # key lookup, count (no UPDATE of last_used_at); no plans so the page query is skipped
    with django_assert_num_queries(2) as captured:
        client.get(PLANS)

    assert not any(q["sql"].startswith("UPDATE") for q in captured.captured_queries)


# --- staff login (JWT cookies) ----------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [{"email": "finance@example.com"}, {"email": "FINANCE@Example.com"}, {"username": "finance"}],
)
def test_staff_login_sets_the_access_cookie(api_client, staff_user, credentials):
    response = login(api_client, **credentials)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    cookie = response.cookies["access_token"]
    assert cookie.value == body["access_token"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert int(cookie["max-age"]) == 15 * 60
    refresh = response.cookies["refresh_token"]
    assert refresh.value == body["refresh_token"]
    assert refresh["path"] == "/api/v1/auth/"
    assert int(refresh["max-age"]) == 7 * 24 * 3600
    assert AccessToken(body["access_token"])["user_id"] == str(staff_user.pk)


def test_access_cookie_alone_authorises(api_client, staff_user):
    token = login(api_client, email="finance@example.com").cookies["access_token"].value
    PlanFactory(lookup_id="starter")
    client = with_cookie(token)

    listed = client.get(PLANS)
    created = client.post(PLANS, {"name": "Pro", "lookup_id": "pro", "currency": "EUR"}, format="json")

    assert listed.status_code == 200, listed.content
    assert [p["lookup_id"] for p in listed.json()["results"]] == ["starter"]
    assert created.status_code == 201, created.content
    assert Plan.objects.filter(lookup_id="pro").exists()


def test_access_token_as_bearer_header_authorises(api_client, staff_user):
    token = login(api_client, username="finance").json()["access_token"]
    client = APIClient()

    response = client.get(PLANS, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.content


def test_non_staff_login_is_401(api_client):
    UserFactory(username="customer", email="customer@example.com")

    response = login(api_client, email="customer@example.com")

    assert response.status_code == 401, response.content
    assert "staff" in response.json()["error"]
    assert "access_token" not in response.cookies


def test_inactive_staff_login_is_401(api_client):
    StaffFactory(username="gone", email="gone@example.com", is_active=False)

    assert login(api_client, email="gone@example.com").status_code == 401


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "finance@example.com", "password": "wrong"},
        {"username": "finance", "password": "wrong"},
        {"email": "nobody@example.com"},
        {"username": "nobody"},
    ],
)
def test_wrong_credentials_are_401(api_client, staff_user, credentials):
    response = login(api_client, **credentials)

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "Invalid credentials or not a staff account"
    assert "access_token" not in response.cookies


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "finance@example.com"}, "password"),
        ({"email": "nope", "password": "x"}, "email"),
    ],
)
def test_login_bad_input_is_400(api_client, staff_user, body, field):
    response = api_client.post(LOGIN, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["field"] == field


def test_non_staff_token_is_403(staff_user):
    user = UserFactory()
    client = with_cookie(str(AccessToken.for_user(user)))

    response = client.get(PLANS)

    assert response.status_code == 403, response.content
    assert response.json()["error"] == "Only staff users may use the management API"


def test_expired_access_token_is_401(staff_user):
    token = AccessToken.for_user(staff_user)
    token.set_exp(lifetime=-datetime.timedelta(seconds=1))

    response = with_cookie(str(token)).get(PLANS)

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "Access token is invalid or expired"


@pytest.mark.parametrize("token", ["not-a-jwt", "refresh"])
def test_invalid_access_cookie_is_401(staff_user, token):
    if token == "refresh":
        token = str(RefreshToken.for_user(staff_user))  # a refresh token is not an access token

    response = with_cookie(token).get(PLANS)

    assert response.status_code == 401, response.content


def test_refresh_cookie_gives_a_new_access_token(api_client, staff_user):
    first = login(api_client, email="finance@example.com")
    old_access = first.cookies["access_token"].value
    refresher = APIClient()
    refresher.cookies["refresh_token"] = first.cookies["refresh_token"].value

    response = refresher.post(REFRESH)

    assert response.status_code == 200, response.content
    new_access = response.json()["access_token"]
    assert new_access != old_access
    assert response.cookies["access_token"].value == new_access
    assert "refresh_token" not in response.json()
    assert AccessToken(new_access)["user_id"] == str(staff_user.pk)
    assert with_cookie(new_access).get(PLANS).status_code == 200


def test_refresh_token_in_the_body_works(api_client, staff_user):
    refresh = login(api_client, username="finance").json()["refresh_token"]

    response = APIClient().post(REFRESH, {"refresh": refresh}, format="json")

    assert response.status_code == 200, response.content
    assert with_cookie(response.json()["access_token"]).get(PLANS).status_code == 200


def test_refresh_without_token_is_401(api_client):
    response = api_client.post(REFRESH)

    assert response.status_code == 401, response.content
    assert response.json() == {"error": "Missing refresh token", "field": "refresh"}


@pytest.mark.parametrize("kind", ["garbage", "access"])
def test_refresh_with_a_bad_token_is_401(staff_user, kind):
    raw = "garbage" if kind == "garbage" else str(AccessToken.for_user(staff_user))
    client = APIClient()
    client.cookies["refresh_token"] = raw

    response = client.post(REFRESH)

    assert response.status_code == 401, response.content
    assert response.json()["field"] == "refresh"
    assert "access_token" not in response.cookies


def test_staff_can_create_keys_through_the_cookie(api_client, staff_user):
    token = login(api_client, email="finance@example.com").cookies["access_token"].value

    response = with_cookie(token).post(KEYS, {"name": "From the docs", "scopes": ["usage.write"]}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == "finance"
    assert response.json()["key"].startswith(PREFIX)


# --- createapikey -----------------------------------------------------------------------


def test_createapikey_prints_a_usable_key():
    out = StringIO()

    call_command("createapikey", "--name", "x", "--scopes", "usage.write", stdout=out)

    raw = out.getvalue().strip()
    assert raw.startswith(PREFIX) and len(raw) >= len(PREFIX) + 32
    key = ApiKey.objects.get(key_hash=hash_key(raw))
    assert key.name == "x"
    assert key.scopes == ["usage.write"]
    # The key authenticates (not 401); it only lacks the plans scope.
    response = with_key(raw).get(PLANS)
    assert response.status_code == 403, response.content
    assert "plans.read" in response.json()["error"]
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None


def test_createapikey_with_several_scopes():
    out = StringIO()
    PlanFactory(lookup_id="starter")

    call_command("createapikey", "--name", "ops", "--scopes", " plans.read , customers.read ", stdout=out)

    raw = out.getvalue().strip()
    assert ApiKey.objects.get(key_hash=hash_key(raw)).scopes == ["plans.read", "customers.read"]
    response = with_key(raw).get(PLANS)
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("scopes", ["usage.delete", ",", "usage.write,everything"])
def test_createapikey_refuses_unknown_scopes(scopes):
    with pytest.raises(CommandError):
        call_command("createapikey", "--name", "x", "--scopes", scopes, stdout=StringIO())

    assert not ApiKey.objects.exists()


# --- query count ------------------------------------------------------------------------


def test_key_list_query_count_does_not_grow(admin_api, django_assert_max_num_queries):
    for index in range(30):
        make_api_key(name=f"key {index}", created_by=StaffFactory())
    admin_api.get(KEYS)  # the key's first use writes last_used_at; measure steady state

    with django_assert_max_num_queries(3):
        response = admin_api.get(KEYS, {"page_size": 31})

    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 31
    assert sum(1 for item in results if item["created_by"]) == 30


@pytest.mark.django_db
def test_a_key_cannot_grant_scopes_it_does_not_hold(key_client):
    client = key_client("api_keys.write", "usage.write")
    refused = client.post("/api/v1/api-keys", {"name": "escalate", "scopes": ["*"]}, format="json")
    assert refused.status_code == 403
    assert refused.json()["field"] == "scopes"
    assert "'*'" in refused.json()["error"]
    allowed = client.post("/api/v1/api-keys", {"name": "narrower", "scopes": ["usage.write"]}, format="json")
    assert allowed.status_code == 201
    assert allowed.json()["scopes"] == ["usage.write"]
