"""Tool permissions of the servers of an :class:`~syncclients.mcp.group.MCPGroup`.

Each server may have an allow list and a deny list of tool names or glob patterns
(:mod:`fnmatch`, case-sensitive: ``*``, ``?``, ``[seq]``). A tool is allowed when the allow
list is absent or one of its patterns matches, and no deny pattern matches (deny wins). A
denied tool is left out of :meth:`MCPGroup.list_tools` and calling it raises
:class:`~syncclients.errors.ToolNotAllowedError` before anything is sent.

In an ``mcpServers`` entry the lists are ``includeTools`` and ``excludeTools`` (the names
Gemini CLI uses for the same filter)::

    {"mcpServers": {"fs": {"command": "mcp-fs", "includeTools": ["read_*", "list_dir"],
                           "excludeTools": ["read_secrets"]}}}
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ToolNotAllowedError, UsageError

__all__ = ["ALLOW_ALL", "ToolPermissions"]


def _patterns(value: Iterable[str] | None, label: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(p, str) and p for p in value):
        raise UsageError(f"{label} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class ToolPermissions:
    """Which tools of one server may be listed and called. Immutable, thread-safe.

    Attributes:
        allow: tool names or glob patterns; None: every tool not denied; ``()``: none.
        deny: tool names or glob patterns that are never allowed (they win over ``allow``).
    """

    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, allow: Iterable[str] | None = None, deny: Iterable[str] | None = None
    ) -> ToolPermissions:
        """Permissions from any iterables of patterns.

        Raises:
            UsageError: a pattern that is not a non-empty string.
        """
        return cls(_patterns(allow, "allow"), _patterns(deny, "deny") or ())

    @classmethod
    def from_entry(cls, raw: Mapping[str, Any], where: str = "entry") -> ToolPermissions:
        """The ``includeTools`` / ``excludeTools`` of an ``mcpServers`` entry.

        Raises:
            UsageError: either is not a list of non-empty strings.
        """
        return cls(
            _patterns(raw.get("includeTools"), f"{where}: includeTools"),
            _patterns(raw.get("excludeTools"), f"{where}: excludeTools") or (),
        )

    def allows(self, tool: str) -> bool:
        """Whether ``tool`` may be listed and called."""
        if any(fnmatch.fnmatchcase(tool, p) for p in self.deny):
            return False
        return self.allow is None or any(fnmatch.fnmatchcase(tool, p) for p in self.allow)

    def check(self, server: str, tool: str) -> None:
        """Raise unless ``tool`` of ``server`` is allowed.

        Raises:
            ToolNotAllowedError: it is denied (names the server, the tool and the rule).
        """
        if self.allows(tool):
            return
        denied_by = next((p for p in self.deny if fnmatch.fnmatchcase(tool, p)), None)
        why = f"deny pattern {denied_by!r}" if denied_by else "not in the allow list"
        raise ToolNotAllowedError(
            f"tool {tool!r} of MCP server {server!r} is not allowed ({why}); nothing was sent",
            server=server,
            tool=tool,
        )


#: Every tool allowed.
ALLOW_ALL = ToolPermissions()
