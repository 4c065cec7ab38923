"""The tiny interface every MCP transport implements, and an in-memory mock beside it.

A transport moves whole JSON-RPC messages; it knows nothing of eras, retries or breakers.
It delivers what the peer sends to a :class:`MessageSink` (from its own threads, or from the
thread that called :meth:`Transport.send`, e.g. an HTTP transport reading a response
stream), and reports the end of the connection exactly once with a translated
:class:`~syncclients.errors.TransportError`.

Implementations: :class:`syncclients.transports.stdio.StdioTransport` (MCP transports
"stdio"); a Streamable HTTP transport plugs in the same way and uses :class:`SendContext`
to set ``MCP-Protocol-Version``, ``Mcp-Method`` and ``Mcp-Name`` (mcp-protocol.md section 1,
modern era) and ``Mcp-Session-Id`` (handshake era).
"""

from __future__ import annotations

import abc
import contextlib
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..errors import ConnectionLostError, TransportError, UsageError
from .messages import Message, Notification, RequestId

__all__ = ["MessageSink", "MockTransport", "SendContext", "Transport"]


@dataclass(frozen=True, slots=True)
class SendContext:
    """What the protocol layer tells a transport about one outgoing message.

    stdio ignores it; an HTTP transport turns it into headers and per-POST timeouts.

    Attributes:
        method: the JSON-RPC method of a request or notification; None for responses.
        name: ``params.name`` for ``tools/call`` and ``prompts/get``, ``params.uri`` for
            ``resources/read`` (the ``Mcp-Name`` header); None otherwise.
        protocol_version: the version this message is sent at (negotiated, or the one being
            probed); None before negotiation (the ``initialize`` request itself).
        modern: True when the message uses the 2026-07-28 per-request envelope.
        request_id: the id of a request, or the id a cancellation refers to.
        timeout_s: how long the caller waits for the answer, in seconds; None: no limit.
        headers: extra HTTP headers for this message only (the ``Mcp-Param-*`` headers of
            a modern ``tools/call``, already encoded); ignored by stdio; None: none.
    """

    method: str | None = None
    name: str | None = None
    protocol_version: str | None = None
    modern: bool = False
    request_id: RequestId | None = None
    timeout_s: float | None = None
    headers: Mapping[str, str] | None = None


class MessageSink(Protocol):
    """Receives what a transport reads. Both methods must return quickly and never raise."""

    def message_received(self, message: Message) -> None:
        """Handle one message from the peer."""

    def connection_lost(self, error: TransportError) -> None:
        """The connection ended (called at most once); ``error`` says why."""


class Transport(abc.ABC):
    """One connection to one MCP server.

    Attributes:
        target: a short name of the server for errors and logs (a command, a URL).
    """

    target: str
    #: ``network.transport`` of the OpenTelemetry conventions (``"pipe"``, ``"tcp"``).
    network_transport: str | None = None
    #: True when a ``server/discover`` probe that times out is a legacy verdict (stdio:
    #: a legacy server may simply never answer); False where a timeout is an outage (HTTP).
    probe_timeout_means_legacy: bool = False
    #: True for Streamable HTTP: tools' ``x-mcp-header`` parameters are mirrored into
    #: ``Mcp-Param-*`` headers and tools with invalid annotations are dropped (2026-07-28).
    mirrors_param_headers: bool = False

    @abc.abstractmethod
    def start(self, sink: MessageSink) -> None:
        """Open the connection and begin delivering incoming messages to ``sink``.

        Raises:
            ConnectError: the connection could not be opened (nothing was sent).
        """

    @abc.abstractmethod
    def send(self, message: Message, context: SendContext) -> None:
        """Send one message; returns once it is written (stdio) or handed over (HTTP).

        Raises:
            TransportError: the message could not be sent; the connection may be lost.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release everything the transport started. Idempotent and bounded in time."""

    def cancel(self, request_id: RequestId, reason: str, context: SendContext) -> None:
        """Tell the server a request is abandoned (MCP basic/utilities/cancellation).

        The default sends ``notifications/cancelled``; a modern-era HTTP transport overrides
        it to close the request's response stream instead. Never raises.
        """
        with contextlib.suppress(TransportError):
            self.send(
                Notification(
                    "notifications/cancelled", {"requestId": request_id, "reason": reason}
                ),
                SendContext(
                    method="notifications/cancelled",
                    protocol_version=context.protocol_version,
                    modern=context.modern,
                    request_id=request_id,
                ),
            )

    def era_cache_key(self) -> str | None:
        """Where the era verdict is cached: the origin (HTTP), the launch spec (stdio).

        Returns:
            A key string, or None to never cache (the default).
        """
        return None


Responder = Callable[[Message], "list[Message] | None"]


class MockTransport(Transport):
    """An in-memory transport for unit tests: a scripted peer answers on its own thread.

    Args:
        responder: called (on the peer thread) with every message the client sends; returns
            the messages the "server" sends back, in order, or None for none.
        target: the name used in errors.

    Attributes:
        sent: every message sent, in order (append-only; read after the fact).
    """

    def __init__(self, responder: Responder | None = None, *, target: str = "mock") -> None:
        self.target = target
        self.sent: list[Message] = []
        self.contexts: list[SendContext] = []
        self._responder = responder
        self._sink: MessageSink | None = None
        self._inbox: queue.Queue[tuple[str, object]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._lost: TransportError | None = None
        self.start_count = 0

    def start(self, sink: MessageSink) -> None:
        """Start the peer thread (see :meth:`Transport.start`)."""
        with self._lock:
            if self._thread is not None:
                raise UsageError("MockTransport.start called twice")
            self._sink = sink
            self.start_count += 1
            self._thread = threading.Thread(target=self._run, name="mcp-mock-peer", daemon=True)
            self._thread.start()

    def send(self, message: Message, context: SendContext) -> None:
        """Record ``message`` and hand it to the responder (see :meth:`Transport.send`).

        Raises:
            ConnectionLostError: the mock was closed or :meth:`lose` was called.
        """
        with self._lock:
            if self._lost is not None or self._closed:
                raise self._lost or ConnectionLostError("mock transport closed", target=self.target)
            self.sent.append(message)
            self.contexts.append(context)
        self._inbox.put(("sent", message))

    def inject(self, message: Message) -> None:
        """Deliver ``message`` to the client as if the server sent it."""
        self._inbox.put(("deliver", message))

    def lose(self, error: TransportError) -> None:
        """Simulate the connection breaking with ``error``."""
        self._inbox.put(("lose", error))

    def close(self) -> None:
        """Stop the peer thread (bounded, idempotent)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._inbox.put(("stop", None))
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        sink = self._sink
        assert sink is not None
        while True:
            kind, payload = self._inbox.get()
            if kind == "stop":
                return
            if kind == "lose":
                assert isinstance(payload, TransportError)
                with self._lock:
                    self._lost = payload
                sink.connection_lost(payload)
                return
            if kind == "deliver":
                sink.message_received(payload)  # type: ignore[arg-type]
                continue
            if self._responder is not None:
                for reply in self._responder(payload) or ():  # type: ignore[arg-type]
                    sink.message_received(reply)
