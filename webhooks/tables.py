"""The webhook endpoint list's columns."""

from fluxbill.core.lists import CREATED, Column, ExportColumn, Table


class EndpointTable(Table):
    default_sort = "-created"
    columns = (
        Column("url", "URL", sort="url",
               template='<a href="{% url \'webhooks:endpoint-detail\' row.pk %}">{{ row.url }}</a>'
                        '{% if row.description %}<br><span class="muted">{{ row.description }}</span>{% endif %}'),
        Column("event_types", "Events", template=(
            '{% for t in row.event_types %}<span class="badge">{{ t }}</span> {% empty %}Every type{% endfor %}'
        )),
        Column("status", "Status", sort="enabled", template=(
            '{% if row.enabled %}{% if row.failing_since %}<span class="badge OPEN">Failing since {% dt row.failing_since %}</span>'
            '{% else %}<span class="badge PAID">Enabled</span>{% endif %}'
            '{% else %}<span class="badge VOID">Disabled</span>{% endif %}'
        )),
        CREATED,
    )
    export_columns = (
        ExportColumn("url", "url"),
        ExportColumn("description", "description"),
        ExportColumn("enabled", "enabled"),
        ExportColumn("disabled_reason", "disabled_reason"),
        ExportColumn("failing_since", "failing_since"),
        ExportColumn("created_at", "created_at"),
        ExportColumn("id", "id"),
    )
