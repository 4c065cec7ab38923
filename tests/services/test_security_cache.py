"""SecurityHubClient and CacheClient against the reference server, with faults."""

from __future__ import annotations

import threading
import time

import pytest

from syncclients import ConnectionLostError, HTTPStatusError, ReadTimeout, RetryPolicy, Timeout
from syncclients.services import CacheClient, SecurityHubClient
from syncclients.testing import PlatformServer

from .conftest import FAST_RETRY

SEC = "/api/v2/security"


def test_validate_token_and_its_invalid_fallback(platform: PlatformServer) -> None:
    platform.tokens["tok-1"] = {
        "subject": "u1",
        "tenant_id": "acme",
        "scopes": ["read"],
        "expires_at": "2030-01-01T00:00:00Z",
    }
    with SecurityHubClient(platform.url, retry=FAST_RETRY) as hub:
        ok = hub.validate_token("tok-1", audience="api")
        assert (ok.valid, ok.subject, ok.scopes) == (True, "u1", ("read",))
        assert not hub.validate_token("nope").valid
        platform.add_fault(f"{SEC}/tokens", status=503)
        with pytest.raises(HTTPStatusError):
            hub.validate_token("tok-1")
        fb = hub.validate_token("tok-1", fallback=True)
        assert (fb.valid, fb.fallback) == (False, True)
    assert platform.requests[0].json() == {"token": "tok-1", "audience": "api"}


def test_token_is_not_in_errors_or_logs(
    platform: PlatformServer, caplog: pytest.LogCaptureFixture
) -> None:
    platform.add_fault(f"{SEC}/tokens", status=500)
    with SecurityHubClient(platform.url, retry=FAST_RETRY) as hub:
        fb = hub.validate_token("s3cr3t-token-value", fallback=True)
    assert "s3cr3t" not in str(fb.error) + repr(fb) + caplog.text


def test_decisions_are_cached_within_their_ttl_and_fallback_denies(
    platform: PlatformServer,
) -> None:
    platform.grants.add(("u1", "read", "doc:1"))
    platform.decision_ttl_s = 0.3
    with SecurityHubClient(platform.url, retry=FAST_RETRY) as hub:
        first = hub.authorize("u1", "read", "doc:1", context={"ip": "1.2.3.4"})
        second = hub.authorize("u1", "read", "doc:1", context={"ip": "1.2.3.4"})
        assert first.allowed and not first.cached and second.cached
        assert platform.count("POST", f"{SEC}/authorize") == 1
        assert not hub.authorize("u1", "write", "doc:1").allowed  # another key
        time.sleep(0.35)  # the decision's own TTL runs out
        assert not hub.authorize("u1", "read", "doc:1", context={"ip": "1.2.3.4"}).cached
        assert platform.count("POST", f"{SEC}/authorize") == 3
        platform.add_fault(f"{SEC}/authorize", status=503)
        deny = hub.authorize("u2", "read", "doc:1", fallback=True)
        assert (deny.allowed, deny.fallback) == (False, True)
        platform.clear_faults()
        assert not hub.authorize("u2", "read", "doc:1").cached  # fallbacks are not cached


def test_audit_event_retried_under_its_event_id_and_never_faked(
    platform: PlatformServer,
) -> None:
    with SecurityHubClient(platform.url, retry=FAST_RETRY, fallback=True) as hub:
        platform.add_fault(f"{SEC}/audit", lose_reply=True, times=1)
        assert hub.audit_event("u1", "delete", "doc:1", "success", event_id="ev-1")
        sent = [r for r in platform.requests if r.path.startswith(f"{SEC}/audit")]
        assert len(sent) == 2 and {r.headers["Idempotency-Key"] for r in sent} == {"ev-1"}
        assert list(platform.audit_events) == ["ev-1"]
        platform.add_fault(f"{SEC}/audit", status=500)
        with pytest.raises(HTTPStatusError):  # no fallback, even on a fallback client
            hub.audit_event("u1", "delete", "doc:2", "success")


def test_cache_operations_namespaces_and_escaping(platform: PlatformServer) -> None:
    with CacheClient(platform.url, namespace="ns a") as cache:
        assert cache.get("k/1") is None
        assert cache.set("k/1", {"v": 1}, ttl_s=30)
        hit = cache.lookup("k/1")
        assert hit.hit and hit.value == {"v": 1} and 0 < (hit.ttl_remaining_s or 0) <= 30
        assert cache.get("k/1", namespace="other", default="d") == "d"
        assert cache.set("k2", [1, 2])
        assert cache.get_many(["k/1", "k2", "missing"]) == {"k/1": {"v": 1}, "k2": [1, 2]}
        assert cache.delete("k/1") and not cache.delete("k/1")
        assert cache.get("k/1") is None
    puts = [r for r in platform.requests if r.method == "PUT"]
    assert puts[0].path == "/api/v2/cache/ns%20a/k%2F1"
    assert puts[0].json() == {"value": {"v": 1}, "ttl_s": 30}
    assert platform.requests[-2].headers["User-Agent"] == "MCP-Engine/cache-client"


def test_cache_ttl_expires_on_the_service(platform: PlatformServer) -> None:
    with CacheClient(platform.url) as cache:
        cache.set("short", 1, ttl_s=0.2)
        assert cache.get("short") == 1
        time.sleep(0.25)
        assert cache.get("short") is None


def test_cache_faults_timeout_reset_and_fallback(platform: PlatformServer) -> None:
    with CacheClient(platform.url, retry=FAST_RETRY) as cache:
        platform.add_fault("/api/v2/cache", delay_s=10)
        started = time.monotonic()
        with pytest.raises(Timeout):
            cache.get("k")
        assert time.monotonic() - started < 3.5  # the 2 s whole-call limit
        miss = cache.lookup("k", fallback=True)
        assert (miss.hit, miss.fallback) == (False, True)
        assert isinstance(miss.error, ReadTimeout | Timeout)
        platform.clear_faults()
        platform.add_fault("/api/v2/cache", drop=True, times=1)
        assert cache.set("k", 1)  # PUT is idempotent: a reset is retried
        platform.add_fault("/api/v2/cache", drop=True)
        with pytest.raises(ConnectionLostError):
            cache.set("k", 2)
        failed = cache.set("k", 2, fallback=True)
        assert not failed and failed.fallback


def test_near_cache_and_single_flight(platform: PlatformServer) -> None:
    calls = []

    def slow_factory() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "computed"

    with CacheClient(platform.url, near_cache_size=100, near_cache_ttl_s=5) as cache:
        results: list[object] = []
        threads = [
            threading.Thread(target=lambda: results.append(cache.get_or_set("hot", slow_factory)))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results == ["computed"] * 8 and len(calls) == 1
        gets = platform.count("GET", "/api/v2/cache/default/hot")
        assert cache.lookup("hot").near  # served locally
        assert platform.count("GET", "/api/v2/cache/default/hot") == gets
        cache.delete("hot")
        assert cache.get("hot") is None  # the local copy went with it


def test_get_or_set_survives_a_dead_cache(platform: PlatformServer) -> None:
    platform.add_fault("/api/v2/cache", status=503)
    never = RetryPolicy.never()
    with CacheClient(platform.url, retry=never, breaker=None) as cache:
        assert cache.get_or_set("k", lambda: 41 + 1) == 42
        with pytest.raises(HTTPStatusError):
            cache.get_many(["a", "b"])
        assert cache.get_many(["a", "b"], fallback=True) == {}
