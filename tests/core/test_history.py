"""History (fluxbill/core/history.py): every create, change and delete of a tracked model leaves a row
saying who, when, what changed and why, whoever made it: a dashboard user, an API key, a task, raw SQL."""

from datetime import timedelta

import pghistory
import pytest
from django.db import connection
from django.utils import timezone

from customers.models import Customer
from fluxbill.celery import app as celery_app
from fluxbill.core.history import task_history_close, task_history_open
from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice
from invoicing.services.lifecycle import invoice_void
from tests.invoicing.builders import ACTOR
from tests.dashboard.conftest import finance_client  # noqa: F401 (a fixture)
from tests.factories import CustomerFactory, default_entity

pytestmark = pytest.mark.django_db


def _history(obj):
    """The object's history rows, oldest first."""
    return list(obj.history.select_related("pgh_context").order_by("pgh_id"))


def test_editing_an_address_on_the_dashboard_records_the_user_and_both_addresses(finance_client):
    customer = CustomerFactory(name="Acme", external_id="acme-001", address_line1="1 Old Road")
    response = finance_client.post(
        f"/customers/{customer.pk}/edit/",
        {"name": "Acme", "email": "", "external_id": "acme-001", "address_line1": "2 New Street"},
    )
    assert response.status_code == 302
    insert, update = _history(customer)
    assert (insert.pgh_label, insert.address_line1) == ("insert", "1 Old Road")
    assert (update.pgh_label, update.address_line1) == ("update", "2 New Street")
    user = finance_client.user
    assert update.pgh_context.metadata["user"] == user.pk
    assert update.pgh_context.metadata["email"] == user.email
    assert update.pgh_context.metadata["url"] == f"/customers/{customer.pk}/edit/"
    # What changed, old → new, straight from pghistory's diff of consecutive rows.
    diff = pghistory.models.Events.objects.references(customer).filter(pgh_label="update").get().pgh_diff
    assert diff["address_line1"] == ["1 Old Road", "2 New Street"]
    assert "updated_at" not in diff


def test_raw_sql_is_recorded_with_no_actor():
    customer = CustomerFactory(address_line1="1 Old Road")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customer SET address_line1 = %s WHERE id = %s", ["3 Raw Lane", customer.pk])
    update = _history(customer)[-1]
    assert (update.pgh_label, update.address_line1, update.pgh_context) == ("update", "3 Raw Lane", None)


def test_a_save_changing_nothing_but_updated_at_records_nothing():
    customer = CustomerFactory()
    customer.save()
    assert [row.pgh_label for row in _history(customer)] == ["insert"]


def test_a_delete_is_recorded_with_the_last_values():
    customer = CustomerFactory(name="Gone Ltd")
    pk = customer.pk
    customer.delete()
    rows = list(Customer.pgh_event_model.objects.filter(pgh_obj_id=pk).order_by("pgh_id"))
    assert [(row.pgh_label, row.name) for row in rows] == [("insert", "Gone Ltd"), ("delete", "Gone Ltd")]


def test_an_api_write_records_the_key_prefix(key_client):
    from apikeys.models import ApiKey

    client = key_client("*")
    response = client.post("/api/v1/customers", {"external_id": "via-api", "name": "Via API"}, format="json")
    assert response.status_code == 201, response.content
    customer = Customer.objects.get(external_id="via-api")
    (insert,) = _history(customer)
    assert insert.pgh_context.metadata["api_key"] == ApiKey.objects.get().prefix
    assert insert.pgh_context.metadata["user"] is None


def test_api_key_history_has_no_key_hash_and_ignores_last_used_at(key_client):
    from apikeys.models import ApiKey

    key_client("*").get("/api/v1/customers")
    key = ApiKey.objects.get()
    event_fields = {f.name for f in ApiKey.pgh_event_model._meta.fields}
    assert "prefix" in event_fields
    assert not {"key_hash", "last_used_at", "updated_at"} & event_fields
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    assert [row.pgh_label for row in key.history.all()] == ["insert"]


def test_voiding_records_the_reason():
    customer = CustomerFactory()
    now = timezone.now()
    invoice = Invoice.objects.create(billing_entity=default_entity(), customer=customer, currency="USD", period_start=now - timedelta(days=30), period_end=now)
    with pghistory.context(url="/invoices/void"):  # what the middleware opens for the request
        invoice_void(invoice=invoice, now=now, actor=ACTOR, reason="made by mistake")
    update = _history(invoice)[-1]
    assert (update.pgh_label, update.status) == ("update", InvoiceStatus.VOID)
    assert update.pgh_context.metadata["reason"] == "made by mistake"


def _draft_invoice() -> Invoice:
    now = timezone.now()
    return Invoice.objects.create(billing_entity=default_entity(), customer=CustomerFactory(), currency="USD", period_start=now - timedelta(days=30), period_end=now)


def test_voiding_with_no_request_still_records_the_reason():
    invoice = _draft_invoice()
    invoice_void(invoice=invoice, now=timezone.now(), actor=ACTOR, reason="sent twice")  # a shell, a script
    update = _history(invoice)[-1]
    assert (update.status, update.pgh_context.metadata) == (InvoiceStatus.VOID, {"reason": "sent twice"})


@celery_app.task(name="tests.history_void_invoice")
def _void_invoice(invoice_id: str) -> None:
    invoice_void(invoice=Invoice.objects.get(pk=invoice_id), now=timezone.now(), actor=ACTOR, reason="customer left")


def test_voiding_in_a_task_records_the_task_and_the_reason():
    invoice = _draft_invoice()
    _void_invoice.apply(args=[str(invoice.pk)]).get()
    update = _history(invoice)[-1]
    assert update.status == InvoiceStatus.VOID
    assert update.pgh_context.metadata == {"task": "tests.history_void_invoice", "reason": "customer left"}


def test_voiding_through_the_api_records_the_reason_and_the_staff_member(staff_user):
    from rest_framework.test import APIClient

    invoice = _draft_invoice()
    login = APIClient().post("/api/v1/auth/login", {"email": staff_user.email, "password": "pass-word-123"}, format="json")
    assert login.status_code == 200, login.content
    response = APIClient().post(
        f"/api/v1/invoices/{invoice.pk}/void", {"reason": "wrong customer"}, format="json",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )
    assert response.status_code == 200, response.content
    metadata = _history(invoice)[-1].pgh_context.metadata
    assert (metadata["reason"], metadata["user"], metadata["email"]) == ("wrong customer", staff_user.pk, staff_user.email)


@celery_app.task(name="tests.history_rename_customer")
def _rename_customer(customer_id: str) -> None:
    Customer.objects.filter(pk=customer_id).update(name="Renamed by task")


def test_a_write_in_a_task_records_the_task_name():
    customer = CustomerFactory()
    _rename_customer.apply(args=[str(customer.pk)]).get()
    update = _history(customer)[-1]
    assert update.name == "Renamed by task"
    assert update.pgh_context.metadata["task"] == "tests.history_rename_customer"


def test_the_task_handlers_open_and_close_one_context():
    class FakeTask:
        name = "invoicing.rollover_subscriptions"

    customer = CustomerFactory()
    task_history_open(task_id="t-1", task=FakeTask())
    try:
        Customer.objects.filter(pk=customer.pk).update(name="In task")
    finally:
        task_history_close(task_id="t-1", task=FakeTask())
    in_task = _history(customer)[-1]
    assert (in_task.name, in_task.pgh_context.metadata["task"]) == ("In task", "invoicing.rollover_subscriptions")
    # Closed: no more statements are prefixed (the set_config itself is local to the transaction,
    # which in a test is the whole test).
    from pghistory import runtime

    assert not hasattr(runtime._tracker, "value")


def test_reads_and_ingestion_open_no_history_context(key_client):
    from fluxbill.core.history import HistoryMiddleware

    seen = []

    def view(request):
        from pghistory import runtime

        seen.append(hasattr(runtime._tracker, "value"))
        from django.http import HttpResponse

        return HttpResponse()

    from django.test import RequestFactory

    middleware = HistoryMiddleware(view)
    factory = RequestFactory()
    for request in (factory.get("/customers/"), factory.post("/api/v1/events"), factory.post("/api/v1/events/bulk"),
                    factory.post("/api/v1/sdk/track"), factory.post("/api/v1/usage"), factory.post("/customers/new/")):
        middleware(request)
    assert seen == [False, False, False, False, False, True]


# --- the history panel ---------------------------------------------------------------------------


def test_the_customer_page_shows_who_changed_what_newest_first(finance_client):
    customer = CustomerFactory(name="Acme", external_id="acme-001", address_line1="1 Old Road")
    finance_client.post(
        f"/customers/{customer.pk}/edit/",
        {"name": "Acme", "email": "", "external_id": "acme-001", "address_line1": "2 New Street"},
    )
    page = finance_client.get(f"/customers/{customer.pk}/").content.decode()
    panel = page[page.index('id="history"'):]
    assert panel.index('data-history="update"') < panel.index('data-history="insert"')
    assert "address line 1: 1 Old Road → 2 New Street" in panel
    assert finance_client.user.email in panel
    assert "system (no actor recorded)" in panel  # the factory's insert
    assert "style=" not in panel and "<script" not in panel


def test_the_panel_is_one_query_and_bounded(django_assert_num_queries):
    from fluxbill.core.history import history_entries

    customer = CustomerFactory(name="v0")
    for i in range(1, 30):
        Customer.objects.filter(pk=customer.pk).update(name=f"v{i}")
    with django_assert_num_queries(1):
        entries = history_entries(customer, limit=5)
    assert [(c.old, c.new) for c in entries[0].changes] == [("v28", "v29")]
    assert [(c.old, c.new) for c in entries[-1].changes] == [("v24", "v25")]
    assert len(entries) == 5
