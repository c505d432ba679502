"""Trigger-based history of the billing models: who changed what, when, and why.

A PostgreSQL trigger (django-pghistory) writes one row per insert, update and delete of a tracked
model into its `<Model>History` table, so raw SQL and bulk updates are captured as well as `save()`.
Each row points at a `pghistory.Context` holding who did it: the dashboard user (id and email, from
`HistoryMiddleware` below), the API key's prefix (apikeys' authentication), the Celery task's name
(core's apps.py) and a reason where a service gives one (`invoice_void`). A write with no open
context (a shell, a migration, raw SQL outside a request) is still recorded, with no actor.

Reading it back, `history_entries` turns pghistory's `Events` rows (with their `pgh_diff`) into
who / when / field: old → new / reason, in one query, for every detail page's History panel
(templates/partials/detail_page.html) and admin's history page.

Usage events and invoice lines are not tracked: events are append-only already and far too many,
and lines are rebuilt by the services that own the invoice, whose own history is tracked.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Any

import pghistory
from django.db.models import DateTimeField, TextField
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime
from pghistory.middleware import HistoryMiddleware as _PghistoryMiddleware

# Never snapshot: `updated_at` moves on every save; on ApiKey, callers add `key_hash` (a secret) and
# `last_used_at` (moved by every ingested event).
ALWAYS_EXCLUDED = ("updated_at",)

# Paths whose POSTs are ingestion: a history context there would prepend a set_config to every
# statement of the hottest path, for tables that are not tracked.
UNTRACKED_PATHS = ("/api/v1/sdk/track", "/api/v1/events", "/api/v1/events/bulk", "/api/v1/usage")


def tracked(*, exclude: tuple[str, ...] = (), **options: Any):
    """The `pghistory.track` decorator with Fluxbill's defaults: insert, update, delete; no `updated_at`.

    The event model is `<Model>History` (invoicing has its own `InvoiceEvent`, the business audit trail)
    and the link back `obj.history` (not pghistory's default `events`, which Meter's usage events already
    use); its table is append-only; the roles get only its view permission.
    """
    options.setdefault("obj_field", pghistory.ObjForeignKey(related_name="history"))
    options.setdefault("append_only", True)
    options.setdefault("meta", {"default_permissions": ("view",)})

    def decorate(model_class):
        name = options.pop("model_name", f"{model_class.__name__}History")
        tracked_class = pghistory.track(
            pghistory.InsertEvent(),
            pghistory.UpdateEvent(),
            pghistory.DeleteEvent(),
            exclude=[*ALWAYS_EXCLUDED, *exclude],
            model_name=name,
            **options,
        )(model_class)
        # pghistory puts the event model beside the tracked one, in its models module.
        event_model = getattr(sys.modules[model_class.__module__], name)
        event_model.__doc__ = (
            f"One insert, update or delete of a {model_class.__name__}: the row as it was after it (before it, for a "
            "delete), written by a database trigger, with the context naming who did it."
        )
        return tracked_class

    return decorate


class HistoryMiddleware(_PghistoryMiddleware):
    """Opens a history context (user id, email, path) for writes, except on the ingestion paths."""

    def get_context(self, request) -> dict[str, Any]:
        context = super().get_context(request)
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            context["email"] = user.email
        return context

    def __call__(self, request):
        if request.path.rstrip("/") in UNTRACKED_PATHS:
            return self.get_response(request)
        return super().__call__(request)


# One open context per running task, keyed by task id (prerun and postrun run in the task's thread).
_task_contexts: dict[str, Any] = {}


def task_history_open(sender=None, task_id=None, task=None, **kwargs) -> None:
    """Celery `task_prerun`: the task's writes are recorded with its name."""
    context = pghistory.context(task=task.name)
    context.__enter__()
    _task_contexts[task_id] = context


def task_history_close(sender=None, task_id=None, task=None, **kwargs) -> None:
    """Celery `task_postrun`: closes what `task_history_open` opened."""
    context = _task_contexts.pop(task_id, None)
    if context is not None:
        context.__exit__(None, None, None)


# --- reading it back: the history panel and admin's history page -----------------------------------

HISTORY_PANEL_ROWS = 20
# Admin's history page shows more than a detail page's panel, still in one bounded query.
ADMIN_HISTORY_ROWS = 200


@dataclass(frozen=True)
class HistoryChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    when: Any
    label: str  # insert, update, delete
    subject: str  # "" for the object itself; "Charge “API calls”" for a child row
    who: str
    reason: str
    changes: list[HistoryChange]


def _who(metadata) -> str:
    """Who made a change, from its context: the person, the API key, the task, or nobody known."""
    metadata = metadata or {}
    if metadata.get("email") or metadata.get("user"):
        return metadata.get("email") or f"user #{metadata['user']}"
    if metadata.get("api_key"):
        return f"API key {metadata['api_key']}"
    if metadata.get("task"):
        return f"task {metadata['task']}"
    return "system (no actor recorded)"


def _shown(value, field=None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(field, DateTimeField) and isinstance(value, str):
        moment = parse_datetime(value)  # the snapshot's JSON carries ISO text
        if moment is not None:
            return f"{moment.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
    if isinstance(value, Decimal):
        # Prices are stored with 12 places: 0.002000000000 reads as 0.002; at least cents are kept (29.00).
        trimmed = value.normalize()
        return f"{trimmed if trimmed.as_tuple().exponent < -2 else value.quantize(Decimal('0.01')):f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _event_models(obj, children: tuple[str, ...]) -> list:
    """The event models to read: the object's, and those of the children named by their related name."""
    model = type(obj)
    found = [model.pgh_event_model]
    for name in children:
        found.append(model._meta.get_field(name).related_model.pgh_event_model)
    return found


def history_entries(obj, *, children: tuple[str, ...] = (), limit: int = HISTORY_PANEL_ROWS) -> list[HistoryEntry]:
    """The latest `limit` changes of `obj` and of its `children` (related names: a plan's "charges"), newest first.

    One query over pghistory's `Events` view: each row comes with its context and its diff against the
    previous row of the same object (`pgh_diff`, computed by pghistory in SQL). The diff is read as
    text and parsed here so that amounts stay `Decimal` (JSON numbers would come back as floats).
    """
    from pghistory.models import Events  # not at import time: the models modules import this one

    event_models = _event_models(obj, children)
    tracked_models = {event_model._meta.label: event_model.pgh_tracked_model for event_model in event_models}
    rows = (
        Events.objects.across(*event_models)
        .references(obj)
        .annotate(diff_text=Cast("pgh_diff", TextField()))
        .order_by("-pgh_created_at", "-pgh_id")
        .values("pgh_model", "pgh_label", "pgh_created_at", "pgh_data", "pgh_context", "diff_text")[:limit]
    )
    entries = []
    for row in rows:
        tracked_model = tracked_models[row["pgh_model"]]
        by_column = {field.column: field for field in tracked_model._meta.concrete_fields}
        diff = json.loads(row["diff_text"], parse_float=Decimal) if row["diff_text"] else {}
        changes = [
            HistoryChange(
                field=str(by_column[column].verbose_name) if column in by_column else column,
                old=_shown(old, by_column.get(column)),
                new=_shown(new, by_column.get(column)),
            )
            for column, (old, new) in sorted(diff.items(), key=lambda item: _field_order(by_column, item[0]))
        ]
        metadata = row["pgh_context"] or {}
        entries.append(
            HistoryEntry(
                when=row["pgh_created_at"],
                label=row["pgh_label"],
                subject="" if tracked_model is type(obj) else _subject(tracked_model, row["pgh_data"]),
                who=_who(metadata),
                reason=metadata.get("reason", ""),
                changes=changes,
            )
        )
    return entries


def _field_order(by_column: dict, column: str) -> int:
    """Changes are listed in the model's field order, unknown columns last."""
    return list(by_column).index(column) if column in by_column else len(by_column)


def _subject(tracked_model, data: dict) -> str:
    """A child row's name as its model's `__str__` gives it, from the snapshot (no query)."""
    values = {
        field.attname: data[field.column]
        for field in tracked_model._meta.concrete_fields
        if field.column in data and not field.is_relation
    }
    return f"{str(tracked_model._meta.verbose_name).capitalize()} “{tracked_model(**values)}”"
