"""Support staff work from Django admin too: the actions call the same services as the API."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from invoicing.choices import InvoiceKind, InvoiceStatus
from invoicing.models import Invoice
from invoicing.services import Actor, subscriptions_rollover
from tests.factories import CustomerFactory, FixedChargeFactory, PlanFactory, SubscriptionFactory


@pytest.fixture
def admin_client_logged(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(user)
    return client


def _draft():
    plan = PlanFactory(billing_interval="day")
    FixedChargeFactory(plan=plan, amount=Decimal("12.00"))
    start = timezone.now() - dt.timedelta(days=1, hours=1)
    subscription = SubscriptionFactory(
        plan=plan, start_date=start, current_period_start=start, current_period_end=start + dt.timedelta(days=1)
    )
    subscriptions_rollover(now=timezone.now(), actor=Actor.task("test"))
    return Invoice.objects.get(subscription=subscription)


def _act(client, action, invoice):
    return client.post(
        "/admin/invoicing/invoice/",
        {"action": action, "_selected_action": [str(invoice.pk)]},
        follow=True,
    )


@pytest.mark.django_db
def test_finalize_then_regenerate_from_admin(admin_client_logged):
    draft = _draft()
    response = _act(admin_client_logged, "finalize", draft)
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.OPEN and draft.number.startswith("INV-")
    assert draft.audit.filter(action="finalized", actor="user:root").exists()

    _act(admin_client_logged, "regenerate", draft)
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.VOID
    replacement = Invoice.objects.get(replaces=draft)
    assert replacement.status == InvoiceStatus.OPEN
    assert replacement.kind == InvoiceKind.PERIOD
    assert replacement.total == Decimal("12.00")


@pytest.mark.django_db
def test_refused_transition_is_reported_not_raised(admin_client_logged):
    draft = _draft()
    response = _act(admin_client_logged, "mark_paid", draft)
    assert response.status_code == 200
    assert "Cannot mark paid an invoice that is DRAFT" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.DRAFT


@pytest.mark.django_db
def test_resend_email_from_admin(admin_client_logged):
    draft = _draft()
    _act(admin_client_logged, "finalize", draft)
    mail.outbox.clear()
    _act(admin_client_logged, "resend_email", draft)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][2] == "application/pdf"


@pytest.mark.django_db
def test_generate_interim_from_subscription_admin(admin_client_logged):
    plan = PlanFactory(billing_interval="month")
    FixedChargeFactory(plan=plan, amount=Decimal("30.00"))
    subscription = SubscriptionFactory(plan=plan)
    admin_client_logged.post(
        "/admin/customers/subscription/",
        {"action": "generate_interim_invoice", "_selected_action": [str(subscription.pk)]},
        follow=True,
    )
    interim = Invoice.objects.get(subscription=subscription)
    assert interim.kind == InvoiceKind.INTERIM
    assert interim.total == Decimal("30.00")


@pytest.mark.django_db
def test_admin_pages_render(admin_client_logged):
    draft = _draft()
    for url in [
        "/admin/invoicing/invoice/",
        f"/admin/invoicing/invoice/{draft.pk}/change/",
        "/admin/customers/subscription/",
        "/admin/customers/customer/",
        "/admin/catalog/plan/",
        "/admin/metering/meter/",
        "/admin/metering/usageevent/",
        "/admin/apikeys/apikey/",
        "/admin/apikeys/apikey/add/",
    ]:
        assert admin_client_logged.get(url).status_code == 200, url


@pytest.mark.django_db
def test_an_invoice_changes_only_through_its_actions(admin_client_logged):
    draft = _draft()
    other = CustomerFactory()
    page = admin_client_logged.get(f"/admin/invoicing/invoice/{draft.pk}/change/")
    assert page.context["adminform"].form.fields == {}

    admin_client_logged.post(
        f"/admin/invoicing/invoice/{draft.pk}/change/",
        {"customer": str(other.pk), "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0", "audit-TOTAL_FORMS": "0", "audit-INITIAL_FORMS": "0"},
    )

    draft.refresh_from_db()
    assert draft.customer_id != other.pk
