"""``syncclients demo`` end to end (a real subprocess, bounded), the demo server's HTTP mode,
and ``python -m syncclients``."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from syncclients.demo.run import EXPECTED_FAILURES, EXPECTED_RETRIES, demo_calls, percentile

from .conftest import DEMO_STDIO, ROOT

#: Seconds a whole ``syncclients demo`` run may take here (it takes about 3 s).
DEMO_LIMIT_S = 100


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _syncclients(*argv: str, timeout_s: float = DEMO_LIMIT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncclients", *argv],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=_env(),
        cwd=ROOT,
        check=False,
    )


def test_demo_over_stdio_end_to_end() -> None:
    proc = _syncclients("demo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Connected to syncclients-demo 1.0.0" in out
    assert "6 tools:" in out
    assert re.search(r"Summary: 100 calls to syncclients-demo 1\.0\.0 over stdio", out)
    assert re.search(r"succeeded\s+96\n", out)
    assert re.search(r"failed\s+4 \(as designed\)", out)
    assert "4 x divide: Error executing tool divide: cannot divide by zero" in out
    assert re.search(r"latency\s+p50 \d+ ms\s+p95 \d+ ms\s+max \d+ ms", out)
    retries = re.search(r"retries\s+(\d+) \((\d+) calls retried, (\d+) recovered\)", out)
    assert retries, out
    # 3 flaky calls by design (a slow call may also time out once on a loaded machine).
    assert int(retries.group(2)) == int(retries.group(3)) >= EXPECTED_RETRIES
    assert re.search(r"breaker\s+closed", out)
    hits = re.search(r"cache\s+(\d+) hits, (\d+) misses", out)
    assert hits and int(hits.group(1)) >= 15  # 20 lookups of 5 items
    assert "Result: as designed" in out
    # The progress bar went to stderr, not into the summary.
    assert "100/100" in proc.stderr
    assert "100/100" not in out


def test_demo_json_summary() -> None:
    proc = _syncclients("demo", "--json", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    report = json.loads(proc.stdout)
    assert report["transport"] == "stdio"
    assert report["calls"] == len(demo_calls()) == 100
    assert (report["succeeded"], report["failed"]) == (100 - EXPECTED_FAILURES, EXPECTED_FAILURES)
    assert report["retried_calls"] == report["recovered"] >= EXPECTED_RETRIES
    assert report["breaker_state"] == "closed"
    assert report["cache_hits"] >= 15
    assert report["as_designed"] is True
    assert 0 < report["p50_s"] <= report["p95_s"] <= report["max_s"]
    flaky = next(row for row in report["per_tool"] if row["tool"] == "flaky")
    assert (flaky["calls"], flaky["ok"], flaky["retries"]) == (3, 3, 3)
    assert sorted(report["tools"]) == ["add", "divide", "echo", "flaky", "lookup", "slow"]


def test_demo_over_http() -> None:
    proc = _syncclients("demo", "--http", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"over http \(MCP [\d-]+\)", proc.stdout)
    assert "Result: as designed" in proc.stdout


@contextmanager
def _http_demo_server() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncclients.demo.server", "--http"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        line = lines.get(timeout=30)
        assert line.startswith("listening on http://127.0.0.1:"), line
        yield proc, line.split()[-1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        stdout.close()


def test_demo_server_http_mode_binds_loopback_and_answers() -> None:
    with _http_demo_server() as (proc, url):
        assert url.endswith("/mcp")
        response = requests.post(
            url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "test", "version": "0"},
                },
            },
            headers={"Accept": "application/json, text/event-stream"},
            timeout=10,
        )
        assert response.status_code == 200
        assert "syncclients-demo" in response.text
        assert proc.poll() is None


def test_python_dash_m_syncclients_call() -> None:
    proc = _syncclients("--stdio", DEMO_STDIO, "call", "add", "a=20", "b=22", timeout_s=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "42\n", "")


def test_python_dash_m_syncclients_usage_error() -> None:
    proc = _syncclients("frobnicate", timeout_s=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [([], 50, 0.0), ([3.0], 95, 3.0), ([4.0, 1.0, 3.0, 2.0], 50, 2.0), ([*range(1, 101)], 95, 95)],
)
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


def test_demo_calls_are_about_100_with_the_designed_mix() -> None:
    calls = demo_calls()
    assert len(calls) == 100
    assert calls == demo_calls()  # deterministic
    tools = [tool for tool, _ in calls]
    assert tools.count("flaky") == EXPECTED_RETRIES
    assert sum(1 for t, a in calls if t == "divide" and a["b"] == 0) == EXPECTED_FAILURES
    slow = [a["ms"] for t, a in calls if t == "slow"]
    assert min(slow) >= 50
    assert max(slow) <= 300
