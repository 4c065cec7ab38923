"""Fault injection tools: a TCP proxy that breaks connections, and a raw HTTP server.

Both bind 127.0.0.1 on an ephemeral port, run daemon threads that poll a stop flag (every
wait is bounded), and :meth:`close` joins every thread they started.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from syncclients.batch import BatchOutcome

_POLL_S = 0.05


def _rst(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Threads:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def spawn(self, fn: Callable[..., None], *args: Any, name: str) -> None:
        thread = threading.Thread(target=fn, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def join(self, timeout_s: float = 5.0) -> None:
        self.stop.set()
        end = time.monotonic() + timeout_s
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, end - time.monotonic()))


class FaultProxy:
    """A TCP proxy on 127.0.0.1 in front of ``target_port`` that injects faults.

    Set :attr:`mode` at any time; it applies to connections accepted afterwards:

    - ``"pass"``: forward both ways.
    - ``"reset"``: accept, then reset at once (RST) without reading.
    - ``"reset_after_request"``: read the client's first bytes, then reset.
    - ``"truncate"``: forward the request; forward only :attr:`truncate_after` bytes of the
      answer, then close both sides (FIN).
    - ``"corrupt"``: forward, but flip every byte of the answer's first
      :attr:`corrupt_bytes` bytes.
    - ``"delay"``: hold the answer :attr:`delay_s` seconds before forwarding it.

    Attributes:
        connections: connections accepted so far.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.truncate_after = 0
        self.corrupt_bytes = 16
        self.delay_s = 0.0
        self.connections = 0
        self._threads = _Threads()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(_POLL_S)
        self.port = self._listener.getsockname()[1]
        self._threads.spawn(self._accept, name="fault-proxy-accept")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        """Stop accepting, close every connection, join every thread (bounded)."""
        self._threads.stop.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._threads.join()
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._listener.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _untrack_close(self, sock: socket.socket, *, reset: bool = False) -> None:
        with self._lock:
            self._sockets.discard(sock)
        if reset:
            _rst(sock)
        else:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._threads.stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            mode = self.mode
            if mode == "reset":
                _rst(client)
                continue
            self._track(client)
            self._threads.spawn(self._serve, client, mode, name="fault-proxy-conn")

    def _serve(self, client: socket.socket, mode: str) -> None:
        """Forward one connection; the mode is read again at every new request on it, so a
        pooled keep-alive connection gets the fault set after it was opened."""
        client.setblocking(True)
        upstream: socket.socket | None = None
        sent_back = 0
        try:
            while not self._threads.stop.is_set():
                socks = [client] if upstream is None else [client, upstream]
                readable, _, _ = select.select(socks, [], [], _POLL_S)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        mode, sent_back = self.mode, 0  # a new request (or more of one)
                        if mode in ("reset", "reset_after_request"):
                            self._untrack_close(client, reset=True)
                            return
                        if upstream is None:
                            upstream = socket.create_connection(
                                ("127.0.0.1", self.target_port), timeout=2.0
                            )
                            self._track(upstream)
                        upstream.sendall(data)
                        continue
                    if mode == "delay" and sent_back == 0 and self._threads.stop.wait(self.delay_s):
                        return
                    if mode == "truncate":
                        room = self.truncate_after - sent_back
                        client.sendall(data[: max(0, room)])
                        sent_back += len(data)
                        if sent_back >= self.truncate_after:
                            return
                        continue
                    if mode == "corrupt" and sent_back < self.corrupt_bytes:
                        cut = self.corrupt_bytes - sent_back
                        data = bytes(b ^ 0xFF for b in data[:cut]) + data[cut:]
                    client.sendall(data)
                    sent_back += len(data)
        except OSError:
            pass
        finally:
            if upstream is not None:
                self._untrack_close(upstream)
            self._untrack_close(client)


class RawHTTPServer:
    """A TCP server on 127.0.0.1 answering each request with raw bytes from ``respond``.

    ``respond(request_head)`` returns the bytes to send (then the connection is closed), or
    a list of ``bytes | float`` parts: floats are pauses in seconds between writes.
    """

    def __init__(self, respond: Callable[[bytes], bytes | Sequence[bytes | float]]) -> None:
        self.respond = respond
        self.requests = 0
        self._threads = _Threads()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(_POLL_S)
        self.port = self._listener.getsockname()[1]
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads.spawn(self._accept, name="raw-http-accept")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._threads.stop.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._threads.join()
        self._listener.close()

    def __enter__(self) -> RawHTTPServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._threads.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            self._threads.spawn(self._serve, conn, name="raw-http-conn")

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(2.0)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            with self._lock:
                self.requests += 1
            answer = self.respond(head)
            parts = [answer] if isinstance(answer, bytes) else list(answer)
            for part in parts:
                if isinstance(part, float):
                    if self._threads.stop.wait(part):
                        return
                else:
                    conn.sendall(part)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()


def assert_one_outcome_each(outcomes: Sequence[BatchOutcome[Any]], n: int) -> None:
    """Exactly one outcome per call, in order, each either a result or an error."""
    assert len(outcomes) == n
    assert [o.index for o in outcomes] == list(range(n))
    for o in outcomes:
        assert o.ok == (o.error is None)
        assert (o.result is not None) == o.ok


def sockets_to(port: int) -> int:
    """How many TCP sockets of this process are connected to 127.0.0.1:``port``."""
    peers: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            peers[cols[9]] = int(cols[2].rsplit(":", 1)[1], 16)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and peers.get(link[8:-1]) == port:
            count += 1
    return count
