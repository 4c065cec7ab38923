"""MCPClient over Streamable HTTP under injected faults: truncated and malformed SSE,
invalid JSON, unknown ids, oversized answers, slow answers, connection resets, a session
that expires mid-batch, and the official-SDK server killed and restarted mid-batch. For
each: exactly one outcome per call, bounded time, nothing left behind (autouse leak check).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncclients import (
    ConnectError,
    ConnectionLostError,
    MCPClient,
    ProtocolError,
    ResponseTooLargeError,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeout,
    TransportError,
)
from syncclients.errors import SessionExpiredError
from syncclients.transports.streamable_http import READ_GRACE_S, StreamableHTTPTransport

from .fake_mcp_http import FakeMCPServer
from .faults import FaultProxy, assert_one_outcome_each

SDK_SERVER = Path(__file__).parent / "servers" / "sdk_http.py"


def make(url: str, **options: object) -> MCPClient:
    options.setdefault("era", "legacy")
    options.setdefault("timeouts", (5.0, 10.0))
    return MCPClient.http(url, **options)  # type: ignore[arg-type]


@pytest.fixture
def fake() -> Iterator[FakeMCPServer]:
    with FakeMCPServer() as server:
        yield server


@pytest.fixture
def client(fake: FakeMCPServer) -> Iterator[MCPClient]:
    c = make(fake.url, breaker=None, max_body_bytes=256 * 1024)
    try:
        yield c.connect()
    finally:
        c.close()


def test_every_bad_answer_fails_only_its_own_call(client: MCPClient) -> None:
    calls = [
        ("echo", {"text": "a"}),
        ("truncated_sse", {}),
        ("json", {}),
        ("malformed_sse", {}),
        ("invalid_json", {}),
        ("unknown_id", {}),
        ("oversized_json", {"bytes": 1 << 20}),
        ("echo", {"text": "b"}),
    ] * 4
    started = time.monotonic()
    outcomes = client.call_tool_batch(calls, max_workers=8, deadline=20)
    assert time.monotonic() - started < 10
    assert_one_outcome_each(outcomes, len(calls))
    for (name, _), o in zip(calls, outcomes, strict=True):
        if name in ("echo", "json", "unknown_id"):
            assert o.ok, (name, o.error)
        elif name == "truncated_sse":
            assert isinstance(o.error, ConnectionLostError), o.error
        elif name == "oversized_json":
            assert isinstance(o.error, ResponseTooLargeError), o.error
        else:
            assert isinstance(o.error, ProtocolError), (name, o.error)
    texts = [o.result.text for (n, _), o in zip(calls, outcomes, strict=True) if n == "unknown_id"]
    assert texts == ["after strays"] * 4
    assert client.call_tool("echo", {"text": "still fine"}).text == "still fine"


def test_an_oversized_sse_event_fails_its_call_only(fake: FakeMCPServer) -> None:
    def transport() -> StreamableHTTPTransport:
        return StreamableHTTPTransport(fake.url, max_event_bytes=64 * 1024)

    with MCPClient(transport, era="legacy", breaker=None) as client:
        outcomes = client.call_tool_batch(
            [("oversized_event", {"bytes": 256 * 1024}), ("echo", {"text": "ok"})] * 3,
            max_workers=6,
            deadline=10,
        )
        assert_one_outcome_each(outcomes, 6)
        for o in outcomes[0::2]:
            assert isinstance(o.error, ProtocolError), o.error
        assert [o.result.text for o in outcomes[1::2] if o.result] == ["ok"] * 3


def test_answers_slower_than_the_timeout(client: MCPClient, fake: FakeMCPServer) -> None:
    started = time.monotonic()
    outcomes = client.call_tool_batch([("slow", {"ms": 3000})] * 6, max_workers=6, timeout=0.5)
    # A server that holds back even the headers (a JSON answer is sent only when ready) is
    # bounded by the POST's read timeout, which is the call's limit plus READ_GRACE_S.
    assert time.monotonic() - started < 0.5 + READ_GRACE_S + 0.75
    assert_one_outcome_each(outcomes, 6)
    assert all(isinstance(o.error, Timeout) for o in outcomes), [o.error for o in outcomes]


def test_session_expiring_mid_batch_is_renewed_for_idempotent_calls(fake: FakeMCPServer) -> None:
    with make(fake.url, breaker=None) as client:
        client.list_tools()
        fake.expire_after_calls = 10
        outcomes = client.call_tool_batch(
            [("echo_idem", {"text": str(i)}) for i in range(40)], max_workers=4, deadline=20
        )
    assert_one_outcome_each(outcomes, 40)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert [o.result.text for o in outcomes if o.result] == [str(i) for i in range(40)]
    assert fake.initializes == 2
    assert fake.expired_answers >= 1


def test_session_expiring_mid_batch_non_idempotent_calls_fail_once(fake: FakeMCPServer) -> None:
    with make(fake.url, breaker=None) as client:
        fake.expire_after_calls = 10
        outcomes = client.call_tool_batch(
            [("echo", {"text": str(i)}) for i in range(40)], max_workers=4, deadline=20
        )
    assert_one_outcome_each(outcomes, 40)
    failed = [o for o in outcomes if not o.ok]
    # only calls around the expiry fail: those that met the 404, and those sent on the
    # expired session before the client renewed it (rejected locally, never sent)
    assert 1 <= len(failed) <= 12, len(failed)
    assert all(isinstance(o.error, SessionExpiredError) for o in failed), [
        (o.index, repr(o.error)) for o in failed
    ]
    assert all(o.attempts == 1 for o in outcomes)
    assert fake.initializes == 2  # and a new session served the rest


@pytest.mark.parametrize("mode", ["reset_after_request", "truncate", "corrupt"])
def test_broken_connections_mid_session(fake: FakeMCPServer, mode: str) -> None:
    with FaultProxy(int(fake.http.url.rsplit(":", 1)[1])) as proxy:
        with make(proxy.url + "/mcp", breaker=None) as client:
            client.list_tools()
            proxy.mode = mode
            proxy.truncate_after = 120  # inside the headers or the first event
            started = time.monotonic()
            outcomes = client.call_tool_batch([("echo", {"text": "x"})] * 12, max_workers=4,
                                              deadline=20)  # fmt: skip
            assert time.monotonic() - started < 10
            assert_one_outcome_each(outcomes, 12)
            for o in outcomes:
                assert isinstance(o.error, TransportError | ProtocolError), o.error
            proxy.mode = "pass"
            assert client.call_tool("echo", {"text": "again"}).text == "again"


# -- the official-SDK server, killed and restarted mid-batch ---------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SDKServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SDK_SERVER), str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once it accepts connections (or EOF)
        assert line.startswith(b"listening"), line

    def kill(self) -> None:
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        self.proc = None


@pytest.fixture
def sdk_server() -> Iterator[SDKServer]:
    server = SDKServer(_free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _restart_during(server: SDKServer, after_s: float) -> threading.Thread:
    def run() -> None:
        time.sleep(after_s)  # the fault's moment inside the batch
        server.kill()
        server.start()

    thread = threading.Thread(target=run, name="restarter")
    thread.start()
    return thread


def test_sdk_server_restarted_mid_batch_idempotent_calls_all_succeed(sdk_server: SDKServer) -> None:
    url = f"http://127.0.0.1:{sdk_server.port}/mcp"
    retry = RetryPolicy(max_attempts=20, initial_delay_s=0.1, max_delay_s=0.5, deadline_s=None)
    with make(url, breaker=None, retry=retry, retry_budget=RetryBudgetPolicy(max_tokens=1000)) as c:
        c.list_tools()
        restarter = _restart_during(sdk_server, 0.5)
        started = time.monotonic()
        outcomes = c.call_tool_batch([("slow", {"ms": 200})] * 40, max_workers=8, deadline=30)
        elapsed = time.monotonic() - started
        restarter.join(30)
    assert elapsed < 30
    assert_one_outcome_each(outcomes, 40)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert max(o.attempts for o in outcomes) >= 2  # some calls were replayed


def test_sdk_server_restarted_mid_batch_non_idempotent_calls(sdk_server: SDKServer) -> None:
    url = f"http://127.0.0.1:{sdk_server.port}/mcp"
    with make(url, breaker=None) as client:
        restarter = _restart_during(sdk_server, 0.5)
        started = time.monotonic()
        outcomes = client.call_tool_batch(
            [("slow_once", {"ms": 200})] * 40, max_workers=8, deadline=30
        )
        elapsed = time.monotonic() - started
        restarter.join(30)
        # The first call after the restart may meet the old session (404): a non-idempotent
        # call is not replayed (the caller gets SessionExpiredError); the next one runs on a
        # new session.
        with contextlib.suppress(SessionExpiredError):
            client.call_tool("slow_once", {"ms": 1})
        assert client.call_tool("slow_once", {"ms": 1}).text == "slept 1"
    assert elapsed < 30
    assert_one_outcome_each(outcomes, 40)
    failed = [o for o in outcomes if not o.ok]
    assert failed, "the restart must have failed the calls in flight"
    for o in failed:  # never replayed after it may have run: one attempt, a transport error
        assert isinstance(o.error, ConnectionLostError | ConnectError | SessionExpiredError), (
            o.error
        )
