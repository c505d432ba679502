"""Settings → Billing entities: the list, the create and edit page (through the same services as the API)."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.models import BillingEntity
from tests.factories import BillingEntityFactory, CustomerFactory, default_entity

pytestmark = pytest.mark.django_db

LIST = "/settings/billing-entities/"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
FORM = {
    "name": "EU", "legal_name": "Acme Europe GmbH", "address_line1": "Hauptstraße 1", "postal_code": "10115",
    "city": "Berlin", "country": "DE", "tax_id": "136695976", "invoice_prefix": "eu", "net_days": "14",
    "payment_instructions": "IBAN DE89 3704 0044 0532 0130 00",
}  # fmt: skip


def test_the_settings_list_shows_every_entity_in_few_queries(finance_client, django_assert_max_num_queries):
    BillingEntityFactory(name="US", legal_name="Acme Inc.", invoice_prefix="US")
    with django_assert_max_num_queries(8):
        response = finance_client.get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Settings · Billing entities" in body
    assert "Default" in body and "Acme Inc." in body and "<code>US-&lt;year&gt;-000001</code>" in body
    assert 'href="/settings/billing-entities/new/"' in body


def test_finance_creates_an_entity_with_a_logo(finance_client):
    logo = SimpleUploadedFile("logo.png", PNG, content_type="image/png")

    response = finance_client.post(f"{LIST}new/", {**FORM, "logo_file": logo}, follow=True)

    entity = BillingEntity.objects.get(name="EU")
    assert response.redirect_chain == [(f"{LIST}{entity.pk}/", 302)]
    assert "Billing entity EU saved." in response.content.decode()
    assert (entity.invoice_prefix, entity.tax_id, entity.country, entity.net_days) == ("EU", "DE136695976", "DE", 14)
    assert entity.logo == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert f'src="{entity.logo}"' in response.content.decode()
    assert entity.is_default is False and default_entity().name == "Default"


def test_refusals_are_shown_beside_their_field(finance_client):
    response = finance_client.post(f"{LIST}new/", {**FORM, "tax_id": "DE136695977"})
    assert response.status_code == 200
    assert "not a valid DE VAT number" in response.context["form"].errors["tax_id"][0]

    text = SimpleUploadedFile("logo.png", b"not an image at all", content_type="image/png")
    response = finance_client.post(f"{LIST}new/", {**FORM, "logo_file": text})
    assert response.context["form"].errors["logo_file"] == ["logo: a PNG, JPEG or SVG image is expected"]
    assert not BillingEntity.objects.filter(name="EU").exists()


def test_finance_edits_and_makes_an_entity_the_default(finance_client):
    entity = BillingEntityFactory(name="US", legal_name="Acme Inc.", invoice_prefix="US", net_days=30)
    page = finance_client.get(f"{LIST}{entity.pk}/")
    assert page.context["form"].initial["legal_name"] == "Acme Inc."

    data = {"name": "US", "legal_name": "Acme Incorporated", "invoice_prefix": "US", "net_days": "45", "is_default": "on"}
    response = finance_client.post(f"{LIST}{entity.pk}/", data)

    assert response.status_code == 302
    entity.refresh_from_db()
    assert (entity.legal_name, entity.net_days, entity.is_default) == ("Acme Incorporated", 45, True)
    assert list(BillingEntity.objects.filter(is_default=True)) == [entity]
    # The history panel records the change.
    assert "legal name: Acme Inc. → Acme Incorporated" in finance_client.get(f"{LIST}{entity.pk}/").content.decode()


def test_support_reads_an_entity_and_may_not_change_it(support_client):
    entity = default_entity()
    page = support_client.get(f"{LIST}{entity.pk}/")
    assert page.status_code == 200
    assert "<form" not in page.content.decode().split('class="detail-body"')[1].split("</section>")[0]
    assert support_client.post(f"{LIST}{entity.pk}/", {**FORM, "name": "Hijacked"}).status_code == 403
    assert support_client.get(f"{LIST}new/").status_code == 403
    entity.refresh_from_db()
    assert entity.name == "Default"


def test_the_customer_form_picks_the_entity_and_the_page_shows_the_billing_details(finance_client):
    eu = BillingEntityFactory(name="EU", invoice_prefix="EU", net_days=14)
    customer = CustomerFactory(name="Kunde", external_id="kunde")
    response = finance_client.post(
        f"/customers/{customer.pk}/edit/",
        {"name": "Kunde", "external_id": "kunde", "billing_entity": str(eu.pk), "legal_name": "Kunde AG",
         "address_line1": "Marktplatz 5", "postal_code": "80331", "city": "München", "country": "DE",
         "tax_id": "DE136695976", "cc_emails": "cfo@kunde.de"},
    )  # fmt: skip
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.billing_entity, customer.legal_name, customer.cc_emails) == (eu, "Kunde AG", ["cfo@kunde.de"])
    page = finance_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "Marktplatz 5<br>80331 München<br>Germany" in page
    assert "Net 14 days (the entity&#x27;s)" in page or "Net 14 days (the entity's)" in page
