"""bench/run.py works: its smallest mode starts the servers, runs every variant in its own
process and writes the tables. It checks the tool, never the speed (benchmarks are not
tests; the numbers live in bench/README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_run_writes_every_table(tmp_path: Path) -> None:
    out = tmp_path / "table.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--output", str(out)],
        capture_output=True,
        timeout=100,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    table = out.read_text()
    for heading in (
        "### MCP call latency and client CPU per call",
        "### Batch: 200 calls to a 50 ms tool",
        "### HTTPClient vs a bare `requests.Session`",
        "### Resources over",
    ):
        assert heading in table
    for row in (
        "| http | 1 | syncclients MCPClient |",
        "| stdio | 1 | official, persistent loop thread |",
        "| http | 1 | official, `asyncio.run` per call |",
        "| http | 1 | bare `requests` POST (floor) |",
        "| MCPClient stdio |",
        "| MCPClient HTTP |",
        "| HTTPClient |",
    ):
        assert row in table, row
