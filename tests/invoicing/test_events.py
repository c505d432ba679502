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


@pytest.mark.django_db
@pytest.mark.parametrize(("emailed", "expected_calls"), [(False, 0), (True, 1)])
def test_a_zero_invoice_is_paid_at_finalization_and_emailed_only_when_asked(
    settings, django_capture_on_commit_callbacks, emailed, expected_calls
):
    # Found (issue 16 §4): following the quickstart literally (start 2025-01-01, no usage yet) emailed the
    # customer 22 invoices of $0.00. A zero invoice is now PAID, "nothing due", and not emailed by default.
    from invoicing.choices import InvoiceStatus
    from invoicing.models import Invoice
    from invoicing.services import invoices_email_pending, invoices_finalize_due, subscriptions_rollover

    from .builders import plan_with, subscribe

    settings.FLUXBILL_EMAIL_ZERO_INVOICES = emailed
    settings.FLUXBILL_INVOICE_GRACE_PERIOD = 0
    plan, _, _ = plan_with(usage=[{"unit_price": "0.001"}])
    subscribe(plan, utc(2025, 1, 1))
    now = utc(2026, 11, 2)
    subscriptions_rollover(now=now, actor=ACTOR)
    with mock.patch.object(receivers.send_invoice_email, "apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            assert invoices_finalize_due(now=now, actor=ACTOR) == 22

    invoices = list(Invoice.objects.all())
    assert len(invoices) == 22 and {(i.status, i.total) for i in invoices} == {(InvoiceStatus.PAID, 0)}
    assert all(i.number and i.paid_at == now for i in invoices)
    assert apply_async.call_count == 22 * expected_calls
    assert invoices_email_pending(now=now) == []  # and the outbox sweep does not send them either
