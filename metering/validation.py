"""Checking one incoming event's fields, cheaply: the bulk path runs this 1000 times per request.

Every check raises EventRejected with a message for people and the field it is about.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from django.conf import settings

from .models import QUANTITY_DECIMAL_PLACES, QUANTITY_MAX_DIGITS

_MAX_INTEGER = Decimal(10) ** (QUANTITY_MAX_DIGITS - QUANTITY_DECIMAL_PLACES)
_MAX_INTEGER_INT = int(_MAX_INTEGER)
_MAX_TEXT = {"idempotency_key": 255, "event_id": 255, "source": 100, "customer_external_id": 255, "external_customer_id": 255}


class EventRejected(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class EventTargetNotFound(EventRejected):
    """The meter or customer the event names does not exist (404 on single-event endpoints)."""

    status_code = 404


def require(data: dict, field: str):
    value = data.get(field)
    if value is None or value == "":
        raise EventRejected(f"Missing required field: {field}", field)
    return value


def text(data: dict, field: str, *, required: bool = False) -> str | None:
    value = data.get(field)
    # The common case first, in as few steps as possible (four calls per event on the bulk path).
    if type(value) is str:
        stripped = value.strip()
        if stripped and len(stripped) <= _MAX_TEXT.get(field, 255) and (stripped.isascii() and "\x00" not in stripped):
            return stripped
    if required:
        value = require(data, field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventRejected(f"{field} must be a string", field)
    value = value.strip()
    if required and not value:
        raise EventRejected(f"Missing required field: {field}", field)
    limit = _MAX_TEXT.get(field, 255)
    if len(value) > limit:
        raise EventRejected(f"{field} is longer than {limit} characters", field)
    storable(value, field)
    return value or None


def storable(value: str, field: str, *, json_text: bool = False) -> str:
    """Text PostgreSQL can hold: no NUL character, and valid UTF-8 (no lone surrogate).

    Every way in (API, fast path, bulk, dashboard form, admin) reaches this through `text` and
    store.properties_json (`json_text`: `value` is encoded JSON, where NUL is spelled \\u0000), so such a value rejects its own event instead of failing a shared INSERT.
    """
    if "\x00" in value or json_text and "\\u0000" in value and _has_nul(value):
        raise EventRejected(f"{field} may not contain the NUL character (\\u0000)", field)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise EventRejected(f"{field} may not contain unpaired UTF-16 surrogates", field) from None
    return value


def _has_nul(encoded: str) -> bool:
    # JSON text spells NUL as \u0000; an escaped backslash before "u0000" is not one.
    return any(len(m.group(1)) % 2 == 1 for m in _NUL_IN_JSON.finditer(encoded))


_NUL_IN_JSON = re.compile(r"(\\+)u0000")


def quantity(value, field: str, *, positive: bool) -> Decimal:
    """A JSON number or numeric string, finite, within the column's precision."""
    # JSON integers, the usual case, in one step (bool is an int subclass and is refused below).
    if type(value) is int and (value > 0 if positive else value >= 0) and value < _MAX_INTEGER_INT:
        return Decimal(value)
    if value is None or value == "":
        raise EventRejected(f"Missing required field: {field}", field)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str, float)):
        raise EventRejected(f"{field} must be a number or a numeric string", field)
    try:
        number = value if isinstance(value, Decimal) else Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise EventRejected(f"{field} must be a number, got {str(value)[:40]!r}", field) from None
    if not number.is_finite():
        raise EventRejected(f"{field} must be a finite number", field)
    if number < 0 or (positive and number == 0):
        raise EventRejected(f"{field} must be greater than 0" if positive else f"{field} must not be negative", field)
    if number >= _MAX_INTEGER:
        raise EventRejected(f"{field} is too large (at most {QUANTITY_MAX_DIGITS - QUANTITY_DECIMAL_PLACES} integer digits)", field)
    if number.as_tuple().exponent < -QUANTITY_DECIMAL_PLACES:
        trimmed = number.normalize()
        if trimmed.as_tuple().exponent < -QUANTITY_DECIMAL_PLACES:
            raise EventRejected(f"{field} has more than {QUANTITY_DECIMAL_PLACES} decimal places", field)
        number = trimmed
    return number


def timestamp(value, field: str, now: datetime) -> datetime:
    """ISO 8601; naive times are UTC. Not older than the backfill limit, not further ahead than the skew."""
    if value is None or value == "":
        return now
    if not isinstance(value, str):
        raise EventRejected(f"{field} must be an ISO 8601 string such as 2025-08-22T07:05:49Z", field)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise EventRejected(f"{field} is not a valid ISO 8601 timestamp: {value[:40]!r}", field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        parsed = parsed.astimezone(timezone.utc)
    except OverflowError:
        raise EventRejected(f"{field} is out of range", field) from None
    backfill = timedelta(days=settings.FLUXBILL_EVENT_BACKFILL_DAYS)
    skew = timedelta(seconds=settings.FLUXBILL_EVENT_FUTURE_SKEW_SECONDS)
    if parsed < now - backfill:
        raise EventRejected(
            f"{field} is older than the backfill limit of {settings.FLUXBILL_EVENT_BACKFILL_DAYS} days", field
        )
    if parsed > now + skew:
        raise EventRejected(f"{field} is more than {int(skew.total_seconds())} seconds in the future", field)
    return parsed


def properties(value, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventRejected(f"{field} must be a JSON object", field)
    return value
