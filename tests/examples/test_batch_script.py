"""examples/batch_script.py as a user runs it: a subprocess, JSONL in and out, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "batch_script.py"


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--no-progress", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=cwd,
    )


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_all_succeed_exit_0_results_in_input_order(tmp_path: Path) -> None:
    calls = [{"id": f"n{i}", "tool": "add", "arguments": {"a": i, "b": 1}} for i in range(20)]
    calls.insert(5, {"tool": "echo", "arguments": {"text": "hi"}})  # no id: its line number
    source = write_jsonl(tmp_path / "in.jsonl", calls)
    with source.open("a", encoding="utf-8") as f:
        f.write("\n")  # blank lines are skipped
    out = tmp_path / "out.jsonl"

    proc = run("--input", source, "--output", out, "--workers", "4", cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    results = read_jsonl(out)
    assert len(results) == 21
    assert results[5] == {
        "id": 6,
        "tool": "echo",
        "status": "ok",
        "result": {"result": "hi"},
        "error": None,
        "attempts": 1,
        "duration_s": results[5]["duration_s"],
    }
    sums = [r for r in results if r["tool"] == "add"]
    assert [r["id"] for r in sums] == [f"n{i}" for i in range(20)]
    assert [r["result"] for r in sums] == [{"result": i + 1} for i in range(20)]
    assert all(r["status"] == "ok" and r["error"] is None for r in results)
    assert "21 calls: 21 ok, 0 failed" in proc.stdout  # the summary (results are in the file)


def test_some_fail_exit_1_and_each_failure_is_reported(tmp_path: Path) -> None:
    calls = [
        {"id": "ok", "tool": "add", "arguments": {"a": 1, "b": 2}},
        {"id": "zero", "tool": "divide", "arguments": {"a": 1, "b": 0}},
        {"id": "missing", "tool": "no_such_tool", "arguments": {}},
        {"id": "ok2", "tool": "lookup", "arguments": {"item": "eggs"}},
    ]
    source = write_jsonl(tmp_path / "in.jsonl", calls)
    out = tmp_path / "out.jsonl"

    proc = run("--input", source, "--output", out, cwd=tmp_path)

    assert proc.returncode == 1, proc.stderr
    results = {r["id"]: r for r in read_jsonl(out)}
    assert list(results) == ["ok", "zero", "missing", "ok2"]
    assert results["ok"]["status"] == "ok"
    assert results["ok2"]["result"]["item"] == "eggs"
    assert results["zero"]["status"] == "tool_error"
    assert results["zero"]["result"] is None
    assert "cannot divide by zero" in results["zero"]["error"]
    # An unknown tool: the server answers isError or a JSON-RPC error; a failure either way.
    assert results["missing"]["status"] in ("tool_error", "error")
    assert "no_such_tool" in results["missing"]["error"]
    assert "4 calls: 2 ok, 2 failed" in proc.stdout
    assert "id=zero" in proc.stdout and "id=missing" in proc.stdout


def test_config_and_server_name(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "other": {"command": "/nonexistent/never-started"},
                    "demo": {"command": sys.executable, "args": ["-m", "syncclients.demo.server"]},
                }
            }
        ),
        encoding="utf-8",
    )
    source = write_jsonl(tmp_path / "in.jsonl", [{"tool": "add", "arguments": {"a": 2, "b": 2}}])
    out = tmp_path / "out.jsonl"

    proc = run(
        "--input", source, "--output", out, "--config", config, "--server", "demo", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert read_jsonl(out)[0]["result"] == {"result": 4}

    # A server that cannot start is a run-time failure (1), not a usage error.
    proc = run(
        "--input", source, "--output", out, "--config", config, "--server", "other", cwd=tmp_path
    )
    assert proc.returncode == 1
    assert "cannot start MCP server 'other'" in proc.stderr


def test_results_to_stdout_summary_to_stderr(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"tool": "add", "arguments": {"a": 1, "b": 1}}])
    proc = run("--input", source, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["result"] for line in proc.stdout.splitlines()] == [{"result": 2}]
    assert "1 calls: 1 ok, 0 failed" in proc.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [{"tool": "add", "arguments": {}}])
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"tool": "add"}\n{not json\n', encoding="utf-8")
    no_tool = write_jsonl(tmp_path / "no_tool.jsonl", [{"arguments": {}}])
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"a": {"command": "x"}}}), encoding="utf-8")
    cases: list[tuple[tuple[str | Path, ...], str]] = [
        (("--input", tmp_path / "missing.jsonl"), "missing.jsonl"),
        (("--input", bad_json), "bad.jsonl:2: not JSON"),
        (("--input", no_tool), "no_tool.jsonl:1: 'tool' must be"),
        (("--input", good, "--config", config), "--config needs --server"),
        (("--input", good, "--config", config, "--server", "b"), "has no server 'b'"),
        (("--input", good, "--workers", "0"), "--workers must be >= 1"),
        (("--bogus",), "unrecognized arguments"),
    ]
    for args, message in cases:
        proc = run(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert proc.stdout == ""
