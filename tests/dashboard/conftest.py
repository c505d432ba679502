import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.factories import UserFactory


def _client_for(group_name: str | None, username: str) -> Client:
    user = UserFactory(username=username, is_staff=True)
    if group_name:
        # get_or_create: a transactional test (the browser tests) flushes the rows the migration made.
        user.groups.add(Group.objects.get_or_create(name=group_name)[0])
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def finance_client(db):
    """Logged in as a member of the Finance group (everything)."""
    return _client_for("Finance", "fiona")


@pytest.fixture
def support_client(db):
    """Logged in as a member of the Support group (read all, regenerate/resend invoices)."""
    return _client_for("Support", "sam")


@pytest.fixture
def nobody_client(db):
    """Logged in, but in neither group."""
    return _client_for(None, "nora")
