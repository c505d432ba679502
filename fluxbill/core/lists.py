"""The dashboard's list pages: a table of columns and one view that lists, filters, sorts, pages and exports.

A list page is a selector's queryset, the resource's FilterSet (the same one its API list uses) and a
Table (NetBox's ObjectListView and table classes, in a few lines). Every list renders through
templates/partials/object_list.html; its CSV export streams the same filtered, sorted queryset.

    class InvoiceList(ObjectListView):
        permission = perms.VIEW_INVOICE
        filterset_class = InvoiceFilterSet
        table_class = InvoiceTable
        ...
    invoice_list = InvoiceList.list_view()
    invoice_export = InvoiceList.export_view()
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache

from django.http import FileResponse, HttpResponseBadRequest, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.template import Context, engines
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from .dashboard import paginate, require, sort
from .fields import decimal_to_string
from .money import round_money
from .permissions import may

# A cell template is a fragment of the dashboard's template language; these libraries are loaded for it.
_CELL_LIBRARIES = "{% load dashboard money %}"


@lru_cache(maxsize=256)
def _compile(source: str):
    """A cell or text fragment of the dashboard's template language, compiled once per process."""
    return engines["django"].from_string(_CELL_LIBRARIES + source)


@dataclass(frozen=True)
class Column:
    """One column of a list: `row` in its template is the object the row shows.

    `sort` is the ORM field (or fields) ?sort=<name> orders by; a column without it is not sortable.
    `template` renders the cell; without one the cell is `accessor` (dotted, default: the name), escaped.
    `align="num"` right-aligns money and counts.
    """

    name: str
    header: str
    sort: str | tuple[str, ...] | None = None
    template: str = ""
    accessor: str = ""
    align: str = ""
    permission: str = ""  # shown only to users who hold it (an "Actions" column)

    @cached_property
    def compiled(self):
        return _compile(self.template or "{{ row.%s }}" % (self.accessor or self.name)).template


# The status cell of a resource with an `active` flag (meters, plans).
ACTIVE_BADGE = (
    '{% if row.active %}<span class="badge">Active</span>{% else %}<span class="badge VOID">Archived</span>{% endif %}'
)


# When the row was created, sortable: most lists end with it.
CREATED = Column("created", "Created", sort="created_at", template='{% dt row.created_at "%Y-%m-%d" %}')


@dataclass(frozen=True)
class ExportColumn:
    """One column of the CSV: `source` is what `values_list` reads. `money` names the row's currency column;
    such an amount is rounded to that currency and written as a plain decimal (1234.50)."""

    name: str
    source: str
    money: str = ""


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# A text cell a spreadsheet would run as a formula (a customer named "=HYPERLINK(…)") gets a quote in front.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value, currency: str | None) -> str:
    if value is None:
        return ""
    if currency is not None:
        return format(round_money(value, currency), "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Decimal):
        return decimal_to_string(value)  # a quantity or a price as typed: 150, 0.001, not 150.0000000000
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_STARTS) else value
    return str(value)


class _Echo:
    """csv.writer writes into this and gets the line back, so rows can be streamed one by one."""

    def write(self, value):
        return value


class Table:
    """The columns of a list, the sorts they offer and what its CSV holds."""

    columns: tuple[Column, ...] = ()
    export_columns: tuple[ExportColumn, ...] = ()
    default_sort: str = ""
    css_class: str = "list"

    @classmethod
    def sorts(cls) -> dict[str, tuple[str, ...]]:
        return {c.name: (c.sort,) if isinstance(c.sort, str) else tuple(c.sort) for c in cls.columns if c.sort}

    @classmethod
    def visible_columns(cls, user) -> list[Column]:
        return [c for c in cls.columns if not c.permission or may(user, c.permission)]

    @classmethod
    def render_rows(cls, objects, columns: list[Column], request) -> list[tuple[object, list[tuple[str, str]]]]:
        """(object, [(alignment, cell html)]) for each object; each cell's template is compiled once per process."""
        rows = []
        for obj in objects:
            context = Context({"row": obj, "request": request, "user": request.user}, autoescape=True)
            rows.append((obj, [(c.align, mark_safe(c.compiled.render(context))) for c in columns]))
        return rows

    @classmethod
    def csv_lines(cls, queryset):
        """The header, then one line a row, read from a server-side cursor: any size, flat memory."""
        sources = [c.source for c in cls.export_columns]
        currency_at = [sources.index(c.money) if c.money else None for c in cls.export_columns]
        writer = csv.writer(_Echo())
        yield writer.writerow([c.name for c in cls.export_columns])
        for row in queryset.values_list(*sources).iterator(chunk_size=2000):
            yield writer.writerow(
                [_csv_cell(value, None if at is None else row[at]) for value, at in zip(row, currency_at)]
            )


def _xlsx_cell(value, currency: str | None):
    """A spreadsheet cell keeps its type: numbers stay numbers (money rounded to its currency), times are
    written as ISO text in UTC, and text that would run as a formula gets the same quote as in the CSV."""
    if value is None:
        return None
    if currency is not None:
        return round_money(value, currency)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def xlsx_file(table, queryset, *, sheet: str):
    """The same rows as `table.csv_lines`, as an .xlsx in a temporary file: openpyxl's write-only workbook
    writes each row out as it comes, so memory stays flat; the file spills to disk past 8 MiB."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet[:31])
    sources = [c.source for c in table.export_columns]
    currency_at = [sources.index(c.money) if c.money else None for c in table.export_columns]
    worksheet.append([c.name for c in table.export_columns])
    for row in queryset.values_list(*sources).iterator(chunk_size=2000):
        worksheet.append([_xlsx_cell(value, None if at is None else row[at]) for value, at in zip(row, currency_at)])
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)
    workbook.save(spool)
    spool.seek(0)
    return spool


@dataclass(frozen=True)
class Button:
    """A link beside the filters ("New meter"), shown to those who hold `permission`."""

    label: str
    url_name: str
    permission: str
    carry: tuple[str, ...] = ()  # query parameters of the list handed on ("customer": a new subscription for them)


class ObjectListView:
    """A dashboard list page and its CSV export. Subclasses set the attributes and `get_queryset`."""

    permission: str = ""
    filterset_class = None
    table_class: type[Table] = Table
    title: str = ""
    heading: str = ""
    intro: str = ""  # a paragraph under the heading (template source)
    url_name: str = ""  # this list, for "Clear filters"
    export_url_name: str = ""  # its CSV export; empty: no export
    more_exports: tuple[tuple[str, str], ...] = ()  # (label, url name): other exports of the same filters
    export_filename: str = ""
    buttons: tuple[Button, ...] = ()
    # Filters shown in the toolbar; the FilterSet's other filters still apply when in the query string.
    toolbar_filters: tuple[str, ...] | None = None
    empty_text: str = ""  # template source: nothing exists yet
    plural: str = ""  # "plans": what the default texts call the rows
    # Template source: nothing matches the filters (`clear_url` is set).
    empty_filtered_text: str = (
        "<p>No {{ view.plural }} match{% if request.GET.q %} “{{ request.GET.q }}”{% endif %}. "
        '<a href="{{ clear_url }}">Clear the filters</a> to see them all.</p>'
    )
    per_page: int = 25

    def __init__(self, request):
        self.request = request
        self.filterset = self.filterset_class(request.GET or None, queryset=self.get_queryset())

    # --- what a page overrides ----------------------------------------------------------------

    def get_queryset(self):
        raise NotImplementedError

    def get_export_queryset(self):
        """The rows of the CSV, before filters; by default the page's, without what only the page needs."""
        return self.get_queryset().prefetch_related(None)

    def get_default_sort(self) -> str:
        return self.table_class.default_sort

    def extra_context(self) -> dict:
        return {}

    # --- the two views -------------------------------------------------------------------------

    def sorted(self, queryset):
        return sort(self.request, queryset, self.table_class.sorts(), self.get_default_sort())

    def page(self):
        request = self.request
        queryset, current_sort = self.sorted(self.filterset.qs)
        page = paginate(request, queryset, self.per_page)
        columns = self.table_class.visible_columns(request.user)
        form = self.filterset.form
        shown = self.toolbar_filters if self.toolbar_filters is not None else tuple(form.fields)
        clear_url = reverse(self.url_name)
        context = {
            "view": self,
            "title": self.title,
            "heading": self.heading or self.title,
            "form": form,
            "toolbar_fields": [form[name] for name in shown],
            # Filters not in the toolbar ride along as hidden inputs, so filtering again keeps them.
            "carried": [(name, self.request.GET[name]) for name in form.fields if name not in shown and self.request.GET.get(name)],
            "filtered": self.filterset.active,
            "sort": current_sort,
            "columns": [(c, c.name if c.sort else None) for c in columns],
            "css_class": self.table_class.css_class,
            "page": page,
            "rows": self.table_class.render_rows(page.object_list, columns, request),
            "buttons": [(b, self._button_url(b)) for b in self.buttons if may(request.user, b.permission)],
            "export_url": reverse(self.export_url_name) if self.export_url_name else "",
            "more_exports": [(label, reverse(name)) for label, name in self.more_exports],
            "clear_url": clear_url,
            "intro": self._fragment(self.intro, clear_url),
            "empty": self._fragment(self.empty_filtered_text if self.filterset.active else self.empty_text, clear_url),
            **self.extra_context(),
        }
        status = 400 if self.filterset.errors else 200
        return render(request, "partials/object_list.html", context, status=status)

    def export(self):
        filterset = self.filterset_class(self.request.GET or None, queryset=self.get_export_queryset())
        if filterset.errors:
            # A CSV of "everything" when the filter was mistyped would be a wrong export, not a helpful one.
            problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
            return HttpResponseBadRequest(f"Invalid filter: {problems}", content_type="text/plain; charset=utf-8")
        name = f"{self.export_filename}-{timezone.now():%Y%m%d-%H%M}"
        if self.request.GET.get("format") == "xlsx":
            spool = xlsx_file(self.table_class, self.export_rows(filterset), sheet=self.export_filename)
            return FileResponse(spool, as_attachment=True, filename=f"{name}.xlsx", content_type=XLSX_TYPE)
        response = StreamingHttpResponse(self.table_class.csv_lines(self.export_rows(filterset)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response

    def export_rows(self, filterset):
        """What the CSV lists: the filtered rows in the page's order (a view may export their children instead)."""
        queryset, _ = self.sorted(filterset.qs)
        return queryset

    def _button_url(self, button: Button) -> str:
        carried = QueryDict(mutable=True)
        for name in button.carry:
            if self.request.GET.get(name):
                carried[name] = self.request.GET[name]
        return reverse(button.url_name) + (f"?{carried.urlencode()}" if carried else "")

    def _fragment(self, source: str, clear_url: str) -> str:
        if not source:
            return ""
        return _compile(source).render({"request": self.request, "user": self.request.user, "clear_url": clear_url, "view": self})

    @classmethod
    def list_view(cls):
        def view(request):
            return cls(request).page()

        view.__name__ = view.__qualname__ = f"{cls.__name__}.list_view"
        view.__doc__ = cls.__doc__
        return require(cls.permission)(view)

    @classmethod
    def export_view(cls):
        def view(request):
            return cls(request).export()

        view.__name__ = view.__qualname__ = f"{cls.__name__}.export_view"
        view.__doc__ = "The filtered, sorted list as CSV."
        return require(cls.permission)(view)
