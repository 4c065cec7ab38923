"""The `syncclients` CLI against real MCP servers: mcp-server-time (PyPI) over stdio and the
reference server @modelcontextprotocol/server-everything (npm) over stdio.

    python examples/real_servers.py

It writes an ``mcpServers`` config (the format MCP hosts use) to a temporary file, then runs
the same commands a user would type, e.g.::

    syncclients --config mcp.json servers
    syncclients --config mcp.json tools time
    syncclients --config mcp.json call time get_current_time timezone=Europe/Paris
    syncclients --config mcp.json --json call everything get-sum a=2 b=3
    syncclients --config mcp.json batch calls.jsonl
    syncclients --config mcp.json ping

Prerequisites: ``pip install mcp-server-time`` (in the dev extra) and the npm server in
``.npm-servers/`` (``bash scripts/install-npm-servers.sh``; needs node). A server that is not
installed is left out of the config, and the script says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVERYTHING = (
    ROOT / ".npm-servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)


def config() -> dict[str, dict[str, object]]:
    servers: dict[str, dict[str, object]] = {}
    time_server = shutil.which("mcp-server-time") or str(
        Path(sys.executable).parent / "mcp-server-time"
    )
    if Path(time_server).exists():
        servers["time"] = {"command": time_server, "args": ["--local-timezone", "UTC"]}
    else:
        print("mcp-server-time is not installed: pip install mcp-server-time", file=sys.stderr)
    node = shutil.which("node")
    if node and EVERYTHING.exists():
        servers["everything"] = {"command": node, "args": [str(EVERYTHING), "stdio"]}
    else:
        print(
            "server-everything is not installed: bash scripts/install-npm-servers.sh",
            file=sys.stderr,
        )
    return {"mcpServers": servers}


def syncclients(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "syncclients", "--config", str(cfg), *args]
    print("$ syncclients --config mcp.json " + " ".join(args), flush=True)
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    print(proc.stdout.rstrip())
    if proc.stderr.strip():
        print(proc.stderr.rstrip(), file=sys.stderr)
    print(f"(exit {proc.returncode})\n", flush=True)
    return proc


def main() -> int:
    cfg_data = config()
    servers = cfg_data["mcpServers"]
    if not servers:
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "mcp.json"
        cfg.write_text(json.dumps(cfg_data, indent=2), encoding="utf-8")
        failures = 0
        failures += syncclients(cfg, "servers").returncode != 0
        failures += syncclients(cfg, "ping").returncode != 0
        if "time" in servers:
            failures += syncclients(cfg, "tools", "time").returncode != 0
            failures += (
                syncclients(
                    cfg, "call", "time", "get_current_time", "timezone=Europe/Paris"
                ).returncode
                != 0
            )
        if "everything" in servers:
            failures += (
                syncclients(cfg, "--json", "call", "everything", "get-sum", "a=2", "b=3").returncode
                != 0
            )
            failures += syncclients(cfg, "prompts", "everything").returncode != 0
        calls = Path(tmp) / "calls.jsonl"
        lines = []
        if "time" in servers:
            lines += [
                {"server": "time", "tool": "get_current_time", "arguments": {"timezone": tz}}
                for tz in ("UTC", "Asia/Tokyo", "America/New_York")
            ]
        if "everything" in servers:
            lines += [
                {"server": "everything", "tool": "echo", "arguments": {"message": f"hi {i}"}}
                for i in range(3)
            ]
        calls.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        failures += syncclients(cfg, "batch", str(calls)).returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
