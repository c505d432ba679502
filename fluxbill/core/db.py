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
        # Match the violated constraint's name when the driver gives it: the full message also
        # quotes the duplicate value, which may contain another needle (meter_name "lookup_key.x").
        diag = getattr(exc.__cause__, "diag", None)
        text = getattr(diag, "constraint_name", None) or str(exc)
        for needle, (message, field) in constraint_messages.items():
            if needle in text:
                raise Conflict(message, field=field) from exc
        raise
