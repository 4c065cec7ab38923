"""MCPClient over stdio against hostile servers (issue 10): bounded memory for a stderr
flood without newlines and an endless stdout line; the whole process tree gone after
``close()``; concurrent callers during a handshake that never completes; the connect
timeout bounding the connect; restart on the next call by default, paced when the server
keeps crashing."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncclients import (
    BreakerPolicy,
    CircuitOpenError,
    ConnectionLostError,
    ConnectTimeout,
    MCPClient,
    RetryPolicy,
    ServerExitedError,
    Timeout,
)
from syncclients.cli import main
from syncclients.transports.stdio import STDERR_LINE_BYTES

SERVERS = Path(__file__).parent / "servers"
HOSTILE = [sys.executable, str(SERVERS / "hostile_stdio.py")]
MISBEHAVING = [sys.executable, str(SERVERS / "misbehaving_stdio.py")]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc (Linux)")


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@contextlib.contextmanager
def peak_rss_growth() -> Iterator[Callable[[], int]]:
    """Samples our RSS every 10 ms; yields a function returning the peak growth so far."""
    base = rss_bytes()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            peak[0] = max(peak[0], rss_bytes())

    thread = threading.Thread(target=sample, name="rss-sampler")
    thread.start()
    try:
        yield lambda: max(peak[0], rss_bytes()) - base
    finally:
        stop.set()
        thread.join(5)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X")


def read_pid(path: Path) -> int:
    return int(path.read_text())


# -- 1. bounded memory ---------------------------------------------------------------------


def test_a_stderr_flood_without_newline_keeps_memory_bounded() -> None:
    with (
        MCPClient.stdio(HOSTILE, era="legacy", timeouts=(10, 60), breaker=None) as client,
        peak_rss_growth() as growth,
    ):
        assert client.call_tool("stderr_flood", {"mb": 200}).text == "flooded"
        assert growth() < 48 * 2**20, f"RSS grew by {growth() / 2**20:.0f} MiB"
        assert client.stderr_tail.startswith("eee")  # the unfinished line, cut
        assert len(client.stderr_tail) <= STDERR_LINE_BYTES + 3
        assert client.call_tool("echo", {"text": "still"}).text == "still"
    tail = client.stderr_tail
    assert len(tail.encode()) <= 40 * (STDERR_LINE_BYTES + 4)  # bounded in bytes


def test_a_stdout_line_that_never_ends_breaks_the_connection_with_bounded_memory() -> None:
    client = MCPClient.stdio(
        HOSTILE,
        era="legacy",
        timeouts=(10, 30),
        breaker=None,
        restart_on_exit=False,
        max_message_bytes=1 << 20,
    )
    with client, peak_rss_growth() as growth:
        started = time.monotonic()
        with pytest.raises(ConnectionLostError, match=r"exceeds 1048576 bytes"):
            client.call_tool("stdout_endless", {})
        assert time.monotonic() - started < 5
        assert growth() < 48 * 2**20
        with pytest.raises(ConnectionLostError, match="exceeds"):  # the connection is broken
            client.call_tool("echo", {"text": "x"})


# -- 2. the whole process tree goes away on close() ----------------------------------------


@pytest.mark.parametrize("ignore_stdin_close", [False, True], ids=["exits-on-eof", "sigterm"])
def test_close_stops_the_servers_child_that_ignores_sigterm(
    tmp_path: Path, ignore_stdin_close: bool
) -> None:
    child_file = tmp_path / "child.pid"
    command = [*HOSTILE, "--child-pid-file", str(child_file)]
    if ignore_stdin_close:
        command.append("--ignore-stdin-close")
    client = MCPClient.stdio(
        command, era="legacy", shutdown_grace_s=0.5, close_timeout_s=3.0, breaker=None
    )
    child = 0
    try:
        with client:
            child = read_pid(child_file)  # written before the server reads stdin
            assert alive(child)
            started = time.monotonic()
        elapsed = time.monotonic() - started
        assert not alive(child), "the server's child survived close()"
        assert elapsed < 3.0 + 0.5  # close_timeout_s bounds the whole close
    finally:
        if child and alive(child):
            os.kill(child, signal.SIGKILL)  # by pid: do not leak it when the test fails


def test_close_stops_the_group_after_the_server_exited_on_its_own(tmp_path: Path) -> None:
    child_file = tmp_path / "child.pid"
    command = [*HOSTILE, "--child-pid-file", str(child_file)]
    client = MCPClient.stdio(
        command, era="legacy", close_timeout_s=3.0, breaker=None, restart_on_exit=False
    )
    child = 0
    try:
        with client:
            child = read_pid(child_file)
            pid = client.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # the leader dies; its child lives on
            with pytest.raises(ServerExitedError):
                client.call_tool("echo", {"text": "x"}, timeout=5)
            assert alive(child)
        assert not alive(child), "the dead server's child survived close()"
    finally:
        if child and alive(child):
            os.kill(child, signal.SIGKILL)


# -- 3. concurrent callers and a handshake that never completes ----------------------------


def test_concurrent_callers_each_fail_within_their_own_connect_timeout() -> None:
    client = MCPClient.stdio(
        [*HOSTILE, "--silent"],
        era="legacy",
        timeouts=(2.0, 10.0),
        retry=RetryPolicy(max_attempts=1),
        breaker=None,
        shutdown_grace_s=0.2,
    )
    elapsed: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def caller() -> None:
        started = time.monotonic()
        try:
            client.list_tools()
        except Exception as exc:
            with lock:
                errors.append(exc)
        with lock:
            elapsed.append(time.monotonic() - started)

    try:
        threads = [threading.Thread(target=caller, name=f"caller-{i}") for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        client.close()
    assert max(elapsed) < 2.0 + 1.0, sorted(elapsed)  # before: 2, 4, 6, 8, 10, 12 s
    assert len(errors) == 6 and all(isinstance(e, ConnectTimeout) for e in errors), errors


def test_a_waiting_caller_keeps_its_own_deadline() -> None:
    client = MCPClient.stdio(
        [*HOSTILE, "--silent"],
        era="legacy",
        timeouts=(3.0, 10.0),
        retry=RetryPolicy(max_attempts=1),
        breaker=None,
        shutdown_grace_s=0.2,
    )
    first_done = threading.Event()

    def leader() -> None:
        with contextlib.suppress(ConnectTimeout):
            client.list_tools()
        first_done.set()

    try:
        thread = threading.Thread(target=leader, name="leader")
        thread.start()
        started = time.monotonic()
        (outcome,) = client.call_tool_batch([("echo", {"text": "x"})], timeout=1.0)
        assert time.monotonic() - started < 1.0 + 0.75
        assert isinstance(outcome.error, Timeout), outcome.error
        assert not first_done.is_set()  # it waited on the leader's handshake, not a lock
        thread.join(10)
    finally:
        client.close()


# -- 4. the connect timeout bounds the connect ---------------------------------------------


@pytest.mark.parametrize("era", ["legacy", "auto"])
def test_the_connect_timeout_bounds_the_connect(tmp_path: Path, era: str) -> None:
    pids = tmp_path / "pids"
    client = MCPClient.stdio(
        [*HOSTILE, "--silent", "--pid-file", str(pids)],
        era=era,  # type: ignore[arg-type]
        timeouts=(1.5, 10.0),
        breaker=None,
        shutdown_grace_s=0.2,
    )  # default retry: 3 attempts
    try:
        started = time.monotonic()
        with pytest.raises(ConnectTimeout) as info:
            client.list_tools()
        elapsed = time.monotonic() - started
    finally:
        client.close()
    assert elapsed < 1.5 + 0.75  # before: three fresh processes, 3 x 1.5 s and more
    assert len(pids.read_text().split()) == 1  # one process: a timed-out connect is final
    message = str(info.value)
    assert "cancelled" not in message
    assert not re.search(r"-\d", message.replace(str(tmp_path), "")), message
    assert "1.500 s" in message
    if era == "auto":
        assert "server/discover" in message and "initialize not sent" in message


def test_cli_connect_timeout_bounds_the_command() -> None:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = main(
        ["--stdio", shlex.join([*HOSTILE, "--silent"]), "--connect-timeout", "1.5", "tools"],
        stdout=out,
        stderr=err,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 1.0  # before: 3 fresh processes (about 3 x 1.5 s and more)
    assert code == 2, err.getvalue()  # --help: 2 is a connection error
    assert "ConnectTimeout" in err.getvalue() and "cancelled" not in err.getvalue()


# -- 5. restart on the next call by default, paced ------------------------------------------


def test_a_crashed_server_is_restarted_on_the_next_call_by_default() -> None:
    with MCPClient.stdio(MISBEHAVING, era="legacy", breaker=None) as client:
        first = client.pid
        with pytest.raises(ServerExitedError):
            client.call_tool("die", {"code": 3})
        assert client.call_tool("echo", {"text": "back"}).text == "back"
        assert client.pid not in (None, first)


def test_a_crash_looping_server_is_not_restarted_in_a_tight_loop() -> None:
    with MCPClient.stdio(MISBEHAVING, era="legacy", breaker=None) as client:
        pids = {client.pid}
        paced = 0
        started = time.monotonic()
        while time.monotonic() - started < 1.2:
            with pytest.raises(ServerExitedError) as info:
                client.call_tool("die", {"code": 3})
            pids.add(client.pid)
            paced += "not restarted yet" in str(info.value)
        # restarts at about 0 s, then after 0.5 s, 1 s, ...: at most 3 processes in 1.2 s
        assert 2 <= len(pids) <= 3, pids
        assert paced >= 1


def test_restarts_happen_only_on_calls_the_breaker_admits() -> None:
    breaker = BreakerPolicy(failure_threshold=1, recovery_timeout_s=0.6)
    with MCPClient.stdio(MISBEHAVING, era="legacy", breaker=breaker) as client:
        first = client.pid
        with pytest.raises(ServerExitedError):
            client.call_tool("die", {"code": 3})
        for _ in range(20):  # open: rejected without starting anything
            with pytest.raises(CircuitOpenError):
                client.call_tool("echo", {"text": "x"})
        assert client.pid == first
        deadline = time.monotonic() + 5
        while True:  # the half-open probe restarts the server
            try:
                assert client.call_tool("echo", {"text": "probe"}).text == "probe"
                break
            except CircuitOpenError:
                assert time.monotonic() < deadline
                time.sleep(0.05)  # polling a bounded wait for the breaker's recovery time
        assert client.pid not in (None, first)
