"""Rejected ingestion attempts: a bounded log the event debugger shows."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import DatabaseError

from ..models import RejectedEvent

logger = logging.getLogger(__name__)

REJECTED_KEEP_FOR = timedelta(hours=24)
REJECTED_KEEP_ROWS = 5000
REJECTED_PER_REQUEST = 10
# Pruning runs when a new row's id is a multiple of this: about once per hundred rejections,
# in whichever process wrote that row, so no schedule is needed and the happy path pays nothing.
REJECTED_PRUNE_EVERY = 100


def _excerpt(payload) -> str:
    """The first 2 KB of the payload as JSON, encoded only as far as needed (bodies can be 1 MB)."""
    if payload is None:
        return ""
    if isinstance(payload, str):
        return payload[: RejectedEvent.PAYLOAD_MAX_CHARS]
    limit = RejectedEvent.PAYLOAD_MAX_CHARS
    parts: list[str] = []
    size = 0
    try:
        for chunk in json.JSONEncoder(default=_excerpt_default, ensure_ascii=False).iterencode(payload):
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    except (TypeError, ValueError):
        return repr(payload)[:limit]
    return "".join(parts)[:limit]


def _excerpt_default(value):
    return str(value) if isinstance(value, Decimal) else repr(value)


def rejection_record(
    *, endpoint: str, error: str, field: str | None = None, payload=None, key=None, now: datetime
) -> None:
    """Log one refused ingestion attempt (see `rejections_record`)."""
    rejections_record(endpoint=endpoint, rejections=[(error, field, payload)], key=key, now=now)


def rejections_record(*, endpoint: str, rejections: list[tuple], key=None, now: datetime) -> None:
    """Log refused events, (error, field, payload) each, at most REJECTED_PER_REQUEST per call, in one INSERT.

    `key` is the request's API key (anything with a `prefix`), or None. Never raises for a database
    problem: a client's 4xx answer must not turn into a 500 because the debugging log failed.
    """
    prefix = str(getattr(key, "prefix", "") or "")[:32]
    rows = [
        RejectedEvent(
            created_at=now,
            endpoint=str(endpoint)[:200],
            api_key_prefix=prefix,
            error=str(error),
            field=str(field_name or "")[:200],
            payload=_excerpt(payload),
        )
        for error, field_name, payload in rejections[:REJECTED_PER_REQUEST]
    ]
    if not rows:
        return
    try:
        created = RejectedEvent.objects.bulk_create(rows)
        if any(row.pk % REJECTED_PRUNE_EVERY == 0 for row in created):
            rejected_prune(now=now)
    except DatabaseError:
        logger.exception("Could not record a rejected event")


def rejected_prune(*, now: datetime) -> int:
    """Drop rows older than REJECTED_KEEP_FOR and beyond the newest REJECTED_KEEP_ROWS; returns rows dropped."""
    dropped, _ = RejectedEvent.objects.filter(created_at__lt=now - REJECTED_KEEP_FOR).delete()
    boundary = list(RejectedEvent.objects.order_by("-id").values_list("id", flat=True)[REJECTED_KEEP_ROWS : REJECTED_KEEP_ROWS + 1])
    if boundary:
        more, _ = RejectedEvent.objects.filter(id__lte=boundary[0]).delete()
        dropped += more
    return dropped
