import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apikeys.services import forget_cached_key
from fluxbill.core.throttling import rate_store_reset
from metering import lookups
from tests.factories import StaffFactory, make_api_key


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def key_client(db):
    """A client factory: key_client("plans.read") → APIClient sending a key with those scopes."""

    def build(*scopes):
        _, raw = make_api_key(scopes=scopes or ("*",))
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=raw)
        return client

    return build


@pytest.fixture
def admin_api(key_client):
    """An API client holding a key with every scope."""
    return key_client("*")


@pytest.fixture
def staff_user(db):
    """A staff member of the Finance group (the API's staff checks are permissions)."""
    from django.contrib.auth.models import Group

    user = StaffFactory(username="finance", email="finance@example.com")
    user.groups.add(Group.objects.get(name="Finance"))
    return user


@pytest.fixture(autouse=True)
def _fresh_lookup_caches():
    """Ingestion caches ids and keys in-process, and the overview caches counts; a rolled-back test must
    not leave them to the next one."""
    lookups.forget_meters()
    lookups.forget_customers()
    forget_cached_key()
    rate_store_reset()
    cache.clear()
    yield
    lookups.forget_meters()
    lookups.forget_customers()
    forget_cached_key()
