"""LLMRouter: failover, one attempt budget, one deadline, strategies, rate limits, config."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from syncclients.config import BreakerPolicy, RetryPolicy
from syncclients.errors import CircuitOpenError, ConnectionLostError, DeadlineExceeded, UsageError
from syncclients.llm import (
    AuthenticationError,
    ContextLengthExceededError,
    LLMRouter,
    OverloadedError,
    ProviderServerError,
    RateLimit,
    StreamDone,
)
from syncclients.testing.llm_server import Fault

HI = [{"role": "user", "content": "hi"}]


def pair(
    servers: Any, providers: Any, first: str = "anthropic", second: str = "openai", **kw: Any
) -> tuple[Any, Any, Any, Any]:
    s1, s2 = servers(first), servers(second)
    return s1, s2, providers(first, s1, **kw), providers(second, s2, **kw)


def test_failover_when_the_first_is_overloaded(servers: Any, providers: Any) -> None:
    s1, s2, p1, p2 = pair(servers, providers)
    s1.always = Fault(status=529)
    router = LLMRouter([p1, p2])
    started = time.monotonic()
    resp = router.generate(HI)
    elapsed = time.monotonic() - started
    assert resp.provider == "openai"
    assert len(s1.chat_requests()) == 1  # attempts_per_provider=1: no retry before failover
    assert len(s2.chat_requests()) == 1
    assert elapsed < 1.0


def test_failover_with_32_threads_and_100_percent_failure(servers: Any, providers: Any) -> None:
    """100 % failure of the first provider: its breaker opens after 5 failures, then it is
    skipped with no attempt; every call is answered by the second; the total attempts stay
    at calls + a bounded overhead (never calls x retries x providers)."""
    s1, s2, p1, p2 = pair(
        servers, providers, breaker=BreakerPolicy(failure_threshold=5, recovery_timeout_s=60)
    )
    s1.always = Fault(status=529)
    router = LLMRouter([p1, p2], max_attempts=4)
    calls = 320
    started = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _i: router.generate(HI), range(calls)))
    elapsed = time.monotonic() - started
    assert all(r.provider == "openai" for r in results)
    first, second = len(s1.chat_requests()), len(s2.chat_requests())
    assert second == calls
    # at most the 5 that opened the breaker plus the calls already admitted (<= 32 threads)
    assert 5 <= first <= 5 + 32
    assert p1.breaker is not None and p1.breaker.state == "open"
    assert elapsed < 30.0
    print(
        f"\n100% failure of the first: {calls} calls -> {first} + {second} attempts in {elapsed:.2f} s"
    )


def test_one_budget_across_retries_and_failovers(servers: Any, providers: Any) -> None:
    s1, s2, p1, p2 = pair(servers, providers, breaker=None)
    s1.always = s2.always = Fault(status=500)
    router = LLMRouter([p1, p2], max_attempts=4)
    with pytest.raises(ProviderServerError):
        router.generate(HI)
    # p1: 1 attempt then failover; p2 (last): the rest of the budget, capped by its policy (3)
    assert (len(s1.chat_requests()), len(s2.chat_requests())) == (1, 3)


def test_budget_of_one_is_one_attempt(servers: Any, providers: Any) -> None:
    s1, s2, p1, p2 = pair(servers, providers, breaker=None)
    s1.always = Fault(status=500)
    with pytest.raises(ProviderServerError):
        LLMRouter([p1, p2], max_attempts=1).generate(HI)
    assert (len(s1.chat_requests()), len(s2.chat_requests())) == (1, 0)


def test_deadline_spans_all_attempts(servers: Any, providers: Any) -> None:
    s1, s2, p1, p2 = pair(servers, providers, breaker=None, timeout=5.0)
    s1.always = s2.always = Fault(delay_s=3.0)
    router = LLMRouter([p1, p2], deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        router.generate(HI)
    assert time.monotonic() - started < 2.0


def test_final_errors_do_not_fail_over(servers: Any, providers: Any) -> None:
    s1, s2, p1, p2 = pair(servers, providers)
    s1.always = Fault(status=401)
    with pytest.raises(AuthenticationError):
        LLMRouter([p1, p2]).generate(HI)
    assert len(s2.chat_requests()) == 0


def test_context_length_fails_over_only_when_asked(servers: Any, providers: Any) -> None:
    s1, _s2, p1, p2 = pair(servers, providers)
    body = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "prompt is too long: 300000 tokens"},
    }
    s1.always = Fault(status=400, error_body=body)
    with pytest.raises(ContextLengthExceededError):
        LLMRouter([p1, p2]).generate(HI)
    assert LLMRouter([p1, p2], failover_on_context_length=True).generate(HI).provider == "openai"


def test_open_breaker_is_skipped_without_attempt(servers: Any, providers: Any) -> None:
    s1, s2, p1, p2 = pair(
        servers, providers, breaker=BreakerPolicy(failure_threshold=1, recovery_timeout_s=60)
    )
    s1.always = Fault(status=529)
    router = LLMRouter([p1, p2])
    router.generate(HI)
    router.generate(HI)
    assert len(s1.chat_requests()) == 1 and len(s2.chat_requests()) == 2
    s2.always = Fault(status=529)
    with pytest.raises((CircuitOpenError, OverloadedError)):
        router.generate(HI)


def test_stream_fails_over_before_its_first_event(servers: Any, providers: Any) -> None:
    s1, _s2, p1, p2 = pair(servers, providers)
    s1.always = Fault(cut_after=0)
    events = list(LLMRouter([p1, p2]).stream(HI))
    assert isinstance(events[-1], StreamDone) and events[-1].response.provider == "openai"


def test_stream_does_not_fail_over_after_its_first_event(servers: Any, providers: Any) -> None:
    s1, s2, p1, p2 = pair(servers, providers)
    s1.always = Fault(cut_after=4)
    with pytest.raises(ConnectionLostError):
        for _event in LLMRouter([p1, p2]).stream(HI):
            pass
    assert len(s2.chat_requests()) == 0


def test_provider_lacking_a_capability_is_skipped(servers: Any, providers: Any) -> None:
    from syncclients.llm import Capabilities

    s1, s2 = servers("anthropic"), servers("openai")
    p1 = providers("anthropic", s1, capabilities=Capabilities(tools=False))
    p2 = providers("openai", s2)
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    assert LLMRouter([p1, p2]).generate(HI, tools=[tool]).provider == "openai"
    assert s1.chat_requests() == []
    with pytest.raises(UsageError, match="no provider"):
        LLMRouter([p1]).generate(HI, tools=[tool])


def test_client_side_rate_limit_fails_over_without_an_attempt(servers: Any, providers: Any) -> None:
    s1, s2 = servers("anthropic"), servers("openai")
    p1 = providers("anthropic", s1, rate_limit=RateLimit(requests_per_minute=2))
    p2 = providers("openai", s2)
    router = LLMRouter([p1, p2])
    answered = [router.generate(HI).provider for _ in range(5)]
    assert answered == ["anthropic", "anthropic", "openai", "openai", "openai"]
    assert len(s1.chat_requests()) == 2


def test_rate_limit_waits_within_the_deadline(servers: Any, providers: Any) -> None:
    s1 = servers("openai")
    p1 = providers("openai", s1, rate_limit=RateLimit(requests_per_minute=120))  # 1 per 0.5 s
    started = time.monotonic()
    for _ in range(122):
        p1.generate(HI)
    assert 0.6 <= time.monotonic() - started < 5.0  # 120 at once, 2 more waited ~0.5 s each


def test_round_robin_alternates(servers: Any, providers: Any) -> None:
    _s1, _s2, p1, p2 = pair(servers, providers)
    router = LLMRouter([p1, p2], strategy="round_robin")
    answered = [router.generate(HI).provider for _ in range(4)]
    assert sorted(answered) == ["anthropic", "anthropic", "openai", "openai"]
    assert answered[0] != answered[1]


def test_weighted_and_least_latency(servers: Any, providers: Any) -> None:
    s1, _s2, p1, p2 = pair(servers, providers)
    weighted = LLMRouter([p1, p2], strategy="weighted", weights=[1, 1000])
    assert [weighted.generate(HI).provider for _ in range(20)].count("openai") >= 18
    s1.always = Fault(delay_s=0.3)
    for _ in range(3):  # the moving average of p1 reaches > 0.14 s, whatever came before
        p1.generate(HI)
    p2.generate(HI)
    fastest = LLMRouter([p1, p2], strategy="least_latency")
    assert fastest.generate(HI).provider == "openai"


def test_from_config_with_env_and_reload_in_flight(
    servers: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s1, s2 = servers("anthropic"), servers("openai")
    monkeypatch.setenv("H6_SECRET_KEY", "sk-very-secret-123")
    config = {
        "strategy": "fallback",
        "max_attempts": 3,
        "deadline_s": 20,
        "providers": [
            {
                "type": "anthropic",
                "model": "fake-model",
                "api_key": "${H6_SECRET_KEY}",
                "base_url": s1.base_url,
                "timeout": 5,
                "retry": {"max_attempts": 2, "initial_delay_s": 0.01},
            },
        ],
    }
    path = tmp_path / "llm.json"
    path.write_text(json.dumps(config))
    router = LLMRouter.from_config(path)
    try:
        assert "sk-very-secret" not in repr(router) + repr(router.providers)
        assert router.generate(HI).provider == "anthropic"
        assert (
            s1.chat_requests()[0].headers.get("authorization", "").endswith("sk-very-secret-123")
            or s1.chat_requests()[0].headers.get("x-api-key") == "sk-very-secret-123"
        )
        # a slow call in flight on the old provider while the config swaps to the new one
        s1.always = Fault(delay_s=0.5)
        result: list[Any] = []
        worker = threading.Thread(target=lambda: result.append(router.generate(HI)))
        worker.start()
        deadline = time.monotonic() + 5
        while len(s1.chat_requests()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        config["providers"] = [
            {
                "type": "openai",
                "model": "fake-model",
                "api_key": "${H6_SECRET_KEY}",
                "base_url": s2.base_url,
            }
        ]
        path.write_text(json.dumps(config))
        router.reload()
        assert router.generate(HI).provider == "openai"
        worker.join(5)
        assert result and result[0].provider == "anthropic"  # the in-flight call did not fail
    finally:
        router.close()


def test_config_errors_never_show_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("H6_MISSING", raising=False)
    with pytest.raises(UsageError, match="H6_MISSING"):
        LLMRouter.from_config(
            {"providers": [{"type": "openai", "model": "m", "api_key": "${H6_MISSING}"}]}
        )
    with pytest.raises(UsageError, match="provider type"):
        LLMRouter.from_config({"providers": [{"type": "nope", "model": "m"}]})
    with pytest.raises(UsageError, match="unknown router keys"):
        LLMRouter.from_config({"strategy": "fallback", "retries": 3, "providers": []})


def test_router_health_and_list_models(servers: Any, providers: Any) -> None:
    s1, _s2, p1, p2 = pair(servers, providers)
    router = LLMRouter([p1, p2])
    assert router.list_models() == {"anthropic": ["fake-model"], "openai": ["fake-model"]}
    health = router.health()
    assert health["anthropic"].reachable and health["openai"].breaker_state == "closed"
    s1.stop()
    health = router.health(timeout=1.0)
    assert not health["anthropic"].reachable and health["openai"].reachable


def test_router_validation() -> None:
    with pytest.raises(UsageError):
        LLMRouter([])
    with pytest.raises(UsageError):
        LLMRouter([], strategy="random")  # type: ignore[arg-type]


def test_retry_policy_of_provider_bounds_last_candidate(servers: Any, providers: Any) -> None:
    s1 = servers("openai")
    p1 = providers(
        "openai", s1, retry=RetryPolicy(max_attempts=2, initial_delay_s=0.01), breaker=None
    )
    s1.always = Fault(status=500)
    with pytest.raises(ProviderServerError):
        LLMRouter([p1], max_attempts=10).generate(HI)
    assert len(s1.chat_requests()) == 2


PAIRS = [
    (a, b)
    for a in ("openai", "azure", "anthropic", "gemini")
    for b in ("openai", "azure", "anthropic", "gemini")
    if a != b
]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=lambda x: str(x))
def test_failover_and_conversation_across_every_pair(
    servers: Any, providers: Any, first: str, second: str
) -> None:
    """Every provider fails over to every other; a conversation whose tool call came from
    the first (its id format, or a generated id for Gemini) continues on the second."""
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    s1, s2, p1, p2 = pair(servers, providers, first, second)
    from syncclients.testing.llm_server import Answer

    s1.answer = Answer(text="", tool_calls=(("get_weather", {"city": "Paris"}),))
    reply = p1.generate([{"role": "user", "content": "weather?"}], tools=[weather])
    history = [{"role": "user", "content": "weather?"}, reply.to_message()]
    history.append({"role": "tool", "tool_call_id": reply.tool_calls[0].id, "content": "sunny"})
    s1.always = Fault(status=529)
    router = LLMRouter([p1, p2])
    answer = router.generate(history, tools=[weather])
    assert answer.provider == second and answer.text
    assert len(s1.chat_requests()) == 2 and len(s2.chat_requests()) == 1
    events = list(router.stream(history, tools=[weather]))
    assert isinstance(events[-1], StreamDone) and events[-1].response.provider == second


def test_metrics_per_provider_count_failovers_at_each_provider(
    servers: Any, providers: Any
) -> None:
    s1, _s2, p1, p2 = pair(servers, providers)
    s1.always = Fault(status=529)
    router = LLMRouter([p1, p2])
    assert router.metrics()["anthropic"].calls == 0
    for _ in range(2):
        assert router.generate(HI).provider == "openai"
    with router.stream(HI) as stream:
        assert [e for e in stream if isinstance(e, StreamDone)]
    m = router.metrics()
    assert set(m) == {"anthropic", "openai"}
    first, second = m["anthropic"], m["openai"]
    assert (first.calls, first.successes, first.errors, first.attempts) == (3, 0, 3, 3)
    assert (second.calls, second.successes, second.errors, second.attempts) == (3, 3, 0, 3)
    assert second.latency_p50_s is not None and second.latency_p50_s > 0
    assert first.budget_tokens is not None  # providers have a retry budget by default
    assert p2.metrics().calls == 3  # the provider's own snapshot is the same counters
