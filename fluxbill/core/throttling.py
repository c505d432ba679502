"""Per-key rate limits as fixed one-minute windows counted with the cache's atomic increment.

With CACHE_URL pointing at Redis every web process shares the counters. One `incr` per request,
no read-modify-write of a list of timestamps.

When the store is unreachable (stopped, or frozen: each call then waits FLUXBILL_REDIS_TIMEOUT) the
limiter fails open, and for FLUXBILL_RATE_LIMIT_STORE_RETRY_SECONDS it does not ask again: one request
per process pays the timeout, the others are not slowed by an outage of a store they do not need.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

WINDOW_SECONDS = 60
logger = logging.getLogger(__name__)
# time.monotonic() before which the store is not asked (it failed last time). A float swap is atomic.
_store_down_until = 0.0


def rate_store_reset() -> None:
    """Ask the store again on the next request (tests; a store known to be back)."""
    global _store_down_until
    _store_down_until = 0.0


def rate_allow(scope: str, who: str) -> tuple[bool, float]:
    """Count one request of `who` (e.g. "key:<id>") in `scope`'s current window.

    Returns (allowed, seconds until the window ends). A limit of 0 allows everything and counts nothing.
    """
    limit = getattr(settings, PerKeyRateThrottle.limits[scope])
    if not limit:
        return True, 0.0
    global _store_down_until
    if time.monotonic() < _store_down_until:
        return True, 0.0
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"rl:{scope}:{who}:{window}"
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
    except Exception as exc:  # noqa: BLE001 — the store is down or frozen: ingestion must go on
        # Fail open: losing the rate limit for the outage is better than refusing every event.
        _store_down_until = time.monotonic() + settings.FLUXBILL_RATE_LIMIT_STORE_RETRY_SECONDS
        logger.warning(
            "rate limit store unreachable, allowing requests for %ss: %s",
            settings.FLUXBILL_RATE_LIMIT_STORE_RETRY_SECONDS, exc,
        )
        return True, 0.0
    return count <= limit, (window + 1) * WINDOW_SECONDS - now


class PerKeyRateThrottle(BaseThrottle):
    """Limits POSTs per API key (or user, or client address) to views naming a `throttle_scope`."""

    limits = {"single": "FLUXBILL_RATE_LIMIT_SINGLE", "bulk": "FLUXBILL_RATE_LIMIT_BULK"}

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if scope not in self.limits or request.method != "POST":
            return True
        allowed, self._wait = rate_allow(scope, self._who(request))
        return allowed

    def _who(self, request) -> str:
        if isinstance(request.auth, object) and hasattr(request.auth, "key_hash"):
            return f"key:{request.auth.pk}"
        if request.user and request.user.is_authenticated and getattr(request.user, "pk", None):
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"

    def wait(self) -> float:
        return max(1.0, round(getattr(self, "_wait", WINDOW_SECONDS)))
