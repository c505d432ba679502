"""Reads shared by the API, pages and tasks."""

from django.db.models import Count, Q, QuerySet, Sum

from metering.models import UsageEvent

from .models import Invoice


def invoice_list() -> QuerySet:
    return Invoice.objects.select_related("customer", "subscription")


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
