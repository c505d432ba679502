"""The invoice list's columns, its sorts and its CSV (fluxbill.core.lists)."""

from customers.tables import CUSTOMER
from fluxbill.core.lists import CREATED, Column, ExportColumn, Table


class InvoiceTable(Table):
    default_sort = "-created"
    columns = (
        Column("number", "Number", sort="number", template=(
            '<a href="{% url \'invoicing:invoice-detail\' row.pk %}">{% if row.number %}{{ row.number }}'
            '{% else %}Draft {{ row.pk|stringformat:"s"|slice:":8" }}{% endif %}</a>'
            '{% if row.kind != "PERIOD" %} <span class="muted">· {{ row.get_kind_display }}</span>{% endif %}'
        )),
        CUSTOMER,
        Column("status", "Status", sort="status",
               template='<span class="badge {{ row.status }}">{{ row.get_status_display }}</span>'),
        Column("period", "Period", sort="period_start",
               template='{% dt row.period_start "%Y-%m-%d" %} – {% dt row.period_end "%Y-%m-%d" %}'),
        Column("issued", "Issued", sort="issued_at", template='{% dt row.issued_at "%Y-%m-%d" %}'),
        Column("due", "Due", sort="due_date", template='{{ row.due_date|date:"Y-m-d" }}'),
        Column("total", "Total", sort="total", align="num", template="{{ row.total|money:row.currency }}"),
        CREATED,
    )
    export_columns = (
        ExportColumn("number", "number"),
        ExportColumn("status", "status"),
        ExportColumn("kind", "kind"),
        ExportColumn("customer_external_id", "customer__external_id"),
        ExportColumn("customer_name", "customer__name"),
        ExportColumn("currency", "currency"),
        ExportColumn("period_start", "period_start"),
        ExportColumn("period_end", "period_end"),
        ExportColumn("issued_at", "issued_at"),
        ExportColumn("due_date", "due_date"),
        ExportColumn("paid_at", "paid_at"),
        ExportColumn("payment_reference", "payment_reference"),
        ExportColumn("subtotal", "subtotal", money="currency"),
        ExportColumn("total", "total", money="currency"),
        ExportColumn("id", "id"),
    )


class InvoiceLineTable(Table):
    """The lines of the filtered invoices, one CSV row each, with the invoice they belong to."""

    export_columns = (
        ExportColumn("invoice_number", "invoice__number"),
        ExportColumn("invoice_status", "invoice__status"),
        ExportColumn("customer_external_id", "invoice__customer__external_id"),
        ExportColumn("currency", "invoice__currency"),
        ExportColumn("period_start", "invoice__period_start"),
        ExportColumn("period_end", "invoice__period_end"),
        ExportColumn("kind", "kind"),
        ExportColumn("description", "description"),
        ExportColumn("meter_event_name", "meter__event_name"),
        ExportColumn("quantity", "quantity"),
        ExportColumn("unit_price", "unit_price"),
        ExportColumn("amount", "amount", money="invoice__currency"),
        ExportColumn("invoice_id", "invoice_id"),
        ExportColumn("line_id", "id"),
    )


class CreditNoteTable(Table):
    default_sort = "-issued"
    columns = (
        Column("number", "Number", sort="number",
               template='<a href="{% url \'invoicing:credit-note-detail\' row.pk %}">{{ row.number }}</a>'),
        Column("invoice", "Invoice", sort="invoice__number",
               template='<a href="{% url \'invoicing:invoice-detail\' row.invoice_id %}">{{ row.invoice.number }}</a>'),
        CUSTOMER,
        Column("status", "Status", sort="status",
               template='<span class="badge {{ row.status }}">{{ row.get_status_display }}</span>'),
        Column("reason", "Reason", sort="reason", template="{{ row.get_reason_display }}"),
        Column("issued", "Issued", sort="issued_at", template='{% dt row.issued_at "%Y-%m-%d" %}'),
        Column("total", "Total", sort="total", align="num", template="{{ row.total|money:row.currency }}"),
        Column("applied", "Applied", template=(
            '{% if row.offset_amount %}{{ row.offset_amount|money:row.currency }} off the invoice<br>{% endif %}'
            '{% if row.credit_amount %}{{ row.credit_amount|money:row.currency }} to credit<br>{% endif %}'
            '{% if row.refund_amount %}{{ row.refund_amount|money:row.currency }} refunded{% endif %}'
        )),
    )
    export_columns = (
        ExportColumn("number", "number"),
        ExportColumn("status", "status"),
        ExportColumn("reason", "reason"),
        ExportColumn("invoice_number", "invoice__number"),
        ExportColumn("customer_external_id", "customer__external_id"),
        ExportColumn("customer_name", "customer__name"),
        ExportColumn("currency", "currency"),
        ExportColumn("issued_at", "issued_at"),
        ExportColumn("subtotal", "subtotal", money="currency"),
        ExportColumn("tax_total", "tax_total", money="currency"),
        ExportColumn("total", "total", money="currency"),
        ExportColumn("offset_amount", "offset_amount", money="currency"),
        ExportColumn("credit_amount", "credit_amount", money="currency"),
        ExportColumn("refund_amount", "refund_amount", money="currency"),
        ExportColumn("voided_at", "voided_at"),
        ExportColumn("id", "id"),
    )


class PaymentTable(Table):
    default_sort = "-received"
    columns = (
        Column("received", "Received", sort="received_at", template="{{ row.received_at|date:'Y-m-d' }}"),
        Column("invoice", "Invoice", sort="invoice__number",
               template='<a href="{% url \'invoicing:invoice-detail\' row.invoice_id %}">{{ row.invoice.number }}</a>'),
        CUSTOMER,
        Column("amount", "Amount", sort="amount", align="num", template="{{ row.amount|money:row.currency }}"),
        Column("applied", "Applied", template=(
            "{{ row.applied_amount|money:row.currency }}"
            "{% if row.credit_amount %}<br>{{ row.credit_amount|money:row.currency }} to credit{% endif %}"
        )),
        Column("method", "Method", template="{{ row.method }}{% if row.reference %} · {{ row.reference }}{% endif %}"),
        Column("status", "Status", sort="status",
               template='<span class="badge {{ row.status }}">{{ row.get_status_display }}</span>'),
    )
    export_columns = (
        ExportColumn("received_at", "received_at"),
        ExportColumn("invoice_number", "invoice__number"),
        ExportColumn("customer_external_id", "customer__external_id"),
        ExportColumn("customer_name", "customer__name"),
        ExportColumn("currency", "currency"),
        ExportColumn("amount", "amount", money="currency"),
        ExportColumn("applied_amount", "applied_amount", money="currency"),
        ExportColumn("credit_amount", "credit_amount", money="currency"),
        ExportColumn("method", "method"),
        ExportColumn("reference", "reference"),
        ExportColumn("status", "status"),
        ExportColumn("reversed_at", "reversed_at"),
        ExportColumn("reversal_reason", "reversal_reason"),
        ExportColumn("id", "id"),
    )
