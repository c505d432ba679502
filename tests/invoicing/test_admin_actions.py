"""Support staff work from Django admin too: the actions call the same services as the API.

Void and mark paid ask first, on an intermediate page (a reason; a day and a reference), then run per invoice."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.utils import timezone

from invoicing.choices import InvoiceKind, InvoiceStatus
from invoicing.models import Invoice
from invoicing.services import Actor, subscriptions_rollover
from tests.factories import CustomerFactory, FixedChargeFactory, PlanFactory, StaffFactory, SubscriptionFactory


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


def _act(client, action, *invoices, follow=True, **answers):
    """Choose `action` for `invoices` on the list; with `answers`, post them as the intermediate page does."""
    data = {"action": action, "_selected_action": [str(invoice.pk) for invoice in invoices]}
    if answers:
        data.update(answers, apply="yes")
    return client.post("/admin/invoicing/invoice/", data, follow=follow)


def _staff(role):
    user = StaffFactory(username=role.lower())
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def finance_client(client, db):
    client.force_login(_staff("Finance"))
    return client


def _open():
    invoice = _draft()
    from invoicing.services import invoice_finalize

    return invoice_finalize(invoice=invoice, now=timezone.now(), actor=Actor.task("test"))


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
    response = _act(admin_client_logged, "mark_paid", draft, paid_on=timezone.now().date().isoformat(), reference="")
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


# --- void and mark paid: asked on an intermediate page ------------------------------------


@pytest.mark.django_db
def test_void_asks_for_a_reason_before_voiding(finance_client):
    draft = _draft()
    response = _act(finance_client, "void", draft, follow=False)

    assert response.status_code == 200
    assert response.templates[0].name == "admin/invoicing/invoice/action_confirmation.html"
    page = response.content.decode()
    assert 'name="reason"' in page and 'name="apply"' in page
    assert f'name="_selected_action" value="{draft.pk}"' in page
    assert "$12.00" in page  # the selected invoice's total, in its currency
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.DRAFT


@pytest.mark.django_db
def test_void_with_a_reason_voids_every_selected_invoice_with_it(finance_client):
    first, second = _draft(), _draft()

    response = _act(finance_client, "void", first, second, reason="Duplicate of INV-7")

    assert response.status_code == 200
    assert "Voided: 2 invoice(s)." in response.content.decode()
    for invoice in (first, second):
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.VOID
        event = invoice.audit.get(action="voided")
        assert (event.detail, event.actor) == ("Duplicate of INV-7", "user:finance")
    history = first.history.get(status=InvoiceStatus.VOID)
    assert history.pgh_context.metadata["reason"] == "Duplicate of INV-7"


@pytest.mark.django_db
def test_void_without_a_reason_shows_the_page_again_and_voids_nothing(finance_client):
    draft = _draft()

    response = _act(finance_client, "void", draft, follow=False, reason="  ")

    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert "This field is required." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.DRAFT
    assert not draft.audit.filter(action="voided").exists()


@pytest.mark.django_db
def test_a_refused_void_is_reported_and_the_batch_goes_on(finance_client):
    paid, draft = _open(), _draft()
    _act(finance_client, "mark_paid", paid, paid_on=timezone.now().date().isoformat(), reference="")

    response = _act(finance_client, "void", paid, draft, reason="Wrong customer")

    page = response.content.decode()
    assert f"{paid.number}: Cannot void an invoice that is PAID" in page
    assert "Voided: 1 invoice(s)." in page
    paid.refresh_from_db()
    draft.refresh_from_db()
    assert (paid.status, draft.status) == (InvoiceStatus.PAID, InvoiceStatus.VOID)


@pytest.mark.django_db
def test_support_is_not_offered_void_and_cannot_post_it(client):
    client.force_login(_staff("Support"))
    draft = _draft()

    changelist = client.get("/admin/invoicing/invoice/").content.decode()
    assert 'value="void"' not in changelist and 'value="mark_paid"' not in changelist
    assert 'value="regenerate"' in changelist  # Support holds regenerate: the action list is there
    _act(client, "void", draft, reason="Support tried")

    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.DRAFT


@pytest.mark.django_db
def test_mark_paid_asks_for_the_day_and_a_reference(finance_client):
    invoice = _open()
    page = _act(finance_client, "mark_paid", invoice, follow=False)
    assert page.status_code == 200
    assert page.context["form"]["paid_on"].value() == timezone.now().date()
    assert 'name="reference"' in page.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN

    today = timezone.now().date()
    _act(finance_client, "mark_paid", invoice, paid_on=today.isoformat(), reference="Wire 4471")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.payment_reference == "Wire 4471"
    assert invoice.paid_at.date() == today
    assert invoice.audit.get(action="marked_paid").detail == f"12.00 USD received {today.isoformat()}; Wire 4471"


@pytest.mark.django_db
def test_mark_paid_on_an_earlier_day_records_that_day(finance_client):
    invoice = _open()
    yesterday = invoice.period_start.date()

    _act(finance_client, "mark_paid", invoice, paid_on=yesterday.isoformat(), reference="")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.paid_at == dt.datetime.combine(yesterday, dt.time.min, tzinfo=dt.timezone.utc)


@pytest.mark.django_db
def test_mark_paid_in_the_future_is_refused_on_the_page(finance_client):
    invoice = _open()
    tomorrow = timezone.now().date() + dt.timedelta(days=1)

    response = _act(finance_client, "mark_paid", invoice, follow=False, paid_on=tomorrow.isoformat(), reference="x")

    assert response.status_code == 200
    assert response.context["form"].errors == {"paid_on": ["A payment cannot arrive in the future."]}
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
