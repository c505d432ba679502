"""Keys minted by keys: the child records its parent, never outlives it, falls with it; a narrow key cannot
revoke a broader one (issue 14 §1)."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apikeys.models import ApiKey
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def client_with(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client


def mint(raw_key: str, **body):
    return client_with(raw_key).post("/api/v1/api-keys", {"name": "child", "scopes": ["usage.write"], **body}, format="json")


def test_a_minted_key_records_its_parent_and_a_staff_key_has_none():
    parent, raw = make_api_key(scopes=["api_keys.write", "usage.write"])
    response = mint(raw)
    assert response.status_code == 201, response.content
    assert response.json()["parent_id"] == str(parent.pk)
    assert ApiKey.objects.get(pk=response.json()["id"]).parent_id == parent.pk
    assert parent.parent_id is None


def test_a_child_without_expiry_gets_its_parents_and_may_not_ask_for_a_later_one():
    expires = (timezone.now() + dt.timedelta(days=7)).replace(microsecond=0)
    parent, raw = make_api_key(scopes=["api_keys.write", "usage.write"], expires_at=expires)

    inherited = mint(raw)
    assert inherited.status_code == 201, inherited.content
    assert ApiKey.objects.get(pk=inherited.json()["id"]).expires_at == expires

    later = mint(raw, name="later", expires_at=(expires + dt.timedelta(seconds=1)).isoformat())
    assert later.status_code == 400
    assert later.json()["field"] == "expires_at" and "creating key" in later.json()["error"]
    assert not ApiKey.objects.filter(name="later").exists()

    earlier = mint(raw, name="earlier", expires_at=(expires - dt.timedelta(days=1)).isoformat())
    assert earlier.status_code == 201


def test_revoking_a_key_revokes_every_key_minted_from_it_at_any_depth_and_they_stop_working():
    root, root_raw = make_api_key(scopes=["api_keys.write", "usage.write", "usage.read"])
    child = mint(root_raw, scopes=["api_keys.write", "usage.write", "usage.read"]).json()
    grandchild = mint(child["key"], scopes=["usage.read"]).json()
    bystander, bystander_raw = make_api_key(scopes=["usage.read"])
    # Each has been used (and so cached by this process) before the revocation.
    for raw in (child["key"], grandchild["key"], bystander_raw):
        assert client_with(raw).get("/api/v1/events").status_code != 401

    admin_client = client_with(make_api_key(scopes=["*"])[1])
    assert admin_client.post(f"/api/v1/api-keys/{root.pk}/revoke").status_code == 200

    revoked = dict(ApiKey.objects.values_list("pk", "revoked_at"))
    assert revoked[root.pk] is not None
    assert revoked[root.pk] == revoked[ApiKey.objects.get(pk=child["id"]).pk] == revoked[ApiKey.objects.get(pk=grandchild["id"]).pk]
    assert revoked[bystander.pk] is None
    for raw in (child["key"], grandchild["key"]):
        response = client_with(raw).get("/api/v1/events")
        assert response.status_code == 401 and "revoked" in response.json()["error"]
    assert client_with(bystander_raw).get("/api/v1/events").status_code != 401


def test_a_key_may_not_revoke_a_key_holding_scopes_it_lacks():
    narrow, narrow_raw = make_api_key(scopes=["api_keys.write", "api_keys.read"])
    broad, _ = make_api_key(scopes=["api_keys.write", "invoices.write"])
    response = client_with(narrow_raw).post(f"/api/v1/api-keys/{broad.pk}/revoke")
    assert response.status_code == 403
    assert response.json()["field"] == "scopes" and "invoices.write" in response.json()["error"]
    broad.refresh_from_db()
    assert broad.revoked_at is None
    # A key with the scopes it holds may.
    same, _ = make_api_key(scopes=["api_keys.read"])
    assert client_with(narrow_raw).post(f"/api/v1/api-keys/{same.pk}/revoke").status_code == 200
