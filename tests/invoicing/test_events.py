"""invoicing.events: finalize announces `invoice_finalized` after commit, and the email subscribes to it."""

from unittest import mock

import pytest
from django.db import transaction

from invoicing import receivers
from invoicing.events import invoice_finalized
from invoicing.services import invoice_finalize

from .builders import ACTOR, period_draft, utc

NOW = utc(2025, 2, 1, 2, 0)


@pytest.fixture
def heard():
    calls = []

    def listener(*, invoice_id, **kwargs):
        calls.append(invoice_id)

    invoice_finalized.connect(listener, dispatch_uid="test.heard")
    yield calls
    invoice_finalized.disconnect(dispatch_uid="test.heard")


@pytest.mark.django_db
def test_finalize_sends_invoice_finalized_only_when_its_transaction_commits(heard, django_capture_on_commit_callbacks):
    draft = period_draft()[0]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
        assert heard == []  # not before commit
    assert len(callbacks) == 1
    assert heard == [draft.pk]


@pytest.mark.django_db
def test_a_rolled_back_finalize_sends_nothing(heard, django_capture_on_commit_callbacks):
    draft = period_draft()[0]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
                raise RuntimeError("rolled back")
    assert callbacks == []
    assert heard == []


@pytest.mark.django_db
def test_the_email_task_is_queued_by_the_subscriber(django_capture_on_commit_callbacks):
    draft = period_draft()[0]
    with mock.patch.object(receivers.send_invoice_email, "apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
    apply_async.assert_called_once_with((str(draft.pk),), retry=False)
