"""Anthropic Messages API on the official ``anthropic`` SDK (extra ``anthropic``).

The only module that imports ``anthropic``. One SDK client per provider, shared by all
threads, ``max_retries=0`` and our timeouts on every request.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..config import BreakerPolicy, RetryBudgetPolicy, RetryPolicy, Timeouts
from ..errors import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeout,
    ProtocolError,
    ReadTimeout,
    UsageError,
)
from ..resilience import Hook
from .base import Provider, RawStream, Request, loads_args, require
from .errors import error_for_status
from .ratelimit import RateLimit
from .types import (
    Capabilities,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    StreamDone,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = ["AnthropicProvider"]

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_BAD_ID = re.compile(r"[^a-zA-Z0-9_-]")

#: ``max_tokens`` sent when the caller gives none (the Messages API requires one).
DEFAULT_MAX_TOKENS = 4096


def anthropic_tool_id(call_id: str) -> str:
    """A ``tool_use`` id Anthropic accepts (``^[a-zA-Z0-9_-]+$``): other characters become
    ``_``, the same way every time, so a call and its result still match after failover."""
    return _BAD_ID.sub("_", call_id) or "call_"


def _blocks(msg: Message) -> list[dict[str, Any]]:
    if isinstance(msg.content, str):
        return [{"type": "text", "text": msg.content}] if msg.content else []
    out: list[dict[str, Any]] = []
    for part in msg.content:
        if isinstance(part, TextPart):
            out.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            inline = part.as_data()
            if inline is not None:
                source = {
                    "type": "base64",
                    "media_type": inline[0],
                    "data": base64.b64encode(inline[1]).decode(),
                }
            else:
                source = {"type": "url", "url": str(part.url)}
            out.append({"type": "image", "source": source})
    return out


def to_anthropic(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], str]:
    """Our messages as ``(messages, system)`` for the Messages API.

    System messages become the ``system`` parameter; tool results become ``tool_result``
    blocks in one user turn right after the assistant's ``tool_use`` turn (the API requires
    every ``tool_use`` to be answered in the next message); consecutive same-role turns are
    merged.
    """
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for msg in messages:
        if msg.role == "system":
            system.append(msg.text)
        elif msg.role == "tool":
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": anthropic_tool_id(str(msg.tool_call_id)),
                        "content": msg.text,
                        **({"is_error": True} if msg.is_error else {}),
                    }
                ],
            )
        elif msg.role == "assistant":
            blocks = _blocks(msg)
            blocks.extend(
                {
                    "type": "tool_use",
                    "id": anthropic_tool_id(c.id),
                    "name": c.name,
                    "input": c.arguments,
                }
                for c in msg.tool_calls
            )
            add("assistant", blocks)
        else:
            add("user", _blocks(msg))
    return out, "\n\n".join(s for s in system if s)


def request_kwargs(request: Request, model: str) -> dict[str, Any]:
    """The keyword arguments of ``messages.create`` for ``request``."""
    messages, system = to_anthropic(request.messages)
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    options = dict(request.provider_options)
    extra_system = options.pop("system", None)
    if extra_system is not None:  # blocks with cache_control, or text put before ours
        if isinstance(extra_system, str):
            kwargs["system"] = "\n\n".join(s for s in (extra_system, system) if s)
        else:
            blocks = list(extra_system)
            if system:
                blocks.append({"type": "text", "text": system})
            kwargs["system"] = blocks
    elif system:
        kwargs["system"] = system
    if request.tools:
        kwargs["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
            for t in request.tools
        ]
    choice = request.tool_choice
    if choice is not None:
        kwargs["tool_choice"] = {
            "auto": {"type": "auto"},
            "none": {"type": "none"},
            "required": {"type": "any"},
        }.get(choice, {"type": "tool", "name": choice})
    fmt = request.response_format
    if fmt is not None:  # structured outputs: output_config.format (a JSON Schema)
        schema = dict(fmt.schema) if fmt.schema is not None else {"type": "object"}
        kwargs["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    if request.temperature is not None:  # not a named argument of this SDK: body field
        options.setdefault("temperature", request.temperature)
    if request.stop:
        kwargs["stop_sequences"] = list(request.stop)
    headers = dict(options.pop("extra_headers", None) or {})
    betas = options.pop("betas", None)
    if betas:
        headers["anthropic-beta"] = ",".join([betas] if isinstance(betas, str) else betas)
    if headers:
        kwargs["extra_headers"] = headers
    if options:
        kwargs["extra_body"] = options
    return kwargs


class AnthropicProvider(Provider):
    """Anthropic's Messages API through ``anthropic.Anthropic``.

    Args:
        model: the model id (``"claude-sonnet-4-5"``).
        api_key: the key; None: the SDK reads ``ANTHROPIC_API_KEY``. Never logged or shown.
        base_url: the API root (default ``https://api.anthropic.com``).
        name: default ``"anthropic"``. ``timeout``, ``retry``, ``breaker``, ``rate_limit``,
            ``budget``, ``capabilities``, ``hooks``, ``default_headers``: as
            :class:`~syncclients.llm.OpenAIProvider`.

    ``provider_options=`` on a call: ``"system"`` (a string put before the system messages,
    or a list of system blocks, e.g. with ``cache_control``), ``"betas"`` (a list sent as the
    ``anthropic-beta`` header), ``"extra_headers"``, and any other request field (sent in the
    JSON body as is: ``{"thinking": {...}}``, ``{"top_k": 5}``).

    Structured output (``response_format``) is sent as ``output_config.format`` (a JSON
    Schema; ``{"type": "json_object"}`` becomes ``{"type": "object"}``).
    """

    default_capabilities = Capabilities()
    extra = "anthropic"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        name: str = "anthropic",
        timeout: Timeouts | float | tuple[float | None, float | None] | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = BreakerPolicy(),
        rate_limit: RateLimit | None = None,
        budget: RetryBudgetPolicy | None = RetryBudgetPolicy(),
        capabilities: Capabilities | None = None,
        hooks: Sequence[Hook] | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            name=name,
            model=model,
            timeout=timeout,
            retry=retry,
            breaker=breaker,
            rate_limit=rate_limit,
            capabilities=capabilities,
            hooks=hooks,
            budget=budget,
        )
        self._sdk = require("anthropic", "anthropic", type(self).__name__)
        self._httpx = require("httpx2", "anthropic", type(self).__name__)
        kwargs: dict[str, Any] = {"api_key": api_key, "default_headers": default_headers}
        if base_url is not None:
            kwargs["base_url"] = base_url
        try:
            self._client = self._sdk.Anthropic(
                timeout=self._timeout(self.timeouts), max_retries=0, **kwargs
            )
        except self._sdk.AnthropicError as exc:
            raise UsageError(f"{name}: {exc}") from None

    def _timeout(self, timeouts: Timeouts) -> Any:
        return self._httpx.Timeout(timeouts.read_s, connect=timeouts.connect_s)

    def _send(self, request: Request, timeouts: Timeouts) -> ChatResponse:
        raw = self._client.messages.create(
            timeout=self._timeout(timeouts), **request_kwargs(request, self.model)
        )
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in raw.content or ():
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(block.id, block.name, dict(block.input or {})))
        finish = _STOP.get(raw.stop_reason or "end_turn", "stop")
        usage = Usage(int(raw.usage.input_tokens or 0), int(raw.usage.output_tokens or 0))
        return ChatResponse(
            "".join(text),
            tuple(calls),
            finish,
            usage,
            self.name,
            raw.model or self.model,
            raw,
            "refusal" if finish == "content_filter" else None,
        )

    def _open_stream(self, request: Request, timeouts: Timeouts) -> RawStream:
        stream = self._client.messages.create(
            timeout=self._timeout(timeouts), stream=True, **request_kwargs(request, self.model)
        )
        return RawStream(self._events(stream), stream.close)

    def _events(self, stream: Any) -> Iterator[StreamEvent]:
        text: list[str] = []
        tools: dict[int, list[Any]] = {}  # block index -> [ordinal, id, name, [json pieces]]
        finish: FinishReason = "stop"
        input_tokens = output_tokens = 0
        model = self.model
        events: list[Any] = []
        for event in stream:
            events.append(event)
            kind = event.type
            if kind == "message_start":
                model = event.message.model or model
                input_tokens = int(event.message.usage.input_tokens or 0)
                output_tokens = int(event.message.usage.output_tokens or 0)
            elif kind == "content_block_start":
                block = event.content_block
                if block.type == "tool_use":
                    entry = [len(tools), block.id, block.name, []]
                    tools[event.index] = entry
                    yield ToolCallDelta(entry[0], block.id, block.name, "")
            elif kind == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta":
                    text.append(delta.text)
                    yield TextDelta(delta.text)
                elif delta.type == "input_json_delta":
                    found = tools.get(event.index)
                    if found is None:
                        raise ProtocolError(f"{self.name}: input_json_delta for unknown block")
                    found[3].append(delta.partial_json)
                    yield ToolCallDelta(found[0], None, None, delta.partial_json)
            elif kind == "message_delta":
                if event.delta.stop_reason:
                    finish = _STOP.get(event.delta.stop_reason, "stop")
                if event.usage is not None and event.usage.output_tokens is not None:
                    output_tokens = int(event.usage.output_tokens)
        calls = tuple(
            ToolCall(str(e[1]), str(e[2]), loads_args("".join(e[3]), self.name))
            for e in tools.values()
        )
        yield StreamDone(
            ChatResponse(
                "".join(text),
                calls,
                finish,
                Usage(input_tokens, output_tokens),
                self.name,
                model,
                events,
                "refusal" if finish == "content_filter" else None,
            )
        )

    def _list_models(self, timeouts: Timeouts) -> list[str]:
        page = self._client.models.list(timeout=self._timeout(timeouts))
        return [m.id for m in page.data]

    def close(self) -> None:
        """Close the SDK client's connection pool."""
        self._client.close()

    def _translate_sdk(self, exc: BaseException) -> BaseException | None:
        sdk = self._sdk
        name = self.name
        if isinstance(exc, sdk.APIStatusError):
            body = exc.body if exc.body is not None else exc.message
            text = body if isinstance(body, str) else json.dumps(body)
            return error_for_status(name, exc.status_code, text, exc.response.headers)
        if isinstance(exc, sdk.APITimeoutError):
            if isinstance(exc.__cause__, self._httpx.ConnectTimeout):
                return ConnectTimeout(f"{name}: connect timed out", target=name)
            return ReadTimeout(f"{name}: read timed out", target=name)
        if isinstance(exc, sdk.APIConnectionError):
            if isinstance(exc.__cause__, self._httpx.ConnectError):
                return ConnectError(f"{name}: could not connect", target=name)
            return ConnectionLostError(f"{name}: connection lost: {exc.message}", target=name)
        if isinstance(exc, sdk.AnthropicError):
            return ProtocolError(f"{name}: {type(exc).__name__}: {exc}", target=name)
        return None
