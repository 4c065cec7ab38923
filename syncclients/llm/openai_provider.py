"""OpenAI and Azure OpenAI chat completions on the official ``openai`` SDK (extra ``openai``).

The only module that imports ``openai``. One SDK client per provider, shared by all
threads, with ``max_retries=0`` (our retry layer is the only one) and our timeouts passed
on every request (the SDK's default is 600 s).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..config import BreakerPolicy, RetryBudgetPolicy, RetryPolicy, Timeouts
from ..errors import ConnectError, ConnectionLostError, ConnectTimeout, ProtocolError, ReadTimeout
from ..resilience import Hook
from .base import Provider, RawStream, Request, dumps_args, loads_args, require
from .errors import error_for_status
from .ratelimit import RateLimit
from .schema import openai_strict_schema
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
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = ["AzureOpenAIProvider", "OpenAIProvider"]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def openai_tool_id(call_id: str) -> str:
    """A tool-call id OpenAI accepts (at most 40 characters): long foreign ids are hashed,
    the same way every time, so a call and its result still match."""
    if len(call_id) <= 40:
        return call_id
    return "call_" + hashlib.sha256(call_id.encode()).hexdigest()[:24]


def _content(msg: Message) -> Any:
    if isinstance(msg.content, str):
        return msg.content
    parts: list[dict[str, Any]] = []
    for part in msg.content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            inline = part.as_data()
            if inline is not None and part.data is not None:
                import base64

                url = f"data:{inline[0]};base64,{base64.b64encode(inline[1]).decode()}"
            else:
                url = str(part.url)
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Our messages as OpenAI chat-completions messages."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "tool":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": openai_tool_id(str(msg.tool_call_id)),
                    "content": msg.text,
                }
            )
        elif msg.role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": msg.text or None}
            if msg.tool_calls:
                item["tool_calls"] = [
                    {
                        "id": openai_tool_id(c.id),
                        "type": "function",
                        "function": {"name": c.name, "arguments": dumps_args(c.arguments)},
                    }
                    for c in msg.tool_calls
                ]
            out.append(item)
        else:
            out.append({"role": msg.role, "content": _content(msg)})
    return out


def _function(tool: Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "parameters": dict(tool.parameters),
    }
    if tool.strict:
        strict = openai_strict_schema(tool.parameters)
        if strict is not None:  # else sent non-strict, as the schema is
            fn["parameters"] = strict
            fn["strict"] = True
    return {"type": "function", "function": fn}


def request_kwargs(request: Request, model: str) -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create`` for ``request``."""
    kwargs: dict[str, Any] = {"model": model, "messages": to_openai_messages(request.messages)}
    if request.tools:
        kwargs["tools"] = [_function(t) for t in request.tools]
    choice = request.tool_choice
    if choice is not None:
        kwargs["tool_choice"] = (
            choice
            if choice in ("auto", "none", "required")
            else {"type": "function", "function": {"name": choice}}
        )
    fmt = request.response_format
    if fmt is not None:
        if fmt.kind == "json":
            kwargs["response_format"] = {"type": "json_object"}
        else:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": fmt.name,
                    "schema": dict(fmt.schema or {}),
                    "strict": fmt.strict,
                },
            }
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.max_tokens is not None:
        kwargs["max_completion_tokens"] = request.max_tokens
    if request.stop:
        kwargs["stop"] = list(request.stop)
    options = dict(request.provider_options)
    headers = options.pop("extra_headers", None)
    if headers:
        kwargs["extra_headers"] = dict(headers)
    if options:
        kwargs["extra_body"] = options
    return kwargs


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    return Usage(int(raw.prompt_tokens or 0), int(raw.completion_tokens or 0))


class OpenAIProvider(Provider):
    """OpenAI chat completions (and OpenAI-compatible servers) through ``openai.OpenAI``.

    Args:
        model: the model id (``"gpt-4o-mini"``).
        api_key: the key; None: the SDK reads ``OPENAI_API_KEY``. Never logged or shown.
        base_url: the API root (``https://api.openai.com/v1`` by default; any
            OpenAI-compatible server).
        organization, project: sent as the SDK sends them; None: the SDK's env variables.
        name: the provider's name in errors, logs and router reports (default ``"openai"``).
        timeout: per-attempt limits: seconds (connect and read) or a
            :class:`~syncclients.config.Timeouts`; the read limit is also a stream's idle
            timeout. Default 5 s connect, 120 s read.
        retry: our retry policy (the SDK's retries are off). Default
            :data:`~syncclients.llm.base.DEFAULT_RETRY`.
        breaker: a breaker policy for this provider, or None for no breaker. Only
            transient failures (429, 5xx, 529, network, timeouts) count.
        rate_limit: a client-side quota (requests and tokens per minute), or None.
        budget: the retry budget shared by this provider's calls (gRPC A6 throttling: under
            sustained failure retries stop, so attempts approach one per call); None: none.
        capabilities: override what the model supports (default: everything).
        hooks: attempt hooks (default: logging).
        default_headers: extra headers on every request.

    ``provider_options=`` on a call: request fields sent as they are in the JSON body
    (``{"reasoning_effort": "low"}``, ``{"seed": 1}``), and ``"extra_headers"``.
    """

    extra = "openai"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        name: str = "openai",
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
        self._sdk = require("openai", "openai", type(self).__name__)
        self._httpx = require("httpx2", "openai", type(self).__name__)
        self._client = self._make_client(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            default_headers=default_headers,
        )

    def _make_client(self, **kwargs: Any) -> Any:
        try:
            return self._sdk.OpenAI(timeout=self._timeout(self.timeouts), max_retries=0, **kwargs)
        except self._sdk.OpenAIError as exc:  # no key anywhere
            from ..errors import UsageError

            raise UsageError(f"{self.name}: {exc}") from None

    def _timeout(self, timeouts: Timeouts) -> Any:
        return self._httpx.Timeout(timeouts.read_s, connect=timeouts.connect_s)

    @property
    def _deployment(self) -> str:
        return self.model

    # -- one attempt ------------------------------------------------------------------------

    def _send(self, request: Request, timeouts: Timeouts) -> ChatResponse:
        kwargs = request_kwargs(request, self._deployment)
        raw = self._client.chat.completions.create(timeout=self._timeout(timeouts), **kwargs)
        if not raw.choices:
            raise ProtocolError(f"{self.name}: response without choices", target=self.name)
        choice = raw.choices[0]
        message = choice.message
        calls = tuple(
            ToolCall(c.id, c.function.name, loads_args(c.function.arguments, self.name))
            for c in (message.tool_calls or ())
        )
        finish = _FINISH.get(choice.finish_reason or "stop", "stop")
        refusal = getattr(message, "refusal", None)
        filter_reason = None
        if refusal:
            finish, filter_reason = "content_filter", f"refusal: {refusal}"
        elif finish == "content_filter":
            filter_reason = "content_filter"
        return ChatResponse(
            text=message.content or "",
            tool_calls=calls,
            finish_reason=finish,
            usage=_usage(raw.usage),
            provider=self.name,
            model=raw.model or self.model,
            raw=raw,
            filter_reason=filter_reason,
        )

    def _open_stream(self, request: Request, timeouts: Timeouts) -> RawStream:
        kwargs = request_kwargs(request, self._deployment)
        stream = self._client.chat.completions.create(
            timeout=self._timeout(timeouts),
            stream=True,
            stream_options={"include_usage": True},
            **kwargs,
        )
        return RawStream(self._events(stream), stream.close)

    def _events(self, stream: Any) -> Iterator[StreamEvent]:
        text: list[str] = []
        calls: dict[int, list[Any]] = {}  # index -> [id, name, [argument pieces]]
        finish: FinishReason = "stop"
        filter_reason: str | None = None
        usage = Usage()
        model = self.model
        chunks: list[Any] = []
        for chunk in stream:
            chunks.append(chunk)
            model = chunk.model or model
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            for choice in chunk.choices or ():  # Azure's first chunk may have none
                delta = choice.delta
                if delta is not None and delta.content:
                    text.append(delta.content)
                    yield TextDelta(delta.content)
                if delta is not None and getattr(delta, "refusal", None):
                    filter_reason = f"refusal: {delta.refusal}"
                for tc in (delta.tool_calls if delta is not None else None) or ():
                    entry = calls.setdefault(tc.index, [None, None, []])
                    fn = tc.function
                    name = fn.name if fn is not None else None
                    args = (fn.arguments if fn is not None else None) or ""
                    if tc.id and entry[0] is None:
                        entry[0] = tc.id
                    if name and entry[1] is None:
                        entry[1] = name
                    entry[2].append(args)
                    yield ToolCallDelta(tc.index, tc.id, name, args)
                if choice.finish_reason:
                    finish = _FINISH.get(choice.finish_reason, "stop")
        if filter_reason is not None:
            finish = "content_filter"
        elif finish == "content_filter":
            filter_reason = "content_filter"
        tool_calls = tuple(
            ToolCall(str(e[0]), str(e[1]), loads_args("".join(e[2]), self.name))
            for _i, e in sorted(calls.items())
        )
        yield StreamDone(
            ChatResponse(
                "".join(text), tool_calls, finish, usage, self.name, model, chunks, filter_reason
            )
        )

    def _list_models(self, timeouts: Timeouts) -> list[str]:
        page = self._client.models.list(timeout=self._timeout(timeouts))
        return [m.id for m in page.data]

    def close(self) -> None:
        """Close the SDK client's connection pool."""
        self._client.close()

    # -- translation (the one place for this SDK) ------------------------------------------

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
        if isinstance(exc, sdk.APIResponseValidationError):
            return ProtocolError(f"{name}: malformed response", target=name)
        if isinstance(exc, sdk.OpenAIError):
            return ProtocolError(f"{name}: {type(exc).__name__}: {exc}", target=name)
        return None


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI chat completions through ``openai.AzureOpenAI``.

    Requests go to ``{endpoint}/openai/deployments/{deployment}/chat/completions?
    api-version={api_version}`` with the key in the ``api-key`` header.

    Args:
        deployment: the deployment name (default: ``model``).
        endpoint: ``https://<resource>.openai.azure.com``; None: ``AZURE_OPENAI_ENDPOINT``.
        api_version: e.g. ``"2024-10-21"``; None: ``OPENAI_API_VERSION``.
        api_key: None: ``AZURE_OPENAI_API_KEY``.
        azure_ad_token_provider: a callable returning an Entra ID token, instead of a key.
        base_url: instead of ``endpoint``, the full root up to ``/openai``.
        name: default ``"azure"``. Other arguments: as :class:`OpenAIProvider`.

    A request refused by Azure's content filter (HTTP 400 ``content_filter``) raises
    :class:`~syncclients.llm.errors.ContentFilteredError`; a filtered completion ends with
    ``finish_reason="content_filter"``.
    """

    def __init__(
        self,
        *,
        model: str,
        deployment: str | None = None,
        endpoint: str | None = None,
        api_version: str | None = None,
        api_key: str | None = None,
        azure_ad_token_provider: Any = None,
        base_url: str | None = None,
        name: str = "azure",
        timeout: Timeouts | float | tuple[float | None, float | None] | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = BreakerPolicy(),
        rate_limit: RateLimit | None = None,
        budget: RetryBudgetPolicy | None = RetryBudgetPolicy(),
        capabilities: Capabilities | None = None,
        hooks: Sequence[Hook] | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._deployment_name = deployment or model
        self._azure = {
            "azure_endpoint": endpoint,
            "api_version": api_version,
            "azure_ad_token_provider": azure_ad_token_provider,
        }
        super().__init__(
            model=model,
            api_key=api_key,
            base_url=base_url,
            name=name,
            timeout=timeout,
            retry=retry,
            breaker=breaker,
            rate_limit=rate_limit,
            capabilities=capabilities,
            hooks=hooks,
            budget=budget,
            default_headers=default_headers,
        )

    def _make_client(self, **kwargs: Any) -> Any:
        kwargs.pop("project", None)
        if kwargs.get("base_url") is None:
            kwargs.pop("base_url", None)
        try:
            return self._sdk.AzureOpenAI(
                timeout=self._timeout(self.timeouts), max_retries=0, **self._azure, **kwargs
            )
        except (self._sdk.OpenAIError, ValueError) as exc:
            from ..errors import UsageError

            raise UsageError(f"{self.name}: {exc}") from None

    @property
    def _deployment(self) -> str:
        return self._deployment_name
