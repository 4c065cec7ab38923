"""A thread-safe, single-flight result cache with a TTL per entry, on ``cachetools``.

This is the only module that imports ``cachetools``. Its caches are not thread-safe even for
reads, and ``cached(lock=...)`` lets concurrent misses compute twice (dependencies.md), so:

- every access to the underlying :class:`cachetools.TLRUCache` happens under one lock;
- concurrent misses on one key make one computation (single flight): the first caller
  computes, the others wait for it and share its value, or its exception (errors are never
  cached);
- each entry carries its own TTL (MCP cache hints ``ttlMs``: clamped to 0 and to
  ``max_ttl_s``), expiring on the monotonic clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import cachetools

from ..errors import UsageError

__all__ = ["CacheStats", "ResultCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters of a :class:`ResultCache` since it was created (or last cleared).

    Attributes:
        hits: lookups answered from the cache (including waits on an in-flight computation).
        misses: lookups that computed.
        size: entries held now (expired ones may still count until touched).
        invalidations: entries removed by :meth:`ResultCache.invalidate`.
    """

    hits: int
    misses: int
    size: int
    invalidations: int


class _Flight:
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class ResultCache(Generic[K, V]):
    """A bounded cache whose entries each have a time to live.

    Args:
        maxsize: the most entries kept (least recently used are evicted first).
        default_ttl_s: the TTL of an entry whose computation gives none, in seconds.
        max_ttl_s: the longest TTL accepted, in seconds (the official MCP client caps at 24 h).
        timer: a monotonic clock in seconds (for tests).

    Raises:
        UsageError: a non-positive ``maxsize`` or negative TTL.
    """

    def __init__(
        self,
        maxsize: int = 1024,
        *,
        default_ttl_s: float = 60.0,
        max_ttl_s: float = 86400.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise UsageError(f"maxsize must be an int >= 1, got {maxsize!r}")
        if default_ttl_s < 0 or max_ttl_s < 0:
            raise UsageError("TTLs must be >= 0 seconds")
        self.default_ttl_s = default_ttl_s
        self.max_ttl_s = max_ttl_s
        self._timer = timer
        # TLRU: the value stored is (expires_at, value); ttu reads the expiry we computed.
        self._cache: cachetools.TLRUCache[K, tuple[float, V]] = cachetools.TLRUCache(
            maxsize, ttu=lambda _key, item, _now: item[0], timer=timer
        )
        self._lock = threading.Lock()
        self._flights: dict[K, _Flight] = {}
        self._hits = self._misses = self._invalidations = 0

    def get_or_compute(self, key: K, compute: Callable[[], tuple[V, float | None]]) -> V:
        """The cached value of ``key``, computing it (once, however many threads ask) on a miss.

        Args:
            key: a hashable key (e.g. ``(server, method, canonical_params)``).
            compute: returns ``(value, ttl_s)``; ``ttl_s`` None uses ``default_ttl_s``, 0
                (or negative) means "do not cache", larger values are capped at
                ``max_ttl_s``. Called without the lock held.

        Returns:
            The value.

        Raises:
            Exception: whatever ``compute`` raised (shared with callers that waited for it;
                nothing is cached).
        """
        with self._lock:
            try:
                _, value = self._cache[key]
            except KeyError:
                pass
            else:
                self._hits += 1
                return value
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self._misses += 1
            else:
                self._hits += 1
        if not leader:
            flight.done.wait()  # bounded by the leader's own call timeout
            if flight.error is not None:
                raise flight.error
            value = flight.value
            return value
        try:
            value, ttl_s = compute()
        except BaseException as exc:
            flight.error = exc
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()
            raise
        ttl = self.default_ttl_s if ttl_s is None else min(max(0.0, ttl_s), self.max_ttl_s)
        with self._lock:
            if ttl > 0:
                self._cache[key] = (self._timer() + ttl, value)
            self._flights.pop(key, None)
        flight.value = value
        flight.done.set()
        return value

    def get(self, key: K) -> V | None:
        """The cached, unexpired value of ``key``, or None (counts no hit or miss)."""
        with self._lock:
            item = self._cache.get(key)
        return None if item is None else item[1]

    def invalidate(self, match: K | Callable[[K], bool] | None = None) -> int:
        """Remove entries.

        Args:
            match: a key; a predicate ``(key) -> bool`` selecting keys; or None for all.

        Returns:
            How many entries were removed.
        """
        with self._lock:
            if match is None:
                keys = list(self._cache.keys())
            elif callable(match) and not isinstance(match, tuple | str):
                predicate: Callable[[K], bool] = match
                keys = [k for k in list(self._cache.keys()) if predicate(k)]
            else:
                keys = [match] if match in self._cache else []
            for k in keys:
                self._cache.pop(k, None)
            self._invalidations += len(keys)
            return len(keys)

    def stats(self) -> CacheStats:
        """A snapshot of the counters (see :class:`CacheStats`)."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._cache), self._invalidations)

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)
