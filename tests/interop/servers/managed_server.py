"""An official-SDK MCPServer for the server-management tests of MCPGroup.

Run as ``python managed_server.py [label]``; serves over stdio. Its tools report what the
process sees (environment, working directory, resource limits), grow the tool list at run
time (announced with ``notifications/tools/list_changed``), and hold a call open.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations

LABEL = sys.argv[1] if len(sys.argv) > 1 else "managed"
mcp = MCPServer(f"managed-{LABEL}")


@mcp.tool(annotations=ToolAnnotations(readOnlyHint=True))
def whoami() -> dict[str, object]:
    """The server's label, pid, environment names, working directory and rlimits."""
    limits = {
        "as": resource.getrlimit(resource.RLIMIT_AS)[0],
        "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }
    return {
        "label": LABEL,
        "pid": os.getpid(),
        "env": sorted(os.environ),
        "cwd": os.getcwd(),
        "limits": limits,
    }


@mcp.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@mcp.tool()
def secret_login(user: str, password: str) -> str:
    """Pretend to log in (for permission and audit tests)."""
    return f"hello {user}"


@mcp.tool()
async def hold(seconds: float) -> str:
    """Answer after ``seconds``."""
    await asyncio.sleep(seconds)
    return f"held {LABEL}"


@mcp.tool(structured_output=True)
def typed(n: int) -> dict[str, int]:
    """A structured result (declares an outputSchema)."""
    return {"double": 2 * n}


@mcp.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool ``name`` (it echoes ``name``) and announce the change."""

    def added() -> str:
        return name

    mcp.add_tool(added, name=name, description=f"added at run time: {name}")
    await ctx.session.send_tool_list_changed()
    return f"added {name}"


if __name__ == "__main__":
    mcp.run()
