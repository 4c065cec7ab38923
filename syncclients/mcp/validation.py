"""Client-side checks of tool calls against the tool's JSON Schemas (extra ``mcp``:
``jsonschema``).

- :func:`validate_arguments`: the arguments against ``inputSchema`` before a call is sent
  (``MCPClient(validate_arguments=True)``).
- :func:`validate_structured_content`: a result's ``structuredContent`` against
  ``outputSchema`` (MCP server/tools "Output Schema": servers MUST provide structured
  results that conform, clients SHOULD validate them; ``MCPClient(validate_output=True)``).

A schema that is itself invalid is logged at WARNING and not enforced: the call goes on.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from ..errors import ToolArgumentsError, ToolOutputError, UsageError, excerpt
from .types import CallToolResult, Tool

__all__ = ["validate_arguments", "validate_structured_content"]

logger = logging.getLogger("syncclients.mcp")

#: Most schema violations named in one error message.
_MAX_REPORTED = 5


def _errors(schema: Mapping[str, Any], instance: Any, what: str, tool: str) -> str | None:
    """The violations of ``instance`` against ``schema`` joined in one line, or None.

    Raises:
        UsageError: jsonschema is not installed.
    """
    try:
        jsonschema: Any = importlib.import_module("jsonschema")
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise UsageError(
            "schema validation of MCP tools needs jsonschema: pip install 'syncclients[mcp]'"
        ) from exc
    try:
        validator = jsonschema.validators.validator_for(schema)(schema)
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    except jsonschema.exceptions.SchemaError as exc:
        logger.warning("tool %r has an invalid %s (%s); not validating", tool, what, exc)
        return None
    if not found:
        return None
    return "; ".join(
        f"{'/'.join(str(p) for p in e.path) or '<root>'}: {e.message}"
        for e in found[:_MAX_REPORTED]
    )


def validate_arguments(tool: Tool, arguments: Mapping[str, Any]) -> None:
    """Check ``arguments`` against ``tool.input_schema``.

    Raises:
        ToolArgumentsError: they do not match (the message names up to 5 violations).
        UsageError: jsonschema is not installed.
    """
    detail = _errors(tool.input_schema, dict(arguments), "inputSchema", tool.name)
    if detail is not None:
        raise ToolArgumentsError(f"arguments for tool {tool.name!r} are invalid: {detail}")


def validate_structured_content(
    tool: Tool, result: CallToolResult, *, target: str | None = None
) -> None:
    """Check ``result.structured_content`` against ``tool.output_schema``.

    Nothing is checked when the tool declares no output schema or the result is an error
    result (``isError``).

    Args:
        tool: the tool as listed (its ``outputSchema``).
        result: the call's result.
        target: the server's name for the error.

    Raises:
        ToolOutputError: the tool declares an output schema and the result has no
            structured content or content that does not match (carries ``.result``).
        UsageError: jsonschema is not installed.
    """
    schema = tool.output_schema
    if schema is None or result.is_error:
        return
    content = result.structured_content
    if content is None:
        raise ToolOutputError(
            f"tool {tool.name!r} declares an outputSchema but its result has no structuredContent",
            result=result,
            target=target,
        )
    detail = _errors(schema, content, "outputSchema", tool.name)
    if detail is not None:
        raise ToolOutputError(
            f"structuredContent of tool {tool.name!r} does not match its outputSchema: {detail}",
            result=result,
            excerpt=excerpt(json.dumps(content, default=str)),
            target=target,
        )
