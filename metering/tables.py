"""The meter list's columns and sorts (fluxbill.core.lists)."""

from fluxbill.core.lists import ACTIVE_BADGE, CREATED, Column, Table


class MeterTable(Table):
    default_sort = "name"
    columns = (
        Column("name", "Name", sort="name", template='<a href="{% url \'metering:meter-detail\' row.pk %}">{{ row.name }}</a>'),
        Column("event_name", "Event name", sort="event_name", template="<code>{{ row.event_name }}</code>"),
        Column("aggregation", "Aggregation", sort="aggregation_type", template=(
            "{{ row.aggregation_type }}{% if row.property_name %} of <code>{{ row.property_name }}</code>{% endif %}"
        )),
        Column("unit", "Unit", sort="unit", template='{{ row.unit|default:"—" }}'),
        Column("status", "Status", sort="active", template=ACTIVE_BADGE),
        CREATED,
    )
