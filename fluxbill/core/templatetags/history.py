"""`{% history_panel obj %}`: a card with the object's latest changes (fluxbill/core/history.py)."""

from django import template

from fluxbill.core.history import HISTORY_PANEL_ROWS, history_entries

register = template.Library()


@register.inclusion_tag("core/history_panel.html")
def history_panel(obj, limit: int = HISTORY_PANEL_ROWS):
    """When, who, field: old → new and the reason, newest first; at most `limit` rows, one query."""
    return {"entries": history_entries(obj, limit=limit), "limit": limit}
