"""The customer and subscription lists' columns, sorts and CSVs (fluxbill.core.lists)."""

from fluxbill.core.lists import CREATED, Column, ExportColumn, Table

# A row's customer, linked: the invoice and subscription lists both show it.
CUSTOMER = Column("customer", "Customer", sort="customer__name",
                  template='<a href="{% url \'customers:customer-detail\' row.customer_id %}">{{ row.customer }}</a>')


class CustomerTable(Table):
    default_sort = "name"
    columns = (
        Column("name", "Name", sort="name",
               template='<a href="{% url \'customers:customer-detail\' row.pk %}">{{ row.name|default:"(no name)" }}</a>'),
        Column("external_id", "External id", sort="external_id", template="<code>{{ row.external_id }}</code>"),
        Column("email", "Email", sort="email"),
        CREATED,
    )
    export_columns = (
        ExportColumn("external_id", "external_id"),
        ExportColumn("name", "name"),
        ExportColumn("email", "email"),
        ExportColumn("legal_name", "legal_name"),
        ExportColumn("address_line1", "address_line1"),
        ExportColumn("address_line2", "address_line2"),
        ExportColumn("city", "city"),
        ExportColumn("state", "state"),
        ExportColumn("postal_code", "postal_code"),
        ExportColumn("country", "country"),
        ExportColumn("tax_id", "tax_id"),
        ExportColumn("billing_entity", "billing_entity__name"),
        ExportColumn("created_at", "created_at"),
        ExportColumn("id", "id"),
    )


class SubscriptionTable(Table):
    default_sort = "-created"
    columns = (
        CUSTOMER,
        Column("plan", "Plan", sort="plan__name",
               template='<a href="{% url \'customers:subscription-detail\' row.pk %}">{{ row.plan.name }}</a>'),
        Column("status", "Status", sort="status", template='<span class="badge">{{ row.get_status_display }}</span>'),
        Column("start", "Started", sort="start_date", template='{% dt row.start_date "%Y-%m-%d" %}'),
        Column("period_end", "Current period ends", sort="current_period_end", template=(
            '{% dt row.current_period_end "%Y-%m-%d" %}'
            '{% if row.cancel_at and row.status != "ENDED" %} <span class="muted">(then ends)</span>{% endif %}'
        )),
        CREATED,
    )
    export_columns = (
        ExportColumn("customer_external_id", "customer__external_id"),
        ExportColumn("customer_name", "customer__name"),
        ExportColumn("plan_lookup_id", "plan__lookup_id"),
        ExportColumn("plan_name", "plan__name"),
        ExportColumn("status", "status"),
        ExportColumn("billing_interval", "billing_interval"),
        ExportColumn("start_date", "start_date"),
        ExportColumn("current_period_start", "current_period_start"),
        ExportColumn("current_period_end", "current_period_end"),
        ExportColumn("cancel_at", "cancel_at"),
        ExportColumn("created_at", "created_at"),
        ExportColumn("id", "id"),
    )


class BillingEntityTable(Table):
    default_sort = "name"
    columns = (
        Column("name", "Name", sort="name",
               template='<a href="{% url \'customers:billing-entity-edit\' row.pk %}">{{ row.name }}</a>'
                        '{% if row.is_default %} <span class="badge">default</span>{% endif %}'),
        Column("legal_name", "Legal name", sort="legal_name"),
        Column("invoice_prefix", "Invoice numbers", sort="invoice_prefix",
               template="<code>{{ row.invoice_prefix }}-&lt;year&gt;-000001</code>"),
        Column("country", "Country", sort="country", template="{{ row.country.name|default:'—' }}"),
        Column("net_days", "Net days", sort="net_days", align="num"),
        CREATED,
    )
    export_columns = (
        ExportColumn("name", "name"),
        ExportColumn("legal_name", "legal_name"),
        ExportColumn("invoice_prefix", "invoice_prefix"),
        ExportColumn("country", "country"),
        ExportColumn("tax_id", "tax_id"),
        ExportColumn("net_days", "net_days"),
        ExportColumn("is_default", "is_default"),
        ExportColumn("id", "id"),
    )
