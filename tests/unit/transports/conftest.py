"""Helpers for transport tests: a collecting sink and a raw streaming HTTP server."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncclients.errors import SyncClientsError, TransportError
from syncclients.mcp.messages import Message, RequestId


class CollectingSink:
    """A MessageSink (with the optional request_failed hook) that queues what it gets."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.failures: queue.Queue[tuple[RequestId, SyncClientsError]] = queue.Queue()
        self.lost: list[TransportError] = []
        self.lost_event = threading.Event()

    def message_received(self, message: Message) -> None:
        self.messages.put(message)

    def connection_lost(self, error: TransportError) -> None:
        self.lost.append(error)
        self.lost_event.set()

    def request_failed(self, request_id: RequestId, error: SyncClientsError) -> None:
        self.failures.put((request_id, error))

    def next(self, timeout_s: float = 10.0) -> Message:
        return self.messages.get(timeout=timeout_s)

    def until(self, predicate: Callable[[Message], bool], timeout_s: float = 20.0) -> list[Message]:
        """Every message up to and including the first that matches (bounded wait)."""
        seen: list[Message] = []
        while True:
            message = self.messages.get(timeout=timeout_s)
            seen.append(message)
            if predicate(message):
                return seen


class HookLessSink:
    """A plain MessageSink without request_failed."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.lost: list[TransportError] = []

    def message_received(self, message: Message) -> None:
        self.messages.put(message)

    def connection_lost(self, error: TransportError) -> None:
        self.lost.append(error)


@pytest.fixture
def sink() -> CollectingSink:
    return CollectingSink()


class StreamingServer:
    """A raw HTTP/1.1 server on 127.0.0.1 whose handler writes to the socket itself.

    The handler gets ``(request_line, headers, body, conn)`` and may stream, hold the
    connection open, or close it. ``disconnected`` is set when a held connection sees the
    client go away.
    """

    def __init__(self, handler: Callable[[str, dict[str, str], bytes, socket.socket], None]):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.disconnected = threading.Event()
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/mcp"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append((lines[0], headers, body))
            self.handler(lines[0], headers, body, conn)
        except OSError:
            pass
        finally:
            conn.close()

    def hold_until_client_leaves(self, conn: socket.socket, limit_s: float = 10.0) -> None:
        conn.settimeout(0.1)
        waited = 0.0
        while waited < limit_s and not self.stopping.is_set():
            try:
                if conn.recv(1) == b"":
                    self.disconnected.set()
                    return
            except TimeoutError:
                waited += 0.1
            except OSError:
                self.disconnected.set()
                return

    def stop(self) -> None:
        self.stopping.set()
        self.sock.close()
        self.thread.join(5)
        for t in self.threads:
            t.join(5)


def sse_head(extra: str = "") -> bytes:
    return (
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        f"Transfer-Encoding: chunked\r\n{extra}\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.fixture
def streaming_server() -> Iterator[Callable[..., StreamingServer]]:
    servers: list[StreamingServer] = []

    def make(handler: Any) -> StreamingServer:
        server = StreamingServer(handler)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
