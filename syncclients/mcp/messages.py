"""JSON-RPC 2.0 messages as MCP uses them: encode to one line, decode with strict checks.

Four message kinds travel (JSON-RPC 2.0 section 4-5; MCP basic/index "Messages"):
requests (``id`` + ``method``), notifications (``method``, no ``id``), results (``id`` +
``result``) and errors (``id`` + ``error{code, message, data?}``). Ids are integers or
strings, never null. Anything malformed raises :class:`~syncclients.errors.ProtocolError`
and nothing else: a peer's bytes can never crash a reader thread with a foreign exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from ..errors import ProtocolError, UsageError, excerpt

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "MISSING_REQUIRED_CLIENT_CAPABILITY",
    "PARSE_ERROR",
    "RESOURCE_NOT_FOUND",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "URL_ELICITATION_REQUIRED",
    "ErrorObject",
    "ErrorResponse",
    "Message",
    "Notification",
    "Request",
    "RequestId",
    "Response",
    "decode",
    "encode",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
RESOURCE_NOT_FOUND = -32002
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022
URL_ELICITATION_REQUIRED = -32042

#: A JSON-RPC id: an int or a str (MCP forbids null).
RequestId = Union[int, str]  # noqa: UP007  (a runtime alias; X | Y needs 3.10 at run time)


@dataclass(frozen=True, slots=True)
class Request:
    """A request: expects exactly one :class:`Response` or :class:`ErrorResponse` back."""

    id: RequestId
    method: str
    params: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A one-way message: never answered."""

    method: str
    params: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """A successful answer to the request with the same ``id``."""

    id: RequestId
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErrorObject:
    """The ``error`` member of an error response."""

    code: int
    message: str
    data: Any = None


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """A failed answer. ``id`` is None only when the peer could not read the request's id."""

    id: RequestId | None
    error: ErrorObject


Message = Union[Request, Notification, Response, ErrorResponse]  # noqa: UP007


def encode(message: Message) -> bytes:
    """Serialize one message as compact UTF-8 JSON without a line end.

    ``json.dumps`` escapes control characters inside strings, so the output never contains a
    raw newline and can be framed by ``\\n`` on stdio (MCP transports "stdio").

    Args:
        message: the message to send.

    Returns:
        The UTF-8 bytes of one JSON object.

    Raises:
        UsageError: a value in the message is not JSON-serializable (or is NaN/infinity).
    """
    obj: dict[str, Any] = {"jsonrpc": "2.0"}
    if isinstance(message, Request):
        obj["id"] = message.id
        obj["method"] = message.method
        if message.params is not None:
            obj["params"] = message.params
    elif isinstance(message, Notification):
        obj["method"] = message.method
        if message.params is not None:
            obj["params"] = message.params
    elif isinstance(message, Response):
        obj["id"] = message.id
        obj["result"] = message.result
    else:
        obj["id"] = message.id
        err: dict[str, Any] = {"code": message.error.code, "message": message.error.message}
        if message.error.data is not None:
            err["data"] = message.error.data
        obj["error"] = err
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise UsageError(f"cannot encode MCP message as JSON: {exc}") from None
    return text.encode()


def decode(data: bytes | str) -> list[Message]:
    """Parse one JSON-RPC payload (a single message or a batch array) into messages.

    Args:
        data: one line from stdio or one HTTP/SSE payload, UTF-8.

    Returns:
        The messages in order (one element unless the peer sent a batch, which servers may do
        up to protocol 2025-03-26).

    Raises:
        ProtocolError: invalid UTF-8 or JSON, an empty batch, or an object that is not a
            valid JSON-RPC 2.0 message. Never any other exception.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        obj = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"undecodable JSON-RPC message: {exc}", excerpt=excerpt(data)) from None
    if isinstance(obj, list):
        if not obj:
            raise ProtocolError("empty JSON-RPC batch", excerpt=excerpt(data))
        return [_one(item, data) for item in obj]
    return [_one(obj, data)]


def _bad(reason: str, data: bytes | str) -> ProtocolError:
    return ProtocolError(f"invalid JSON-RPC message: {reason}", excerpt=excerpt(data))


def _id(value: Any, data: bytes | str) -> RequestId:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad(f"id must be an int or a string, got {value!r}", data)
    return value


def _params(obj: Mapping[str, Any], data: bytes | str) -> dict[str, Any] | None:
    params = obj.get("params")
    if params is None:
        return None
    if not isinstance(params, dict):
        raise _bad("params must be an object", data)
    return params


def _one(obj: Any, data: bytes | str) -> Message:
    if not isinstance(obj, dict):
        raise _bad("not a JSON object", data)
    if obj.get("jsonrpc") != "2.0":
        raise _bad('missing "jsonrpc": "2.0"', data)
    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str):
            raise _bad("method must be a string", data)
        if "id" in obj:
            return Request(_id(obj["id"], data), method, _params(obj, data))
        return Notification(method, _params(obj, data))
    if "result" in obj:
        if "error" in obj:
            raise _bad("both result and error", data)
        result = obj["result"]
        if not isinstance(result, dict):
            raise _bad("result must be an object", data)
        return Response(_id(obj.get("id"), data), result)
    if "error" in obj:
        err = obj["error"]
        if not isinstance(err, dict):
            raise _bad("error must be an object", data)
        code, message = err.get("code"), err.get("message")
        if isinstance(code, bool) or not isinstance(code, int):
            raise _bad("error.code must be an integer", data)
        if not isinstance(message, str):
            message = "" if message is None else str(message)
        raw_id = obj.get("id")
        rid = None if raw_id is None else _id(raw_id, data)
        return ErrorResponse(rid, ErrorObject(code, message, err.get("data")))
    raise _bad("neither a request, a notification nor a response", data)
