"""The behavioural suite every provider passes through its real SDK against a fake server:
generate, stream, tools, conversions, error translation, retries and faults."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from syncclients.config import RetryPolicy
from syncclients.errors import ConnectionLostError, ProtocolError, ReadTimeout, UsageError
from syncclients.llm import (
    AuthenticationError,
    BadRequestError,
    ContextLengthExceededError,
    ImagePart,
    Message,
    OverloadedError,
    Provider,
    ProviderServerError,
    RateLimitedError,
    StreamDone,
    TextDelta,
    TextPart,
    ToolCallDelta,
)
from syncclients.testing.llm_server import Answer, FakeLLMServer, Fault

from .conftest import KEYS

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
HI = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
ONE_ATTEMPT = RetryPolicy.never(deadline_s=10.0)


def sent_key(req: Any) -> str:
    h = req.headers
    return (
        h.get("x-api-key")
        or h.get("api-key")
        or h.get("x-goog-api-key")
        or h.get("authorization", "")
    )


def test_generate_text_and_what_the_sdk_sends(
    flavor: str, server: FakeLLMServer, provider: Provider
) -> None:
    resp = provider.generate(HI, temperature=0.2, max_tokens=50)
    assert resp.text == "Hello from the fake model."
    assert resp.finish_reason == "stop"
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (10, 5)
    assert resp.provider == flavor
    [req] = server.chat_requests()
    assert KEYS[flavor] in sent_key(req)
    body = req.body
    if flavor == "openai":
        assert req.path == "/v1/chat/completions"
        assert body["model"] == "fake-model"
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert body["max_completion_tokens"] == 50 and body["temperature"] == 0.2
    elif flavor == "azure":
        assert (
            req.path == "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21"
        )
        assert "authorization" not in req.headers and req.headers["api-key"] == KEYS["azure"]
    elif flavor == "anthropic":
        assert req.path == "/v1/messages"
        assert body["system"] == "Be brief."
        assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        assert body["max_tokens"] == 50
    else:
        assert req.path.endswith("/models/fake-model:generateContent")
        assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
        assert body["generationConfig"]["maxOutputTokens"] == 50
    if flavor == "gemini":  # our timeout (5 s) is passed down; the SDK has no retries
        assert req.headers["x-server-timeout"] == "5"
    else:  # the SDK's own retries are off and our timeout replaced its 600 s default
        assert req.headers["x-stainless-retry-count"] == "0"
        assert req.headers["x-stainless-read-timeout"] == "5.0"


def test_tools_are_sent_and_calls_parsed(
    flavor: str, server: FakeLLMServer, provider: Provider
) -> None:
    server.answer = Answer(text="", tool_calls=(("get_weather", {"city": "Paris"}),))
    resp = provider.generate(
        [{"role": "user", "content": "weather?"}], tools=[WEATHER], tool_choice="required"
    )
    assert resp.finish_reason == "tool_calls"
    [call] = resp.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    assert call.id  # Gemini has none on the wire: one is generated
    body = server.chat_requests()[0].body
    if flavor in ("openai", "azure"):
        assert body["tools"] == [WEATHER]
        assert body["tool_choice"] == "required"
    elif flavor == "anthropic":
        assert body["tools"][0]["input_schema"] == WEATHER["function"]["parameters"]
        assert body["tool_choice"] == {"type": "any"}
    else:
        decl = body["tools"][0]["functionDeclarations"][0]
        assert decl["name"] == "get_weather"
        assert body["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"


def test_stream_text(server: FakeLLMServer, provider: Provider) -> None:
    events = list(provider.stream(HI))
    assert isinstance(events[-1], StreamDone)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and "".join(deltas) == "Hello from the fake model."
    done = events[-1].response
    assert done.text == "Hello from the fake model." and done.finish_reason == "stop"
    assert done.usage.output_tokens == 5


def test_stream_tool_call_deltas(flavor: str, server: FakeLLMServer, provider: Provider) -> None:
    server.answer = Answer(
        text="", tool_calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Oslo"}))
    )
    with provider.stream([{"role": "user", "content": "weather?"}], tools=[WEATHER]) as stream:
        events = list(stream)
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    if flavor != "gemini":  # Gemini sends each call whole in one chunk
        assert len(deltas) > 2
    by_index: dict[int, str] = {}
    for d in deltas:
        by_index[d.index] = by_index.get(d.index, "") + d.arguments_delta
    assert [json.loads(by_index[i]) for i in sorted(by_index)] == [
        {"city": "Paris"},
        {"city": "Oslo"},
    ]
    done = stream.response
    assert done is not None and done.finish_reason == "tool_calls"
    assert [c.arguments["city"] for c in done.tool_calls] == ["Paris", "Oslo"]
    assert len({c.id for c in done.tool_calls}) == 2


def test_conversation_from_another_provider_continues(
    flavor: str, server: FakeLLMServer, provider: Provider
) -> None:
    """Tool-call ids from another provider (with characters Anthropic rejects, longer than
    OpenAI's 40) are translated at the boundary, consistently for the call and its result."""
    foreign = "toolu_01.A" + "x" * 40
    history = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": foreign,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": foreign, "content": "sunny"},
    ]
    assert provider.generate(history, tools=[WEATHER]).text
    body = server.chat_requests()[0].body
    if flavor in ("openai", "azure"):
        call_id = body["messages"][1]["tool_calls"][0]["id"]
        assert len(call_id) <= 40 and body["messages"][2]["tool_call_id"] == call_id
    elif flavor == "anthropic":
        use = body["messages"][1]["content"][0]
        result = body["messages"][2]["content"][0]
        assert use["type"] == "tool_use" and result["type"] == "tool_result"
        assert use["id"] == result["tool_use_id"] and "." not in use["id"]
    else:
        assert body["contents"][1]["parts"][0]["functionCall"]["name"] == "get_weather"
        response = body["contents"][2]["parts"][0]["functionResponse"]
        assert response["name"] == "get_weather" and response["response"] == {"result": "sunny"}


def test_images_and_our_message_types(
    flavor: str, server: FakeLLMServer, provider: Provider
) -> None:
    msg = Message(
        "user", (TextPart("what is this?"), ImagePart(data=b"\x89PNG", media_type="image/png"))
    )
    provider.generate([msg])
    body = json.dumps(server.chat_requests()[0].body)
    assert "iVBORw" in body  # base64 of the PNG magic, in each provider's image shape


def test_content_filter_is_never_an_empty_success(
    flavor: str, server: FakeLLMServer, provider: Provider
) -> None:
    server.answer = Answer(
        text="", finish="content_filter", blocked="SAFETY" if flavor == "gemini" else None
    )
    resp = provider.generate(HI)
    assert resp.finish_reason == "content_filter"
    assert resp.filter_reason


def test_429_retry_after_ms_is_honoured_exactly(server: FakeLLMServer, provider: Provider) -> None:
    server.push(Fault(status=429, headers={"retry-after-ms": "300"}))
    started = time.monotonic()
    assert provider.generate(HI).text
    elapsed = time.monotonic() - started
    assert len(server.chat_requests()) == 2
    assert 0.3 <= elapsed < 2.0


def test_429_retry_after_seconds(server: FakeLLMServer, provider: Provider) -> None:
    server.push(Fault(status=429, headers={"retry-after": "1"}))
    started = time.monotonic()
    assert provider.generate(HI).text
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, RateLimitedError),
        (529, OverloadedError),
        (500, ProviderServerError),
        (503, OverloadedError),
    ],
)
def test_transient_statuses_are_retried_then_raised(
    flavor: str, server: FakeLLMServer, provider: Provider, status: int, error: type[Exception]
) -> None:
    server.always = Fault(status=status)
    with pytest.raises(error) as info:
        provider.generate(HI)
    assert info.value.status_code == status
    assert len(server.chat_requests()) == 3  # our 3 attempts; no SDK retries underneath
    assert KEYS[flavor] not in str(info.value)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, None, AuthenticationError),
        (400, None, BadRequestError),
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 8192 tokens",
                    "code": "context_length_exceeded",
                }
            },
            ContextLengthExceededError,
        ),
    ],
)
def test_final_errors_are_not_retried(
    server: FakeLLMServer, provider: Provider, status: int, body: Any, error: type[Exception]
) -> None:
    server.always = Fault(status=status, error_body=body)
    with pytest.raises(error):
        provider.generate(HI)
    assert len(server.chat_requests()) == 1


def test_slow_first_byte_times_out(flavor: str, server: FakeLLMServer, providers: Any) -> None:
    p = providers(flavor, server, timeout=0.3, retry=ONE_ATTEMPT)
    server.push(Fault(delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(ReadTimeout):
        p.generate(HI)
    assert time.monotonic() - started < 2.0


def test_slow_first_byte_is_retried(flavor: str, server: FakeLLMServer, providers: Any) -> None:
    p = providers(flavor, server, timeout=0.3)
    server.push(Fault(delay_s=3.0))
    assert p.generate(HI).text
    assert len(server.chat_requests()) == 2


def test_malformed_body(server: FakeLLMServer, providers: Any, flavor: str) -> None:
    p = providers(flavor, server, retry=ONE_ATTEMPT)
    server.push(Fault(malformed_after=0))
    with pytest.raises(ProtocolError):
        p.generate(HI)


def test_stream_cut_in_the_middle_raises_and_is_not_retried(
    server: FakeLLMServer, provider: Provider
) -> None:
    server.push(Fault(cut_after=4))
    stream = provider.stream(HI)
    got: list[Any] = []
    with pytest.raises(ConnectionLostError):
        got.extend(stream)
    assert got and not any(isinstance(e, StreamDone) for e in got)
    assert len(server.chat_requests()) == 1


def test_stream_stall_fails_after_idle_timeout(
    flavor: str, server: FakeLLMServer, providers: Any
) -> None:
    p = providers(flavor, server, timeout=0.4)
    server.push(Fault(stall_after=4, stall_s=5.0))
    started = time.monotonic()
    with pytest.raises(ReadTimeout):
        for _event in p.stream(HI):
            pass
    assert time.monotonic() - started < 3.0


def test_stream_malformed_event(server: FakeLLMServer, provider: Provider) -> None:
    server.push(Fault(malformed_after=3))
    with pytest.raises(ProtocolError):
        for _event in provider.stream(HI):
            pass


def test_stream_failure_before_first_event_is_retried(
    server: FakeLLMServer, provider: Provider
) -> None:
    server.push(Fault(status=529), Fault(cut_after=0))
    events = list(provider.stream(HI))
    assert isinstance(events[-1], StreamDone)
    assert len(server.chat_requests()) == 3


def test_leaving_a_stream_early_closes_it_at_once(
    server: FakeLLMServer, provider: Provider
) -> None:
    server.push(Fault(stall_after=3, stall_s=0.5))
    stream = provider.stream(HI)
    next(stream)
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 1.0
    assert list(stream) == []
    # the connection really was closed: the server's next writes fail once its stall ends
    deadline = time.monotonic() + 5.0
    while server.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.disconnects == 1
    # the next call works at once (the provider's pool is not wedged)
    assert provider.generate(HI).text


def test_capability_refused_before_sending(
    server: FakeLLMServer, providers: Any, flavor: str
) -> None:
    from syncclients.llm import Capabilities

    p = providers(flavor, server, capabilities=Capabilities(vision=False, json_output=False))
    with pytest.raises(UsageError, match="vision"):
        p.generate([Message("user", (ImagePart(url="https://example.invalid/a.png"),))])
    with pytest.raises(UsageError, match="json_output"):
        p.generate(HI, response_format={"type": "json_object"})
    assert server.chat_requests() == []


def test_list_models_and_health(flavor: str, server: FakeLLMServer, provider: Provider) -> None:
    assert provider.list_models() == ["fake-model"]
    provider.generate(HI)
    health = provider.health()
    assert health.reachable and health.latency_s is not None
    assert health.breaker_state == "closed" and health.calls == 1 and health.errors == 0


def test_keys_never_in_repr_or_errors(
    flavor: str, server: FakeLLMServer, provider: Provider
) -> None:
    server.always = Fault(status=401)
    with pytest.raises(AuthenticationError) as info:
        provider.generate(HI)
    for text in (
        repr(provider),
        str(info.value),
        repr(info.value),
        provider.health().last_error or "",
    ):
        assert KEYS[flavor] not in text


def test_provider_options_pass_through(
    flavor: str, server: FakeLLMServer, provider: Provider
) -> None:
    options: dict[str, Any] = {
        "openai": {"reasoning_effort": "low"},
        "azure": {"reasoning_effort": "low"},
        "anthropic": {"betas": ["token-efficient-tools-2025-02-19"], "top_k": 5},
        "gemini": {
            "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
        },
    }[flavor]
    provider.generate(HI, provider_options=options)
    req = server.chat_requests()[0]
    if flavor in ("openai", "azure"):
        assert req.body["reasoning_effort"] == "low"
    elif flavor == "anthropic":
        assert req.headers["anthropic-beta"] == "token-efficient-tools-2025-02-19"
        assert req.body["top_k"] == 5
    else:
        assert req.body["safetySettings"][0]["threshold"] == "BLOCK_NONE"


def test_breaking_out_of_a_stream_closes_it(server: FakeLLMServer, provider: Provider) -> None:
    server.push(Fault(stall_after=3, stall_s=0.5))
    for _event in provider.stream(HI):
        break  # the stream object is dropped here: its connection is closed
    deadline = time.monotonic() + 5.0
    while server.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.disconnects == 1


def _reset_headers(flavor: str) -> dict[str, str]:
    if flavor == "openai":
        return {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "400ms"}
    if flavor == "azure":
        return {"x-ms-retry-after-ms": "400"}
    if flavor == "anthropic":
        from datetime import datetime, timedelta, timezone

        when = datetime.now(timezone.utc) + timedelta(seconds=1.4)
        return {
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": when.isoformat(),
        }
    return {"retry-after": "0.4"}


def test_429_reset_headers_are_honoured(
    flavor: str, server: FakeLLMServer, provider: Provider
) -> None:
    """Each provider's own delay header: OpenAI's reset duration, Azure's x-ms-retry-after-ms,
    Anthropic's RFC 3339 reset instant (at least 0.4 s away), a fractional retry-after."""
    server.push(Fault(status=429, headers=_reset_headers(flavor)))
    started = time.monotonic()
    assert provider.generate(HI).text
    assert 0.39 <= time.monotonic() - started < 3.0
    assert len(server.chat_requests()) == 2


def test_retry_budget_stops_retries_under_sustained_failure(
    flavor: str, server: FakeLLMServer, provider: Provider
) -> None:
    """gRPC A6 throttling per provider: 10 calls to a provider failing 100 %: retries stop
    once half the tokens are spent, so attempts approach one per call (not 3 per call)."""
    server.always = Fault(status=500)
    for _ in range(10):
        with pytest.raises(ProviderServerError):
            provider.generate(HI)
    # 10 tokens, one per failed attempt, retries while > 5 are left: 3 + 2 + 8 x 1
    assert len(server.chat_requests()) == 13
