"""How many bulk requests one web process parses at once (FLUXBILL_BULK_CONCURRENCY).

A 5 MB bulk body costs a worker tens of MiB once parsed into Python objects, and gunicorn's threads would
otherwise parse as many at once as there are threads: 32 concurrent requests left the larger of two
workers at 564 MiB (bench/bulk_memory.py). A request takes a turn before its body is read, so one waiting
for a turn holds only its socket and its thread; it waits up to FLUXBILL_BULK_QUEUE_SECONDS and is then
answered 503 with Retry-After. A worker's memory stays at about its base + FLUXBILL_BULK_CONCURRENCY × one
request's (README, "Memory per bulk request", gives the measured spread).

At most as many requests wait as may parse: a waiting request holds one of the process's threads, and a
burst of bulk requests must leave the others to single events and the dashboard. One more is answered
503 at once. Bodies up to FLUXBILL_BULK_SMALL_BYTES take no turn: parsed, one costs about fifteen times
its size, so even every thread parsing one at once is a few MiB, and twenty clients sending a handful of
events each must not be turned away.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

RETRY_AFTER_SECONDS = 1

_lock = threading.Lock()
_turns: threading.BoundedSemaphore | None = None
_size = 0
_waiting = 0


def _semaphore(size: int) -> threading.BoundedSemaphore:
    global _turns, _size
    with _lock:
        # Built on first use, and again if the setting changed (tests): holders release the one they took.
        if _turns is None or _size != size:
            _turns, _size = threading.BoundedSemaphore(size), size
        return _turns


def waiting() -> int:
    """Requests of this process waiting for a turn now."""
    return _waiting


def _small(content_length: str | None) -> bool:
    try:
        return 0 <= int(content_length or "") <= settings.FLUXBILL_BULK_SMALL_BYTES
    except ValueError:
        return False  # chunked, or no length given: it may be as large as the body limit


@contextmanager
def bulk_turn(content_length: str | None) -> Iterator[bool]:
    """Yields True once this thread may read and parse a bulk body, False if no turn came in time.
    A small body (Content-Length up to FLUXBILL_BULK_SMALL_BYTES) needs no turn: it costs little memory."""
    global _waiting
    size = settings.FLUXBILL_BULK_CONCURRENCY
    if size <= 0 or _small(content_length):
        yield True
        return
    turns = _semaphore(size)
    if not turns.acquire(blocking=False):
        with _lock:
            full = _waiting >= size
            if not full:
                _waiting += 1
        if full:
            yield False
            return
        try:
            got = turns.acquire(timeout=settings.FLUXBILL_BULK_QUEUE_SECONDS)
        finally:
            with _lock:
                _waiting -= 1
        if not got:
            yield False
            return
    try:
        yield True
    finally:
        turns.release()
