from datetime import timezone as dt_timezone

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from fluxbill.core import dashboard
from fluxbill.core.permissions import may

register = template.Library()


@register.simple_tag
def dt(value, fmt: str | None = None):
    """A time as every page shows one: "2026-12-04 18:05 UTC" (seconds too when `fmt` has %S), which app.js
    rewrites in the viewer's zone in the same shape with that zone's name ("2026-12-04 19:05 GMT+1"); the UTC
    time stays in the tooltip. A `fmt` without %H shows the UTC day alone ("2026-12-04"), not moved to the
    viewer's zone: billing days are UTC days. `fmt` chooses only the precision, so no page invents a format."""
    if not value:
        return ""
    utc_value = value.astimezone(dt_timezone.utc)
    if fmt and "%H" not in fmt:
        title = utc_value.strftime("%Y-%m-%d %H:%M UTC")
        return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), title, utc_value.strftime("%Y-%m-%d"))
    seconds = bool(fmt and "%S" in fmt)
    utc = utc_value.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) + " UTC"
    return format_html(
        '<time datetime="{}" title="{}" data-local{}>{}</time>', value.isoformat(), utc,
        mark_safe(" data-seconds") if seconds else "", utc,
    )  # fmt: skip


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
