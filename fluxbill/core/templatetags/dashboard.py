from django import template
from django.utils.html import format_html

from fluxbill.core import dashboard
from fluxbill.core.permissions import may

register = template.Library()


@register.simple_tag
def dt(value, fmt: str = "%Y-%m-%d %H:%M"):
    """A time in UTC, turned into the viewer's time zone by app.js; the UTC value stays in the tooltip."""
    if not value:
        return ""
    utc = value.strftime(fmt) + " UTC"
    return format_html('<time datetime="{}" title="{}" data-local>{}</time>', value.isoformat(), utc, utc)


@register.simple_tag(takes_context=True)
def qs(context, **changes):
    """The current query string with parameters replaced: {% qs page=2 %}."""
    return dashboard.querystring(context["request"], **changes)


@register.simple_tag(takes_context=True)
def sort_link(context, key: str, label: str):
    """A column header that sorts by `key`, flipping direction when it is already the sort."""
    current = context.get("sort", "")
    target = f"-{key}" if current == key else key
    arrow = " ▲" if current == key else (" ▼" if current == f"-{key}" else "")
    href = dashboard.querystring(context["request"], sort=target, page=None)
    return format_html('<a href="{}" class="sort">{}{}</a>', href, label, arrow)


@register.filter
def can(user, perm: str) -> bool:
    """{% if request.user|can:"invoicing.void_invoice" %} — show a button only to those the view will allow."""
    return may(user, perm)
