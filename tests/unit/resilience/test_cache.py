"""ResultCache: per-entry TTL, single flight, errors not cached, invalidation, stats."""

from __future__ import annotations

import threading

import pytest

from syncclients import UsageError
from syncclients.resilience.cache import ResultCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_hit_until_ttl_then_recompute() -> None:
    clock = Clock()
    cache: ResultCache[str, int] = ResultCache(timer=clock)
    calls = []

    def compute() -> tuple[int, float | None]:
        calls.append(1)
        return len(calls), 10.0

    assert cache.get_or_compute("k", compute) == 1
    clock.now = 9.9
    assert cache.get_or_compute("k", compute) == 1
    clock.now = 10.1
    assert cache.get_or_compute("k", compute) == 2
    s = cache.stats()
    assert (s.hits, s.misses) == (1, 2)


def test_zero_or_negative_ttl_is_not_cached_and_ttl_is_capped() -> None:
    clock = Clock()
    cache: ResultCache[str, str] = ResultCache(timer=clock, max_ttl_s=100, default_ttl_s=5)
    cache.get_or_compute("a", lambda: ("x", 0))
    cache.get_or_compute("b", lambda: ("x", -5))
    assert cache.get("a") is None
    assert cache.get("b") is None
    cache.get_or_compute("c", lambda: ("x", 10**9))
    clock.now = 101
    assert cache.get("c") is None
    cache.get_or_compute("d", lambda: ("x", None))
    clock.now = 105.9  # computed at 101 with the default 5 s
    assert cache.get("d") == "x"
    clock.now = 106.1
    assert cache.get("d") is None


def test_concurrent_misses_compute_once() -> None:
    cache: ResultCache[str, int] = ResultCache()
    started = threading.Event()
    release = threading.Event()
    calls = []

    def compute() -> tuple[int, float | None]:
        calls.append(1)
        started.set()
        assert release.wait(5)
        return 42, 60.0

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("k", compute)))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    assert started.wait(5)
    release.set()
    for t in threads:
        t.join(5)
    assert results == [42] * 16
    assert len(calls) == 1
    assert cache.stats().misses == 1


def test_errors_are_shared_with_waiters_and_never_cached() -> None:
    cache: ResultCache[str, int] = ResultCache()
    attempts = []

    def failing() -> tuple[int, float | None]:
        attempts.append(1)
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        cache.get_or_compute("k", failing)
    assert cache.get_or_compute("k", lambda: (7, 60.0)) == 7
    assert len(attempts) == 1


def test_invalidate_by_key_predicate_and_all() -> None:
    cache: ResultCache[tuple[str, str], int] = ResultCache()
    for server in ("a", "b"):
        for kind in ("tools/list", "resources/list"):
            cache.get_or_compute((server, kind), lambda: (1, 60.0))
    assert cache.invalidate(("a", "tools/list")) == 1
    assert cache.invalidate(lambda key: key[1] == "resources/list") == 2
    assert len(cache) == 1
    assert cache.invalidate() == 1
    assert cache.stats().invalidations == 4


def test_maxsize_evicts_least_recently_used_and_bad_args() -> None:
    cache: ResultCache[int, int] = ResultCache(maxsize=2)
    for i in range(3):
        cache.get_or_compute(i, lambda i=i: (i, 60.0))
    assert len(cache) == 2
    assert cache.get(0) is None
    with pytest.raises(UsageError):
        ResultCache(maxsize=0)
