"""How the web process's C allocator hands memory back, set once at start-up (fluxbill/wsgi.py).

glibc gives each new thread its own malloc arena (up to 8 per core) and keeps what a request freed in
that thread's arena; large buffers it serves from the arena too once one was freed (the mmap threshold
rises to the largest freed block). A gthread worker's eight threads each parsing a 5 MB bulk body now and
then so kept eight bodies' worth each, whatever FLUXBILL_BULK_CONCURRENCY allowed at once
(bench/bulk_memory.py). FLUXBILL_MALLOC_ARENAS caps the arenas and fixes the threshold at 128 KiB, so
large buffers are mapped and unmapped per use. Anything but glibc is left alone.
"""

from __future__ import annotations

import ctypes
import platform

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024


def malloc_configure(arenas: int) -> bool:
    """Cap glibc's arenas at `arenas` (0 leaves the allocator as it is). True if applied.

    Call before the process starts its threads: arenas made earlier stay."""
    if arenas <= 0 or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_ARENA_MAX, arenas)) and bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
