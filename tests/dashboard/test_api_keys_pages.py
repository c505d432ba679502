"""Dashboard pages for API keys: list, create (the key shown once), revoke."""

import datetime
import re

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from rest_framework.test import APIClient

from apikeys.models import ApiKey
from apikeys.services import hash_key
from metering.models import UsageEvent
from apikeys.scopes import SCOPES
from tests.factories import CustomerFactory, MeterFactory, make_api_key

pytestmark = pytest.mark.django_db

LIST = "/api-keys/"
CREATE = "/api-keys/new/"
KEY_PATTERN = re.compile(r"org_live_[A-Za-z0-9_-]{40,}")


def created(pk):
    return f"/api-keys/{pk}/created/"


def revoke(pk):
    return f"/api-keys/{pk}/revoke/"


def create_key(client, **fields):
    data = {"name": "Production backend", "scopes": ["usage.write"], "expires_on": ""}
    data.update(fields)
    return client.post(CREATE, data)


# --- permissions -------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    key, _ = make_api_key()
    for url in (LIST, CREATE, created(key.pk), revoke(key.pk)):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"/login/?next={url}")
    response = client.post(revoke(key.pk))
    assert response.status_code == 302
    assert ApiKey.objects.get().revoked_at is None


def test_user_without_role_is_refused(nobody_client):
    assert nobody_client.get(LIST).status_code == 403


def test_support_reads_the_list_without_action_buttons(support_client):
    make_api_key(name="Ingest worker")
    response = support_client.get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ingest worker" in body
    assert CREATE not in body
    assert "/revoke/" not in body
    assert "Revoke…" not in body


def test_support_cannot_create_or_revoke(support_client):
    key, _ = make_api_key()
    assert support_client.get(CREATE).status_code == 403
    assert create_key(support_client).status_code == 403
    assert support_client.get(revoke(key.pk)).status_code == 403
    assert support_client.post(revoke(key.pk)).status_code == 403
    assert ApiKey.objects.count() == 1
    assert ApiKey.objects.get().revoked_at is None


# --- list --------------------------------------------------------------------------------------


def test_list_empty_state_says_what_to_do(finance_client, support_client):
    assert "Create your first API key" in finance_client.get(LIST).content.decode()
    assert "Ask someone in Finance" in support_client.get(LIST).content.decode()


def test_list_shows_prefix_scopes_last_used_expiry_and_status(finance_client):
    now = timezone.now()
    active, _ = make_api_key(name="Backend", scopes=["usage.write", "usage.read"])
    ApiKey.objects.filter(pk=active.pk).update(last_used_at=datetime.datetime(2026, 3, 4, 5, 6, tzinfo=datetime.UTC))
    expiring, _ = make_api_key(name="Temp", expires_at=now + datetime.timedelta(days=2))
    ApiKey.objects.filter(pk=expiring.pk).update(expires_at=now - datetime.timedelta(minutes=1))
    revoked, _ = make_api_key(name="Old")
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=now)

    response = finance_client.get(LIST)

    assert response.status_code == 200
    rows = {key.name: key.state for key in response.context["page"].object_list}
    assert rows == {"Backend": "active", "Temp": "expired", "Old": "revoked"}
    body = response.content.decode()
    assert ">Active</span>" in body and ">Expired</span>" in body and ">Revoked</span>" in body
    assert f"{active.prefix}…" in body
    assert "usage.write" in body and "usage.read" in body
    assert "2026-03-04 05:06 UTC" in body
    # Only keys that still work get a revoke button.
    assert revoke(active.pk) in body and revoke(expiring.pk) in body
    assert revoke(revoked.pk) not in body


def test_list_filters_by_status_and_searches_case_insensitively(finance_client):
    make_api_key(name="Production Backend")
    old, _ = make_api_key(name="staging backend")
    ApiKey.objects.filter(pk=old.pk).update(revoked_at=timezone.now())
    make_api_key(name="Analytics")

    names = lambda response: [key.name for key in response.context["page"].object_list]  # noqa: E731
    assert sorted(names(finance_client.get(LIST, {"q": "BACKEND"}))) == ["Production Backend", "staging backend"]
    assert names(finance_client.get(LIST, {"q": "backend", "status": "active"})) == ["Production Backend"]
    assert names(finance_client.get(LIST, {"status": "revoked"})) == ["staging backend"]
    response = finance_client.get(LIST, {"q": "nothing-like-this"})
    assert "No API keys match" in response.content.decode()


def test_the_api_list_filters_keys_as_the_page_does(finance_client, admin_api):
    make_api_key(name="Production Backend")
    old, _ = make_api_key(name="staging backend")
    ApiKey.objects.filter(pk=old.pk).update(revoked_at=timezone.now())

    def both(params):
        page = {key.name for key in finance_client.get(LIST, params).context["page"].object_list}
        api = {row["name"] for row in admin_api.get("/api/v1/api-keys", params).json()["results"]}
        assert page == api, params
        return page

    assert both({"status": "revoked"}) == {"staging backend"}
    assert both({"q": "BACKEND", "status": "active"}) == {"Production Backend"}
    assert admin_api.get("/api/v1/api-keys", {"status": "lost"}).json()["field"] == "status"
    assert finance_client.get(LIST, {"status": "lost"}).status_code == 400


def test_list_sorts_by_name_both_ways_and_ignores_unknown_keys(finance_client):
    for name in ("bravo", "alpha", "charlie"):
        make_api_key(name=name)
    names = lambda response: [key.name for key in response.context["page"].object_list]  # noqa: E731
    assert names(finance_client.get(LIST, {"sort": "name"})) == ["alpha", "bravo", "charlie"]
    assert names(finance_client.get(LIST, {"sort": "-name"})) == ["charlie", "bravo", "alpha"]
    # Newest first by default, and for a sort key the page does not offer.
    assert names(finance_client.get(LIST, {"sort": "key_hash"})) == ["charlie", "alpha", "bravo"]
    # The header link flips the direction of the current sort.
    assert 'href="?sort=-name"' in finance_client.get(LIST, {"sort": "name"}).content.decode()


def test_never_used_and_never_expiring_keys_sort_last_and_latest(finance_client):
    now = timezone.now()
    used, _ = make_api_key(name="used")
    ApiKey.objects.filter(pk=used.pk).update(last_used_at=now)
    make_api_key(name="unused")
    expiring, _ = make_api_key(name="expiring", expires_at=now + datetime.timedelta(days=3))
    names = lambda response: [key.name for key in response.context["page"].object_list]  # noqa: E731
    assert names(finance_client.get(LIST, {"sort": "-last_used"}))[0] == "used"
    assert names(finance_client.get(LIST, {"sort": "last_used"}))[-1] == "used"
    assert names(finance_client.get(LIST, {"sort": "expires"}))[0] == expiring.name
    assert names(finance_client.get(LIST, {"sort": "-expires"}))[-1] == expiring.name


def test_list_paginates(finance_client):
    for i in range(30):
        make_api_key(name=f"key {i:02d}")
    first = finance_client.get(LIST, {"sort": "name"})
    assert len(first.context["page"].object_list) == 25
    assert "Page 1 of 2 · 30 total" in first.content.decode()
    second = finance_client.get(LIST, {"sort": "name", "page": 2})
    assert [key.name for key in second.context["page"].object_list] == [f"key {i:02d}" for i in range(25, 30)]


def test_list_query_count_does_not_grow_with_keys(finance_client, django_assert_max_num_queries):
    for i in range(25):
        make_api_key(name=f"key {i}", created_by=finance_client.user)
    # session, user, groups, count, page: the creator comes with the page through a join.
    with django_assert_max_num_queries(6):
        response = finance_client.get(LIST)
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 25


def test_list_never_shows_a_full_key(finance_client):
    _, raw_key = make_api_key(name="Backend")
    body = finance_client.get(LIST).content.decode()
    assert raw_key not in body
    assert raw_key[:20] not in body
    assert not KEY_PATTERN.search(body)


# --- create ------------------------------------------------------------------------------------


def test_create_form_offers_every_scope_as_a_checkbox(finance_client):
    response = finance_client.get(CREATE)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('type="checkbox" name="scopes"') == len(SCOPES) == 25
    for scope in SCOPES:
        assert f'value="{scope}"' in body


def test_create_shows_the_key_once_stores_only_its_hash_and_the_key_works(finance_client):
    customer = CustomerFactory(external_id="cust_42")
    MeterFactory(event_name="api.calls", property_name="value")

    response = create_key(finance_client, name="Production backend", scopes=["usage.write", "usage.read"])

    key = ApiKey.objects.get()
    shown = response
    assert shown.status_code == 200  # the key is in the POST's own answer, never behind a redirect
    assert "no-store" in shown["Cache-Control"]
    raw_key = shown.context["raw_key"]
    body = shown.content.decode()
    assert f'id="new-api-key" aria-labelledby="new-api-key-label">{raw_key}</code>' in body
    assert 'data-copy="new-api-key"' in body

    # What the database holds: the name, scopes, creator, a prefix and the hash; never the key.
    assert key.name == "Production backend"
    assert key.scopes == ["usage.write", "usage.read"]
    assert key.created_by == finance_client.user
    assert key.expires_at is None
    assert key.key_hash == hash_key(raw_key)
    assert raw_key.startswith(key.prefix) and len(key.prefix) < len(raw_key)
    stored = [str(value) for value in ApiKey.objects.values_list(flat=False).get()]
    assert raw_key not in stored
    # ...nor the session table, nor any cookie the answer sets (Found, issue 14 §1: it sat in django_session).
    assert not any(raw_key in row for row in Session.objects.values_list("session_data", flat=True))
    assert not any(raw_key in str(row.get_decoded()) for row in Session.objects.all())
    assert not any(raw_key in morsel.value for morsel in shown.cookies.values())
    assert f'data-replace-url="{created(key.pk)}"' in body

    # The key authenticates against the API.
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=raw_key)
    sent = api.post(
        "/api/v1/events",
        {"event_name": "api.calls", "external_customer_id": "cust_42", "properties": {"value": 3}},
        format="json",
    )
    assert sent.status_code == 202, sent.content
    assert UsageEvent.objects.get().customer_id == customer.pk
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_reloading_the_created_page_does_not_show_the_key_again(finance_client):
    response = create_key(finance_client)
    raw_key = response.context["raw_key"]
    key = ApiKey.objects.get()

    again = finance_client.get(created(key.pk), follow=True)

    body = again.content.decode()
    assert raw_key not in body
    assert "cannot be shown again" in body
    assert again.redirect_chain[-1][0] == LIST
    # The key is also absent from the list the reload lands on.
    assert not KEY_PATTERN.search(body)


def test_created_page_of_another_key_shows_nothing(finance_client):
    other, _ = make_api_key(name="Someone else's")
    response = create_key(finance_client)
    raw_key = response.context["raw_key"]
    create_key(finance_client, name="Second")
    # A pending key is shown only on its own page, so a guessed id reveals nothing.
    body = finance_client.get(created(other.pk), follow=True).content.decode()
    assert raw_key not in body
    assert not KEY_PATTERN.search(body)


def test_create_with_expiry_stores_midnight_utc(finance_client):
    day = timezone.now().date() + datetime.timedelta(days=10)
    response = create_key(finance_client, expires_on=day.isoformat())
    assert response.status_code == 200
    assert ApiKey.objects.get().expires_at == datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


def test_no_scope_picked_shows_the_error_beside_the_scopes(finance_client):
    response = create_key(finance_client, scopes=[])

    assert response.status_code == 400
    assert not ApiKey.objects.exists()
    body = response.content.decode()
    errors = re.search(r'<fieldset class="scopes has-error".*?</fieldset>', body, re.S)
    assert errors, body
    assert "Pick at least one scope" in errors.group(0)
    # The rest of what was typed survives the round trip.
    assert 'value="Production backend"' in body


def test_missing_name_and_past_expiry_are_reported_on_their_fields(finance_client):
    yesterday = timezone.now().date() - datetime.timedelta(days=1)
    response = create_key(finance_client, name="  ", scopes=["usage.write"], expires_on=yesterday.isoformat())

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "expires_on"}
    body = response.content.decode()
    assert re.search(r'data-field="name">.*?class="error" id="id_name-error">This field is required', body, re.S)
    assert re.search(r'data-field="expires_on">.*?class="error" id="id_expires_on-error">Pick a date after today', body, re.S)
    # Ticked boxes stay ticked.
    assert re.search(r'value="usage.write"[^>]*checked', body)
    assert not ApiKey.objects.exists()


def test_unknown_scope_is_refused(finance_client):
    response = create_key(finance_client, scopes=["usage.write", "root"])
    assert response.status_code == 400
    assert "root is not one of the available choices" in response.content.decode()
    assert not ApiKey.objects.exists()


# --- revoke ------------------------------------------------------------------------------------


def test_revoke_asks_for_confirmation_then_revokes(finance_client):
    key, raw_key = make_api_key(name="Backend")

    confirm = finance_client.get(revoke(key.pk))
    assert confirm.status_code == 200
    assert "Revoke “Backend”?" in confirm.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None

    response = finance_client.post(revoke(key.pk), follow=True)

    assert response.redirect_chain == [(LIST, 302)]
    assert "Revoked “Backend”" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=raw_key)
    refused = api.get("/api/v1/events")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]


def test_revoking_twice_says_so(finance_client):
    key, _ = make_api_key(name="Backend")
    finance_client.post(revoke(key.pk))
    response = finance_client.post(revoke(key.pk), follow=True)
    assert "already revoked" in response.content.decode()


def test_revoke_is_post_only_for_changes(finance_client):
    key, _ = make_api_key()
    assert finance_client.put(revoke(key.pk)).status_code == 405
    assert finance_client.post("/api-keys/00000000-0000-0000-0000-000000000000/revoke/").status_code == 404


# --- the example request on the created page -------------------------------------------------

EXAMPLE = re.compile(r'data-example-method="(\w+)" data-example-path="([^"]+)"')


@pytest.mark.parametrize("scope", SCOPES)
def test_created_page_example_is_a_request_the_keys_scopes_allow(finance_client, scope):
    # Found: a key with only `invoices.read` was shown a `POST /api/v1/events` example, which it gets 403 for.
    response = create_key(finance_client, name=f"only {scope}", scopes=[scope])
    assert response.status_code == 200, response.content
    method, path = EXAMPLE.search(response.content.decode()).groups()
    raw_key = re.search(r'id="new-api-key"[^>]*>([^<]+)<', response.content.decode()).group(1)

    caller = APIClient()
    caller.credentials(HTTP_X_API_KEY=raw_key)
    answer = caller.generic(method, path.replace("<invoice id>", "00000000-0000-0000-0000-000000000000"),
                            "{}", content_type="application/json")

    # Allowed: whatever the request's own outcome (a 400 for an empty body, a 404 for the placeholder id).
    assert answer.status_code not in (401, 403), (scope, method, path, answer.content)
