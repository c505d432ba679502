"""`{% history_panel obj %}`: a card with the object's latest changes (fluxbill/core/history.py)."""

from django import template

from fluxbill.core.history import HISTORY_PANEL_ROWS, history_entries

register = template.Library()


@register.inclusion_tag("core/history_panel.html")
def history_panel(obj, *children: str, limit: int = HISTORY_PANEL_ROWS):
    """When, who, field: old → new and the reason, newest first; at most `limit` rows, one query.

    `children` are related names whose rows' changes belong on the same page: `{% history_panel plan "charges" %}`.
    """
    return {"entries": history_entries(obj, children=children, limit=limit), "limit": limit}
