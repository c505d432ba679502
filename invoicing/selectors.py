"""Reads shared by the API, pages and tasks."""

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from customers.models import Customer
from metering.models import UsageEvent

from .models import Invoice


def invoice_list() -> QuerySet:
    return Invoice.objects.select_related("customer", "subscription")


# What a row of the dashboard list shows. With 100,000 invoices the database sorts every matching row for
# each page; narrow rows and no join make that an in-memory sort of the invoice table alone.
_LIST_COLUMNS = (
    "id", "number", "customer_id", "kind", "status", "currency", "period_start", "period_end",
    "issued_at", "due_date", "total", "created_at",
)


def invoice_list_rows() -> QuerySet:
    """The dashboard list's rows: the page's customers come in one query, instead of joining all rows before the sort."""
    customers = Prefetch("customer", queryset=Customer.objects.only("id", "name", "external_id"))
    return Invoice.objects.only(*_LIST_COLUMNS).prefetch_related(customers)


def invoice_detail(pk) -> Invoice:
    return (
        Invoice.objects.select_related("customer", "subscription", "subscription__plan", "replaces")
        .prefetch_related("lines", "audit")
        .get(pk=pk)
    )


def late_usage(invoice: Invoice) -> dict:
    """Events for this invoice's period that were stored after it was issued (candidates for a regenerate)."""
    if invoice.issued_at is None or invoice.subscription_id is None:
        return {"events": 0, "quantity": "0"}
    meter_ids = [line.meter_id for line in invoice.lines.all() if line.meter_id]
    if not meter_ids:
        return {"events": 0, "quantity": "0"}
    found = UsageEvent.objects.filter(
        Q(customer_id=invoice.customer_id)
        & Q(meter_id__in=meter_ids)
        & Q(timestamp__gte=invoice.period_start, timestamp__lt=invoice.period_end)
        & Q(created_at__gt=invoice.issued_at)
    ).aggregate(events=Count("id"), quantity=Sum("quantity"))
    from fluxbill.core.fields import decimal_to_string

    return {"events": found["events"], "quantity": decimal_to_string(found["quantity"] or 0)}
