"""Gap-free document numbers per billing entity, series and year."""

from __future__ import annotations

from django.db import connection

from ..models import InvoiceNumberSequence


def next_number(*, entity, year: int, series: str = InvoiceNumberSequence.INVOICE) -> str:
    """The next number of a billing entity's series for a year: invoices `<prefix>-<year>-<6 digits>`, credit
    notes `<prefix>-CN-<year>-<6 digits>`. The counter row stays locked until the issuing transaction ends, so
    numbers are unique under concurrency and a rollback returns its number: no gaps."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO invoicing_invoicenumbersequence (billing_entity_id, series, year, last_value)
            VALUES (%s, %s, %s, 1)
            ON CONFLICT (billing_entity_id, series, year)
            DO UPDATE SET last_value = invoicing_invoicenumbersequence.last_value + 1
            RETURNING last_value
            """,
            [entity.pk, series, year],
        )
        value = cursor.fetchone()[0]
    infix = "-CN" if series == InvoiceNumberSequence.CREDIT_NOTE else ""
    return f"{entity.invoice_prefix}{infix}-{year}-{value:06d}"
