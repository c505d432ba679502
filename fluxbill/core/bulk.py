"""Writing thousands of rows in one statement, for the rollover's batches.

`bulk_create`/`bulk_update` bind every value as its own parameter (and bulk_update builds a CASE per
row and field); at rollover volume that costs more than pricing the invoices. Here the rows travel as one
JSON document that PostgreSQL reads back into the table's row type. These build the SQL for whichever
model they are given: each app calls them on its own tables only, from its own functions.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone


def _json_value(value):
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _is_auto_now(field) -> bool:
    return getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)


def _filler(field, now: datetime):
    """What bulk_create would store in `field` when a row does not say."""
    if _is_auto_now(field):
        return lambda: now
    if field.has_default() and callable(field.default):
        return field.get_default  # uuid4 and the like: one per row
    value = field.get_default()
    return lambda: value


def rows_insert(*, model, rows: list[dict]) -> None:
    """`bulk_create` for a rollover batch's tens of thousands of rows, in one statement.

    `rows` map attnames (`invoice_id`, not `invoice`) to values, the same attnames in every row;
    fields they leave out get their default, auto_now(_add) fields the time of the call.
    bulk_create binds every value as its own parameter, and at this volume building and quoting
    them costs more than pricing the invoices; here the rows travel as one JSON document that
    PostgreSQL reads back into the table's row type, column types and all. An AutoField primary
    key is left to the database.
    """
    if not rows:
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.db_returning]
    given = [(f.attname, f.column) for f in fields if f.attname in rows[0] and not _is_auto_now(f)]
    filled = [(f.column, _filler(f, now)) for f in fields if f.attname not in rows[0] or _is_auto_now(f)]
    records = []
    for row in rows:
        record = {column: row[attname] for attname, column in given if row[attname] is not None}
        for column, fill in filled:
            value = fill()
            if value is not None:
                record[column] = value
        records.append(record)
    rows_execute(
        model=model,
        template="INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)",
        columns=[column for column, _ in given] + [column for column, _ in filled],
        records=records,
    )


def rows_execute(*, model, template: str, columns: list[str], records: list[dict]) -> None:
    """Run `template` over `records` sent as one JSON array; a key a record leaves out reads as NULL."""
    quote = connection.ops.quote_name
    sql = template.format(
        table=quote(model._meta.db_table),
        columns=", ".join(quote(c) for c in columns),
        assignments=", ".join(f"{quote(c)} = r.{quote(c)}" for c in columns[1:]),
        key=quote(columns[0]),
    )
    document = json.dumps(records, default=_json_value)
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])


def rows_update(*, model, objs: list, field_names: list[str]) -> None:
    """`bulk_update` in one statement (bulk_update builds a CASE per row and field: slow at this volume).

    Writes the objects' current values of `field_names`, as bulk_update does (auto_now included:
    the value on the object is written, not the time of the call).
    """
    if not objs:
        return
    fields = [model._meta.pk] + [model._meta.get_field(name) for name in field_names]
    rows_execute(
        model=model,
        template="UPDATE {table} AS t SET {assignments} "
        "FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS r WHERE t.{key} = r.{key}",
        columns=[f.column for f in fields],
        records=[{f.column: value for f in fields if (value := getattr(obj, f.attname)) is not None} for obj in objs],
    )
