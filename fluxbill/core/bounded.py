"""A size-bounded, thread-safe LRU map for the in-process caches of the hot paths.

Every in-process cache whose keys come from client input (meter tokens and names, customer external
ids, API key hashes) is one of these, so no sequence of requests can grow a process's memory past
its size: the least recently used entry goes when a new one would exceed it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    def __init__(self, size: int | Callable[[], int]):
        # A callable (e.g. reading a setting) is asked at each insert, so a changed setting holds at once.
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, default=None):
        with self._lock:
            try:
                self._data.move_to_end(key)
            except KeyError:
                return default
            return self._data[key]

    def set(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            size = self.size
            while len(self._data) > size:
                self._data.popitem(last=False)

    @property
    def size(self) -> int:
        return max(1, int(self._size() if callable(self._size) else self._size))

    def pop(self, key: K, default=None):
        with self._lock:
            return self._data.pop(key, default)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
