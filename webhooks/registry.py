"""How each kind of object looks in an event: the apps above register the shape their API returns.

webhooks sits below the apps that emit events, so it cannot import their serializers; each app registers,
in its AppConfig.ready(), a function from its object to the API's JSON for it ("invoice" → InvoiceOutput).
"""

from __future__ import annotations

from typing import Any, Callable

_shapes: dict[str, Callable[[Any], dict]] = {}
_many: dict[str, Callable[[list], list[dict]]] = {}


def shape_register(kind: str, shape: Callable[[Any], dict], many: Callable[[list], list[dict]] | None = None) -> None:
    """`shape` makes one object's JSON; `many`, if given, a batch's in a few queries (else one by one)."""
    _shapes[kind] = shape
    if many is not None:
        _many[kind] = many


def shape(kind: str, obj) -> dict:
    try:
        return _shapes[kind](obj)
    except KeyError:
        raise LookupError(f"No webhook shape registered for {kind!r}") from None


def shape_many(kind: str, objs: list) -> list[dict]:
    if kind in _many:
        return _many[kind](objs)
    return [shape(kind, obj) for obj in objs]
