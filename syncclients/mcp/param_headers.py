"""``x-mcp-header``: tool parameters mirrored into ``Mcp-Param-{name}`` HTTP headers.

MCP 2026-07-28, transports/streamable-http "Custom Headers from Tool Parameters": a tool's
``inputSchema`` may mark primitive parameters (at any depth) with ``"x-mcp-header": "Name"``;
a client on Streamable HTTP must send each such argument as ``Mcp-Param-Name`` and must
drop (with a warning) any tool whose annotations break the rules. Values are encoded with
the transport's :func:`~syncclients.transports.streamable_http.encode_header_value`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..transports.streamable_http import encode_header_value

__all__ = ["HeaderSpec", "InvalidHeaderAnnotation", "header_specs", "param_headers"]

#: ``(path of property names, header name)`` pairs of one tool.
HeaderSpec = tuple[tuple[tuple[str, ...], str], ...]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 section 5.1 tchar
_PRIMITIVES = ("string", "integer", "boolean")
_SAFE_INT = 2**53 - 1


class InvalidHeaderAnnotation(ValueError):
    """A tool's ``x-mcp-header`` annotations break the spec's constraints."""


def header_specs(input_schema: Any) -> HeaderSpec:
    """The mirrored parameters of a tool, validated.

    Args:
        input_schema: the tool's ``inputSchema`` (a JSON Schema object).

    Returns:
        ``((path, header_name), ...)`` in schema order; empty when none is annotated.

    Raises:
        InvalidHeaderAnnotation: an empty or non-token name, a case-insensitive duplicate,
            or an annotation on a non-primitive (or ``number``) property.
    """
    found: list[tuple[tuple[str, ...], str]] = []

    def walk(schema: Any, path: tuple[str, ...]) -> None:
        if not isinstance(schema, Mapping):
            return
        if path and "x-mcp-header" in schema:
            name = schema["x-mcp-header"]
            where = "/".join(path)
            if not isinstance(name, str) or not name or not _TOKEN.match(name):
                raise InvalidHeaderAnnotation(f"{where}: x-mcp-header {name!r} is not a token")
            if schema.get("type") not in _PRIMITIVES:
                raise InvalidHeaderAnnotation(
                    f"{where}: x-mcp-header on type {schema.get('type')!r} "
                    "(only string, integer, boolean)"
                )
            found.append((path, name))
        props = schema.get("properties")
        if isinstance(props, Mapping):
            for key, sub in props.items():
                walk(sub, (*path, str(key)))

    walk(input_schema, ())
    seen: set[str] = set()
    for _, name in found:
        if name.lower() in seen:
            raise InvalidHeaderAnnotation(f"x-mcp-header {name!r} is not unique")
        seen.add(name.lower())
    return tuple(found)


def param_headers(specs: HeaderSpec, arguments: Mapping[str, Any]) -> dict[str, str]:
    """The ``Mcp-Param-*`` headers for one call.

    An argument that is absent or null sends no header. A value of the wrong type (not a
    string, integer or boolean, or an integer outside the JavaScript safe range) sends no
    header either: the server validates the body and answers with its own error.

    Returns:
        ``{"Mcp-Param-Name": encoded value}``.
    """
    headers: dict[str, str] = {}
    for path, name in specs:
        value: Any = arguments
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INT:
            continue
        if isinstance(value, str | int | bool):
            headers[f"Mcp-Param-{name}"] = encode_header_value(value)
    return headers
