"""A slow or hostile OAuth token endpoint cannot hold callers past their deadline (issue 10).

The token endpoint here is a raw TCP server on 127.0.0.1 that answers one byte every 1.5 s
(always within the 10 s read timeout), from the status line on or after prompt headers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from syncclients import HTTPClient
from syncclients.errors import DeadlineExceeded, ResponseTooLargeError, Timeout
from syncclients.http.auth import OAuth2ClientCredentials
from syncclients.testing import LocalHTTPServer, Reply

SECRET = "client-secret-xyz"
TOKEN_BODY = json.dumps({"access_token": "at-1", "expires_in": 3600}).encode()


@dataclass
class TricklingTokenServer:
    """Answers every request with ``head`` at once, then ``body`` one byte per ``every_s``."""

    head: bytes
    body: bytes
    every_s: float = 1.5
    prompt_after: int | None = None  # connections after this many get the whole answer at once
    connections: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _sock: socket.socket | None = None

    @property
    def url(self) -> str:
        assert self._sock is not None
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/token"

    def start(self) -> TricklingTokenServer:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self._spawn(self._accept)
        return self

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(t)
        t.start()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._spawn(self._serve, conn, self.connections)

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
            try:
                if self.prompt_after is not None and number > self.prompt_after:
                    conn.sendall(self.head + self.body)
                    return
                if self.head:
                    conn.sendall(self.head)
                for i in range(len(self.body)):
                    if self._stop.wait(self.every_s):
                        return
                    conn.sendall(self.body[i : i + 1])
            except OSError:
                return  # the client gave up and closed

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
        for t in self._threads:
            t.join(5)


def _response(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


@pytest.fixture(params=["trickled-body", "trickled-status-line"])
def slow_token(request: pytest.FixtureRequest) -> Iterator[TricklingTokenServer]:
    whole = _response(TOKEN_BODY)
    split = whole.index(b"\r\n\r\n") + 4
    head, body = (
        (whole[:split], whole[split:]) if request.param == "trickled-body" else (b"", whole)
    )
    srv = TricklingTokenServer(head, body).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_ten_callers_with_deadline_3s_end_within_it(
    server: LocalHTTPServer, slow_token: TricklingTokenServer
) -> None:
    server.routes[("GET", "/data")] = lambda _i: Reply(200, {"ok": 1})
    auth = OAuth2ClientCredentials(slow_token.url, "cid", SECRET)
    durations: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)
    with HTTPClient(server.url, auth=auth, hooks=[], pool_maxsize=10) as client:

        def work() -> None:
            barrier.wait(10)
            started = time.monotonic()
            try:
                client.get("data", deadline_s=3)
            except BaseException as exc:
                with lock:
                    errors.append(exc)
            finally:
                with lock:
                    durations.append(time.monotonic() - started)

        threads = [threading.Thread(target=work) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    auth.close()
    assert len(durations) == 10
    assert max(durations) < 4.5, durations  # 3 s deadline + scheduling slack (2 shared cores)
    assert len(errors) == 10
    assert all(isinstance(e, Timeout) for e in errors), errors
    assert all(SECRET not in str(e) for e in errors)
    assert server.count("GET", "/data") == 0  # no request went out without a token
    assert slow_token.connections == 1  # single flight: one fetch, nobody retries it late


def test_waiter_is_bounded_by_its_own_deadline_not_the_fetch(
    slow_token: TricklingTokenServer,
) -> None:
    """One thread's long fetch does not hold a short-deadline caller behind a lock."""
    auth = OAuth2ClientCredentials(slow_token.url, "cid", SECRET, fetch_timeout_s=3)
    leader_error: list[BaseException] = []

    def lead() -> None:
        try:
            auth.token(timeout_s=3)
        except BaseException as exc:
            leader_error.append(exc)

    leader = threading.Thread(target=lead)
    leader.start()
    deadline = time.monotonic() + 5
    while slow_token.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # poll (bounded) until the leader's fetch is on the wire
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="another thread"):
        auth.token(timeout_s=0.5)
    waited = time.monotonic() - started
    leader.join(15)
    auth.close()
    assert waited < 1.5
    assert len(leader_error) == 1 and isinstance(leader_error[0], DeadlineExceeded)


def test_token_without_deadline_is_bounded_by_fetch_timeout(
    slow_token: TricklingTokenServer,
) -> None:
    auth = OAuth2ClientCredentials(slow_token.url, "cid", SECRET, fetch_timeout_s=2)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        auth.token()
    auth.close()
    assert time.monotonic() - started < 3.5


def test_oversized_token_response_is_refused_early() -> None:
    big = b'{"access_token": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    srv = TricklingTokenServer(_response(big), b"", every_s=0).start()
    try:
        auth = OAuth2ClientCredentials(srv.url, "cid", SECRET)
        with pytest.raises(ResponseTooLargeError):
            auth.token(timeout_s=5)
        auth.close()
    finally:
        srv.stop()


def test_chunked_oversized_token_response_is_cut_at_the_limit(server: LocalHTTPServer) -> None:
    big = {"access_token": "a" * (200 * 1024)}
    server.routes[("POST", "/token")] = lambda _i: Reply(200, big)
    auth = OAuth2ClientCredentials(f"{server.url}/token", "cid", SECRET)
    with pytest.raises(ResponseTooLargeError):
        auth.token(timeout_s=5)
    small = OAuth2ClientCredentials(
        f"{server.url}/token", "cid", SECRET, max_response_bytes=512 * 1024
    )
    assert small.token(timeout_s=5) == big["access_token"]
    auth.close()
    small.close()


def test_waiter_with_more_time_fetches_again_after_the_leader_ran_out() -> None:
    whole = _response(TOKEN_BODY)
    srv = TricklingTokenServer(b"", whole, prompt_after=1).start()  # only the 1st is slow
    try:
        auth = OAuth2ClientCredentials(srv.url, "cid", SECRET)
        leader_error: list[BaseException] = []

        def lead() -> None:
            try:
                auth.token(timeout_s=0.5)
            except BaseException as exc:
                leader_error.append(exc)

        leader = threading.Thread(target=lead)
        leader.start()
        deadline = time.monotonic() + 5
        while srv.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # poll (bounded) until the leader's fetch is on the wire
        started = time.monotonic()
        assert auth.token(timeout_s=5) == "at-1"
        assert time.monotonic() - started < 2.0
        leader.join(10)
        auth.close()
        assert len(leader_error) == 1 and isinstance(leader_error[0], DeadlineExceeded)
        assert srv.connections == 2 and auth.fetch_count == 1
    finally:
        srv.stop()
