"""Semantic-convention attributes of an attempt, shared by the OTel and Prometheus plugins.

Names follow the OpenTelemetry semantic conventions: HTTP client spans and
``http.client.request.duration`` (semconv HTTP, stable), MCP client spans
``{mcp.method.name} {target}`` and ``mcp.client.operation.duration`` (semconv MCP), gRPC
``rpc.*``, GenAI ``gen_ai.*`` (semconv GenAI). Tool arguments and results only when the
caller opts in (``record_content``), secrets hidden (:func:`content_json`); URLs pass
through :func:`~syncclients.redact.redact_url` (userinfo and secret query values hidden).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import GRPCStatusError, HTTPStatusError, MCPError
from ..redact import MASK, is_secret_name, redact_text, redact_url
from ..resilience.plugins import AttemptScope

__all__ = [
    "CONTENT_LIMIT",
    "HTTP_BUCKETS_S",
    "LONG_BUCKETS_S",
    "Described",
    "content_json",
    "describe",
    "error_type",
]

#: The most characters of a recorded tool argument or result attribute (then ``...``).
CONTENT_LIMIT = 4096

#: ``http.client.request.duration`` advisory boundaries (semconv HTTP), seconds.
HTTP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
#: ``mcp.client.operation.duration`` and ``gen_ai.client.operation.duration`` boundaries
#: (semconv MCP / GenAI), seconds: they reach LLM and long tool durations.
LONG_BUCKETS_S = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip

_Attrs = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Described:
    """One attempt in convention terms.

    Attributes:
        span_name: the span's name.
        span_attrs: the span's attributes (no arguments, results or credentials).
        metric: the duration histogram's name.
        metric_attrs: the histogram's (low-cardinality) attributes.
        failed: True when the span's status is ERROR.
        usage: ``(input_tokens, output_tokens)`` of an LLM answer, else None.
    """

    span_name: str
    span_attrs: _Attrs
    metric: str
    metric_attrs: _Attrs
    failed: bool
    usage: tuple[int, int] | None = None


def error_type(error: BaseException | None) -> str | None:
    """``error.type``: the status code of an HTTP error, the JSON-RPC code of an MCP error,
    the status name of a gRPC error, else the exception's fully qualified class name."""
    if error is None:
        return None
    if isinstance(error, HTTPStatusError):
        return str(error.status_code)
    if isinstance(error, MCPError) and isinstance(error.code, int):
        return str(error.code)
    if isinstance(error, GRPCStatusError):
        return str(getattr(error.code, "name", error.code))
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            str(k): MASK if is_secret_name(str(k)) else _masked(v)
            for k, v in value.items()
            if k != "_meta"
        }
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def content_json(value: Any, limit: int = CONTENT_LIMIT) -> str:
    """Tool arguments or a tool result as JSON for an opt-in span attribute, secrets hidden.

    Values under secret-looking keys (:func:`~syncclients.redact.is_secret_name`:
    ``token``, ``api_key``, ``password``, ...) become ``***``, ``_meta`` objects are dropped,
    and the text then passes :func:`~syncclients.redact.redact_text` (URL userinfo,
    ``name=value`` secrets, ``Authorization`` values).

    Args:
        value: a JSON-compatible value (others are shown with ``str``).
        limit: the most characters kept; longer text ends in ``...``.

    Returns:
        The redacted JSON text.
    """
    text = redact_text(json.dumps(_masked(value), ensure_ascii=False, default=str))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _put(attrs: _Attrs, key: str, value: Any) -> None:
    if value is not None:
        attrs[key] = value


def describe(scope: AttemptScope, *, record_content: bool = False) -> Described:
    """The convention names of an attempt that has finished (``result``/``error`` set).

    Args:
        scope: the attempt.
        record_content: add an MCP ``tools/call``'s ``gen_ai.tool.call.arguments`` and
            ``gen_ai.tool.call.result`` (opt-in attributes of the GenAI/MCP conventions)
            to the span attributes, through :func:`content_json`; False: never.
    """
    protocol = scope.call.client.protocol
    if protocol == "http":
        return _http(scope)
    if protocol == "mcp":
        return _mcp(scope, record_content)
    if protocol == "grpc":
        return _grpc(scope)
    if protocol == "llm":
        return _llm(scope)
    err = error_type(scope.error)
    attrs: _Attrs = {"syncclients.target": redact_url(scope.call.client.target)}
    _put(attrs, "error.type", err)
    return Described(
        scope.call.operation, attrs, "syncclients.client.operation.duration", dict(attrs),
        err is not None,
    )  # fmt: skip


def _http(scope: AttemptScope) -> Described:
    method, _, path = scope.call.operation.partition(" ")
    response = scope.result if scope.result is not None else getattr(scope.error, "response", None)
    url = getattr(response, "url", None)
    if not isinstance(url, str) or not url:
        url = scope.call.client.target.rstrip("/") + path
    parts = urlsplit(url)
    status = getattr(response, "status_code", None)
    if not isinstance(status, int):
        status = None
    err = error_type(scope.error)
    if err is None and status is not None and status >= 400:
        err = str(status)
    metric_attrs: _Attrs = {"http.request.method": method}
    _put(metric_attrs, "server.address", parts.hostname)
    _put(metric_attrs, "server.port", parts.port or {"http": 80, "https": 443}.get(parts.scheme))
    _put(metric_attrs, "url.scheme", parts.scheme or None)
    _put(metric_attrs, "http.response.status_code", status)
    _put(metric_attrs, "error.type", err)
    attrs = dict(metric_attrs)
    attrs["url.full"] = redact_url(url)
    if scope.attempt > 1:
        attrs["http.request.resend_count"] = scope.attempt - 1
    return Described(method, attrs, "http.client.request.duration", metric_attrs, err is not None)


def _mcp(scope: AttemptScope, record_content: bool = False) -> Described:
    method, _, target = scope.call.operation.partition(" ")
    err = error_type(scope.error)
    if err is None and getattr(scope.result, "is_error", False) is True:
        err = "tool_error"
    metric_attrs: _Attrs = {"mcp.method.name": method}
    if target and method == "tools/call":
        metric_attrs["gen_ai.tool.name"] = target
        metric_attrs["gen_ai.operation.name"] = "execute_tool"
    elif target and method == "prompts/get":
        metric_attrs["gen_ai.prompt.name"] = target
    if isinstance(scope.error, MCPError) and isinstance(scope.error.code, int):
        metric_attrs["rpc.response.status_code"] = str(scope.error.code)
    _put(metric_attrs, "network.transport", scope.data.get("network.transport"))
    _put(metric_attrs, "error.type", err)
    _put(metric_attrs, "mcp.protocol.version", scope.data.get("mcp.protocol.version"))
    attrs = dict(metric_attrs)
    attrs["syncclients.mcp.server"] = redact_url(scope.call.client.target)
    _put(attrs, "mcp.session.id", scope.data.get("mcp.session.id"))  # spans only: unbounded
    if scope.request_id is not None:
        attrs["jsonrpc.request.id"] = str(scope.request_id)
    if scope.attempt > 1:
        attrs["syncclients.attempt"] = scope.attempt
    if record_content and method == "tools/call":
        if "mcp.arguments" in scope.data:
            attrs["gen_ai.tool.call.arguments"] = content_json(scope.data["mcp.arguments"])
        raw = getattr(scope.result, "raw", None)
        if raw is not None:
            attrs["gen_ai.tool.call.result"] = content_json(raw)
    name = f"{method} {target}" if target else method
    return Described(name, attrs, "mcp.client.operation.duration", metric_attrs, err is not None)


def _grpc(scope: AttemptScope) -> Described:
    method = scope.call.operation.lstrip("/")
    err = error_type(scope.error)
    metric_attrs: _Attrs = {"rpc.system.name": "grpc", "rpc.method": method}
    code = "OK" if scope.error is None else err
    _put(metric_attrs, "rpc.response.status_code", code)
    _put(metric_attrs, "error.type", err)
    attrs = dict(metric_attrs)
    attrs["server.address"] = redact_url(scope.call.client.target)
    return Described(method, attrs, "rpc.client.call.duration", metric_attrs, err is not None)


def _llm(scope: AttemptScope) -> Described:
    operation, _, model = scope.call.operation.partition(" ")
    err = error_type(scope.error)
    metric_attrs: _Attrs = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": scope.call.client.target,
    }
    _put(metric_attrs, "gen_ai.request.model", model or None)
    _put(metric_attrs, "gen_ai.response.model", getattr(scope.result, "model", None) or None)
    _put(metric_attrs, "error.type", err)
    attrs = dict(metric_attrs)
    usage = getattr(scope.result, "usage", None)
    tokens: tuple[int, int] | None = None
    if usage is not None:
        tokens = (int(usage.input_tokens), int(usage.output_tokens))
        attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"] = tokens
    name = f"{operation} {model}" if model else operation
    return Described(
        name, attrs, "gen_ai.client.operation.duration", metric_attrs, err is not None, tokens
    )
