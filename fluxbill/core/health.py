"""Liveness and readiness for load balancers and orchestrators."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """The process answers."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means "not ready"; the text says which
        return False, f"{type(exc).__name__}: {exc}"[:300]


def _broker_ok() -> tuple[bool, str]:
    from fluxbill.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.FLUXBILL_READYZ_TIMEOUT)
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:300]


def _cache_ok() -> tuple[bool, str]:
    from django.core.cache import cache

    try:
        cache.get("readyz")  # bounded by FLUXBILL_REDIS_TIMEOUT on Redis
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:300]


def readyz(request):
    """The database and the broker are reachable (503 names the one that is not).

    The cache (the rate-limit store) is reported but does not make the instance unready: ingestion
    fails open without it, and taking every instance out of the load balancer for a limiter outage
    would turn it into a full outage."""
    database, database_detail = _database_ok()
    broker, broker_detail = _broker_ok()
    _, cache_detail = _cache_ok()
    ready = database and broker
    return JsonResponse(
        {
            "status": "ready" if ready else "not ready",
            "database": database_detail,
            "broker": broker_detail,
            "cache": cache_detail,
        },
        status=200 if ready else 503,
    )
