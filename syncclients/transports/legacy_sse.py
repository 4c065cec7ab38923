"""The MCP HTTP+SSE transport of protocol 2024-11-05 (deprecated since 2025-03-26; MCP
2024-11-05 basic/transports "HTTP with SSE"), blocking and thread-based.

The client GETs the SSE URL and keeps that stream open; the server's first event is
``endpoint``, whose data is the URL (usually relative) to POST messages to. Every answer,
notification and server request then arrives on the SSE stream, read on one worker thread;
the POSTs only get 202. When the stream ends the connection (and the server-side session)
is gone: the sink's ``connection_lost`` is called once.

requests/urllib3 exceptions are translated only by
:func:`syncclients.transports.http.translating`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from ..config import PoolLimits, Timeouts
from ..errors import (
    ConnectionLostError,
    ConnectTimeout,
    ProtocolError,
    SyncClientsError,
    TransportError,
    UsageError,
)
from ..mcp.messages import ErrorResponse, Message, Request, decode, encode
from ..mcp.transport import MessageSink, SendContext, Transport
from .http import build_session, read_body, redact_url, translating
from .sse import DEFAULT_MAX_EVENT_BYTES, SSEEvent, SSEParser
from .streamable_http import (
    DEFAULT_POOL_LIMITS,
    DEFAULT_TIMEOUTS,
    VERSION_HEADER,
    close_response,
    content_type,
    jsonrpc_error_in,
    pump_events,
    shutdown_response,
    status_error,
)

__all__ = ["LegacySSETransport"]

logger = logging.getLogger("syncclients.transports.legacy_sse")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ERROR_BODY_BYTES = 64 * 1024


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


class LegacySSETransport(Transport):
    """One MCP server behind the 2024-11-05 HTTP+SSE transport. Thread-safe.

    Args:
        url: the SSE URL, e.g. ``"http://127.0.0.1:8000/sse"``.
        headers: headers sent with the GET and every POST; None: none.
        auth: a requests-style auth object; None: none.
        session: a ``requests.Session`` to share (the caller closes it); None: a pooled one
            is built with ``pool_limits`` and closed by :meth:`close`.
        pool_limits: the pool of the session built when ``session`` is None.
        timeouts: ``connect_s`` bounds every connection; ``read_s`` bounds each POST's
            answer and the silence on the SSE stream (servers send keepalive comments; the
            SDK every 15 s): after ``read_s`` seconds without a byte the connection is
            declared lost. None: no limit.
        endpoint_timeout_s: the most seconds :meth:`start` waits for the ``endpoint`` event.
        max_event_bytes: the most bytes of one SSE line or event (None: no bound).
        verify: TLS verification: True, False, or a CA bundle path.
        cert: a client certificate path or ``(cert, key)`` pair; None: none.
        close_timeout_s: the most seconds :meth:`close` waits for the reader thread.

    Raises:
        UsageError: ``url`` is not an absolute http(s) URL.
    """

    network_transport = "tcp"

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        session: requests.Session | None = None,
        pool_limits: PoolLimits = DEFAULT_POOL_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        endpoint_timeout_s: float = 10.0,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        close_timeout_s: float = 5.0,
    ) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"the SSE URL must be an absolute http(s) URL, got {url!r}")
        if endpoint_timeout_s <= 0:
            raise UsageError(f"endpoint_timeout_s must be > 0, got {endpoint_timeout_s!r}")
        self.url = url
        self.target = redact_url(url)
        self.headers = dict(headers or {})
        self.auth = auth
        self.timeouts = timeouts
        self.endpoint_timeout_s = endpoint_timeout_s
        self.max_event_bytes = max_event_bytes
        self.verify = verify
        self.cert = cert
        self.close_timeout_s = close_timeout_s
        self._owns_session = session is None
        self._http = session if session is not None else build_session(pool_limits)
        self._lock = threading.Lock()
        self._sink: MessageSink | None = None
        self._endpoint: str | None = None
        self._endpoint_ready = threading.Event()
        self._start_error: SyncClientsError | None = None
        self._response: requests.Response | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()  # the reader must stop
        self._closed = False
        self._lost: TransportError | None = None
        self._protocol_version: str | None = None

    @property
    def endpoint(self) -> str | None:
        """The absolute URL messages are POSTed to (from the ``endpoint`` event), or None."""
        return self._endpoint

    def era_cache_key(self) -> str:
        """The SSE URL (without credentials, query or fragment)."""
        return f"sse:{self.target}"

    # -- Transport -----------------------------------------------------------------------------

    def start(self, sink: MessageSink) -> None:
        """GET the SSE URL, start the reader, and wait for the ``endpoint`` event.

        Raises:
            ConnectError: could not connect (ConnectTimeout: no ``endpoint`` event within
                ``endpoint_timeout_s``).
            HTTPStatusError: the GET was answered with a non-2xx status.
            ProtocolError: the answer is not an event stream, or the endpoint is on
                another origin (scheme, host and port must match the SSE URL's).
            UsageError: started twice.
        """
        with self._lock:
            if self._sink is not None or self._closed:
                raise UsageError("a LegacySSETransport can be started once")
            self._sink = sink
        headers = dict(self.headers)
        headers["Accept"] = "text/event-stream"
        with translating(target=self.target, timeouts=self.timeouts):
            response = self._http.get(
                self.url,
                headers=headers,
                auth=self.auth,
                timeout=(self.timeouts.connect_s, self.timeouts.read_s),
                stream=True,
                allow_redirects=False,
                verify=self.verify,
                cert=self.cert,
            )
        try:
            if not 200 <= response.status_code < 300:
                body = self._drain(response)
                raise status_error(response, body, target=self.target, what="GET (SSE)")
            if content_type(response) != "text/event-stream":
                raise ProtocolError(
                    f"{self.target}: expected an event stream, got Content-Type "
                    f"{content_type(response)!r}",
                    target=self.target,
                )
        except BaseException:
            close_response(response)
            raise
        self._response = response
        self._thread = threading.Thread(target=self._read, name="mcp-sse-reader", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.endpoint_timeout_s
        while not self._endpoint_ready.wait(max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                self.close()
                raise ConnectTimeout(
                    f"{self.target}: no endpoint event within {self.endpoint_timeout_s} s",
                    timeout_s=self.endpoint_timeout_s,
                    target=self.target,
                )
        if self._start_error is not None:
            self.close()
            raise self._start_error

    def send(self, message: Message, context: SendContext) -> None:
        """POST one message to the endpoint; its answer arrives on the SSE stream.

        An HTTP error whose body is a JSON-RPC error is delivered to the sink as that error
        (with the request's id), not raised.

        Raises:
            ConnectionLostError: the SSE stream has ended or the transport is closed.
            HTTPStatusError: a non-2xx answer without a JSON-RPC error body.
            TransportError: connect/read failures and timeouts (subclasses).
            UsageError: not started.
        """
        sink = self._sink
        endpoint = self._endpoint
        if sink is None or endpoint is None:
            raise UsageError("the LegacySSETransport is not started")
        with self._lock:
            if self._lost is not None:
                raise self._lost
            if self._closed:
                raise ConnectionLostError(f"{self.target}: transport closed", target=self.target)
            if context.protocol_version:
                self._protocol_version = context.protocol_version
            version = self._protocol_version
        headers = dict(self.headers)
        headers["Content-Type"] = "application/json"
        if version:
            headers[VERSION_HEADER] = version
        read_s = self.timeouts.read_s if context.timeout_s is None else context.timeout_s + 1.0
        timeouts = Timeouts(self.timeouts.connect_s, read_s)
        with translating(target=self.target, timeouts=timeouts):
            response = self._http.post(
                endpoint,
                data=encode(message),
                headers=headers,
                auth=self.auth,
                timeout=(timeouts.connect_s, timeouts.read_s),
                stream=True,
                allow_redirects=False,
                verify=self.verify,
                cert=self.cert,
            )
        body = self._drain(response)
        if 200 <= response.status_code < 300:
            return
        error = jsonrpc_error_in(body)
        if error is not None and isinstance(message, Request):
            self._deliver(sink, ErrorResponse(message.id, error.error))
            return
        what = f"POST {getattr(message, 'method', None) or 'response'}"
        raise status_error(response, body, target=self.target, what=what)

    def close(self) -> None:
        """Close the SSE stream (the server ends the session) and stop the reader thread.

        Idempotent; bounded by about ``close_timeout_s`` seconds.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            response = self._response
            thread = self._thread
        shutdown_response(response)
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.close_timeout_s)
        close_response(response)
        if self._owns_session:
            self._http.close()
        self._lose(ConnectionLostError(f"{self.target}: transport closed", target=self.target))

    # -- reader --------------------------------------------------------------------------------

    def _read(self) -> None:
        response = self._response
        assert response is not None
        parser = SSEParser(max_event_bytes=self.max_event_bytes)
        error: TransportError = ConnectionLostError(
            f"{self.target}: the server closed the SSE stream", target=self.target
        )
        try:
            pump_events(
                response,
                parser,
                self._on_event,
                stop=self._stop,
                target=self.target,
                timeouts=self.timeouts,
            )
        except TransportError as exc:
            error = exc
        except ProtocolError as exc:
            if not self._endpoint_ready.is_set():
                self._start_error = exc
            error = ConnectionLostError(f"{self.target}: {exc}", target=self.target)
        except Exception as exc:  # a reader must never die silently
            logger.exception("%s: SSE reader failed", self.target)
            error = TransportError(f"{self.target}: SSE reader failed: {exc}", target=self.target)
        finally:
            close_response(response)
        if self._start_error is None and not self._endpoint_ready.is_set():
            self._start_error = error
        self._endpoint_ready.set()
        if self._closed:
            error = ConnectionLostError(f"{self.target}: transport closed", target=self.target)
        self._lose(error)

    def _on_event(self, event: SSEEvent) -> bool:
        if event.event == "endpoint":
            if self._endpoint is None:
                self._set_endpoint(event.data.strip())
            return False
        if event.event != "message":
            logger.debug("%s: ignoring SSE event %r", self.target, event.event)
            return False
        if not self._endpoint_ready.is_set():
            logger.debug("%s: message before the endpoint event", self.target)
        try:
            messages = decode(event.data)
        except ProtocolError as exc:
            logger.warning("%s: ignoring a malformed message: %s", self.target, exc)
            return False
        sink = self._sink
        assert sink is not None
        for message in messages:
            self._deliver(sink, message)
        return False

    def _set_endpoint(self, data: str) -> None:
        endpoint = urljoin(self.url, data)
        if _origin(endpoint) != _origin(self.url):
            self._start_error = ProtocolError(
                f"{self.target}: the endpoint event names another origin: {redact_url(endpoint)}",
                target=self.target,
            )
            self._stop.set()  # the reader stops; start() raises the error
        else:
            self._endpoint = endpoint
        self._endpoint_ready.set()

    # -- helpers -------------------------------------------------------------------------------

    def _drain(self, response: requests.Response) -> bytes:
        read_s = self.timeouts.read_s
        try:
            return read_body(
                response,
                max_bytes=_ERROR_BODY_BYTES,
                deadline=None if read_s is None else time.monotonic() + read_s,
                target=self.target,
            )
        except TransportError as exc:
            logger.debug("%s: could not read a POST answer: %s", self.target, exc)
            return b""

    def _deliver(self, sink: MessageSink, message: Message) -> None:
        try:
            sink.message_received(message)
        except Exception:
            logger.exception("%s: the sink failed on %r", self.target, message)

    def _lose(self, error: TransportError) -> None:
        with self._lock:
            if self._lost is not None:
                return
            self._lost = error
            sink = self._sink
        if sink is not None:
            try:
                sink.connection_lost(error)
            except Exception:
                logger.exception("%s: connection_lost failed", self.target)
