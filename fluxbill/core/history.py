"""Trigger-based history of the billing models: who changed what, when, and why.

A PostgreSQL trigger (django-pghistory) writes one row per insert, update and delete of a tracked
model into its `<Model>History` table, so raw SQL and bulk updates are captured as well as `save()`.
Each row points at a `pghistory.Context` holding who did it: the dashboard user (id and email, from
`HistoryMiddleware` below), the API key's prefix (apikeys' authentication), the Celery task's name
(core's apps.py) and a reason where a service gives one (`invoice_void`). A write with no open
context (a shell, a migration, raw SQL outside a request) is still recorded, with no actor.

Usage events and invoice lines are not tracked: events are append-only already and far too many,
and lines are rebuilt by the services that own the invoice, whose own history is tracked.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import pghistory
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


@dataclass(frozen=True)
class HistoryChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    when: Any
    label: str  # insert, update, delete
    who: str
    reason: str
    changes: list[HistoryChange]


def _who(context) -> str:
    """Who made a change, from its context: the person, the API key, the task, or nobody known."""
    if context is None:
        return "system (no actor recorded)"
    metadata = context.metadata or {}
    if metadata.get("email") or metadata.get("user"):
        return metadata.get("email") or f"user #{metadata['user']}"
    if metadata.get("api_key"):
        return f"API key {metadata['api_key']}"
    if metadata.get("task"):
        return f"task {metadata['task']}"
    return "system (no actor recorded)"


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    return str(value)


def history_entries(obj, *, limit: int = HISTORY_PANEL_ROWS) -> list[HistoryEntry]:
    """The object's latest `limit` changes, newest first, each with the fields it changed (old → new).

    One query: the newest limit + 1 snapshots (the extra one is the "before" of the oldest shown).
    """
    event_model = type(obj).pgh_event_model
    tracked_fields = [
        field for field in event_model._meta.concrete_fields
        if not field.name.startswith("pgh_") and field.name != "id"
    ]
    rows = list(obj.history.select_related("pgh_context").order_by("-pgh_id")[: limit + 1])
    entries = []
    for index, row in enumerate(rows[:limit]):
        before = rows[index + 1] if index + 1 < len(rows) else None
        changes = []
        if row.pgh_label == "update" and before is not None:
            for field in tracked_fields:
                old, new = getattr(before, field.attname), getattr(row, field.attname)
                if old != new:
                    changes.append(HistoryChange(field=field.verbose_name, old=_shown(old), new=_shown(new)))
        context = row.pgh_context
        entries.append(
            HistoryEntry(
                when=row.pgh_created_at,
                label=row.pgh_label,
                who=_who(context),
                reason=(context.metadata or {}).get("reason", "") if context is not None else "",
                changes=changes,
            )
        )
    return entries
