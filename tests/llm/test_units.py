"""Unit tests: delay headers, status mapping, translation of foreign errors, normalization,
the rate limiter, and importing without any SDK."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import httpx2
import pytest

from syncclients.errors import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeout,
    ProtocolError,
    ReadTimeout,
    UsageError,
)
from syncclients.llm import (
    AuthenticationError,
    BadRequestError,
    ContentFilteredError,
    ContextLengthExceededError,
    Message,
    OverloadedError,
    PermissionDeniedError,
    ProviderServerError,
    RateLimitedError,
    Tool,
    ToolCall,
)
from syncclients.llm.anthropic_provider import anthropic_tool_id
from syncclients.llm.base import translate_common
from syncclients.llm.errors import error_for_status, is_transient, server_delay_s
from syncclients.llm.openai_provider import openai_tool_id
from syncclients.llm.ratelimit import RateLimit, RateLimiter
from syncclients.llm.types import normalize_messages, normalize_response_format, normalize_tools

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"x-ms-retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "Fri, 15 Jan 2027 08:00:10 GMT"}, None),  # checked below with NOW
        (
            {
                "x-ratelimit-reset-requests": "6m0s",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-tokens": "20ms",
                "x-ratelimit-remaining-tokens": "100",
            },
            360.0,
        ),
        ({"x-ratelimit-reset-tokens": "1.5s"}, 1.5),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_server_delay(headers: dict[str, str], expected: float | None) -> None:
    if "GMT" in headers.get("retry-after", ""):
        when = datetime(2027, 1, 15, 8, 0, 10, tzinfo=timezone.utc).timestamp()
        assert server_delay_s(headers, now=when - 7) == pytest.approx(7.0)
        return
    assert server_delay_s(headers, now=NOW) == (
        pytest.approx(expected) if expected is not None else None
    )


def test_anthropic_reset_headers() -> None:
    now = datetime(2026, 11, 30, 9, 0, 0, tzinfo=timezone.utc)
    reset = (now + timedelta(seconds=12)).isoformat().replace("+00:00", "Z")
    other = (now + timedelta(seconds=50)).isoformat().replace("+00:00", "Z")
    headers = {
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset,
        "anthropic-ratelimit-tokens-remaining": "5000",
        "anthropic-ratelimit-tokens-reset": other,
    }
    assert server_delay_s(headers, now=now.timestamp()) == pytest.approx(12.0)


@pytest.mark.parametrize(
    ("status", "body", "error", "transient"),
    [
        (429, "slow down", RateLimitedError, True),
        (529, "Overloaded", OverloadedError, True),
        (503, "", OverloadedError, True),
        (500, "", ProviderServerError, True),
        (502, "", ProviderServerError, True),
        (408, "", ProviderServerError, True),
        (401, "bad key", AuthenticationError, False),
        (403, "", PermissionDeniedError, False),
        (400, "invalid", BadRequestError, False),
        (400, '{"code": "context_length_exceeded"}', ContextLengthExceededError, False),
        (
            400,
            "prompt is too long: 201000 tokens > 200000 maximum",
            ContextLengthExceededError,
            False,
        ),
        (400, '{"code": "content_filter"}', ContentFilteredError, False),
    ],
)
def test_error_for_status(status: int, body: str, error: type[Exception], transient: bool) -> None:
    exc = error_for_status("p", status, body, {"retry-after": "2"})
    assert type(exc) is error
    assert exc.status_code == status and exc.retry_after == 2.0
    assert is_transient(exc) is transient


def test_every_foreign_exception_is_mapped() -> None:
    req = httpx2.Request("POST", "http://127.0.0.1:1/v1/x")
    cases: list[tuple[BaseException, type[Exception]]] = [
        (httpx2.ConnectTimeout("t", request=req), ConnectTimeout),
        (httpx2.ReadTimeout("t", request=req), ReadTimeout),
        (httpx2.ConnectError("refused", request=req), ConnectError),
        (httpx2.RemoteProtocolError("peer closed", request=req), ConnectionLostError),
        (httpx2.ReadError("reset", request=req), ConnectionLostError),
        (json.JSONDecodeError("bad", "{x", 1), ProtocolError),
        (ValueError("UnknownApiResponseError-like"), ProtocolError),
    ]
    for exc, expected in cases:
        out = translate_common(exc, "p")
        assert isinstance(out, expected), (exc, out)
        assert out is not None and is_transient(out) == isinstance(
            out, ConnectError | ConnectionLostError | ReadTimeout
        )


def test_tool_ids_translate_consistently() -> None:
    assert anthropic_tool_id("call_abc123") == "call_abc123"
    assert anthropic_tool_id("call.a:b/c") == "call_a_b_c"
    long = "toolu_" + "x" * 60
    assert openai_tool_id(long) == openai_tool_id(long) and len(openai_tool_id(long)) <= 40
    assert openai_tool_id("toolu_01") == "toolu_01"


def test_normalize_messages_from_openai_dicts() -> None:
    msgs = normalize_messages(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x": 1}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ]
    )
    assert msgs[0].has_image and msgs[0].text == "a"
    assert msgs[1].tool_calls == (ToolCall("c1", "f", {"x": 1}),)
    assert msgs[2].name == "f"  # filled from the history (Gemini needs it)
    with pytest.raises(UsageError):
        normalize_messages([{"role": "tool", "tool_call_id": "nope", "content": "x"}])
    with pytest.raises(UsageError):
        normalize_messages([{"role": "robot", "content": "x"}])
    with pytest.raises(UsageError):
        normalize_messages([])
    assert normalize_messages([Message("user", "x")])[0].text == "x"


def test_normalize_tools_accepts_mcp_tools() -> None:
    from mcp.types import Tool as MCPTool

    mcp_tool = MCPTool(
        name="add",
        description="Add",
        inputSchema={"type": "object", "properties": {"a": {"type": "number"}}},
    )
    from syncclients.mcp.types import Tool as OurMCPTool

    ours = OurMCPTool(name="sub", input_schema={"type": "object"}, description="Subtract")
    tools = normalize_tools(
        [mcp_tool, {"type": "function", "function": {"name": "g"}}, Tool("h"), ours]
    )
    assert [t.name for t in tools] == ["add", "g", "h", "sub"]
    assert tools[3].description == "Subtract" and tools[3].parameters == {
        "type": "object",
        "properties": {},
    }
    assert tools[0].parameters["properties"] == {"a": {"type": "number"}}
    assert tools[1].parameters == {"type": "object", "properties": {}}
    with pytest.raises(UsageError, match="duplicate"):
        normalize_tools([Tool("h"), Tool("h")])


def test_normalize_response_format() -> None:
    assert normalize_response_format({"type": "json_object"}).kind == "json"  # type: ignore[union-attr]
    fmt = normalize_response_format(
        {
            "type": "json_schema",
            "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": True},
        }
    )
    assert fmt is not None and fmt.kind == "json_schema" and fmt.strict and fmt.name == "n"
    with pytest.raises(UsageError):
        normalize_response_format({"type": "xml"})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_requests_and_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(requests_per_minute=60, tokens_per_minute=600), clock=clock)
    assert limiter.acquire(100, 0) is None
    assert limiter.acquire(400, 0) is None
    wait = limiter.acquire(200, 0)  # 100 tokens left, 10 tokens/s: 10 s to wait
    assert wait == pytest.approx(10.0)
    clock.now = 10.0
    assert limiter.acquire(200, 0) is None
    limiter.correct(200, 700)  # the provider reported more than estimated
    assert limiter.acquire(1, 0) is not None
    with pytest.raises(UsageError):
        RateLimit(requests_per_minute=0)


def test_import_without_any_sdk() -> None:
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("openai", "anthropic", "google", "httpx2"):
                    raise ImportError(f"blocked {name}")
        sys.meta_path.insert(0, Block())
        import syncclients, syncclients.llm
        from syncclients.llm import OpenAIProvider, GeminiProvider
        for cls, extra in ((OpenAIProvider, "openai"), (GeminiProvider, "gemini")):
            try:
                cls(model="m", api_key="k")
            except ValueError as exc:
                assert f"syncclients[{extra}]" in str(exc), exc
            else:
                raise SystemExit("no error")
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_missing_key_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from syncclients.llm import AnthropicProvider, OpenAIProvider

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UsageError):
        OpenAIProvider(model="m")
    with pytest.raises(UsageError):
        OpenAIProvider(model="")
    _ = AnthropicProvider  # constructing without a key is allowed by that SDK (fails on call)


def test_bench_smoke() -> None:
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bench" / "llm_overhead.py"
    out = subprocess.run(
        [sys.executable, str(script), "--smoke"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    rows = [
        line
        for line in out.stdout.splitlines()
        if line.startswith(("| openai", "| anthropic", "| gemini"))
    ]
    assert len(rows) == 3
