"""Google Gemini (``generateContent`` / ``streamGenerateContent``) on the official
``google-genai`` SDK (extra ``gemini``).

The only module that imports ``google.genai``. One ``genai.Client`` per provider, shared by
all threads (kept alive as long as the provider: the SDK closes its HTTP client when the
``Client`` is garbage-collected), no SDK retries (``retry_options=None``), our timeouts on
every request. The SDK runs on an ``httpx2.Client`` we own, whose response hook lets a stream
that is left early close its HTTP response at once.

Gemini function calls carry no ids: each gets one here (``call_<hex>``); tool results are
matched back to the function by name (found from the id in the history), so a conversation
started on another provider continues here, and the other way round.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from ..config import BreakerPolicy, RetryBudgetPolicy, RetryPolicy, Timeouts
from ..errors import ProtocolError, UsageError
from ..resilience import Hook
from .base import Provider, RawStream, Request, require
from .errors import error_for_status
from .ratelimit import RateLimit
from .schema import gemini_legacy_schema
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

__all__ = ["GeminiProvider"]

_FILTERED = {
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "MODEL_ARMOR",
    "LANGUAGE",
}


def _parts(msg: Message) -> list[dict[str, Any]]:
    if isinstance(msg.content, str):
        return [{"text": msg.content}] if msg.content else []
    out: list[dict[str, Any]] = []
    for part in msg.content:
        if isinstance(part, TextPart):
            out.append({"text": part.text})
        elif isinstance(part, ImagePart):
            inline = part.as_data()
            if inline is not None:
                out.append({"inline_data": {"mime_type": inline[0], "data": inline[1]}})
            else:
                out.append({"file_data": {"file_uri": str(part.url), "mime_type": part.media_type}})
    return out


def to_gemini(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], str]:
    """Our messages as ``(contents, system_instruction)``; tool results become
    ``function_response`` parts named after the call they answer."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for msg in messages:
        if msg.role == "system":
            system.append(msg.text)
        elif msg.role == "tool":
            key = "error" if msg.is_error else "result"  # FunctionResponse.response keys
            response = {"name": msg.name, "response": {key: msg.text}}
            add("user", [{"function_response": response}])
        elif msg.role == "assistant":
            parts = _parts(msg)
            parts.extend(
                {"function_call": {"name": c.name, "args": c.arguments}} for c in msg.tool_calls
            )
            add("model", parts)
        else:
            add("user", _parts(msg))
    return contents, "\n\n".join(s for s in system if s)


class GeminiProvider(Provider):
    """Gemini through ``google.genai.Client`` (the Gemini API; Vertex AI with ``vertexai=True``).

    Args:
        model: the model id (``"gemini-2.5-flash"``).
        api_key: the key; None: the SDK reads ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``. Sent
            as ``x-goog-api-key``; never logged or shown.
        base_url: the API root (default Google's).
        api_version: the API version path segment (SDK default ``v1``; ``"v1beta"`` for
            preview features).
        vertexai, project, location: Vertex AI instead of the Gemini API.
        name: default ``"gemini"``. ``timeout``, ``retry``, ``breaker``, ``rate_limit``,
            ``budget``, ``capabilities``, ``hooks``: as :class:`~syncclients.llm.OpenAIProvider`.
        legacy_tool_schema: send tool schemas in the older ``parameters`` field (an OpenAPI
            subset: ``$ref`` inlined, unsupported keywords stripped, see
            :func:`~syncclients.llm.schema.gemini_legacy_schema`) instead of
            ``parameters_json_schema`` (JSON Schema as it is; the default).

    ``provider_options=`` on a call: fields of ``google.genai.types.GenerateContentConfig``
    (``{"safety_settings": [...]}``, ``{"thinking_config": {...}}``, ``{"top_k": 5}``). A
    prompt blocked by the safety filter (``promptFeedback.blockReason``) or a candidate ended
    by it (``SAFETY``, ``RECITATION``, ``PROHIBITED_CONTENT``, ...) gives
    ``finish_reason="content_filter"`` with that reason in ``filter_reason``.
    """

    default_capabilities = Capabilities()
    extra = "gemini"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        vertexai: bool | None = None,
        project: str | None = None,
        location: str | None = None,
        name: str = "gemini",
        timeout: Timeouts | float | tuple[float | None, float | None] | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = BreakerPolicy(),
        rate_limit: RateLimit | None = None,
        budget: RetryBudgetPolicy | None = RetryBudgetPolicy(),
        capabilities: Capabilities | None = None,
        hooks: Sequence[Hook] | None = None,
        legacy_tool_schema: bool = False,
    ) -> None:
        self.legacy_tool_schema = legacy_tool_schema
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
        genai = require("google.genai", "gemini", type(self).__name__)
        self._types = require("google.genai.types", "gemini", type(self).__name__)
        self._errors = require("google.genai.errors", "gemini", type(self).__name__)
        self._httpx = require("httpx2", "gemini", type(self).__name__)
        self._local = threading.local()
        self._http = self._httpx.Client(event_hooks={"response": [self._remember]})
        options: dict[str, Any] = {
            "timeout": self._ms(self.timeouts),
            "retry_options": None,
            "httpx_client": self._http,
        }
        if base_url is not None:
            options["base_url"] = base_url
        if api_version is not None:
            options["api_version"] = api_version
        try:
            self._client = genai.Client(
                api_key=api_key,
                vertexai=vertexai,
                project=project,
                location=location,
                http_options=self._types.HttpOptions(**options),
            )
        except ValueError as exc:  # no key anywhere
            self._http.close()
            raise UsageError(f"{name}: {exc}") from None
        self._ids = threading.local()

    def _remember(self, response: Any) -> None:
        self._local.response = response

    @staticmethod
    def _ms(timeouts: Timeouts) -> int | None:
        read = timeouts.read_s
        return None if read is None else max(1, int(read * 1000))

    def _config(self, request: Request, timeouts: Timeouts) -> Any:
        types = self._types
        _contents, system = to_gemini(request.messages)
        # no automatic_function_calling setting: the SDK runs it only for Python callables
        # in tools, and we pass declarations only
        fields: dict[str, Any] = {}
        if timeouts != self.timeouts:  # capped by the deadline; else the client's applies
            fields["http_options"] = types.HttpOptions(timeout=self._ms(timeouts))
        if system:
            fields["system_instruction"] = system
        if request.tools:
            fields["tools"] = [
                {
                    "function_declarations": [
                        {
                            "name": t.name,
                            "description": t.description,
                            **(
                                {"parameters": gemini_legacy_schema(t.parameters)}
                                if self.legacy_tool_schema
                                else {"parameters_json_schema": dict(t.parameters)}
                            ),
                        }
                        for t in request.tools
                    ]
                }
            ]
        choice = request.tool_choice
        if choice is not None:
            mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(choice)
            config: dict[str, Any] = {"mode": mode or "ANY"}
            if mode is None:
                config["allowed_function_names"] = [choice]
            fields["tool_config"] = {"function_calling_config": config}
        fmt = request.response_format
        if fmt is not None:
            fields["response_mime_type"] = "application/json"
            if fmt.schema is not None:
                fields["response_json_schema"] = dict(fmt.schema)
        if request.temperature is not None:
            fields["temperature"] = request.temperature
        if request.max_tokens is not None:
            fields["max_output_tokens"] = request.max_tokens
        if request.stop:
            fields["stop_sequences"] = list(request.stop)
        fields.update(request.provider_options)
        if not fields:
            return None
        try:
            return types.GenerateContentConfig(**fields)
        except Exception as exc:  # pydantic's ValidationError: a bad provider_options field
            raise UsageError(f"{self.name}: invalid provider_options: {exc}") from None

    def _convert(self, raw: Any, final: bool, calls: list[ToolCall]) -> tuple[str, Any, Any]:
        """Text of one response (or chunk), its finish reason and block reason; function
        calls are appended to ``calls`` with generated ids."""
        feedback = getattr(raw, "prompt_feedback", None)
        block = getattr(feedback, "block_reason", None) if feedback is not None else None
        text: list[str] = []
        finish = None
        for candidate in (raw.candidates or ())[:1]:
            finish = candidate.finish_reason
            content = candidate.content
            for part in (content.parts if content is not None else None) or ():
                if part.text and not part.thought:
                    text.append(part.text)
                if part.function_call is not None:
                    fc = part.function_call
                    call_id = fc.id or f"call_{uuid.uuid4().hex[:24]}"
                    calls.append(ToolCall(call_id, str(fc.name), dict(fc.args or {})))
        return "".join(text), finish, block

    def _finish(
        self, finish: Any, block: Any, calls: Sequence[ToolCall]
    ) -> tuple[FinishReason, str | None]:
        if block is not None:
            return "content_filter", f"prompt blocked: {getattr(block, 'value', block)}"
        name = getattr(finish, "value", finish)
        if name in _FILTERED:
            return "content_filter", str(name)
        if calls:
            return "tool_calls", None
        if name == "MAX_TOKENS":
            return "length", None
        return "stop", None

    @staticmethod
    def _usage(raw: Any) -> Usage:
        meta = getattr(raw, "usage_metadata", None)
        if meta is None:
            return Usage()
        return Usage(int(meta.prompt_token_count or 0), int(meta.candidates_token_count or 0))

    def _send(self, request: Request, timeouts: Timeouts) -> ChatResponse:
        contents, _system = to_gemini(request.messages)
        config = self._config(request, timeouts)
        raw = self._client.models.generate_content(
            model=self.model, contents=contents, config=config
        )
        calls: list[ToolCall] = []
        text, finish, block = self._convert(raw, True, calls)
        reason, why = self._finish(finish, block, calls)
        return ChatResponse(
            text,
            tuple(calls),
            reason,
            self._usage(raw),
            self.name,
            getattr(raw, "model_version", None) or self.model,
            raw,
            why,
        )

    def _open_stream(self, request: Request, timeouts: Timeouts) -> RawStream:
        contents, _system = to_gemini(request.messages)
        config = self._config(request, timeouts)
        self._local.response = None
        chunks = self._client.models.generate_content_stream(
            model=self.model, contents=contents, config=config
        )
        holder: dict[str, Any] = {}

        def close() -> None:
            response = holder.get("response")
            if response is not None:
                response.close()
            chunks.close()

        def events() -> Iterator[StreamEvent]:
            calls: list[ToolCall] = []
            text: list[str] = []
            finish = block = None
            usage = Usage()
            model = self.model
            raws: list[Any] = []
            first = True
            for raw in chunks:
                if first:  # the SDK sent the request on the first next(): its response
                    holder["response"] = self._local.response
                    first = False
                raws.append(raw)
                before = len(calls)
                piece, chunk_finish, chunk_block = self._convert(raw, False, calls)
                finish = chunk_finish or finish
                block = chunk_block or block
                model = getattr(raw, "model_version", None) or model
                if raw.usage_metadata is not None:
                    usage = self._usage(raw)
                if piece:
                    text.append(piece)
                    yield TextDelta(piece)
                for index in range(before, len(calls)):
                    call = calls[index]
                    from .base import dumps_args

                    yield ToolCallDelta(index, call.id, call.name, dumps_args(call.arguments))
            reason, why = self._finish(finish, block, calls)
            yield StreamDone(
                ChatResponse(
                    "".join(text), tuple(calls), reason, usage, self.name, model, raws, why
                )
            )

        return RawStream(events(), close)

    def _list_models(self, timeouts: Timeouts) -> list[str]:
        pager = self._client.models.list(
            config={"http_options": self._types.HttpOptions(timeout=self._ms(timeouts))}
        )
        return [str(m.name).removeprefix("models/") for m in pager]

    def close(self) -> None:
        """Close the HTTP client this provider created for the SDK."""
        self._http.close()

    def _translate_sdk(self, exc: BaseException) -> BaseException | None:
        errors = self._errors
        if isinstance(exc, errors.APIError):
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None)
            import json

            body = json.dumps(exc.details) if exc.details is not None else str(exc.message)
            return error_for_status(self.name, int(exc.code or 0), body, headers)
        if isinstance(exc, errors.UnknownApiResponseError):
            return ProtocolError(f"{self.name}: malformed response", target=self.name)
        return None
