"""The plan list's columns and sorts (fluxbill.core.lists)."""

from fluxbill.core.lists import ACTIVE_BADGE, CREATED, Column, ExportColumn, Table


class PlanTable(Table):
    default_sort = "name"
    columns = (
        Column("name", "Name", sort="name", template='<a href="{% url \'catalog:plan-detail\' row.pk %}">{{ row.name }}</a>'),
        Column("lookup_id", "Lookup id", sort="lookup_id", template="<code>{{ row.lookup_id }}</code>"),
        Column("type", "Type", sort="type", accessor="get_type_display"),
        Column("interval", "Billed", sort="billing_interval", accessor="get_billing_interval_display"),
        Column("currency", "Currency", sort="currency"),
        Column("charges", "Charges", sort="charge_count", template=(
            '{{ row.charge_count }}{% if row.charge_count %}: <small class="muted">{% for charge in row.charges.all %}'
            '{{ charge.display_name }}{% if charge.type == "FIXED" %} ({{ charge.amount|money:row.currency }}){% endif %}'
            '{% if not forloop.last %}, {% endif %}{% endfor %}</small>{% endif %}'
        )),
        Column("status", "Status", sort="active", template=ACTIVE_BADGE),
        CREATED,
    )
    export_columns = (
        ExportColumn("lookup_id", "lookup_id"),
        ExportColumn("name", "name"),
        ExportColumn("type", "type"),
        ExportColumn("billing_interval", "billing_interval"),
        ExportColumn("currency", "currency"),
        ExportColumn("trial_days", "trial_days"),
        ExportColumn("active", "active"),
        ExportColumn("charges", "charge_count"),
        ExportColumn("created_at", "created_at"),
        ExportColumn("id", "id"),
    )


class TaxRateTable(Table):
    default_sort = "code"
    columns = (
        Column("code", "Code", sort="code", template=(
            "{% if user|can:'catalog.change_taxrate' %}<a href=\"{% url 'catalog:tax-rate-edit' row.pk %}\"><code>{{ row.code }}</code></a>"
            "{% else %}<code>{{ row.code }}</code>{% endif %}"
        )),
        Column("name", "Name", sort="name"),
        Column("rate", "Rate", sort="rate", align="num", template="{{ row.rate|decimal }} %"),
        Column("status", "Status", sort="active", template=ACTIVE_BADGE),
        CREATED,
    )
    export_columns = (
        ExportColumn("code", "code"),
        ExportColumn("name", "name"),
        ExportColumn("rate", "rate"),
        ExportColumn("active", "active"),
        ExportColumn("created_at", "created_at"),
        ExportColumn("id", "id"),
    )
