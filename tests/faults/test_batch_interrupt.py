"""Ctrl-C during an MCP batch against a real stdio server that records what it ran and which
cancellations it got: running calls are cancelled on the server and reported interrupted
(outcome unknown); only calls never sent are CallCancelledError."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncclients import CallCancelledError, CallInterruptedError, MCPClient
from syncclients.batch import BatchInterrupted

SERVER = Path(__file__).parent / "servers" / "recording_stdio.py"


def read_log(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_log(path: Path, predicate, timeout_s: float = 10.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout_s
    while True:
        entries = read_log(path)
        if predicate(entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.02)  # polling a file the server appends to, bounded by timeout_s


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "server.log"


@pytest.fixture
def client(log: Path) -> Iterator[MCPClient]:
    c = MCPClient.stdio([sys.executable, str(SERVER), str(log)], era="legacy", shutdown_grace_s=1.0)
    try:
        yield c.connect()
    finally:
        c.close()


def ctrl_c_when(log: Path, predicate) -> threading.Thread:
    """SIGINT the main thread (as Ctrl-C does) once the server log satisfies predicate."""
    main = threading.main_thread().ident
    assert main is not None

    def run() -> None:
        wait_for_log(log, predicate)
        signal.pthread_kill(main, signal.SIGINT)

    thread = threading.Thread(target=run, name="ctrl-c")
    thread.start()
    return thread


def test_ctrl_c_cancels_running_calls_on_the_server_and_reports_them_interrupted(
    client: MCPClient, log: Path
) -> None:
    assert threading.current_thread() is threading.main_thread()
    calls = [("work", {"id": i, "ms": 30_000}) for i in range(6)]
    ran = lambda entries: sum(1 for e in entries if "ran" in e) >= 3  # noqa: E731
    killer = ctrl_c_when(log, ran)
    started = time.monotonic()
    try:
        with pytest.raises(BatchInterrupted) as info:
            client.call_tool_batch(calls, max_workers=3, deadline=20.0)
    finally:
        killer.join(15)
    assert time.monotonic() - started < 15
    outcomes = info.value.outcomes
    assert len(outcomes) == 6
    entries = wait_for_log(log, lambda es: sum(1 for e in es if "cancelled" in e) >= 3)
    ran_ids = sorted(e["ran"] for e in entries if "ran" in e)
    ran_rids = sorted(e["rid"] for e in entries if "ran" in e)
    cancelled_rids = sorted(e["cancelled"] for e in entries if "cancelled" in e)
    interrupted = [o.index for o in outcomes if o.status == "interrupted"]
    not_sent = [o.index for o in outcomes if o.status == "cancelled"]
    # what the server ran is exactly what we report as interrupted (never "not run") ...
    assert interrupted == ran_ids == [0, 1, 2]
    assert all(isinstance(outcomes[i].error, CallInterruptedError) for i in interrupted)
    assert all(outcomes[i].attempts == 1 for i in interrupted)
    # ... each of them got notifications/cancelled, with the reason ...
    assert cancelled_rids == ran_rids
    assert {e["reason"] for e in entries if "cancelled" in e} == {"interrupted"}
    # ... and only calls never sent are CallCancelledError
    assert not_sent == [3, 4, 5]
    assert all(type(outcomes[i].error) is CallCancelledError for i in not_sent)
    assert not any("done" in e for e in entries)
    assert "3 interrupted while running" in str(info.value)
    # the client still works after the interrupt
    assert client.call_tool("work", {"id": 99, "ms": 0}).text == "work 99"
