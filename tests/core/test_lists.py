"""The pieces every list shares (fluxbill.core.lists, fluxbill.core.filters)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from customers.models import Customer
from fluxbill.core.dashboard import sort
from fluxbill.core.filters import DayOrInstantField
from fluxbill.core.lists import Column, ExportColumn, Table

UTC = dt.UTC


@pytest.mark.parametrize(
    "value, end_of_day, expected",
    [
        ("2026-01-31", False, dt.datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31", True, dt.datetime(2026, 2, 1, tzinfo=UTC)),  # a day as an upper bound: all of it
        ("2026-01-31T10:00:00+02:00", True, dt.datetime(2026, 1, 31, 8, tzinfo=UTC)),  # an instant is itself
        ("2026-01-31T10:00:00Z", False, dt.datetime(2026, 1, 31, 10, tzinfo=UTC)),
        ("", False, None),
    ],
)
def test_a_day_or_an_instant(value, end_of_day, expected):
    assert DayOrInstantField(required=False, end_of_day=end_of_day).clean(value) == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("yesterday", "Enter a valid date."),
        ("9999-12-31", "9998-12-31"),  # its midnight after would overflow
        ("0001-01-01", "1900-01-01"),
        ("0001-01-01T00:00:00+05:00", "out of range"),
    ],
)
def test_a_bad_day_or_instant_says_why(value, message):
    with pytest.raises(ValidationError) as raised:
        DayOrInstantField(required=False, end_of_day=True).clean(value)
    assert message in " ".join(raised.value.messages)


class _Table(Table):
    default_sort = "name"
    columns = (
        Column("name", "Name", sort=("name", "external_id")),
        Column("email", "Email", sort="email", template="<b>{{ row.email }}</b>"),
        Column("note", "Note"),
    )
    export_columns = (ExportColumn("name", "name"), ExportColumn("amount", "amount", money="currency"))


def test_table_offers_the_sorts_of_its_sortable_columns_only():
    assert _Table.sorts() == {"name": ("name", "external_id"), "email": ("email",)}


@pytest.mark.django_db
def test_a_sort_key_may_stand_for_several_fields_and_the_pk_breaks_ties():
    request = RequestFactory().get("/", {"sort": "-name"})
    queryset, current = sort(request, Customer.objects.all(), _Table.sorts(), "name")
    assert current == "-name"
    assert queryset.query.order_by == ("-name", "-external_id", "-pk")
    unknown = RequestFactory().get("/", {"sort": "password"})
    assert sort(unknown, Customer.objects.all(), _Table.sorts(), "name")[0].query.order_by == ("name", "external_id", "pk")


def test_cells_are_escaped_unless_their_template_says_otherwise():
    request = RequestFactory().get("/")
    request.user = None
    row = Customer(name="<script>x</script>", email="a&b@example.com")
    ((_, cells),) = _Table.render_rows([row], list(_Table.columns[:2]), request)
    assert cells == [("", "&lt;script&gt;x&lt;/script&gt;"), ("", "<b>a&amp;b@example.com</b>")]


class _Rows:
    """What csv_lines reads from a queryset: values_list(...).iterator(...)."""

    def __init__(self, rows):
        self.rows = rows

    def values_list(self, *fields):
        assert fields == ("name", "amount", "currency")
        return self

    def iterator(self, chunk_size):
        return iter(self.rows)


def test_csv_rounds_money_to_its_currency_and_defuses_formulas():
    class Priced(Table):
        export_columns = (ExportColumn("name", "name"), ExportColumn("amount", "amount", money="currency"),
                          ExportColumn("currency", "currency"))

    lines = list(Priced.csv_lines(_Rows([("=SUM(A1)", Decimal("1234.505"), "USD"), ("-x", Decimal("1200.4"), "JPY")])))
    assert lines == ["name,amount,currency\r\n", "'=SUM(A1),1234.51,USD\r\n", "'-x,1200,JPY\r\n"]
