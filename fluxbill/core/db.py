"""Turning database constraint violations into answers for people."""

from contextlib import contextmanager

from django.db import IntegrityError, transaction

from .errors import Conflict


@contextmanager
def unique_or_conflict(constraint_messages: dict[str, tuple[str, str]]):
    """Run a write in a savepoint; a unique violation named in the map becomes a 409.

    `constraint_messages` maps a constraint or column name that appears in the database's
    error to (message, field).
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        text = str(exc)
        for needle, (message, field) in constraint_messages.items():
            if needle in text:
                raise Conflict(message, field=field) from exc
        raise
