"""Request ids for logs, and a clear 503 when the database is away."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
logger = logging.getLogger(__name__)


class RequestIdMiddleware:
    """Take X-Request-ID from the proxy when it looks sane, else make one; echo it back; tag every log line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _ACCEPTABLE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs 4xx and 5xx answers ("Not Found: /x") after the middleware has returned and the
        # context variable is reset; those records carry the request itself.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True


class DatabaseUnavailableMiddleware:
    """A lost or refused database connection is the server's trouble, not the client's: answer 503 with
    Retry-After so clients retry (with their idempotency keys) instead of treating it as a bug."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return database_unavailable_answer(exception)


def database_unavailable_answer(exception: BaseException) -> JsonResponse | None:
    """503 with Retry-After when `exception` means the database is out of reach, else None."""
    if isinstance(exception, (OperationalError, InterfaceError)) or (
        isinstance(exception, DatabaseError) and "server closed the connection" in str(exception)
    ):
        logger.warning("database unavailable: %s", exception)
        response = JsonResponse({"error": "The database is unavailable; retry shortly", "field": None}, status=503)
        response["Retry-After"] = "5"
        return response
    return None
