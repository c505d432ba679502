"""The API key list's columns and sorts (fluxbill.core.lists)."""

from fluxbill.core import permissions as perms
from fluxbill.core.lists import Column, Table

_NEVER = '<span class="muted">Never</span>'


class ApiKeyTable(Table):
    default_sort = "-created"
    css_class = "key-list"
    columns = (
        Column("name", "Name", sort="name"),
        Column("prefix", "Prefix", template="<code>{{ row.prefix }}…</code>"),
        Column("scopes", "Scopes", template='{% for scope in row.scopes %}<span class="badge">{{ scope }}</span> {% endfor %}'),
        Column("created", "Created", sort="created_at", template=(
            "{% dt row.created_at %}{% if row.created_by %}<br>"
            '<small class="muted">by {{ row.created_by.get_username }}</small>{% endif %}'
        )),
        Column("last_used", "Last used", sort="last_used_sort",
               template="{% if row.last_used_at %}{% dt row.last_used_at %}{% else %}" + _NEVER + "{% endif %}"),
        Column("expires", "Expires", sort="expires_sort",
               template="{% if row.expires_at %}{% dt row.expires_at %}{% else %}" + _NEVER + "{% endif %}"),
        Column("status", "Status", template=(
            '<span class="badge {% if row.state == \'active\' %}PAID{% else %}VOID{% endif %}">{{ row.state|capfirst }}</span>'
        )),
        Column("actions", "Actions", permission=perms.MANAGE_API_KEYS, template=(
            '{% if row.state != "revoked" %}<a class="button" href="{% url \'apikeys:key-revoke\' row.pk %}" '
            'aria-label="Revoke {{ row.name }}">Revoke…</a>{% endif %}'
        )),
    )
