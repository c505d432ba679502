"""Admin's API key page: the full key is shown once in the creating answer and kept nowhere else."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session

from apikeys.services import hash_key
from apikeys.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456"))
    return client


def test_the_new_key_is_in_the_answer_only_not_in_a_message_cookie_or_the_session(root):
    """Found (issue 14 §1): admin put the full key in the `messages` cookie."""
    response = root.post("/admin/apikeys/apikey/add/", {"name": "Backend", "scopes": "usage.write", "expires_at": ""})

    assert response.status_code == 200, response.content[:500]
    key = ApiKey.objects.get()
    raw_key = response.context["raw_key"]
    assert key.key_hash == hash_key(raw_key)
    assert f'<code id="new-api-key">{raw_key}</code>' in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert not any(raw_key in morsel.value for morsel in response.cookies.values())
    assert not any(raw_key in str(s.get_decoded()) for s in Session.objects.all())
    # The next page shows no pending message holding it either.
    assert raw_key not in root.get("/admin/apikeys/apikey/").content.decode()
