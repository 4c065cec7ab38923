"""CacheClient: the remote cache service with namespaces and TTLs, and an optional local near
cache with single flight for :meth:`CacheClient.get_or_set` (contract section 5, PROPOSED
``cache``; 2 s per operation)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from cachetools import TTLCache

from ..batch import run_batch
from ..config import USE_CLIENT_DEFAULT
from ..errors import HTTPStatusError, SyncClientsError, UsageError
from .base import FallbackArg, ServiceClient

__all__ = ["CacheClient", "CacheLookup", "CacheWrite"]

T = TypeVar("T")
_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """A ``get``: ``hit`` and ``value``; ``ttl_remaining_s`` from the service (None for a
    near-cache hit or a miss); ``near`` when served locally; ``fallback``/``error`` when a
    failed call was turned into a miss."""

    hit: bool
    value: Any = None
    ttl_remaining_s: float | None = None
    near: bool = False
    fallback: bool = False
    error: SyncClientsError | None = None


@dataclass(frozen=True, slots=True)
class CacheWrite:
    """A ``set`` or ``delete``: ``ok`` (stored / deleted); ``fallback``/``error`` when a failed
    call was turned into ``ok=False``. Truthy when ``ok``."""

    ok: bool
    fallback: bool = False
    error: SyncClientsError | None = None

    def __bool__(self) -> bool:
        return self.ok


def _seg(name: str, value: str) -> str:
    if not isinstance(value, str) or value in ("", ".", ".."):  # dot segments would move
        raise UsageError(f"{name} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


class CacheClient(ServiceClient):
    """The cache service (service ``cache``).

    Args:
        base_url: ``external_services.cache_url``.
        namespace: the default namespace.
        default_ttl_s: the TTL of :meth:`set` when none is given, seconds (contract: 300).
        near_cache_size: entries kept locally (0: no near cache).
        near_cache_ttl_s: the longest a local copy is served, seconds (and never longer
            than the entry's own TTL). Local copies can be stale by up to this long when
            another process changes the entry.
        **kwargs: see :class:`~syncclients.services.ServiceClient`.
    """

    service = "cache"

    def __init__(
        self,
        base_url: str,
        *,
        namespace: str = "default",
        default_ttl_s: float = 300.0,
        near_cache_size: int = 0,
        near_cache_ttl_s: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        _seg("namespace", namespace)
        self.namespace = namespace
        self.default_ttl_s = default_ttl_s
        self._near: TTLCache[tuple[str, str], Any] | None = (
            TTLCache(maxsize=near_cache_size, ttl=near_cache_ttl_s) if near_cache_size else None
        )
        self._near_lock = threading.Lock()
        self._flights: dict[tuple[str, str], threading.Lock] = {}
        self._flights_lock = threading.Lock()

    def _path(self, key: str, namespace: str | None) -> tuple[str, tuple[str, str]]:
        ns = namespace or self.namespace
        return f"api/v2/cache/{_seg('namespace', ns)}/{_seg('key', key)}", (ns, key)

    def lookup(
        self, key: str, *, namespace: str | None = None, fallback: FallbackArg = USE_CLIENT_DEFAULT
    ) -> CacheLookup:
        """GET the entry (near cache first). A 404 is a miss.

        Raises:
            SyncClientsError: the call failed and no fallback (a miss) was asked for.
            UsageError: an empty key or namespace.
        """
        path, near_key = self._path(key, namespace)
        if self._near is not None:
            with self._near_lock:
                if near_key in self._near:
                    return CacheLookup(True, self._near[near_key], near=True)

        def call() -> CacheLookup:
            try:
                reply, _ = self._call("GET", path, timeout_s=_TIMEOUT_S)
            except HTTPStatusError as exc:
                if exc.status_code == 404:
                    return CacheLookup(False)
                raise
            data = self._data(reply)
            remaining = data.get("ttl_remaining_s")
            left = float(remaining) if isinstance(remaining, int | float) else None
            self._remember(near_key, data.get("value"), left)
            return CacheLookup(True, data.get("value"), left)

        return self._guard(
            fallback, call, lambda e: CacheLookup(False, fallback=True, error=e), "cache.get"
        )

    def get(
        self,
        key: str,
        default: Any = None,
        *,
        namespace: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> Any:
        """The value of ``key``, or ``default`` on a miss (see :meth:`lookup`)."""
        found = self.lookup(key, namespace=namespace, fallback=fallback)
        return found.value if found.hit else default

    def set(
        self,
        key: str,
        value: Any,
        *,
        ttl_s: float | None = None,
        namespace: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> CacheWrite:
        """PUT ``{value, ttl_s}`` (JSON-serialisable value; ``ttl_s`` default 300 s).

        Raises:
            SyncClientsError: the call failed and no fallback (``ok=False``) was asked for.
        """
        path, near_key = self._path(key, namespace)
        ttl = self.default_ttl_s if ttl_s is None else ttl_s
        if not ttl > 0:
            raise UsageError(f"ttl_s must be > 0, got {ttl_s!r}")
        self._forget(near_key)

        def call() -> CacheWrite:
            reply, _ = self._call(
                "PUT", path, json={"value": value, "ttl_s": ttl}, timeout_s=_TIMEOUT_S
            )
            stored = self._data(reply).get("stored") is True
            if stored:
                self._remember(near_key, value, ttl)
            return CacheWrite(stored)

        return self._guard(
            fallback, call, lambda e: CacheWrite(False, fallback=True, error=e), "cache.set"
        )

    def delete(
        self, key: str, *, namespace: str | None = None, fallback: FallbackArg = USE_CLIENT_DEFAULT
    ) -> CacheWrite:
        """DELETE the entry (and its local copy). ``ok`` is the service's ``deleted``.

        Raises:
            SyncClientsError: the call failed and no fallback (``ok=False``) was asked for.
        """
        path, near_key = self._path(key, namespace)
        self._forget(near_key)

        def call() -> CacheWrite:
            reply, _ = self._call("DELETE", path, timeout_s=_TIMEOUT_S)
            return CacheWrite(self._data(reply).get("deleted") is True)

        return self._guard(
            fallback, call, lambda e: CacheWrite(False, fallback=True, error=e), "cache.delete"
        )

    def get_many(
        self,
        keys: Iterable[str],
        *,
        namespace: str | None = None,
        max_workers: int = 8,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> dict[str, Any]:
        """Look up several keys concurrently; return ``{key: value}`` for the hits.

        Raises:
            SyncClientsError: the first failed lookup's error, when no fallback was asked for
                (with a fallback, failed lookups are misses).
        """
        wanted = list(dict.fromkeys(keys))
        outcomes = run_batch(
            lambda k, _call: self.lookup(k, namespace=namespace, fallback=fallback),
            wanted,
            max_workers=max_workers,
        )
        found: dict[str, Any] = {}
        for key, outcome in zip(wanted, outcomes, strict=True):
            if outcome.error is not None:
                raise outcome.error
            if outcome.result is not None and outcome.result.hit:
                found[key] = outcome.result.value
        return found

    def get_or_set(
        self,
        key: str,
        factory: Callable[[], T],
        *,
        ttl_s: float | None = None,
        namespace: str | None = None,
    ) -> T | Any:
        """The cached value, or ``factory()`` stored under ``key``. Single flight: in this
        process, concurrent callers for one key wait for the first one's ``factory``.

        A failing cache never blocks the value: a failed lookup counts as a miss and a failed
        store is ignored (both logged), since the factory is the source of truth.

        Raises:
            Exception: whatever ``factory`` raised (nothing is stored).
        """
        _, near_key = self._path(key, namespace)
        with self._flights_lock:
            lock = self._flights.setdefault(near_key, threading.Lock())
        with lock:
            found = self.lookup(key, namespace=namespace, fallback=True)
            if found.hit:
                return found.value
            value = factory()
            self.set(key, value, ttl_s=ttl_s, namespace=namespace, fallback=True)
            return value

    def _remember(self, near_key: tuple[str, str], value: Any, ttl_s: float | None) -> None:
        if self._near is None or (ttl_s is not None and ttl_s < self._near.ttl):
            return  # never serve a local copy longer than the entry lives
        with self._near_lock:
            self._near[near_key] = value

    def _forget(self, near_key: tuple[str, str]) -> None:
        if self._near is not None:
            with self._near_lock:
                self._near.pop(near_key, None)
