"""The syncclients CLI against real servers: mcp-server-time (stdio), server-everything
(stdio via a config file, and Streamable HTTP via --url), and examples/real_servers.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mcp_http_helpers import EVERYTHING, ROOT, ServerProcess

TIME_SERVER = str(Path(sys.executable).parent / "mcp-server-time")


def cli(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncclients", *args],
        capture_output=True, text=True, timeout=timeout_s, check=False, cwd=ROOT,
    )  # fmt: skip


def test_time_server_inline_stdio() -> None:
    stdio = f"{TIME_SERVER} --local-timezone UTC"
    tools = cli("--json", "tools", "--stdio", stdio)
    assert tools.returncode == 0, tools.stderr
    names = {t["tool"] for t in json.loads(tools.stdout)}
    assert names == {"get_current_time", "convert_time"}
    call = cli("--json", "call", "get_current_time", "timezone=Asia/Tokyo", "--stdio", stdio)
    assert call.returncode == 0, call.stderr
    assert json.loads(call.stdout)["result"]["timezone"] == "Asia/Tokyo"
    unknown = cli("call", "no_such_tool", "--stdio", stdio)  # a -32602 protocol error
    assert unknown.returncode == 1
    assert len(unknown.stderr.strip().splitlines()) == 1  # one clear line, no traceback
    assert "Traceback" not in unknown.stderr


def test_everything_from_config_and_over_http(tmp_path: Path, everything: ServerProcess) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "time": {"command": TIME_SERVER},
                    "everything": {"command": "node", "args": [str(EVERYTHING), "stdio"]},
                    "everything-http": {"type": "http", "url": everything.base + "/mcp"},
                }
            }
        )
    )
    ping = cli("--config", str(config), "--json", "ping")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert {row["server"] for row in json.loads(ping.stdout) if row["ok"]} == {
        "time", "everything", "everything-http",
    }  # fmt: skip
    for server in ("everything", "everything-http"):
        call = cli("--config", str(config), "--json", "call", server, "get-sum", "a=20", "b=22")
        assert call.returncode == 0, call.stderr
        assert "42" in json.dumps(json.loads(call.stdout)["result"])
    url_call = cli("--json", "call", "echo", "message=over http", "--url", everything.base + "/mcp")
    assert url_call.returncode == 0, url_call.stderr
    assert "over http" in url_call.stdout
    calls = tmp_path / "calls.jsonl"
    calls.write_text(
        "".join(
            json.dumps(line) + "\n"
            for line in [
                {"server": "time", "tool": "get_current_time", "arguments": {"timezone": "UTC"}},
                {"server": "everything", "tool": "echo", "arguments": {"message": "a"}},
                {"server": "everything-http", "tool": "get-sum", "arguments": {"a": 1, "b": 1}},
                {
                    "server": "time",
                    "tool": "get_current_time",
                    "arguments": {"timezone": "Bad/Zone"},
                },
            ]
        )
    )
    batch = cli("--config", str(config), "batch", str(calls))
    assert batch.returncode == 1  # one call failed: the exit code says so
    rows = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert [r["ok"] for r in rows] == [True, True, True, False]
    assert rows[3]["error"]


def test_real_servers_example_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "real_servers.py")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not installed" not in proc.stderr  # both servers were really used
    assert '"datetime"' in proc.stdout
    assert "The sum of 2 and 3 is 5." in proc.stdout
