"""`{% usage_link line %}`, `{% printed_lines %}` and `{% invoice_document %}` (what invoicing.services.document prints).

`{% usage_link line %}`: the "why this amount?" link of a usage line, on dashboard pages only.

A page opts in with `usage_links` in its context: "invoice" for stored lines (the link names the line),
or {"customer", "start", "end"} for a preview's lines, which have no id. Without it (the PDF, emails)
the tag renders nothing.
"""

from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.html import format_html

from ..choices import LineKind
from ..services import document

register = template.Library()


@register.simple_tag(takes_context=True)
def usage_link(context, line) -> str:
    links = context.get("usage_links")
    if not links or getattr(line, "kind", None) != LineKind.USAGE:
        return ""
    if links == "invoice":
        if not getattr(line, "pk", None) or not getattr(line, "meter_id", None):
            return ""
        url = reverse("invoicing:line-usage", args=[line.pk])
    else:
        charge = getattr(line, "charge", None)
        if charge is None:
            return ""
        query = {
            "customer": links["customer"],
            "charge": charge.pk,
            "start": links["start"].isoformat(),
            "end": links["end"].isoformat(),
        }
        url = f"{reverse('invoicing:window-usage')}?{urlencode(query)}"
    return format_html('<a class="why" href="{}" data-usage-link>Why this amount?</a>', url)


@register.simple_tag
def printed_lines(lines, currency):
    """`{% printed_lines lines currency as printed %}`: the lines as the customer's copy prints them."""
    return document.printed_lines(lines or [], currency)


@register.simple_tag
def invoice_document(invoice):
    """`{% invoice_document invoice as doc %}`: doc.seller, doc.bill_to, doc.totals, doc.period."""
    seller, bill_to = document.document_parties(invoice)
    return {
        "seller": seller,
        "bill_to": bill_to,
        "totals": document.document_totals(invoice),
        "period": document.document_period(invoice),
    }
