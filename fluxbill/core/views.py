"""Handlers every app shares: the 404 handler and the bench yardstick (login and logout are Django's)."""

from django.http import JsonResponse
from django.views import defaults

from fluxbill.core.errors import error_body


def bench_plain(request):
    """The yardstick bench/ingest.py compares /sdk/track against: the same server, no work at all.

    Routed only when FLUXBILL_BENCH_PLAIN_VIEW is on.
    """
    return JsonResponse({"ok": True})


def not_found(request, exception=None):
    """handler404: under /api/ a URL no route matches (`/api/v1/invoices/0.5/`) is answered like every
    other API error, in JSON; pages keep Django's HTML 404."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(f"No API route matches {request.path}"), status=404)
    return defaults.page_not_found(request, exception)
