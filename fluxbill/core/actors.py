"""Who caused a change: a user, an API key, or a task — what audit trails and `created_by` fields record."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    label: str
    user: object = None

    @classmethod
    def task(cls, name: str) -> "Actor":
        return cls(label=f"task:{name}")

    @classmethod
    def from_request(cls, request) -> "Actor":
        user = request.user
        if getattr(user, "key", None) is not None:
            return cls(label=f"api-key:{user.key.prefix}")
        return cls(label=f"user:{user.get_username()}", user=user)
