from django import template

from fluxbill.core.fields import decimal_to_string
from fluxbill.core.money import format_money

register = template.Library()


@register.filter
def money(amount, currency):
    """{{ invoice.total|money:invoice.currency }} → $1,234.50"""
    if amount is None or amount == "":
        return ""
    return format_money(amount, currency)


@register.filter
def decimal(value):
    """Plain decimal without trailing zeros: 150, 0.001."""
    return decimal_to_string(value) if value not in (None, "") else ""
