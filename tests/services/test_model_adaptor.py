"""ModelOrchestratorClient and AdaptorServiceClient against the reference server, with
faults: timeouts, 5xx storms with Retry-After, 429, resets, malformed JSON."""

from __future__ import annotations

import time

import pytest

from syncclients import (
    CircuitOpenError,
    ConnectionLostError,
    HTTPStatusError,
    ProtocolError,
    RetryPolicy,
    Timeout,
    UsageError,
)
from syncclients.services import AdaptorServiceClient, ModelOrchestratorClient
from syncclients.testing import LocalHTTPServer, PlatformServer, Reply

from .conftest import FAST_RETRY

PROCESS = "/api/v2/model/process"


def mo(platform: PlatformServer, **kw: object) -> ModelOrchestratorClient:
    kw.setdefault("retry", FAST_RETRY)
    return ModelOrchestratorClient(platform.url, **kw)  # type: ignore[arg-type]


def test_every_model_operation_and_the_contract_headers(platform: PlatformServer) -> None:
    with mo(platform, tenant_id="acme") as client:
        intent = client.detect_intent("hello there", conversation_context={"turn": 1})
        assert (intent.intent, intent.confidence, intent.fallback) == ("greeting", 0.92, False)
        assert intent.processing_time_ms == 3 and intent.raw["result"]["primary_intent"]
        ents = client.extract_entities("order 42 and 7", entity_types=["number"])
        assert [(e.entity, e.value, e.start, e.end) for e in ents.entities] == [
            ("number", "42", 6, 8),
            ("number", "7", 13, 14),
        ]
        reply = client.generate_response("greeting", [])
        assert reply.text == "Happy to help with greeting." and reply.confidence == 0.8
        assert client.analyze_sentiment("I love it").sentiment == "positive"
        assert client.get_model_status().status == "ready"
        assert client.health().status == "healthy"
    bodies = [r.json() for r in platform.requests if r.path == PROCESS]
    assert [b["operation"] for b in bodies] == [
        "intent_detection",
        "entity_extraction",
        "response_generation",
        "sentiment_analysis",
    ]
    assert bodies[0]["output_requirements"]["include_alternatives"] is True
    assert "output_requirements" not in bodies[1]
    assert bodies[2]["model_preferences"]["temperature"] == 0.7
    ids = set()
    for r in platform.requests[:5]:
        h = {k.lower(): v for k, v in r.headers.items()}
        assert h["x-tenant-id"] == "acme" and h["accept"] == "application/json"
        assert h["user-agent"] == "MCP-Engine/model_orchestrator-client"
        ids.add(h["x-request-id"])
    assert len(ids) == 5  # a new request id per call


def test_tenant_preferences_replace_the_default_whole(platform: PlatformServer) -> None:
    prefs = {"sentiment_analysis": {"primary_provider": "local"}}
    with mo(platform, model_preferences=prefs) as client:
        client.analyze_sentiment("ok", tenant_id="t2")
    sent = platform.requests[-1]
    assert sent.json()["model_preferences"] == {"primary_provider": "local"}
    assert sent.headers["X-Tenant-ID"] == "t2"


def test_adaptor_lifecycle(platform: PlatformServer) -> None:
    with AdaptorServiceClient(platform.url, retry=FAST_RETRY, tenant_id="acme") as ad:
        created = ad.create_integration({"name": "crm", "category": "sales"})
        iid = created.data["integration_id"]
        ad.create_integration({"name": "mail", "category": "comms"})
        listed = ad.list_integrations(category="sales")
        assert [i["name"] for i in listed.data] == ["crm"]
        assert ad.get_integration_status(iid).health == "healthy"
        assert ad.test_integration(iid, {"ping": 1}).success
        assert ad.update_integration(iid, {"status": "paused"}).success
        assert ad.list_integrations(status="paused").data[0]["id"] == iid
        run = ad.execute_integration(iid, endpoint="https://crm/x", input_data={"q": 1})
        assert run.success and run.status_code == 200 and run.data == {"echo": {"q": 1}}
        assert run.execution_id.startswith("exec_")
        assert ad.delete_integration(iid).success
        with pytest.raises(HTTPStatusError) as info:
            ad.get_integration_status(iid)
        assert info.value.status_code == 404
        assert ad.breaker is not None and ad.breaker.failure_count == 0  # a 404 is an answer
    execute = next(r for r in platform.requests if r.path.endswith("/execute")).json()
    assert execute["metadata"] == {
        "tenant_id": "acme",
        "source": "mcp_engine",
        "timestamp": execute["metadata"]["timestamp"],
    }
    assert execute["timeout_override_ms"] == 5000
    test_bodies = [r for r in platform.requests if r.path.endswith("/test")]
    assert test_bodies[0].json() == {"test_case": {"ping": 1}}
    assert platform.count("GET", "/api/v2/integrations?category=sales") == 1


def test_execution_ids_are_unique() -> None:
    with PlatformServer() as srv, AdaptorServiceClient(srv.url) as ad:
        iid = ad.create_integration({"name": "x"}).data["integration_id"]
        ids = {ad.execute_integration(iid, endpoint="e").execution_id for _ in range(20)}
    assert len(ids) == 20


def test_sentiment_waits_at_most_about_its_5_s(platform: PlatformServer) -> None:
    platform.add_fault(PROCESS, delay_s=30)
    with ModelOrchestratorClient(platform.url) as client:  # the contract's retry policy
        started = time.monotonic()
        with pytest.raises(Timeout):
            client.analyze_sentiment("slow")
        elapsed = time.monotonic() - started
    assert 4.5 <= elapsed < 6.5


def test_a_5xx_storm_with_retry_after_is_waited_out(platform: PlatformServer) -> None:
    platform.add_fault(PROCESS, status=503, retry_after=1, times=2)
    with mo(platform) as client:
        started = time.monotonic()
        assert client.analyze_sentiment("good good").sentiment == "positive"
        assert time.monotonic() - started >= 2.0  # two Retry-After: 1 honoured exactly
    assert platform.count("POST", PROCESS) == 3


def test_429_is_retried_after_its_delay(platform: PlatformServer) -> None:
    platform.add_fault(PROCESS, status=429, retry_after=0, times=1)
    with mo(platform) as client:
        assert client.detect_intent("hi").intent == "greeting"
    assert platform.count("POST", PROCESS) == 2


def test_a_reset_is_retried_for_safe_operations_only(platform: PlatformServer) -> None:
    with AdaptorServiceClient(platform.url, retry=FAST_RETRY) as ad, mo(platform) as client:
        iid = ad.create_integration({"name": "x"}).data["integration_id"]
        platform.add_fault(PROCESS, drop=True, times=1)
        assert client.analyze_sentiment("bad").sentiment == "negative"
        platform.add_fault("/api/v2/integrations/", method="POST", drop=True, times=1)
        with pytest.raises(ConnectionLostError):
            ad.execute_integration(iid, endpoint="e")  # POST with side effects: not repeated
        assert platform.count("POST", f"/api/v2/integrations/{iid}/execute") == 1
        platform.add_fault("/api/v2/integrations/", method="PUT", drop=True, times=1)
        assert ad.update_integration(iid, {"a": 1}).success  # PUT: repeated


def test_malformed_json_raises_or_falls_back(platform: PlatformServer) -> None:
    platform.add_fault(PROCESS, malformed=True)
    with mo(platform) as client:
        with pytest.raises(ProtocolError):
            client.detect_intent("hi")
        fb = client.detect_intent("hi", fallback=True)
    assert (fb.intent, fb.confidence, fb.fallback) == ("general_inquiry", 0.1, True)
    assert isinstance(fb.error, ProtocolError)


def test_fallbacks_per_client_and_their_canned_values(platform: PlatformServer) -> None:
    platform.add_fault("/api", status=500)
    never = RetryPolicy.never()
    with ModelOrchestratorClient(platform.url, fallback=True, retry=never, breaker=None) as m:
        assert m.extract_entities("1").entities == () and m.extract_entities("1").fallback
        gen = m.generate_response("x")
        assert gen.text == "I understand. How can I help you further?" and gen.fallback
        assert m.get_model_status().status == "unknown"
        with pytest.raises(HTTPStatusError):
            m.analyze_sentiment("x", fallback=False)  # per call wins
    with AdaptorServiceClient(platform.url, fallback=True, retry=never, breaker=None) as ad:
        run = ad.execute_integration("i1", endpoint="e")
        assert (run.success, run.fallback, run.client_error) == (False, True, True)
        assert isinstance(run.error, HTTPStatusError)
        assert ad.list_integrations().data == [] and ad.list_integrations().fallback
        assert ad.get_integration_status("i1").status == "unknown"
        assert not ad.delete_integration("i1").success
        assert not ad.create_integration({"name": "n"}).success
        assert ad.test_integration("i1").data["test_results"] == []
        with pytest.raises(UsageError):  # a programming error is never a fallback
            ad.create_integration({})


def test_breaker_counts_calls_not_attempts_and_opens_after_5(platform: PlatformServer) -> None:
    platform.add_fault(PROCESS, status=503)
    with mo(platform) as client:
        with pytest.raises(HTTPStatusError):
            client.analyze_sentiment("x")
        assert platform.count("POST", PROCESS) == 4  # 3 retries ...
        assert client.breaker is not None and client.breaker.failure_count == 1  # ... 1 failure
        for _ in range(4):
            with pytest.raises(HTTPStatusError):
                client.analyze_sentiment("x")
        assert client.breaker.state == "open"
        before = platform.count()
        with pytest.raises(CircuitOpenError):
            client.analyze_sentiment("x")
        assert platform.count() == before  # nothing sent
        fb = client.analyze_sentiment("x", fallback=True)
        assert fb.fallback and isinstance(fb.error, CircuitOpenError)


def test_reply_without_envelope_or_status_code_is_not_a_success() -> None:
    with LocalHTTPServer() as srv:
        srv.routes[("POST", "/api/v2/model/process")] = lambda r: Reply(200, {"result": {}})
        srv.routes[("POST", "/api/v2/integrations/i1/execute")] = lambda r: Reply(
            200, {"data": {"result": {"response_data": {}}}}
        )
        srv.routes[("GET", "/api/v2/model/status")] = lambda r: Reply(200, "plain text")
        with ModelOrchestratorClient(srv.url, retry=FAST_RETRY) as m:
            with pytest.raises(ProtocolError):
                m.analyze_sentiment("x")
            with pytest.raises(ProtocolError):
                m.get_model_status()
        with AdaptorServiceClient(srv.url) as ad:
            run = ad.execute_integration("i1", endpoint="e")
    assert (run.success, run.status_code, run.fallback) == (False, 0, False)
    assert run.error == "the reply carried no status_code"


def test_ids_are_escaped_and_paths_stay_relative(platform: PlatformServer) -> None:
    with AdaptorServiceClient(platform.url, retry=FAST_RETRY) as ad:
        with pytest.raises(HTTPStatusError):
            ad.get_integration_status("../../admin?x=1")
        for bad in ("", ".", ".."):  # dot segments would resolve to another path
            with pytest.raises(UsageError):
                ad.get_integration_status(bad)
    assert platform.requests[-1].path == "/api/v2/integrations/..%2F..%2Fadmin%3Fx%3D1/status"


def test_health_reports_unhealthy_without_raising() -> None:
    srv = PlatformServer().start()
    url = srv.url
    srv.stop()
    with ModelOrchestratorClient(url) as client:
        health = client.health(timeout_s=1)
    assert (health.status, health.response_time_ms, health.error_rate) == ("unhealthy", None, None)
    assert health.error and health.circuit_breaker_state == "closed"
