"""Domain errors and the API's error body: what was wrong and where.

Every 4xx body is `{"error": "<message>", "field": "<field or null>"}`; validation errors
also carry `errors`, every field's messages, so clients can show them all at once.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule refused the request. Services raise these; the API maps them to 4xx."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, field: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class InvalidInput(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT


class InvalidTransition(Conflict):
    """A state change asked of an object whose current state does not allow it."""


def _first_error(detail, path: str = "") -> tuple[str | None, str]:
    """Walk a DRF error structure to its first leaf: (dotted field path, message)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(key, int):  # ListField reports item errors as {index: errors}
                sub = f"{path}[{key}]"
            if key == "non_field_errors":
                sub = path
            return _first_error(value, sub)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                return _first_error(value, f"{path}[{index}]" if path else f"[{index}]")
            return _first_error(value, path)
    return (path or None), str(detail)


def _message_for(field: str | None, message: str) -> str:
    if not field:
        return message
    required = {"This field is required.", "This field may not be null.", "This field may not be blank."}
    if field.split(".")[-1].split("[")[0] in message:
        return message
    if message in required:
        return f"Missing required field: {field}" if message.endswith("required.") else f"{field}: {message}"
    return f"{field}: {message}"


def error_body(message: str, field: str | None = None, **extra) -> dict:
    body = {"error": message, "field": field}
    body.update(extra)
    return body


def api_exception_handler(exc, context):
    # Imported here: rest_framework.views loads the authentication classes, which use this module.
    from rest_framework.views import exception_handler

    if isinstance(exc, DomainError):
        return Response(error_body(exc.message, exc.field, **exc.extra), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_error(exc.detail)
        response.data = error_body(_message_for(field, message), field, errors=exc.detail)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail if not isinstance(detail, (dict, list)) else _first_error(detail)[1])
        response.data = error_body(message, None)
    return response
