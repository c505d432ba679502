"""The customer ids metering asks for: customers' own functions, plugged into metering.lookups at startup."""

import pytest

from customers import selectors, services
from customers.models import Customer
from metering import lookups
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_customers_plugs_its_functions_into_metering():
    source = lookups.customer_source()
    assert source.ids_ensure is services.customer_ids_ensure
    assert source.ids_by_external_id is selectors.customer_ids_by_external_id
    assert source.id_by_pk is selectors.customer_id_by_pk


def test_ensure_creates_the_missing_customers_once_in_two_statements(django_assert_num_queries):
    known = CustomerFactory(external_id="known")
    with django_assert_num_queries(2):
        ids = services.customer_ids_ensure(external_ids=["known", "new-1", "new-2"])
    assert ids["known"] == known.pk
    assert set(ids) == {"known", "new-1", "new-2"}
    assert services.customer_ids_ensure(external_ids=["new-1"]) == {"new-1": ids["new-1"]}
    assert Customer.objects.filter(external_id__startswith="new-").count() == 2


def test_the_lookup_by_external_id_creates_nothing(django_assert_num_queries):
    known = CustomerFactory(external_id="known")
    with django_assert_num_queries(1):
        assert selectors.customer_ids_by_external_id(external_ids=["known", "absent"]) == {"known": known.pk}
    assert not Customer.objects.filter(external_id="absent").exists()


def test_find_by_id_or_external_id():
    customer = CustomerFactory(external_id="acme")
    assert lookups.customer_id_find(str(customer.pk)) == customer.pk
    assert lookups.customer_id_find("acme") == customer.pk
    assert lookups.customer_id_find("nobody") is None
    assert lookups.customer_id_find("a\x00b") is None
