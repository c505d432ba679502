"""Finding a row by its id or by its human key (external_id, lookup_id), for URLs and bodies."""

import uuid

from django.db.models import Model, QuerySet

from .errors import NotFound


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def get_by_id_or_key(queryset: QuerySet, value: str, key_field: str, *, label: str, field: str | None = None) -> Model:
    """Look up by primary key when `value` is a UUID, else by `key_field`; 404 naming what was missing."""
    as_uuid = _as_uuid(value)
    found = None
    if "\x00" in str(value):  # PostgreSQL text cannot hold NUL, so nothing is stored under such a key
        raise NotFound(f"{label} '{value}' not found", field=field)
    if as_uuid is not None:
        found = queryset.filter(pk=as_uuid).first()
    if found is None:
        found = queryset.filter(**{key_field: str(value)}).first()
    if found is None:
        raise NotFound(f"{label} '{value}' not found", field=field)
    return found
