"""The MCP Streamable HTTP transport (MCP basic/transports "Streamable HTTP", 2025-03-26 to
2025-11-25, and the 2026-07-28 revision), blocking and thread-based.

Every client message is one POST to the MCP endpoint. A request is answered with one JSON
body or with an SSE stream carrying request-scoped notifications, (handshake era) server
requests, and finally the response; each SSE stream is read on its own worker thread, which
delivers every message to the :class:`~syncclients.mcp.transport.MessageSink`. Notifications
and responses POSTed by the client get 202.

Handshake era (up to 2025-11-25): the ``Mcp-Session-Id`` of a successful ``initialize``
response is sent on every later message, ``MCP-Protocol-Version`` from the negotiated
version; :meth:`StreamableHTTPTransport.open_listen_stream` opens the GET stream for
server-initiated messages; a dropped stream with event ids is resumed with a GET carrying
``Last-Event-ID`` after the server's ``retry`` delay; :meth:`~StreamableHTTPTransport.close`
DELETEs the session; a lost session raises :class:`~syncclients.errors.SessionExpiredError`.
Modern era (2026-07-28): no session, no GET stream, no resumption; ``Mcp-Method`` and
``Mcp-Name`` headers on every POST; cancelling closes the request's response stream.

requests/urllib3 exceptions are translated only by
:func:`syncclients.transports.http.translating`. Known facts about real servers are in
``docs/mcp-protocol.md`` section 2.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests
import requests.adapters

from ..config import PoolLimits, Timeouts
from ..errors import (
    ConnectionLostError,
    HTTPStatusError,
    ProtocolError,
    ReadTimeout,
    SessionExpiredError,
    SyncClientsError,
    TransportError,
    UsageError,
    excerpt,
)
from ..mcp.messages import (
    INTERNAL_ERROR,
    ErrorObject,
    ErrorResponse,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
    decode,
    encode,
)
from ..mcp.transport import MessageSink, SendContext, Transport
from .http import build_session, parse_retry_after, read_body, redact_url, translating
from .sse import DEFAULT_MAX_EVENT_BYTES, SSEEvent, SSEParser

__all__ = [
    "DEFAULT_POOL_LIMITS",
    "DEFAULT_TIMEOUTS",
    "HTTPSendContext",
    "RequestFailureSink",
    "StreamableHTTPTransport",
    "encode_header_value",
]

logger = logging.getLogger("syncclients.transports.streamable_http")

#: The official MCP client's defaults: 30 s to connect, 300 s between bytes of an answer.
DEFAULT_TIMEOUTS = Timeouts(connect_s=30.0, read_s=300.0)
#: Non-blocking pool: each open SSE stream holds a connection, and a server request on one
#: stream is answered on another, so a blocking pool could starve itself.
DEFAULT_POOL_LIMITS = PoolLimits(pool_connections=4, pool_maxsize=16, block=False)
#: Default bound on a JSON response body, in bytes.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
#: Added to a request's ``timeout_s`` for the HTTP read timeout, in seconds, so the caller's
#: own wait (and its cancel) runs out first.
READ_GRACE_S = 1.0

#: After ``notifications/initialized``, the most seconds spent waiting for the server's
#: answer to the GET stream before the next message is sent (see ``auto_listen``).
LISTEN_OPEN_WAIT_S = 2.0

SESSION_HEADER = "Mcp-Session-Id"
VERSION_HEADER = "MCP-Protocol-Version"
METHOD_HEADER = "Mcp-Method"
NAME_HEADER = "Mcp-Name"
_ACCEPT_BOTH = "application/json, text/event-stream"
_ACCEPT_SSE = "text/event-stream"
_CHUNK = 64 * 1024
_ERROR_BODY_BYTES = 64 * 1024
_SESSION_WORDS = re.compile(r"session", re.IGNORECASE)


# -- public helpers ------------------------------------------------------------------------------


#: Kept for code written against the transport before :class:`SendContext` had ``headers``.
HTTPSendContext = SendContext


def encode_header_value(value: str | int | bool) -> str:
    """Encode a value for an MCP header (``Mcp-Name``, ``Mcp-Param-*``).

    MCP 2026-07-28, transports "Value Encoding": booleans become ``true``/``false``,
    integers their decimal form; a value that is not plain visible ASCII (non-ASCII, control
    characters, leading or trailing whitespace) or that looks like the sentinel itself is
    sent as ``=?base64?<base64 of the UTF-8 bytes>?=``.

    Args:
        value: a string, an integer or a boolean.

    Returns:
        The header value (always ASCII).

    Raises:
        UsageError: ``value`` is another type.
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise UsageError(f"an MCP header value must be str, int or bool, got {value!r}")
    plain = (
        all(c == "\t" or " " <= c <= "~" for c in text)
        and text == text.strip(" \t")
        and not (text.startswith("=?base64?") and text.endswith("?="))
    )
    if plain:
        return text
    return "=?base64?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


@runtime_checkable
class RequestFailureSink(Protocol):
    """An optional extension of :class:`~syncclients.mcp.transport.MessageSink`.

    An HTTP transport can fail ONE request without losing the connection: its SSE response
    stream broke and could not be resumed, or carried a malformed message. When the sink has
    this method the transport calls it; otherwise it delivers an
    :class:`~syncclients.mcp.messages.ErrorResponse` (code -32603, ``data.transportError``
    = the error's class name) so the caller is not left waiting.
    """

    def request_failed(self, request_id: RequestId, error: SyncClientsError) -> None:
        """The request ``request_id`` will get no response; ``error`` says why. Never raises."""


# -- helpers shared with the legacy SSE transport (not part of the public API) -----------------


def jsonrpc_error_in(body: bytes) -> ErrorResponse | None:
    """The JSON-RPC error response an HTTP error body holds.

    Args:
        body: the (bounded) body of a non-2xx answer.

    Returns:
        The error response (its id may be None), or None when the body holds none.
    """
    if not body.strip():
        return None
    try:
        messages = decode(body)
    except ProtocolError:
        return None
    if len(messages) == 1 and isinstance(messages[0], ErrorResponse):
        return messages[0]
    return None


def status_error(
    response: requests.Response, body: bytes, *, target: str, what: str
) -> HTTPStatusError:
    """An :class:`HTTPStatusError` for a non-2xx answer whose body is already read.

    Args:
        response: the answer (its body read and bounded).
        body: that body, for the excerpt.
        target: the server's name in the message.
        what: the request, e.g. ``"POST tools/call"``.

    Returns:
        The error to raise (with ``retry_after`` in seconds from ``Retry-After``).
    """
    return HTTPStatusError(
        f"{target}: {what} answered HTTP {response.status_code} {response.reason or ''}".rstrip(),
        status_code=response.status_code,
        response=response,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        body_excerpt=excerpt(body),
        target=target,
    )


def content_type(response: requests.Response) -> str:
    """The media type of a response, lower case, without parameters ("" when absent)."""
    return (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()


def shutdown_response(response: requests.Response | None) -> None:
    """Unblock a thread reading ``response`` (shut the socket's read side). Never raises."""
    if response is None:
        return
    raw = getattr(response, "raw", None)
    try:
        if raw is not None:
            raw.shutdown()
    except (ValueError, RuntimeError, OSError, AttributeError):
        pass  # already released or closed


def close_response(response: requests.Response | None) -> None:
    """Close ``response`` and its connection. Never raises."""
    if response is None:
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        response.close()


#: After a stream's final response, the most time and bytes spent reading to its end.
_DRAIN_S = 0.5
_DRAIN_BYTES = 64 * 1024


def _drain(response: requests.Response) -> None:
    """Read what follows a stream's final response (usually just the end of the chunked
    body), so urllib3 returns the connection to the pool instead of discarding it: without
    this, nearly every SSE-answered call opened a new TCP connection. Bounded in time (a
    server may keep the stream open after the response: the spec only says it SHOULD close)
    by a short socket timeout, which urllib3 resets before the connection's next request,
    and bounded in bytes; a failure here only costs the connection's reuse. Never raises."""
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is None:
        return
    try:
        sock.settimeout(_DRAIN_S)
        total = 0
        while total <= _DRAIN_BYTES:
            chunk = raw.read1(_CHUNK)
            if not chunk:
                return  # the end: urllib3 released the connection to the pool
            total += len(chunk)
    except Exception:  # noqa: S110 - the result was delivered; only reuse is lost
        pass


def pump_events(
    response: requests.Response,
    parser: SSEParser,
    on_event: Callable[[SSEEvent], bool],
    *,
    stop: threading.Event,
    target: str,
    timeouts: Timeouts,
) -> None:
    """Read an SSE body until end of stream, feeding ``on_event`` each event.

    Reads raw bytes (``read1``: whatever arrived), never ``iter_lines`` (mcp-protocol.md
    section 2).

    Args:
        response: a streamed response (``stream=True``).
        parser: the stream's parser (keeps the last event id across reconnections).
        on_event: called per event; returns True to stop reading (the final response came).
        stop: set by another thread to abandon the stream (it also shuts the socket).
        target: the name used in errors.
        timeouts: the limits in force, named by a timeout error.

    Raises:
        TransportError: the connection broke or the read timeout ran out (translated).
        ProtocolError: an event exceeds the parser's bound, or ``on_event`` raised it.
    """
    raw = response.raw
    try:
        with translating(target=target, timeouts=timeouts):
            while not stop.is_set():
                chunk = raw.read1(_CHUNK)
                if not chunk:
                    return
                for event in parser.feed(chunk):
                    if stop.is_set():
                        return
                    if on_event(event):
                        _drain(response)
                        return
    except SyncClientsError:
        if stop.is_set():
            return
        raise
    except (ValueError, AttributeError, TypeError) as exc:
        # a race with our own shutdown/close of the response from another thread
        if stop.is_set():
            return
        raise ConnectionLostError(f"{target}: event stream failed: {exc}", target=target) from exc


# -- the transport --------------------------------------------------------------------------------


@dataclass(eq=False)
class _Stream:
    """One SSE stream being read: a request's response stream, or the GET listen stream."""

    request_id: RequestId | None  # None: the listen stream
    method: str | None
    modern: bool
    parser: SSEParser
    read_s: float | None
    deadline: float | None = None  # monotonic; only when the caller gave a timeout_s
    response: requests.Response | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False  # the final response was delivered
    progress: bool = False  # something arrived since the last (re)connection
    session_candidate: str | None = None  # Mcp-Session-Id of an initialize SSE answer
    connected: threading.Event = field(default_factory=threading.Event)
    offered: bool | None = None  # listen stream: did the server offer one

    def attach(self, response: requests.Response) -> bool:
        """Make ``response`` current; False (and closed) when the stream was stopped."""
        with self.lock:
            if self.stop.is_set():
                close_response(response)
                return False
            self.response = response
            return True

    def abort(self) -> None:
        """Stop reading: set the flag and unblock the reader."""
        with self.lock:
            self.stop.set()
            response = self.response
        shutdown_response(response)


class StreamableHTTPTransport(Transport):
    """One MCP server behind a Streamable HTTP endpoint. Thread-safe: any number of threads
    may :meth:`send` at once over the shared, pooled ``requests`` session.

    Args:
        url: the MCP endpoint, e.g. ``"http://127.0.0.1:8000/mcp"``.
        headers: headers sent with every request (e.g. ``Authorization``); None: none.
        auth: a requests-style auth object; None: none.
        session: a ``requests.Session`` to share (the caller closes it); None: a pooled one
            is built with ``pool_limits`` and closed by :meth:`close`.
        pool_limits: the pool of the session built when ``session`` is None.
        timeouts: ``connect_s`` bounds every connection; ``read_s`` is the most seconds
            between bytes of an answer when the message has no ``timeout_s`` of its own
            (None: no limit). A request's ``SendContext.timeout_s`` plus
            :data:`READ_GRACE_S` replaces ``read_s`` for its POST and its stream.
        max_body_bytes: the most bytes of a JSON answer (None: no bound); larger raises
            :class:`~syncclients.errors.ResponseTooLargeError`.
        max_event_bytes: the most bytes of one SSE line or event (None: no bound); larger
            fails the stream with :class:`~syncclients.errors.ProtocolError`.
        verify: TLS verification: True, False, or a CA bundle path.
        cert: a client certificate path or ``(cert, key)`` pair; None: none.
        auto_listen: open the GET stream once ``notifications/initialized`` was accepted
            (handshake era), waiting up to :data:`LISTEN_OPEN_WAIT_S` seconds for the
            server's answer so that no request overtakes it; False: only when
            :meth:`open_listen_stream` is called.
        listen_read_s: the read timeout of the GET stream, in seconds: after this long
            without a byte (servers need not send keepalives there) it is reopened, resuming
            from the last event id. None: wait without limit (only :meth:`close` ends it).
        max_resume_attempts: how many times in a row a dropped stream is reopened without
            anything new arriving before giving up (0: never resume).
        default_retry_s: the reconnect delay when the server sent no ``retry`` field, seconds.
        max_retry_s: the longest reconnect delay honoured, in seconds (a larger ``retry`` is
            capped).
        close_timeout_s: the most seconds :meth:`close` takes in all: the DELETE (cut at
            that point wherever it is, not per read) and joining its threads. 0: no DELETE.
        terminate_on_close: DELETE the session on :meth:`close` (MCP "Session Management").

    Raises:
        UsageError: ``url`` is not an absolute http(s) URL, or a limit is invalid.
    """

    network_transport = "tcp"

    mirrors_param_headers = True

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        session: requests.Session | None = None,
        pool_limits: PoolLimits = DEFAULT_POOL_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        auto_listen: bool = True,
        listen_read_s: float | None = 300.0,
        max_resume_attempts: int = 3,
        default_retry_s: float = 1.0,
        max_retry_s: float = 30.0,
        close_timeout_s: float = 5.0,
        terminate_on_close: bool = True,
    ) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"the MCP endpoint must be an absolute http(s) URL, got {url!r}")
        if max_body_bytes is not None and max_body_bytes < 1:
            raise UsageError(f"max_body_bytes must be >= 1 or None, got {max_body_bytes!r}")
        if max_resume_attempts < 0:
            raise UsageError(f"max_resume_attempts must be >= 0, got {max_resume_attempts!r}")
        for name, value in (
            ("default_retry_s", default_retry_s),
            ("max_retry_s", max_retry_s),
            ("close_timeout_s", close_timeout_s),
        ):
            if value < 0:
                raise UsageError(f"{name} must be >= 0, got {value!r}")
        self.url = url
        self.target = redact_url(url)
        self.headers = dict(headers or {})
        self.auth = auth
        self.timeouts = timeouts
        self.max_body_bytes = max_body_bytes
        self.max_event_bytes = max_event_bytes
        self.verify = verify
        self.cert = cert
        self.auto_listen = auto_listen
        self.listen_read_s = listen_read_s
        self.max_resume_attempts = max_resume_attempts
        self.default_retry_s = default_retry_s
        self.max_retry_s = max_retry_s
        self.close_timeout_s = close_timeout_s
        self.terminate_on_close = terminate_on_close
        self._owns_session = session is None
        self._http = session if session is not None else build_session(pool_limits)
        self._lock = threading.Lock()
        self._sink: MessageSink | None = None
        self._session_id: str | None = None
        self._expired: SessionExpiredError | None = None
        self._lost_reported = False
        self._protocol_version: str | None = None
        self._streams: dict[RequestId, _Stream] = {}
        self._listen: _Stream | None = None
        self._threads: set[threading.Thread] = set()
        self._closing = threading.Event()
        # sends between their closed-check and their end; while any is in flight, close()
        # leaves the pool to the last of them (closing it under a POST that is about to
        # take a connection fails that POST with "Pool is closed")
        self._in_flight = 0
        self._pool_closed = False

    # -- introspection -------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        """The ``Mcp-Session-Id`` in use (handshake era), or None."""
        with self._lock:
            return self._session_id

    @property
    def protocol_version(self) -> str | None:
        """The handshake-era version sent as ``MCP-Protocol-Version`` by default, or None."""
        with self._lock:
            return self._protocol_version

    @property
    def listening(self) -> bool:
        """True while the GET stream for server-initiated messages is open."""
        with self._lock:
            listen = self._listen
        return listen is not None and listen.offered is True and not listen.stop.is_set()

    def era_cache_key(self) -> str:
        """The endpoint URL (without credentials, query or fragment): the era is cached per
        endpoint, which is at least as fine as per origin (one origin may host several)."""
        return f"http:{self.target}"

    # -- Transport -----------------------------------------------------------------------------

    def start(self, sink: MessageSink) -> None:
        """Remember ``sink``; HTTP opens connections per message, so nothing is sent yet.

        Raises:
            UsageError: started twice, or after :meth:`close`.
        """
        with self._lock:
            if self._sink is not None or self._closing.is_set():
                raise UsageError("a StreamableHTTPTransport can be started once")
            self._sink = sink

    def send(self, message: Message, context: SendContext) -> None:
        """POST one message (MCP transports "Sending Messages to the Server").

        A notification or response returns once the server accepted it (202). A request
        returns once its answer began: a JSON answer has been delivered to the sink when this
        returns; an SSE answer is read on a worker thread that delivers every message of the
        stream (progress, logs, server requests, then the response). An HTTP error whose
        body is a JSON-RPC error is delivered to the sink as that error (with the request's
        id), not raised.

        Args:
            message: the message.
            context: method, name, protocol version and era, request id, and the caller's
                ``timeout_s`` (seconds; None: ``timeouts.read_s``). An
                :class:`HTTPSendContext` adds headers.

        Raises:
            SessionExpiredError: the server no longer knows the session (404, or 400 naming
                the session); later messages raise it too until an ``initialize`` succeeds.
            HTTPStatusError: another non-2xx answer without a JSON-RPC error body (406, 413,
                415, 5xx, a 3xx: redirects are not followed).
            ProtocolError: a 2xx answer that is not valid JSON-RPC, has an unknown content
                type, or is 202 to a request.
            TransportError: connect/read failures and timeouts (subclasses), a JSON answer
                over ``max_body_bytes`` (ResponseTooLargeError), or the transport is closed
                (ConnectionLostError). On a ReadTimeout of a request's POST the server is
                told (handshake era: ``notifications/cancelled``; modern era: the closed
                connection is the cancel).
            UsageError: not started, or an invalid header.
        """
        sink = self._require_sink()
        is_request = isinstance(message, Request)
        method = message.method if isinstance(message, Request | Notification) else None
        method = method or context.method
        is_init = is_request and method == "initialize"
        stream: _Stream | None = None
        with self._lock:
            # A lost session first: a request registered before the session was found lost
            # and sent after the client already closed this transport to renew it was never
            # sent, and must say so (SessionExpiredError), not "transport closed".
            if self._expired is not None and not is_init and not context.modern:
                raise self._copy_expired()
            if self._closing.is_set():
                raise ConnectionLostError(f"{self.target}: transport closed", target=self.target)
            if context.protocol_version and not context.modern and not is_init:
                self._protocol_version = context.protocol_version
            if isinstance(message, Request):
                read_s = self._read_s(context)
                stream = _Stream(
                    message.id,
                    method,
                    context.modern,
                    SSEParser(max_event_bytes=self.max_event_bytes),
                    read_s,
                    deadline=(
                        None
                        if context.timeout_s is None or read_s is None
                        else time.monotonic() + read_s
                    ),
                )
                self._streams[message.id] = stream
            self._in_flight += 1  # close() leaves the pool open until this send is done
        try:
            self._send_counted(message, context, sink, stream, method, is_init=is_init)
        finally:
            self._pool_use_done()

    def _send_counted(
        self,
        message: Message,
        context: SendContext,
        sink: MessageSink,
        stream: _Stream | None,
        method: str | None,
        *,
        is_init: bool,
    ) -> None:
        """The body of :meth:`send`, while the send is counted in flight."""
        headers, sent_session = self._headers(context, method, is_init=is_init)
        timeouts = self._post_timeouts(context)
        body = encode(message)
        try:
            response = self._post(body, headers, timeouts)
            if stream is not None and not stream.attach(response):
                self._forget(stream)
                return  # cancelled (modern era) while waiting for the answer
            self._handle_post_answer(
                message, response, stream, sink, sent_session, is_init=is_init, timeouts=timeouts
            )
        except ReadTimeout:
            if stream is not None:
                cancelled = stream.stop.is_set()  # the caller's own timeout already cancelled
                self._forget(stream)
                if (
                    not cancelled
                    and not context.modern
                    and not is_init
                    and isinstance(message, Request)
                ):
                    # No answer in time on the POST itself (a JSON answer is sent only when
                    # ready): tell the server, as the caller's own timeout would have.
                    # Modern era: the connection is already closed, which is the cancel.
                    self.cancel(message.id, "timeout", context)
            raise
        except BaseException:
            if stream is not None:
                self._forget(stream)
            raise

    def send_batch(self, messages: Sequence[Request], context: SendContext) -> None:
        """POST several requests as one JSON-RPC batch (an array), for a session that
        negotiated 2025-03-26, the only MCP version that allows batches. Returns once the
        answers began: a JSON array has been delivered to the sink; an SSE answer is read on
        a worker thread. Answers are matched to requests by id in the sink.

        Raises:
            SessionExpiredError, HTTPStatusError, ProtocolError, TransportError: as
                :meth:`send`, for the whole batch.
        """
        sink = self._require_sink()
        with self._lock:
            if self._closing.is_set():
                raise ConnectionLostError(f"{self.target}: transport closed", target=self.target)
            if self._expired is not None:
                raise self._copy_expired()
        headers, sent_session = self._headers(context, None, is_init=False)
        timeouts = self._post_timeouts(context)
        response = self._post(
            b"[" + b",".join(encode(m) for m in messages) + b"]", headers, timeouts
        )
        if not 200 <= response.status_code < 300:
            body = self._read_error_body(response, timeouts)
            self._check_session_lost(response, body, sent_session)
            raise status_error(response, body, target=self.target, what="POST batch")
        media = content_type(response)
        if media == "application/json":
            body = read_body(
                response, max_bytes=self.max_body_bytes, deadline=None, target=self.target
            )
            for item in decode(body):
                self._deliver(sink, item)
        elif media == "text/event-stream":
            self._start_stream(None, response, kind="stray")
        else:
            close_response(response)
            raise ProtocolError(
                f"{self.target}: unexpected Content-Type {media!r} for a batch", target=self.target
            )

    def cancel(self, request_id: RequestId, reason: str, context: SendContext) -> None:
        """Abandon a request (MCP basic/utilities/cancellation). Never raises.

        Modern era (2026-07-28, transports "Cancellation"): close the request's response
        stream; a JSON answer still on its way is dropped when it arrives. Handshake era:
        POST ``notifications/cancelled`` (the default), then stop reading the stream.
        """
        with self._lock:
            stream = self._streams.get(request_id)
        if not context.modern:
            super().cancel(request_id, reason, context)
        if stream is not None:
            stream.abort()

    def open_listen_stream(self, *, wait_s: float | None = 10.0) -> bool | None:
        """Open the GET stream for server-initiated messages (handshake era, MCP 2025-11-25
        transports "Listening for Messages from the Server"), read on a worker thread.

        Call it after ``notifications/initialized`` (done automatically when
        ``auto_listen``). Idempotent. The stream is reopened after a drop (resuming with
        ``Last-Event-ID``) until :meth:`close`; it ends for good on 405 (the server offers
        none), 409 (another one is open), or a lost session.

        Args:
            wait_s: the most seconds to wait for the server's first answer; None: return
                at once.

        Returns:
            True: the server offered a stream; False: it does not (405, 409, another
            status); None: not known yet (``wait_s`` ran out or None).

        Raises:
            UsageError: not started.
        """
        self._require_sink()
        with self._lock:
            if self._closing.is_set():
                return False
            listen = self._listen
            fresh = listen is None or listen.stop.is_set()
            if fresh:
                listen = _Stream(
                    None,
                    None,
                    False,
                    SSEParser(max_event_bytes=self.max_event_bytes),
                    self.listen_read_s,
                )
                self._listen = listen
        assert listen is not None
        if fresh:
            self._spawn(self._run_listen, listen, "mcp-http-listen")
        if wait_s is None:
            return listen.offered
        listen.connected.wait(wait_s)
        return listen.offered

    def close(self) -> None:
        """Stop every stream and thread this transport started, DELETE the session (405 is
        fine), and close the pooled session if this transport built it.

        Idempotent; bounded by ``close_timeout_s`` seconds in total (a thread of the caller
        still waiting for a POST answer is bounded by its own read timeout). Sends still in
        flight on other threads are not cut off: each ends with its own answer (after a lost
        session, :class:`~syncclients.errors.SessionExpiredError`), and the last of them
        closes the pooled session.
        """
        with self._lock:
            if self._closing.is_set():
                return
            self._closing.set()
            streams = list(self._streams.values())
            if self._listen is not None:
                streams.append(self._listen)
            session_id = self._session_id
            version = self._protocol_version
            threads = list(self._threads)
        for stream in streams:
            stream.abort()
        deadline = time.monotonic() + self.close_timeout_s
        if session_id is not None and self.terminate_on_close:
            self._delete_session(session_id, version, deadline)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(max(0.0, deadline - time.monotonic()))
        self._close_pool_when_idle()
        self._report_lost(
            ConnectionLostError(f"{self.target}: transport closed", target=self.target)
        )

    def _pool_use_begin(self) -> None:
        """Count a use of the pool in flight (see :meth:`_close_pool_when_idle`).

        Raises:
            ConnectionLostError: the transport is closing (the pool may be closed already).
        """
        with self._lock:
            if self._closing.is_set():
                raise ConnectionLostError(f"{self.target}: transport closed", target=self.target)
            self._in_flight += 1

    def _pool_use_done(self) -> None:
        with self._lock:
            self._in_flight -= 1
        if self._closing.is_set():
            self._close_pool_when_idle()

    def _close_pool_when_idle(self) -> None:
        """Close the pooled session this transport built, once no send is in flight.

        A client renewing a lost session closes the old transport while other threads may
        still be sending on it; each of them must end with its own answer (usually the
        404 that says the session is gone), so the last one to finish closes the pool.
        """
        with self._lock:
            if self._in_flight > 0 or self._pool_closed or not self._owns_session:
                return
            self._pool_closed = True
        self._http.close()

    # -- POST ----------------------------------------------------------------------------------

    def _post(self, body: bytes, headers: dict[str, str], timeouts: Timeouts) -> requests.Response:
        with translating(target=self.target, timeouts=timeouts):
            return self._http.post(
                self.url,
                data=body,
                headers=headers,
                auth=self.auth,
                timeout=(timeouts.connect_s, timeouts.read_s),
                stream=True,
                allow_redirects=False,
                verify=self.verify,
                cert=self.cert,
            )

    def _handle_post_answer(
        self,
        message: Message,
        response: requests.Response,
        stream: _Stream | None,
        sink: MessageSink,
        sent_session: str | None,
        *,
        is_init: bool,
        timeouts: Timeouts,
    ) -> None:
        status = response.status_code
        what = f"POST {getattr(message, 'method', None) or 'response'}"
        if not 200 <= status < 300:
            body = self._read_error_body(response, timeouts)
            self._check_session_lost(response, body, sent_session)
            error = jsonrpc_error_in(body)
            if error is not None and isinstance(message, Request):
                self._forget_id(message.id)
                self._deliver(sink, ErrorResponse(message.id, error.error))
                return
            raise status_error(response, body, target=self.target, what=what)
        if stream is None:  # a notification or a response: 202 (or 200) and no body to read
            if status != 202 and content_type(response) == "text/event-stream":
                self._start_stream(None, response, kind="stray")
                return
            self._read_error_body(response, timeouts)  # drain: the connection is reused
            if isinstance(message, Notification) and message.method == "notifications/initialized":
                self._after_initialized()
            return
        assert isinstance(message, Request)
        media = content_type(response)
        if status == 202:
            self._read_error_body(response, timeouts)
            raise ProtocolError(
                f"{self.target}: the server answered request {message.method!r} with HTTP "
                f"{status} and no body",
                target=self.target,
            )
        if media == "application/json":
            body = read_body(
                response,
                max_bytes=self.max_body_bytes,
                deadline=stream.deadline,
                target=self.target,
            )
            messages = decode(body)
            self._forget(stream)
            for item in messages:
                if is_init and isinstance(item, Response) and item.id == message.id:
                    self._adopt_session(response.headers.get(SESSION_HEADER), item)
                self._deliver(sink, item)
            return
        if media == "text/event-stream":
            if is_init:
                stream.session_candidate = response.headers.get(SESSION_HEADER)
            self._start_stream(stream, response, kind="request")
            return
        close_response(response)
        raise ProtocolError(
            f"{self.target}: unexpected Content-Type {media!r} for request {message.method!r}",
            target=self.target,
        )

    def _read_error_body(self, response: requests.Response, timeouts: Timeouts) -> bytes:
        deadline = None if timeouts.read_s is None else time.monotonic() + timeouts.read_s
        try:
            return read_body(
                response, max_bytes=_ERROR_BODY_BYTES, deadline=deadline, target=self.target
            )
        except TransportError as exc:
            logger.debug("%s: could not read the error body: %s", self.target, exc)
            return b""

    def _check_session_lost(
        self, response: requests.Response, body: bytes, sent_session: str | None
    ) -> None:
        """Raise SessionExpiredError when a message carrying a session was refused for it."""
        if sent_session is None or response.status_code not in (400, 404):
            return
        if response.status_code == 400:
            error = jsonrpc_error_in(body)
            text = error.error.message if error is not None else body.decode("utf-8", "replace")
            if not _SESSION_WORDS.search(text):
                return
        expired = SessionExpiredError(
            f"{self.target}: the server no longer knows session {sent_session!r} "
            f"(HTTP {response.status_code}: {excerpt(body, 200)}); start a new session",
            session_id=sent_session,
            status_code=response.status_code,
            target=self.target,
        )
        self._expire(expired, sent_session)
        raise expired

    def _expire(self, expired: SessionExpiredError, sent_session: str | None) -> None:
        with self._lock:
            if self._session_id == sent_session:
                self._session_id = None
                if self._expired is None:
                    self._expired = expired
            listen = self._listen
        if listen is not None:
            listen.abort()
        self._report_lost(expired)

    def _adopt_session(self, session_id: str | None, result: Response) -> None:
        """A successful initialize: take its session id (or none) and negotiated version."""
        version = result.result.get("protocolVersion")
        with self._lock:
            self._session_id = session_id or None
            self._expired = None
            if isinstance(version, str) and version:
                self._protocol_version = version

    def _after_initialized(self) -> None:
        if not self.auto_listen:
            return
        with self._lock:
            has_session = self._session_id is not None
        if has_session:
            # Wait (bounded by LISTEN_OPEN_WAIT_S and the connect timeout) for the server's
            # answer to the GET, so that the first request cannot overtake it: a server may
            # take a GET that arrives after a request's stream began for that stream's
            # resumption (the sse-retry conformance server does) and deliver the answer on
            # it, and a server may drop a request it sends (elicitation, sampling) while no
            # GET stream is open yet (the TypeScript SDK does: the elicitation scenario).
            connect_s = self.timeouts.connect_s
            self.open_listen_stream(
                wait_s=min(connect_s, LISTEN_OPEN_WAIT_S) if connect_s else LISTEN_OPEN_WAIT_S
            )

    # -- SSE streams ---------------------------------------------------------------------------

    def _start_stream(self, stream: _Stream | None, response: requests.Response, kind: str) -> None:
        if stream is None:  # an SSE body where none was expected: drain it for messages
            stream = _Stream(
                None, None, False, SSEParser(max_event_bytes=self.max_event_bytes), None
            )
            stream.attach(response)
            self._spawn(self._run_stray, stream, "mcp-http-stray")
            return
        self._spawn(self._run_request_stream, stream, f"mcp-http-{stream.request_id}")

    def _spawn(self, fn: Callable[[_Stream], None], stream: _Stream, name: str) -> None:
        def run() -> None:
            try:
                fn(stream)
            except Exception:  # a worker must never die silently
                logger.exception("%s: stream worker %s failed", self.target, name)
                if stream.request_id is not None:
                    self._fail_request(
                        stream,
                        TransportError(f"{self.target}: stream worker failed", target=self.target),
                    )
            finally:
                close_response(stream.response)
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            if self._closing.is_set():
                close_response(stream.response)
                if stream.request_id is not None and self._streams.get(stream.request_id) is stream:
                    del self._streams[stream.request_id]
                return
            self._threads.add(thread)
            # started under the lock: close() must never join a thread not started yet
            # (RuntimeError, and close() would stop before closing the HTTP session)
            thread.start()

    def _on_event(self, stream: _Stream, event: SSEEvent) -> bool:
        """Deliver one event's messages; True once the stream's final response came."""
        if event.event != "message":
            logger.debug("%s: ignoring SSE event %r", self.target, event.event)
            return False
        stream.progress = True
        try:
            messages = decode(event.data)
        except ProtocolError:
            if stream.request_id is not None:
                raise
            logger.warning("%s: ignoring a malformed message on the GET stream", self.target)
            return False
        sink = self._sink
        assert sink is not None
        for item in messages:
            if (
                stream.request_id is not None
                and isinstance(item, Response | ErrorResponse)
                and item.id in (stream.request_id, None)
            ):
                if isinstance(item, ErrorResponse) and item.id is None:
                    item = ErrorResponse(stream.request_id, item.error)
                if stream.method == "initialize" and isinstance(item, Response):
                    self._adopt_session(stream.session_candidate, item)
                stream.done = True
            elif isinstance(item, Response | ErrorResponse) and item.id is not None:
                self._answered_elsewhere(item.id, stream)
            self._deliver(sink, item)
        return stream.done

    def _answered_elsewhere(self, request_id: RequestId, carrier: _Stream) -> None:
        """A response came on another stream than its request's (the GET stream, or a
        resumed one): that request's own stream is finished and is never resumed (MCP
        2025-11-25 transports "Resumability and Redelivery": an answered request is not
        redelivered; the sse-retry conformance scenario checks it)."""
        with self._lock:
            other = self._streams.get(request_id)
        if other is None or other is carrier:
            return
        other.done = True
        other.abort()

    def _run_request_stream(self, stream: _Stream) -> None:
        attempts = 0
        error: SyncClientsError | None = None
        try:
            while True:
                response = stream.response
                assert response is not None
                stream.progress = False
                try:
                    pump_events(
                        response,
                        stream.parser,
                        lambda ev: self._on_event(stream, ev),
                        stop=stream.stop,
                        target=self.target,
                        timeouts=Timeouts(self.timeouts.connect_s, stream.read_s),
                    )
                    error = ConnectionLostError(
                        f"{self.target}: the response stream of request {stream.request_id!r} "
                        "ended before its response",
                        target=self.target,
                    )
                except ProtocolError as exc:
                    error = exc  # malformed output: resuming would replay it
                    return
                except TransportError as exc:
                    error = exc
                finally:
                    close_response(response)
                    stream.parser.close()
                if stream.done or stream.stop.is_set():
                    return
                # Reconnect (bounded) until a stream is open again.
                while True:
                    attempts = 0 if stream.progress else attempts + 1
                    stream.progress = False
                    if not self._may_resume(stream, attempts):
                        return
                    resumed = self._reconnect(stream, attempts)
                    if resumed is True:
                        break
                    if resumed is False:
                        return  # stopped while waiting
                    error = resumed
                    if isinstance(resumed, SessionExpiredError | HTTPStatusError):
                        return
        finally:
            self._forget(stream)
            if error is not None and not stream.done and not stream.stop.is_set():
                self._fail_request(stream, error)

    def _may_resume(self, stream: _Stream, attempts: int) -> bool:
        if stream.modern or not stream.parser.has_event_id or self._closing.is_set():
            return False  # 2026-07-28: "Resumable SSE streams are not supported"
        if attempts > self.max_resume_attempts:
            return False
        return not (stream.deadline is not None and time.monotonic() >= stream.deadline)

    def _retry_delay_s(self, stream: _Stream, attempts: int) -> float:
        if stream.parser.retry_ms is not None:
            delay = stream.parser.retry_ms / 1000.0
        else:
            delay = self.default_retry_s * (2 ** max(0, attempts - 1))
        return float(min(delay, self.max_retry_s))

    def _reconnect(self, stream: _Stream, attempts: int) -> bool | SyncClientsError:
        """Wait the retry delay, then GET with Last-Event-ID (MCP 2025-11-25 transports
        "Resumability and Redelivery"). True: resumed; False: stopped; or the error."""
        if stream.stop.wait(self._retry_delay_s(stream, attempts)):
            return False
        try:
            response = self._get_stream(stream, last_event_id=stream.parser.last_event_id)
        except (TransportError, ProtocolError) as exc:
            return exc
        except HTTPStatusError as exc:
            return exc
        if response is None:
            return HTTPStatusError(
                f"{self.target}: the server does not offer stream resumption (GET refused)",
                status_code=405,
                target=self.target,
            )
        return stream.attach(response)

    def _get_stream(
        self, stream: _Stream, *, last_event_id: str | None
    ) -> requests.Response | None:
        """GET an SSE stream. Returns None on 405/409 (none offered); raises on other errors."""
        headers = dict(self.headers)
        headers["Accept"] = _ACCEPT_SSE
        with self._lock:
            session_id = self._session_id
            version = self._protocol_version
        if session_id is not None:
            headers[SESSION_HEADER] = session_id
        if version is not None:
            headers[VERSION_HEADER] = version
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeouts = Timeouts(self.timeouts.connect_s, stream.read_s)
        self._pool_use_begin()
        try:
            with translating(target=self.target, timeouts=timeouts):
                response = self._http.get(
                    self.url,
                    headers=headers,
                    auth=self.auth,
                    timeout=(timeouts.connect_s, timeouts.read_s),
                    stream=True,
                    allow_redirects=False,
                    verify=self.verify,
                    cert=self.cert,
                )
        finally:
            self._pool_use_done()
        status = response.status_code
        if status in (405, 409):
            self._read_error_body(response, timeouts)
            return None
        if not 200 <= status < 300:
            body = self._read_error_body(response, timeouts)
            self._check_session_lost(response, body, session_id)
            raise status_error(response, body, target=self.target, what="GET stream")
        if content_type(response) != "text/event-stream":
            close_response(response)
            raise ProtocolError(
                f"{self.target}: GET stream answered Content-Type {content_type(response)!r}",
                target=self.target,
            )
        return response

    def _run_listen(self, stream: _Stream) -> None:
        attempts = 0
        first = True
        while not stream.stop.is_set() and not self._closing.is_set():
            if not first:
                if attempts > self.max_resume_attempts:
                    logger.warning(
                        "%s: GET stream gave up after %d attempts", self.target, attempts
                    )
                    break
                if stream.stop.wait(self._retry_delay_s(stream, attempts)):
                    break
            try:
                response = self._get_stream(
                    stream, last_event_id=stream.parser.last_event_id or None
                )
            except SessionExpiredError:
                break
            except (TransportError, ProtocolError, HTTPStatusError) as exc:
                logger.debug("%s: GET stream failed: %s", self.target, exc)
                if first:
                    stream.offered = False
                    stream.connected.set()
                    break
                attempts += 1
                continue
            if response is None:
                if first:
                    stream.offered = False
                    stream.connected.set()
                break
            if not stream.attach(response):
                break
            if first:
                stream.offered = True
                stream.connected.set()
                first = False
            stream.progress = False
            try:
                pump_events(
                    response,
                    stream.parser,
                    lambda ev: self._on_event(stream, ev),
                    stop=stream.stop,
                    target=self.target,
                    timeouts=Timeouts(self.timeouts.connect_s, stream.read_s),
                )
            except ReadTimeout:
                pass  # quiet for listen_read_s: reopen (and resume)
            except (TransportError, ProtocolError) as exc:
                logger.debug("%s: GET stream dropped: %s", self.target, exc)
            finally:
                close_response(response)
                stream.parser.close()
            attempts = 0 if stream.progress else attempts + 1
        stream.stop.set()
        stream.connected.set()

    def _run_stray(self, stream: _Stream) -> None:
        try:
            pump_events(
                stream.response,  # type: ignore[arg-type]
                stream.parser,
                lambda ev: self._on_event(stream, ev),
                stop=stream.stop,
                target=self.target,
                timeouts=self.timeouts,
            )
        except (TransportError, ProtocolError) as exc:
            logger.debug("%s: SSE answer to a notification failed: %s", self.target, exc)

    # -- helpers -------------------------------------------------------------------------------

    def _require_sink(self) -> MessageSink:
        sink = self._sink
        if sink is None:
            raise UsageError("the StreamableHTTPTransport is not started")
        return sink

    def _read_s(self, context: SendContext) -> float | None:
        if context.timeout_s is not None:
            return context.timeout_s + READ_GRACE_S
        return self.timeouts.read_s

    def _post_timeouts(self, context: SendContext) -> Timeouts:
        connect = self.timeouts.connect_s
        if context.timeout_s is not None:
            limit = context.timeout_s + READ_GRACE_S
            connect = limit if connect is None else min(connect, limit)
        return Timeouts(connect, self._read_s(context))

    def _headers(
        self, context: SendContext, method: str | None, *, is_init: bool
    ) -> tuple[dict[str, str], str | None]:
        """The POST headers, and the session id they carry (None: none)."""
        merged: requests.structures.CaseInsensitiveDict[str] = (
            requests.structures.CaseInsensitiveDict(self.headers)
        )
        extra = getattr(context, "headers", None)
        if isinstance(extra, Mapping):
            merged.update(extra)
        merged["Accept"] = _ACCEPT_BOTH
        merged["Content-Type"] = "application/json"
        session_id: str | None = None
        if context.modern:
            if context.protocol_version:
                merged[VERSION_HEADER] = context.protocol_version
            if method:
                merged[METHOD_HEADER] = encode_header_value(method)
            if context.name is not None:
                merged[NAME_HEADER] = encode_header_value(context.name)
        else:
            with self._lock:
                version = context.protocol_version or (None if is_init else self._protocol_version)
                if not is_init:
                    session_id = self._session_id
            if version:
                merged[VERSION_HEADER] = version
            if session_id is not None:
                merged[SESSION_HEADER] = session_id
        return dict(merged.items()), session_id

    def _deliver(self, sink: MessageSink, message: Message) -> None:
        try:
            sink.message_received(message)
        except Exception:  # a sink must not raise; never let it kill a reader
            logger.exception("%s: the sink failed on %r", self.target, message)

    def _fail_request(self, stream: _Stream, error: SyncClientsError) -> None:
        sink = self._sink
        rid = stream.request_id
        if sink is None or rid is None or self._closing.is_set():
            return
        logger.debug("%s: request %r failed: %s", self.target, rid, error)
        if isinstance(sink, RequestFailureSink):
            try:
                sink.request_failed(rid, error)
            except Exception:
                logger.exception("%s: request_failed hook failed", self.target)
            return
        self._deliver(
            sink,
            ErrorResponse(
                rid,
                ErrorObject(
                    INTERNAL_ERROR,
                    f"transport: {error}",
                    {"transportError": type(error).__name__},
                ),
            ),
        )

    def _forget(self, stream: _Stream) -> None:
        if stream.request_id is None:
            return
        with self._lock:
            if self._streams.get(stream.request_id) is stream:
                del self._streams[stream.request_id]

    def _forget_id(self, request_id: RequestId) -> None:
        with self._lock:
            self._streams.pop(request_id, None)

    def _copy_expired(self) -> SessionExpiredError:
        expired = self._expired
        assert expired is not None
        return SessionExpiredError(
            expired.message,
            session_id=expired.session_id,
            status_code=expired.status_code,
            target=self.target,
        )

    def _report_lost(self, error: TransportError) -> None:
        with self._lock:
            if self._lost_reported:
                return
            self._lost_reported = True
            sink = self._sink
        if sink is not None:
            try:
                sink.connection_lost(error)
            except Exception:
                logger.exception("%s: connection_lost failed", self.target)

    def _delete_session(self, session_id: str, version: str | None, deadline: float) -> None:
        """DELETE the session (MCP 2025-11-25 "Session Management"); 405 is fine.

        Bounded in total time by ``deadline`` (a ``time.monotonic()`` instant), not per read:
        the DELETE goes over a connection of its own whose socket is shut down when the
        deadline passes, wherever the exchange is (connect, TLS, status line, headers), so a
        server answering one byte every few seconds cannot hold :meth:`close`. The answer's
        body is never read (nothing in it matters), so its size cannot matter either.
        Through a proxy the socket is the proxy's; the bound holds the same way.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            logger.debug("%s: no time left to DELETE the session", self.target)
            return
        headers = dict(self.headers)
        headers[SESSION_HEADER] = session_id
        if version:
            headers[VERSION_HEADER] = version
        connect = (
            remaining
            if self.timeouts.connect_s is None
            else min(self.timeouts.connect_s, remaining)
        )
        timeouts = Timeouts(connect, remaining)
        sockets: list[socket.socket] = []
        finished = threading.Event()

        def cut_at_deadline() -> None:
            if finished.wait(max(0.0, deadline - time.monotonic())):
                return
            for sock in list(sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        http = requests.Session()
        adapter = _SocketRecordingAdapter(sockets)
        http.mount("http://", adapter)
        http.mount("https://", adapter)
        watchdog = threading.Thread(target=cut_at_deadline, name="mcp-http-delete", daemon=True)
        watchdog.start()
        try:
            # the caller's session (if any) still decides headers, cookies, auth and proxies
            prepared = self._http.prepare_request(
                requests.Request("DELETE", self.url, headers=headers, auth=self.auth)
            )
            settings = self._http.merge_environment_settings(
                prepared.url, {}, True, self.verify, self.cert
            )
            with translating(target=self.target, timeouts=timeouts):
                response = http.send(
                    prepared,
                    timeout=(timeouts.connect_s, timeouts.read_s),
                    allow_redirects=False,
                    **settings,
                )
            status = response.status_code
            close_response(response)  # the body is not read: the connection is discarded
            if status not in (200, 202, 204, 404, 405):
                logger.debug("%s: DELETE session answered %s", self.target, status)
        except (SyncClientsError, UsageError) as exc:
            logger.debug("%s: DELETE session failed: %s", self.target, exc)
        finally:
            finished.set()
            http.close()
            watchdog.join()


class _SocketRecordingAdapter(requests.adapters.HTTPAdapter):
    """An adapter (urllib3 retries off) that records each socket its connections open, so
    that another thread can shut them down at a deadline. For one-off exchanges only."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        super().__init__(max_retries=0)
        self._sockets = sockets

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
        pool: Any = super().get_connection_with_tls_context(*args, **kwargs)
        sockets = self._sockets
        base = pool.ConnectionCls

        class RecordingConnection(base):  # type: ignore[misc, valid-type]
            def _new_conn(self) -> socket.socket:
                sock: socket.socket = super()._new_conn()
                sockets.append(sock)
                return sock

        pool.ConnectionCls = RecordingConnection
        return pool
