"""The billing entities API: who bills (issue 16 §3). Create, list, read, patch, its 400s, scopes and roles."""

import base64

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from customers.models import BillingEntity, Customer
from tests.factories import BillingEntityFactory, CustomerFactory, InvoiceFactory, StaffFactory, default_entity

pytestmark = pytest.mark.django_db

ENTITIES = "/api/v1/billing-entities"
# The smallest valid PNG: 1×1, one transparent pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()

EU = {
    "name": "EU",
    "legal_name": "Acme Europe GmbH",
    "address_line1": "Hauptstraße 1",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "de",
    "tax_id": "136 695 976",
    "email": "billing@acme.eu",
    "invoice_prefix": "eu",
    "net_days": 14,
    "payment_instructions": "IBAN DE89 3704 0044 0532 0130 00",
}


def error(response, status, field):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field, body
    return body["error"]


def test_the_migration_made_the_default_entity():
    entity = default_entity()
    assert (entity.name, entity.legal_name, entity.invoice_prefix, entity.net_days) == ("Default", "Fluxbill", "INV", 30)
    assert BillingEntity.objects.count() == 1


def test_create_list_read_and_patch(admin_api):
    created = admin_api.post(ENTITIES, {**EU, "logo": PNG_URI}, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["invoice_prefix"], body["country"], body["tax_id"]) == ("EU", "EU", "DE", "DE136695976")
    assert (body["net_days"], body["is_default"], body["logo"]) == (14, False, PNG_URI)
    entity = BillingEntity.objects.get(name="EU")
    assert entity.logo_data_uri == PNG_URI

    listed = admin_api.get(ENTITIES).json()["results"]
    assert [row["name"] for row in listed] == ["Default", "EU"]  # the default first
    assert admin_api.get(f"{ENTITIES}/{entity.pk}").json()["legal_name"] == "Acme Europe GmbH"
    assert admin_api.get(f"{ENTITIES}/EU").json()["id"] == str(entity.pk)  # by name too

    patched = admin_api.patch(f"{ENTITIES}/{entity.pk}", {"net_days": 0, "invoice_footer": "Thank you"}, format="json")
    assert patched.status_code == 200, patched.content
    entity.refresh_from_db()
    assert (entity.net_days, entity.invoice_footer, entity.tax_id) == (0, "Thank you", "DE136695976")


def test_making_another_entity_the_default_moves_it(admin_api):
    entity = BillingEntityFactory(name="US", invoice_prefix="US")
    old = default_entity()

    response = admin_api.patch(f"{ENTITIES}/{entity.pk}", {"is_default": True}, format="json")

    assert response.status_code == 200, response.content
    assert list(BillingEntity.objects.filter(is_default=True)) == [entity]
    old.refresh_from_db()
    assert old.is_default is False
    # A customer made without an entity now belongs to the new default.
    customer = admin_api.post("/api/v1/customers", {"external_id": "new"}, format="json").json()
    assert customer["billing_entity_id"] == str(entity.pk)


def test_the_default_cannot_be_unset(admin_api):
    entity = default_entity()
    response = admin_api.patch(f"{ENTITIES}/{entity.pk}", {"is_default": False}, format="json")
    assert "always a default billing entity" in error(response, 400, "is_default")
    assert default_entity() == entity


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"name": ""}, "name", "name"),
        ({"legal_name": ""}, "legal_name", "legal_name"),
        ({"invoice_prefix": "E U"}, "invoice_prefix", "letters, digits or dashes"),
        ({"invoice_prefix": "-EU"}, "invoice_prefix", "letters, digits or dashes"),
        ({"country": "XX"}, "country", "ISO 3166"),
        ({"tax_id": "DE136695977"}, "tax_id", "not a valid DE VAT number"),
        ({"tax_id": "ATU13585627"}, "tax_id", "another country's VAT prefix"),
        ({"net_days": -1}, "net_days", "net_days"),
        ({"net_days": 366}, "net_days", "net_days"),
        ({"email": "not-an-email"}, "email", "email"),
        ({"logo": "data:image/gif;base64,R0lGODlhAQABAAAAACw="}, "logo", "image/gif"),
        ({"logo": "data:image/png;base64," + base64.b64encode(b"GIF89a not a png").decode()}, "logo", "PNG, JPEG or SVG"),
        ({"logo": "https://example.com/logo.png"}, "logo", "data URI"),
        ({"logo": "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 300_000).decode()}, "logo", "256 KiB"),
        ({"unknown": 1}, "unknown", "Unknown field"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin_api, changes, field, says):
    response = admin_api.post(ENTITIES, {**EU, **changes}, format="json")
    assert says in error(response, 400, field)
    assert not BillingEntity.objects.filter(name=EU["name"]).exists()


def test_duplicate_name_or_prefix_is_a_409(admin_api):
    assert admin_api.post(ENTITIES, EU, format="json").status_code == 201
    assert "already exists" in error(admin_api.post(ENTITIES, {**EU, "invoice_prefix": "EU2"}, format="json"), 409, "name")
    same_prefix = admin_api.post(ENTITIES, {**EU, "name": "EU 2", "invoice_prefix": "Eu"}, format="json")
    assert "numbers its invoices with 'EU'" in error(same_prefix, 409, "invoice_prefix")


def test_the_prefix_is_fixed_once_an_invoice_was_numbered_with_it(admin_api):
    entity = BillingEntityFactory(invoice_prefix="EU")
    assert admin_api.patch(f"{ENTITIES}/{entity.pk}", {"invoice_prefix": "EUR"}, format="json").status_code == 200
    InvoiceFactory(customer=CustomerFactory(billing_entity=entity), billing_entity=entity, number="EUR-2026-000001")

    response = admin_api.patch(f"{ENTITIES}/{entity.pk}", {"invoice_prefix": "EU"}, format="json")

    assert "cannot change once invoices were numbered" in error(response, 400, "invoice_prefix")
    entity.refresh_from_db()
    assert entity.invoice_prefix == "EUR"


def test_unknown_entity_is_a_404(admin_api):
    assert admin_api.get(f"{ENTITIES}/nope").status_code == 404


# --- the customer's side ---------------------------------------------------------------------------------------


def test_a_customer_is_put_in_an_entity_by_id_or_name_and_it_must_exist(admin_api):
    entity = BillingEntityFactory(name="EU", invoice_prefix="EU")

    by_name = admin_api.post("/api/v1/customers", {"external_id": "a", "billing_entity_id": "EU"}, format="json")
    assert by_name.status_code == 201, by_name.content
    assert by_name.json()["billing_entity_id"] == str(entity.pk)

    moved = admin_api.patch("/api/v1/customers/a", {"billing_entity_id": str(default_entity().pk)}, format="json")
    assert moved.json()["billing_entity_id"] == str(default_entity().pk)

    missing = admin_api.post("/api/v1/customers", {"external_id": "b", "billing_entity_id": "Mars"}, format="json")
    assert "Billing entity 'Mars' not found" in error(missing, 400, "billing_entity_id")
    assert not Customer.objects.filter(external_id="b").exists()


def test_a_customers_billing_details_are_checked_and_answered(admin_api):
    response = admin_api.post(
        "/api/v1/customers",
        {
            "external_id": "acme", "name": "Acme", "legal_name": "Acme B.V.", "invoice_email": "ap@acme.nl",
            "cc_emails": ["cfo@acme.nl", "cfo@acme.nl", "ops@acme.nl"], "address_line1": "Damrak 1",
            "postal_code": "1012 LG", "city": "Amsterdam", "country": "NL", "tax_id": "NL 0044.95.445.B01", "net_days": 45,
        },
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["legal_name"], body["invoice_email"], body["cc_emails"]) == ("Acme B.V.", "ap@acme.nl", ["cfo@acme.nl", "ops@acme.nl"])
    assert (body["country"], body["tax_id"], body["net_days"]) == ("NL", "NL004495445B01", 45)

    bad_cc = admin_api.patch("/api/v1/customers/acme", {"cc_emails": ["ok@acme.nl", "nope"]}, format="json")
    assert "not a valid email address" in error(bad_cc, 400, "cc_emails[1]")
    # The tax id is checked again when only the country changes.
    moved = admin_api.patch("/api/v1/customers/acme", {"country": "DE"}, format="json")
    assert "another country's VAT prefix" in error(moved, 400, "tax_id")
    assert Customer.objects.get(external_id="acme").country == "NL"


# --- scopes and roles ------------------------------------------------------------------------------------------


def test_keys_need_the_billing_entities_scopes(key_client):
    reader, writer, other = key_client("billing_entities.read"), key_client("billing_entities.write"), key_client("customers.write")

    assert reader.get(ENTITIES).status_code == 200
    refused = reader.post(ENTITIES, EU, format="json")
    assert refused.status_code == 403 and "billing_entities.write" in refused.json()["error"]
    assert writer.post(ENTITIES, EU, format="json").status_code == 201
    assert other.get(ENTITIES).status_code == 403
    assert "billing_entities.read" in other.get(ENTITIES).json()["error"]


def _staff(group: str) -> APIClient:
    user = StaffFactory(username=f"{group.lower()}-user")
    user.groups.add(Group.objects.get(name=group))
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_finance_writes_entities_and_support_only_reads_them():
    finance, support = _staff("Finance"), _staff("Support")

    assert support.get(ENTITIES).status_code == 200
    assert support.post(ENTITIES, EU, format="json").status_code == 403
    assert finance.post(ENTITIES, EU, format="json").status_code == 201
    entity = BillingEntity.objects.get(name="EU")
    assert support.patch(f"{ENTITIES}/{entity.pk}", {"net_days": 7}, format="json").status_code == 403
    assert finance.patch(f"{ENTITIES}/{entity.pk}", {"net_days": 7}, format="json").status_code == 200
