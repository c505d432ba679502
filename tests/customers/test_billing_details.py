"""Customer billing details (issue 16 §3): tax ids checked by country, the old address text migrated into the
structured address, the default entity, logos and the ingestion path's customers."""

import base64
import importlib

import pytest

from customers.details import cc_emails_clean, logo_clean, tax_id_clean
from customers.models import Customer
from customers.selectors import address_lines, customer_bill_to
from customers.services import customer_create, customer_ids_ensure, customer_update
from fluxbill.core.errors import InvalidInput
from tests.factories import BillingEntityFactory, CustomerFactory, default_entity

address_split = importlib.import_module("customers.migrations.0008_billing_entity").address_split


# --- tax ids ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tax_id", "country", "stored"),
    [
        ("DE136695976", "DE", "DE136695976"),
        ("136 695 976", "DE", "DE136695976"),  # without its prefix: the country's is added
        ("de 136.695.976", "de", "DE136695976"),
        ("NL004495445B01", "NL", "NL004495445B01"),  # python-stdnum's NL example
        ("004495445B01", "NL", "NL004495445B01"),
        ("FR 40 303 265 045", "FR", "FR40303265045"),  # python-stdnum's FR example
        ("094259216", "GR", "EL094259216"),  # Greece's VAT prefix is EL
        ("GB 980 7806 84", "GB", "980780684"),  # outside the EU: the country's own module (gb.vat), compact
        ("91-1144442", "US", "911144442"),  # us.tin: an EIN
        ("anything at all 12", "AQ", "anything at all 12"),  # no known format: taken as given
        ("free text", "", "free text"),  # no country
        ("  ", "DE", ""),
    ],
)
def test_valid_tax_ids_are_stored_compact(tax_id, country, stored):
    assert tax_id_clean(tax_id, country) == stored


@pytest.mark.parametrize(
    ("tax_id", "country", "says"),
    [
        ("DE136695977", "DE", "not a valid DE VAT number, expected DE followed by a Ust ID Nr."),  # checksum
        ("DE13669597", "DE", "not a valid DE VAT number"),  # a digit short
        ("NL004495446B01", "NL", "not a valid NL VAT number"),
        ("FR41303265045", "FR", "not a valid FR VAT number"),
        ("ATU13585627", "DE", "AT is another country's VAT prefix; expected a DE VAT number"),
        ("12-3", "US", "not a valid US tax number, expected a TIN"),
        ("x" * 51, "", "at most 50 characters"),
    ],
)
def test_invalid_tax_ids_are_refused_naming_the_field_and_the_format(tax_id, country, says):
    with pytest.raises(InvalidInput) as refused:
        tax_id_clean(tax_id, country)
    assert refused.value.field == "tax_id"
    assert says in refused.value.message


# --- the address migration -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("", {"address_line1": "", "address_line2": "", "city": "", "country": ""}),
        ("1 Main St", {"address_line1": "1 Main St", "address_line2": "", "city": "", "country": ""}),
        ("1 Main St\nSpringfield", {"address_line1": "1 Main St", "address_line2": "", "city": "Springfield", "country": ""}),
        (
            "  Hauptstr. 1 \n\n c/o Müller\nHinterhaus\n10115 Berlin\nGermany\n",
            {"address_line1": "Hauptstr. 1", "address_line2": "c/o Müller, Hinterhaus", "city": "10115 Berlin", "country": "DE"},
        ),
        ("Damrak 1\n1012 LG Amsterdam\nNL", {"address_line1": "Damrak 1", "address_line2": "", "city": "1012 LG Amsterdam", "country": "NL"}),
        ("Just one line\nFrance", {"address_line1": "Just one line", "address_line2": "", "city": "", "country": "FR"}),
        ("Germany", {"address_line1": "Germany", "address_line2": "", "city": "", "country": ""}),  # one line stays line 1
    ],
)
def test_the_old_address_text_is_split_into_the_structure(text, fields):
    assert address_split(text) == fields


# --- customers and their entity --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_customer_belongs_to_the_default_entity_unless_set():
    eu = BillingEntityFactory(name="EU", invoice_prefix="EU")
    assert customer_create(external_id="a").billing_entity == default_entity()
    assert customer_create(external_id="b", billing_entity=eu).billing_entity == eu
    # Customers that usage events create (/sdk/track meets them first) are the default's too.
    ids = customer_ids_ensure(external_ids=["new-1", "new-2"])
    assert {c.billing_entity_id for c in Customer.objects.filter(pk__in=ids.values())} == {default_entity().pk}


@pytest.mark.django_db
def test_an_invalid_tax_id_stores_nothing():
    customer = CustomerFactory(country="DE", tax_id="DE136695976")
    with pytest.raises(InvalidInput) as refused:
        customer_update(customer=customer, tax_id="DE000000000")
    assert refused.value.field == "tax_id"
    customer.refresh_from_db()
    assert customer.tax_id == "DE136695976"


@pytest.mark.django_db
def test_the_bill_to_uses_the_invoice_email_and_prints_the_address_lines():
    customer = CustomerFactory(
        name="Acme", email="hello@acme.de", invoice_email="ap@acme.de", cc_emails=["cfo@acme.de"],
        address_line1="Hauptstr. 1", postal_code="10115", city="Berlin", state="BE", country="DE", tax_id="DE136695976",
    )  # fmt: skip
    assert address_lines(customer) == ["Hauptstr. 1", "10115 Berlin, BE", "Germany"]
    assert customer_bill_to(customer) == {
        "name": "Acme", "legal_name": "Acme", "email": "ap@acme.de", "cc_emails": ["cfo@acme.de"],
        "address_lines": ["Hauptstr. 1", "10115 Berlin, BE", "Germany"], "country": "DE", "tax_id": "DE136695976",
        "external_id": customer.external_id,
    }  # fmt: skip
    customer.invoice_email = ""
    assert customer_bill_to(customer)["email"] == "hello@acme.de"


def test_cc_emails_from_a_form_are_split_and_checked():
    assert cc_emails_clean("a@x.io, b@x.io; a@x.io") == ["a@x.io", "b@x.io"]
    with pytest.raises(InvalidInput) as refused:
        cc_emails_clean(["a@x.io", "b@"])
    assert refused.value.field == "cc_emails[1]"


def test_an_svg_logo_is_taken_and_a_mislabelled_one_is_not():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    assert logo_clean(uri) == uri
    with pytest.raises(InvalidInput) as refused:
        logo_clean("data:image/jpeg;base64," + base64.b64encode(svg).decode())
    assert (refused.value.field, refused.value.message) == ("logo", "logo: the data is not a image/jpeg image")


@pytest.mark.django_db(transaction=True)
def test_two_entities_made_the_default_at_once_leave_exactly_one_default():
    import threading
    import time

    from django.db import connection, transaction

    from customers.models import BillingEntity
    from customers.services import billing_entity_update

    first, second = BillingEntityFactory(name="A", invoice_prefix="A"), BillingEntityFactory(name="B", invoice_prefix="B")
    taken, release, errors = threading.Event(), threading.Event(), []

    def make_first_default():
        try:
            with transaction.atomic():
                billing_entity_update(entity=first, data={"is_default": True})
                taken.set()
                release.wait(timeout=10)  # still uncommitted while the other tries
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    def make_second_default():
        try:
            taken.wait(timeout=10)
            billing_entity_update(entity=second, data={"is_default": True})
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=make_first_default), threading.Thread(target=make_second_default)]
    for thread in threads:
        thread.start()
    taken.wait(timeout=10)
    time.sleep(0.5)  # the second is waiting for the first by now
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert list(BillingEntity.objects.filter(is_default=True).values_list("name", flat=True)) == ["B"]  # the later wins
