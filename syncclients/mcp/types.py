"""Typed MCP results and callback payloads: frozen dataclasses built from wire objects.

Every type keeps the wire object it came from in ``.raw`` (fields not modelled here, e.g.
``icons`` or vendor ``_meta`` keys, stay reachable). ``from_wire`` constructors check the
shape the specification requires (MCP server/tools, server/resources, server/prompts,
client/sampling, client/elicitation) and raise :class:`~syncclients.errors.ProtocolError`
for a malformed object, never anything else.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, Union

from ..errors import ProtocolError, excerpt

__all__ = [
    "AudioContent",
    "BlobResourceContents",
    "CallToolResult",
    "Completion",
    "ContentBlock",
    "CreateMessageRequest",
    "CreateMessageResult",
    "ElicitRequest",
    "ElicitResult",
    "EmbeddedResource",
    "GetPromptResult",
    "ImageContent",
    "Implementation",
    "Listing",
    "LogMessage",
    "Progress",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "ReadResourceResult",
    "Resource",
    "ResourceContents",
    "ResourceLink",
    "ResourceTemplate",
    "Root",
    "ServerCapabilities",
    "ServerNotification",
    "TextContent",
    "TextResourceContents",
    "Tool",
    "ToolAnnotations",
    "UnknownContent",
    "parse_content",
]

T = TypeVar("T")
Raw = Mapping[str, Any]


def _bad(what: str, obj: Any) -> ProtocolError:
    return ProtocolError(f"malformed MCP {what}", excerpt=excerpt(repr(obj)))


def _obj(value: Any, what: str) -> Raw:
    if not isinstance(value, Mapping):
        raise _bad(what, value)
    return value


def _str(obj: Raw, key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _bad(f"{what} ({key!r} must be a string)", obj)
    return value


def _opt_str(obj: Raw, key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _opt_bool(obj: Raw, key: str) -> bool | None:
    value = obj.get(key)
    return value if isinstance(value, bool) else None


def _opt_int(obj: Raw, key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(obj: Raw, key: str, what: str, *, required: bool = True) -> list[Any]:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise _bad(f"{what} ({key!r} must be a list)", obj)
    return value


def _b64(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise _bad(f"{what} (invalid base64)", data[:64]) from None


# -- server identity -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Implementation:
    """A peer's name and version (``serverInfo`` / ``clientInfo``).

    Attributes:
        name: the programmatic name.
        version: the version string ("" when the server sent none).
        title: a display name, or None.
        raw: the wire object.
    """

    name: str
    version: str
    title: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Any) -> Implementation:
        """Build from a wire object. Raises ProtocolError when ``name`` is missing."""
        obj = _obj(obj, "implementation info")
        version = obj.get("version")
        return cls(
            _str(obj, "name", "implementation info"),
            version if isinstance(version, str) else "",
            _opt_str(obj, "title"),
            obj,
        )


@dataclass(frozen=True, slots=True)
class ServerCapabilities:
    """What the server offers (``capabilities`` of initialize or server/discover).

    Attributes:
        tools, resources, prompts, logging, completions: whether the feature is offered.
        resources_subscribe: ``resources.subscribe`` is true.
        tools_list_changed, resources_list_changed, prompts_list_changed: the server sends
            the matching list_changed notifications.
        raw: the wire object (``experimental``, ``extensions``, ...).
    """

    tools: bool = False
    resources: bool = False
    prompts: bool = False
    logging: bool = False
    completions: bool = False
    resources_subscribe: bool = False
    tools_list_changed: bool = False
    resources_list_changed: bool = False
    prompts_list_changed: bool = False
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Any) -> ServerCapabilities:
        """Build from a wire object (a missing or malformed object means "nothing")."""
        obj = obj if isinstance(obj, Mapping) else {}

        def sub(key: str) -> Raw:
            value = obj.get(key)
            return value if isinstance(value, Mapping) else {}

        return cls(
            tools="tools" in obj,
            resources="resources" in obj,
            prompts="prompts" in obj,
            logging="logging" in obj,
            completions="completions" in obj,
            resources_subscribe=sub("resources").get("subscribe") is True,
            tools_list_changed=sub("tools").get("listChanged") is True,
            resources_list_changed=sub("resources").get("listChanged") is True,
            prompts_list_changed=sub("prompts").get("listChanged") is True,
            raw=obj,
        )


# -- listings with cache hints ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """The items of a (possibly paginated) list call, with the server's cache hints.

    Iterable, indexable and sized like a tuple of items.

    Attributes:
        items: every item across all pages, in server order.
        ttl_ms: the freshness hint in milliseconds (MCP 2026-07-28 caching; the smallest of
            all pages, negatives clamped to 0), or None when the server sent none.
        cache_scope: ``"public"`` or ``"private"``, or None.
    """

    items: tuple[T, ...]
    ttl_ms: int | None = None
    cache_scope: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]


# -- tools ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolAnnotations:
    """Hints about a tool's behaviour (untrusted unless the server is trusted).

    Attributes:
        title: a display name, or None.
        read_only_hint: the tool does not modify its environment (default False).
        destructive_hint: it may perform destructive updates (default True).
        idempotent_hint: repeating a call with the same arguments has no extra effect.
        open_world_hint: it interacts with an open world of external entities.
        raw: the wire object.
    """

    title: str | None = None
    read_only_hint: bool | None = None
    destructive_hint: bool | None = None
    idempotent_hint: bool | None = None
    open_world_hint: bool | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Any) -> ToolAnnotations:
        """Build from a wire object (malformed: empty annotations)."""
        obj = obj if isinstance(obj, Mapping) else {}
        return cls(
            _opt_str(obj, "title"),
            _opt_bool(obj, "readOnlyHint"),
            _opt_bool(obj, "destructiveHint"),
            _opt_bool(obj, "idempotentHint"),
            _opt_bool(obj, "openWorldHint"),
            obj,
        )

    @property
    def safe_to_retry(self) -> bool:
        """True when the tool is annotated read-only or idempotent."""
        return bool(self.read_only_hint or self.idempotent_hint)


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool the server offers (MCP server/tools "Tool").

    Attributes:
        name: the tool's unique name.
        input_schema: the JSON Schema of its arguments (an object schema).
        title, description: display text, or None.
        output_schema: the JSON Schema of ``structuredContent``, or None.
        annotations: behaviour hints (empty when the server sent none).
        meta: the tool's ``_meta`` object ({} when absent).
        raw: the wire object (``icons``, ``execution``, ...).
    """

    name: str
    input_schema: Raw
    title: str | None = None
    description: str | None = None
    output_schema: Raw | None = None
    annotations: ToolAnnotations = field(default_factory=ToolAnnotations)
    meta: Raw = field(default_factory=dict, repr=False)
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Any) -> Tool:
        """Build from a wire object. Raises ProtocolError without ``name``/``inputSchema``."""
        obj = _obj(obj, "tool")
        schema = obj.get("inputSchema")
        if not isinstance(schema, Mapping):
            raise _bad("tool (inputSchema must be an object)", obj)
        output = obj.get("outputSchema")
        meta = obj.get("_meta")
        return cls(
            name=_str(obj, "name", "tool"),
            input_schema=schema,
            title=_opt_str(obj, "title"),
            description=_opt_str(obj, "description"),
            output_schema=output if isinstance(output, Mapping) else None,
            annotations=ToolAnnotations.from_wire(obj.get("annotations")),
            meta=meta if isinstance(meta, Mapping) else {},
            raw=obj,
        )


# -- content blocks -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextContent:
    """A text block."""

    text: str
    type: Literal["text"] = "text"
    raw: Raw = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ImageContent:
    """An image block: ``data`` is base64 (use :attr:`bytes` for the decoded image)."""

    data: str
    mime_type: str
    type: Literal["image"] = "image"
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @property
    def bytes(self) -> bytes:
        """The decoded image. Raises ProtocolError for invalid base64."""
        return _b64(self.data, "image content")


@dataclass(frozen=True, slots=True)
class AudioContent:
    """An audio block: ``data`` is base64 (use :attr:`bytes` for the decoded audio)."""

    data: str
    mime_type: str
    type: Literal["audio"] = "audio"
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @property
    def bytes(self) -> bytes:
        """The decoded audio. Raises ProtocolError for invalid base64."""
        return _b64(self.data, "audio content")


@dataclass(frozen=True, slots=True)
class ResourceLink:
    """A link to a resource the client may read (protocol 2025-06-18 and later)."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    type: Literal["resource_link"] = "resource_link"
    raw: Raw = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class TextResourceContents:
    """The text contents of a resource."""

    uri: str
    text: str
    mime_type: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class BlobResourceContents:
    """The binary contents of a resource: ``blob`` is base64 (see :attr:`bytes`)."""

    uri: str
    blob: str
    mime_type: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @property
    def bytes(self) -> bytes:
        """The decoded contents. Raises ProtocolError for invalid base64."""
        return _b64(self.blob, "blob resource")


ResourceContents = Union[TextResourceContents, BlobResourceContents]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class EmbeddedResource:
    """A resource embedded in a tool result or prompt message."""

    resource: ResourceContents
    type: Literal["resource"] = "resource"
    raw: Raw = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class UnknownContent:
    """A block of a type this client does not model (kept, not dropped)."""

    type: str
    raw: Raw = field(default_factory=dict, repr=False, compare=False)


ContentBlock = Union[  # noqa: UP007
    TextContent,
    ImageContent,
    AudioContent,
    ResourceLink,
    EmbeddedResource,
    UnknownContent,
]


def parse_resource_contents(obj: Any) -> ResourceContents:
    """Build text or blob resource contents from a wire object (ProtocolError if neither)."""
    obj = _obj(obj, "resource contents")
    uri = _str(obj, "uri", "resource contents")
    mime = _opt_str(obj, "mimeType")
    if isinstance(obj.get("text"), str):
        return TextResourceContents(uri, obj["text"], mime, obj)
    if isinstance(obj.get("blob"), str):
        return BlobResourceContents(uri, obj["blob"], mime, obj)
    raise _bad("resource contents (needs text or blob)", obj)


def parse_content(obj: Any) -> ContentBlock:
    """Build one content block from a wire object.

    Returns:
        The typed block; an unknown ``type`` gives :class:`UnknownContent`.

    Raises:
        ProtocolError: not an object, no ``type``, or a known type missing a field.
    """
    obj = _obj(obj, "content block")
    kind = _str(obj, "type", "content block")
    if kind == "text":
        return TextContent(_str(obj, "text", "text content"), raw=obj)
    if kind == "image":
        return ImageContent(
            _str(obj, "data", "image content"), _str(obj, "mimeType", "image content"), raw=obj
        )
    if kind == "audio":
        return AudioContent(
            _str(obj, "data", "audio content"), _str(obj, "mimeType", "audio content"), raw=obj
        )
    if kind == "resource_link":
        return ResourceLink(
            uri=_str(obj, "uri", "resource link"),
            name=_str(obj, "name", "resource link"),
            title=_opt_str(obj, "title"),
            description=_opt_str(obj, "description"),
            mime_type=_opt_str(obj, "mimeType"),
            size=_opt_int(obj, "size"),
            raw=obj,
        )
    if kind == "resource":
        return EmbeddedResource(parse_resource_contents(obj.get("resource")), raw=obj)
    return UnknownContent(kind, obj)


def _text_of(blocks: Sequence[ContentBlock]) -> str:
    return "\n".join(b.text for b in blocks if isinstance(b, TextContent))


@dataclass(frozen=True, slots=True)
class CallToolResult:
    """The answer of ``tools/call`` (MCP server/tools "Tool Result").

    Attributes:
        content: the typed content blocks.
        structured_content: the JSON object result (``structuredContent``), or None.
        is_error: True when the tool itself failed (an unknown tool or a raising tool, for
            some servers): the error text is in ``content``.
        meta: the result's ``_meta`` ({} when absent).
        raw: the wire object.
    """

    content: tuple[ContentBlock, ...]
    structured_content: Any = None
    is_error: bool = False
    meta: Raw = field(default_factory=dict, repr=False)
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The text blocks joined by newlines ("" when there are none)."""
        return _text_of(self.content)

    @classmethod
    def from_wire(cls, obj: Any) -> CallToolResult:
        """Build from a wire object. Raises ProtocolError for a malformed result."""
        obj = _obj(obj, "tool result")
        content = tuple(parse_content(c) for c in _list(obj, "content", "tool result"))
        meta = obj.get("_meta")
        return cls(
            content,
            obj.get("structuredContent"),
            obj.get("isError") is True,
            meta if isinstance(meta, Mapping) else {},
            obj,
        )


# -- resources ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource the server offers (MCP server/resources)."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Any) -> Resource:
        """Build from a wire object. Raises ProtocolError without ``uri``/``name``."""
        obj = _obj(obj, "resource")
        return cls(
            _str(obj, "uri", "resource"),
            _str(obj, "name", "resource"),
            _opt_str(obj, "title"),
            _opt_str(obj, "description"),
            _opt_str(obj, "mimeType"),
            _opt_int(obj, "size"),
            obj,
        )


@dataclass(frozen=True, slots=True)
class ResourceTemplate:
    """A parameterized resource (RFC 6570 ``uri_template``)."""

    uri_template: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Any) -> ResourceTemplate:
        """Build from a wire object. Raises ProtocolError without ``uriTemplate``/``name``."""
        obj = _obj(obj, "resource template")
        return cls(
            _str(obj, "uriTemplate", "resource template"),
            _str(obj, "name", "resource template"),
            _opt_str(obj, "title"),
            _opt_str(obj, "description"),
            _opt_str(obj, "mimeType"),
            obj,
        )


@dataclass(frozen=True, slots=True)
class ReadResourceResult:
    """The answer of ``resources/read``.

    Attributes:
        contents: the text or blob contents (a resource may have several).
        ttl_ms, cache_scope: cache hints (2026-07-28), or None.
        raw: the wire object.
    """

    contents: tuple[ResourceContents, ...]
    ttl_ms: int | None = None
    cache_scope: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The text contents joined by newlines ("" when there are none)."""
        return "\n".join(c.text for c in self.contents if isinstance(c, TextResourceContents))

    @classmethod
    def from_wire(cls, obj: Any) -> ReadResourceResult:
        """Build from a wire object. Raises ProtocolError for a malformed result."""
        obj = _obj(obj, "read resource result")
        contents = tuple(
            parse_resource_contents(c) for c in _list(obj, "contents", "read resource result")
        )
        ttl, scope = cache_hints(obj)
        return cls(contents, ttl, scope, obj)


def cache_hints(obj: Raw) -> tuple[int | None, str | None]:
    """The ``ttlMs`` (negatives clamped to 0) and ``cacheScope`` of a result, or Nones."""
    ttl = obj.get("ttlMs")
    ttl_ms = (
        max(0, int(ttl)) if isinstance(ttl, int | float) and not isinstance(ttl, bool) else None
    )
    scope = obj.get("cacheScope")
    return ttl_ms, scope if isinstance(scope, str) else None


# -- prompts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromptArgument:
    """One argument a prompt takes."""

    name: str
    description: str | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt template the server offers (MCP server/prompts)."""

    name: str
    title: str | None = None
    description: str | None = None
    arguments: tuple[PromptArgument, ...] = ()
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Any) -> Prompt:
        """Build from a wire object. Raises ProtocolError without ``name``."""
        obj = _obj(obj, "prompt")
        args = []
        for arg in _list(obj, "arguments", "prompt", required=False):
            arg = _obj(arg, "prompt argument")
            args.append(
                PromptArgument(
                    _str(arg, "name", "prompt argument"),
                    _opt_str(arg, "description"),
                    arg.get("required") is True,
                )
            )
        return cls(
            _str(obj, "name", "prompt"),
            _opt_str(obj, "title"),
            _opt_str(obj, "description"),
            tuple(args),
            obj,
        )


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One message of a rendered prompt: ``role`` is ``"user"`` or ``"assistant"``."""

    role: str
    content: ContentBlock


@dataclass(frozen=True, slots=True)
class GetPromptResult:
    """The answer of ``prompts/get``."""

    messages: tuple[PromptMessage, ...]
    description: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The text of every text message joined by newlines."""
        return _text_of([m.content for m in self.messages])

    @classmethod
    def from_wire(cls, obj: Any) -> GetPromptResult:
        """Build from a wire object. Raises ProtocolError for a malformed result."""
        obj = _obj(obj, "prompt result")
        messages = []
        for msg in _list(obj, "messages", "prompt result"):
            msg = _obj(msg, "prompt message")
            messages.append(
                PromptMessage(
                    _str(msg, "role", "prompt message"), parse_content(msg.get("content"))
                )
            )
        return cls(tuple(messages), _opt_str(obj, "description"), obj)


@dataclass(frozen=True, slots=True)
class Completion:
    """The answer of ``completion/complete``: suggested values (at most 100)."""

    values: tuple[str, ...]
    total: int | None = None
    has_more: bool = False
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Any) -> Completion:
        """Build from a wire object. Raises ProtocolError for a malformed result."""
        comp = _obj(_obj(obj, "completion result").get("completion"), "completion")
        values = _list(comp, "values", "completion")
        if not all(isinstance(v, str) for v in values):
            raise _bad("completion (values must be strings)", comp)
        return cls(tuple(values), _opt_int(comp, "total"), comp.get("hasMore") is True, obj)


# -- callback payloads ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogMessage:
    """A ``notifications/message`` from the server (MCP server/utilities/logging)."""

    level: str
    data: Any
    logger: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Progress:
    """A ``notifications/progress`` for a request (MCP basic/utilities/progress).

    Attributes:
        progress: the amount done so far (increases with each notification).
        total: the total amount, or None when unknown.
        message: a human-readable status, or None.
    """

    progress: float
    total: float | None = None
    message: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Raw) -> Progress:
        """Build from notification params (a malformed value reads as 0 / None)."""
        progress = obj.get("progress")
        total = obj.get("total")
        return cls(
            float(progress) if isinstance(progress, int | float) else 0.0,
            float(total) if isinstance(total, int | float) else None,
            _opt_str(obj, "message"),
            obj,
        )


@dataclass(frozen=True, slots=True)
class ServerNotification:
    """Any other notification (list_changed, resources/updated, elicitation/complete)."""

    method: str
    params: Raw = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ElicitRequest:
    """The server asks the user for input (MCP client/elicitation).

    Attributes:
        message: what to show the user.
        mode: ``"form"`` (fill ``requested_schema``) or ``"url"`` (open ``url``).
        requested_schema: a flat JSON Schema for form mode, else None.
        url: the page to open in URL mode, else None.
        elicitation_id: the id of a URL-mode elicitation, else None.
        raw: the request params.
    """

    message: str
    mode: str = "form"
    requested_schema: Raw | None = None
    url: str | None = None
    elicitation_id: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Raw) -> ElicitRequest:
        """Build from request params (a missing message reads as "")."""
        schema = obj.get("requestedSchema")
        return cls(
            _opt_str(obj, "message") or "",
            _opt_str(obj, "mode") or "form",
            schema if isinstance(schema, Mapping) else None,
            _opt_str(obj, "url"),
            _opt_str(obj, "elicitationId"),
            obj,
        )


@dataclass(frozen=True, slots=True)
class ElicitResult:
    """The user's answer: ``action`` is ``"accept"``, ``"decline"`` or ``"cancel"``.

    Attributes:
        action: what the user did.
        content: the form values when accepted (form mode), else None.
    """

    action: Literal["accept", "decline", "cancel"]
    content: Mapping[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        """The wire object of this result."""
        out: dict[str, Any] = {"action": self.action}
        if self.content is not None:
            out["content"] = dict(self.content)
        return out


@dataclass(frozen=True, slots=True)
class CreateMessageRequest:
    """The server asks the client's LLM for a completion (MCP client/sampling).

    Attributes:
        messages: the conversation, as wire objects (``{"role", "content"}``).
        max_tokens: the most tokens to generate.
        system_prompt: an optional system prompt.
        raw: the request params (model preferences, tools, ...).
    """

    messages: tuple[Raw, ...]
    max_tokens: int
    system_prompt: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, obj: Raw) -> CreateMessageRequest:
        """Build from request params."""
        messages = obj.get("messages")
        return cls(
            tuple(m for m in messages if isinstance(m, Mapping))
            if isinstance(messages, list)
            else (),
            _opt_int(obj, "maxTokens") or 0,
            _opt_str(obj, "systemPrompt"),
            obj,
        )


@dataclass(frozen=True, slots=True)
class CreateMessageResult:
    """The LLM's answer to a sampling request.

    Attributes:
        text: the generated text (sent as one text content block).
        model: the model that produced it.
        role: ``"assistant"`` (the default) or ``"user"``.
        stop_reason: ``"endTurn"``, ``"stopSequence"``, ``"maxTokens"`` or another string.
    """

    text: str
    model: str
    role: str = "assistant"
    stop_reason: str | None = "endTurn"

    def to_wire(self) -> dict[str, Any]:
        """The wire object of this result."""
        out: dict[str, Any] = {
            "role": self.role,
            "content": {"type": "text", "text": self.text},
            "model": self.model,
        }
        if self.stop_reason is not None:
            out["stopReason"] = self.stop_reason
        return out


@dataclass(frozen=True, slots=True)
class Root:
    """A root the client exposes (MCP client/roots): a ``file://`` URI and a name."""

    uri: str
    name: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The wire object of this root."""
        out: dict[str, Any] = {"uri": self.uri}
        if self.name is not None:
            out["name"] = self.name
        return out
