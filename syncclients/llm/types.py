"""The provider-neutral types of :mod:`syncclients.llm`: messages, tools, responses, events.

Every provider accepts these, and also the shapes users already have: OpenAI-style message
dicts (``{"role": "user", "content": "..."}``, ``tool_calls``, ``tool_call_id``), OpenAI-style
function tools (``{"type": "function", "function": {...}}``) and MCP ``Tool`` objects (their
``inputSchema``). :func:`normalize_messages` and :func:`normalize_tools` turn any of them
into the frozen values below; each provider module converts those to its wire format.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import UsageError

__all__ = [
    "Capabilities",
    "ChatResponse",
    "FinishReason",
    "ImagePart",
    "Message",
    "ResponseFormat",
    "StreamDone",
    "StreamEvent",
    "TextDelta",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "normalize_messages",
    "normalize_response_format",
    "normalize_tool_choice",
    "normalize_tools",
]

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
_ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class TextPart:
    """A text content part."""

    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image content part: a URL (``https:`` or ``data:``) or raw bytes.

    Attributes:
        url: the image URL, or None when ``data`` is given.
        data: the image bytes, or None when ``url`` is given.
        media_type: the MIME type of ``data`` (``image/png``, ``image/jpeg``, ...).
    """

    url: str | None = None
    data: bytes | None = None
    media_type: str = "image/png"

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise UsageError("ImagePart needs exactly one of url= or data=")

    def as_data(self) -> tuple[str, bytes] | None:
        """``(media_type, bytes)`` for inline data (``data=`` or a ``data:`` URL), else None."""
        if self.data is not None:
            return self.media_type, self.data
        assert self.url is not None
        if self.url.startswith("data:") and ";base64," in self.url:
            head, b64 = self.url[5:].split(";base64,", 1)
            return head or self.media_type, base64.b64decode(b64)
        return None

    def __repr__(self) -> str:  # never dump image bytes into logs
        size = f"{len(self.data)} bytes" if self.data is not None else repr(self.url)[:80]
        return f"ImagePart({size}, media_type={self.media_type!r})"


Part = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for.

    Attributes:
        id: the call id; a tool result refers to it. Providers without ids (Gemini) get one
            generated here (``call_<n>``), so a conversation can move between providers.
        name: the function name.
        arguments: the decoded JSON arguments.
    """

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: the text, or a tuple of :class:`TextPart` / :class:`ImagePart`.
        tool_calls: the calls an assistant message made.
        tool_call_id: for ``role="tool"``: the id of the call this is the result of.
        name: for ``role="tool"``: the function name (filled in from the history if absent).
        is_error: for ``role="tool"``: the result reports a failure (Anthropic
            ``tool_result.is_error``; Gemini ``functionResponse.response.error``; OpenAI
            has no flag: the text says it).
    """

    role: Role
    content: str | tuple[Part, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    @property
    def text(self) -> str:
        """The concatenated text parts."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def has_image(self) -> bool:
        """True when a part is an image."""
        return not isinstance(self.content, str) and any(
            isinstance(p, ImagePart) for p in self.content
        )


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call, with a JSON Schema for its arguments.

    Attributes:
        name: the function name.
        description: what it does (shown to the model).
        parameters: a JSON Schema object (``{"type": "object", "properties": {...}}``).
        strict: ask for strict mode where the provider has one (OpenAI): the schema is made
            strict (:func:`syncclients.llm.schema.openai_strict_schema`), or sent non-strict
            when it cannot be. Other providers ignore it.
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """Structured output: ``json`` (any JSON object) or ``json_schema`` (this schema).

    Attributes:
        kind: ``"json"`` or ``"json_schema"``.
        schema: the JSON Schema for ``json_schema``, else None.
        name: a name for the schema (OpenAI requires one).
        strict: ask the provider to enforce the schema exactly where it can.
    """

    kind: Literal["json", "json_schema"]
    schema: Mapping[str, Any] | None = None
    name: str = "response"
    strict: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call (0 when the provider did not report them)."""

    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """The result of :meth:`generate`, or the last event of :meth:`stream`.

    Attributes:
        text: the generated text ("" when the model only called tools or was filtered).
        tool_calls: the function calls asked for.
        finish_reason: ``stop``, ``length``, ``tool_calls`` or ``content_filter``.
        usage: token counts.
        provider: the name of the provider that answered.
        model: the model that answered (as reported by the provider when it does).
        raw: the SDK's response object (or the list of stream chunks) for anything else.
        filter_reason: with ``finish_reason="content_filter"``: the provider's reason
            (``SAFETY``, ``refusal``, the categories), else None.
    """

    text: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: FinishReason
    usage: Usage
    provider: str
    model: str
    raw: Any = field(default=None, repr=False, compare=False)
    filter_reason: str | None = None

    def to_message(self) -> Message:
        """This response as an assistant :class:`Message`, to append to the conversation."""
        return Message("assistant", self.text, self.tool_calls)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of generated text in a stream."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call in a stream.

    Attributes:
        index: the position of the call in the response (0-based).
        id: the call id (in the first delta of a call; None after).
        name: the function name (in the first delta of a call; None after).
        arguments_delta: the next piece of the JSON arguments text.
    """

    index: int
    id: str | None
    name: str | None
    arguments_delta: str


@dataclass(frozen=True, slots=True)
class StreamDone:
    """The last event of a stream, with the complete response."""

    response: ChatResponse


StreamEvent = TextDelta | ToolCallDelta | StreamDone


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider (and model) can do; asking for more is refused before sending.

    Attributes:
        tools: function calling.
        streaming: :meth:`stream`.
        vision: image parts in user messages.
        json_output: ``response_format`` (structured output).
    """

    tools: bool = True
    streaming: bool = True
    vision: bool = True
    json_output: bool = True


# -- normalization ------------------------------------------------------------------------


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _parts(content: Any) -> str | tuple[Part, ...]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, TextPart | ImagePart):
        return (content,)
    parts: list[Part] = []
    for item in content:
        if isinstance(item, TextPart | ImagePart):
            parts.append(item)
        elif isinstance(item, str):
            parts.append(TextPart(item))
        elif isinstance(item, Mapping):
            kind = item.get("type")
            if kind == "text":
                parts.append(TextPart(str(item["text"])))
            elif kind == "image_url":
                image = item["image_url"]
                parts.append(ImagePart(url=image["url"] if isinstance(image, Mapping) else image))
            else:
                raise UsageError(f"unsupported content part type {kind!r}")
        else:
            raise UsageError(f"unsupported content part {type(item).__name__}")
    return tuple(parts)


def _tool_call(raw: Any) -> ToolCall:
    if isinstance(raw, ToolCall):
        return raw
    function = _get(raw, "function") or raw
    arguments = _get(function, "arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise UsageError(f"tool call arguments are not JSON: {exc}") from None
    if not isinstance(arguments, dict):
        raise UsageError("tool call arguments must be a JSON object")
    return ToolCall(str(_get(raw, "id")), str(_get(function, "name")), arguments)


def normalize_messages(messages: Iterable[Message | Mapping[str, Any]]) -> tuple[Message, ...]:
    """Turn our :class:`Message` values and OpenAI-style dicts into :class:`Message` values.

    Tool messages without a ``name`` get the function name of the call they answer, looked
    up in the earlier assistant messages (Gemini needs it; OpenAI dicts do not carry it).

    Raises:
        UsageError: an unknown role, a malformed part, or a tool result for an unknown call.
    """
    out: list[Message] = []
    names: dict[str, str] = {}
    for raw in messages:
        if isinstance(raw, Message):
            msg = raw
        elif isinstance(raw, Mapping):
            role = raw.get("role")
            if role not in _ROLES:
                raise UsageError(f"message role must be one of {_ROLES}, got {role!r}")
            msg = Message(
                role,
                _parts(raw.get("content")),
                tuple(_tool_call(c) for c in raw.get("tool_calls") or ()),
                raw.get("tool_call_id"),
                raw.get("name"),
                bool(raw.get("is_error")),
            )
        else:
            raise UsageError(f"a message must be a Message or a dict, got {type(raw).__name__}")
        for call in msg.tool_calls:
            names[call.id] = call.name
        if msg.role == "tool":
            if not msg.tool_call_id:
                raise UsageError("a tool message needs tool_call_id")
            if msg.name is None:
                if msg.tool_call_id not in names:
                    raise UsageError(f"tool result for unknown tool call {msg.tool_call_id!r}")
                msg = Message(
                    "tool",
                    msg.content,
                    (),
                    msg.tool_call_id,
                    names[msg.tool_call_id],
                    msg.is_error,
                )
        out.append(msg)
    if not out:
        raise UsageError("messages must not be empty")
    return tuple(out)


def normalize_tools(tools: Iterable[Any] | None) -> tuple[Tool, ...]:
    """Turn :class:`Tool` values, OpenAI function dicts and MCP ``Tool`` objects into Tools.

    Raises:
        UsageError: a tool of another shape, or two tools with the same name.
    """
    if tools is None:
        return ()
    out: list[Tool] = []
    for raw in tools:
        if isinstance(raw, Tool):
            tool = raw
        elif isinstance(raw, Mapping) and "function" in raw:
            fn = raw["function"]
            tool = Tool(
                fn["name"],
                fn.get("description") or "",
                fn.get("parameters") or {"type": "object", "properties": {}},
            )
        elif isinstance(raw, Mapping) and "name" in raw:
            schema = raw.get("parameters") or raw.get("input_schema") or raw.get("inputSchema")
            tool = Tool(raw["name"], raw.get("description") or "", schema or {"type": "object"})
        elif hasattr(raw, "name") and (hasattr(raw, "input_schema") or hasattr(raw, "inputSchema")):
            # an MCP Tool: syncclients.mcp.Tool or the official SDK's (both .input_schema)
            schema = getattr(raw, "input_schema", None) or getattr(raw, "inputSchema", None)
            tool = Tool(str(raw.name), str(raw.description or ""), dict(schema or {}))
        else:
            raise UsageError(f"unsupported tool {type(raw).__name__}")
        params = dict(tool.parameters)
        params.setdefault("type", "object")
        if params["type"] == "object":
            params.setdefault("properties", {})
        out.append(Tool(tool.name, tool.description, params, tool.strict))
    seen: set[str] = set()
    for tool in out:
        if tool.name in seen:
            raise UsageError(f"duplicate tool name {tool.name!r}")
        seen.add(tool.name)
    return tuple(out)


def normalize_tool_choice(choice: Any) -> str | None:
    """``"auto"``, ``"none"``, ``"required"``, a function name, or None (provider default).

    Accepts those strings, ``{"type": "function", "function": {"name": ...}}`` and a
    :class:`Tool`.
    """
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, Tool):
        return choice.name
    if isinstance(choice, Mapping) and "function" in choice:
        return str(choice["function"]["name"])
    if isinstance(choice, Mapping) and "name" in choice:
        return str(choice["name"])
    raise UsageError(f"unsupported tool_choice {choice!r}")


def normalize_response_format(fmt: Any) -> ResponseFormat | None:
    """Accept a :class:`ResponseFormat`, OpenAI's ``{"type": "json_object"}`` /
    ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``, or a bare JSON
    Schema dict (``{"type": "object", ...}``)."""
    if fmt is None or isinstance(fmt, ResponseFormat):
        return fmt
    if isinstance(fmt, Mapping):
        if fmt.get("type") == "json_object":
            return ResponseFormat("json")
        if fmt.get("type") == "json_schema" and "json_schema" in fmt:
            spec = fmt["json_schema"]
            return ResponseFormat(
                "json_schema",
                spec["schema"],
                spec.get("name", "response"),
                bool(spec.get("strict")),
            )
        if "properties" in fmt or fmt.get("type") == "object":
            return ResponseFormat("json_schema", fmt)
    raise UsageError(f"unsupported response_format {fmt!r}")
