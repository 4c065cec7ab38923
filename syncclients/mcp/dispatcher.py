"""Correlates JSON-RPC request ids with waiting threads, and routes what the server sends.

Many threads may call :meth:`Dispatcher.request` at once through one transport; each waits
on its own future with its own timeout. The transport's reader thread only completes
futures and queues work: server requests run on a small worker pool (a callback may block,
e.g. to ask a user), notifications run in order on one notification thread. JSON-RPC 2.0
sections 4-5; MCP basic/utilities/cancellation and progress.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any

from ..errors import (
    CallInterruptedError,
    ConnectionLostError,
    MCPError,
    MissingClientCapabilityError,
    ReadTimeout,
    SyncClientsError,
    TransportError,
    UnsupportedProtocolVersionError,
)
from .messages import (
    INTERNAL_ERROR,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    UNSUPPORTED_PROTOCOL_VERSION,
    ErrorObject,
    ErrorResponse,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
)
from .transport import SendContext, Transport

__all__ = ["Dispatcher", "error_from_response", "report_sent_requests"]

logger = logging.getLogger("syncclients.mcp")

#: ``handler(method, params) -> result`` for a server-to-client request; raise MCPError to
#: answer with a JSON-RPC error.
RequestHandler = Callable[[str, dict[str, Any]], dict[str, Any]]
#: ``handler(notification)`` for a server notification (progress is routed separately).
NotificationHandler = Callable[[Notification], None]
#: ``callback(params)`` with the params of a ``notifications/progress``.
ProgressCallback = Callable[[dict[str, Any]], None]
#: ``hook(cancel)``: told of each request the current thread sent, with a function that
#: cancels it on the server (see :func:`report_sent_requests`).
SentHook = Callable[[Callable[[], None]], None]

_sent_hooks = threading.local()


@contextlib.contextmanager
def report_sent_requests(hook: SentHook) -> Iterator[None]:
    """While active, every request this thread sends is reported to ``hook``.

    ``hook`` receives, right after the request was written, a ``cancel()`` function that
    abandons it: the server is sent ``notifications/cancelled`` with reason
    ``"interrupted"`` (MCP basic/utilities/cancellation; over modern-era HTTP its stream is
    closed) and the waiting thread gets :class:`~syncclients.errors.CallInterruptedError`.
    ``cancel()`` is safe from any thread and a no-op once the request has finished. A batch
    uses it to cancel running calls on Ctrl-C. Thread-local: requests sent by callbacks on
    other threads are not reported.
    """
    previous = getattr(_sent_hooks, "hook", None)
    _sent_hooks.hook = hook
    try:
        yield
    finally:
        _sent_hooks.hook = previous


def error_from_response(error: ErrorObject, *, method: str | None, target: str) -> MCPError:
    """Translate a JSON-RPC error object into the most specific :class:`MCPError`.

    Args:
        error: the ``error`` member the server sent.
        method: the request method it answers, when known.
        target: the server name for the error.

    Returns:
        :class:`UnsupportedProtocolVersionError` for -32022,
        :class:`MissingClientCapabilityError` for -32021, else :class:`MCPError`.
    """
    text = f"{target} {method or 'request'}: server error {error.code}: {error.message}"
    data = error.data
    if error.code == UNSUPPORTED_PROTOCOL_VERSION:
        supported: tuple[str, ...] = ()
        requested = None
        if isinstance(data, dict):
            raw = data.get("supported")
            if isinstance(raw, list):
                supported = tuple(v for v in raw if isinstance(v, str))
            req = data.get("requested")
            requested = req if isinstance(req, str) else None
        return UnsupportedProtocolVersionError(
            text,
            data=data,
            method=method,
            supported=supported,
            requested=requested,
            target=target,
        )
    if error.code == MISSING_REQUIRED_CLIENT_CAPABILITY:
        required = data.get("requiredCapabilities") if isinstance(data, dict) else None
        return MissingClientCapabilityError(
            text,
            data=data,
            method=method,
            required_capabilities=required if isinstance(required, dict) else None,
            target=target,
        )
    return MCPError(text, code=error.code, data=data, method=method, target=target)


class _Pending:
    __slots__ = ("future", "method", "ordered")

    def __init__(self, method: str, *, ordered: bool = False) -> None:
        self.method = method
        #: complete through the notification queue, after this request's progress
        #: notifications that arrived before the answer (none is lost or reordered)
        self.ordered = ordered
        self.future: Future[Message | SyncClientsError] = Future()


def _resolve(future: Future[Message | SyncClientsError], message: Message) -> None:
    if not future.done():
        future.set_result(message)


class Dispatcher:
    """The request/response engine of one MCP connection. Thread-safe.

    Args:
        transport: the connection (not yet started).
        on_request: answers server-to-client requests (run on the worker pool).
        on_notification: handles server notifications (run in order on one thread).
        request_workers: threads for server requests (callbacks that may block).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        on_request: RequestHandler,
        on_notification: NotificationHandler,
        request_workers: int = 4,
    ) -> None:
        self.transport = transport
        self.target = transport.target
        self._on_request = on_request
        self._on_notification = on_notification
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[RequestId, _Pending] = {}
        self._progress: dict[str | int, ProgressCallback] = {}
        self._server_requests: dict[RequestId, bool] = {}  # id -> cancelled by the server
        self._lost: TransportError | None = None
        self._closed = False
        self._workers = ThreadPoolExecutor(request_workers, thread_name_prefix="mcp-callback")
        self._notifier = ThreadPoolExecutor(1, thread_name_prefix="mcp-notify")

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the transport (see :meth:`Transport.start`).

        Raises:
            ConnectError: the transport could not start.
        """
        self.transport.start(self)

    @property
    def lost(self) -> TransportError | None:
        """Why the connection ended, or None while it is up."""
        return self._lost

    def close(self, reason: TransportError | None = None) -> None:
        """Fail every waiting call, close the transport and stop the worker threads.

        Idempotent and bounded: a callback still running finishes on its own thread, its
        answer is dropped.

        Args:
            reason: the error waiting calls get; default "client closed".
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.connection_lost(
            reason or ConnectionLostError(f"{self.target}: client closed", target=self.target)
        )
        self.transport.close()
        self._workers.shutdown(wait=False, cancel_futures=True)
        self._notifier.shutdown(wait=False, cancel_futures=True)

    # -- MessageSink (called by the transport's threads) ----------------------------------

    def message_received(self, message: Message) -> None:
        """Route one message from the server; never raises, never blocks on user code."""
        try:
            if isinstance(message, Response | ErrorResponse):
                self._complete(message)
            elif isinstance(message, Request):
                with self._lock:
                    self._server_requests[message.id] = False
                self._submit(self._workers, self._answer, message)
            elif message.method == "notifications/cancelled":
                self._server_cancelled(message)
            else:
                self._submit(self._notifier, self._notify, message)
        except Exception:  # a sink must never raise into the reader thread
            logger.exception("%s: failed to route %r", self.target, message)

    def connection_lost(self, error: TransportError) -> None:
        """Fail every waiting call with ``error`` (the first reason wins)."""
        with self._lock:
            if self._lost is None:
                self._lost = error
            error = self._lost
            pending = list(self._pending.values())
            self._pending.clear()
        for item in pending:
            if not item.future.done():
                item.future.set_result(error)

    def request_failed(self, request_id: RequestId, error: SyncClientsError) -> None:
        """Fail one waiting request (its response stream broke and cannot be resumed, or
        carried a malformed message); the connection itself stays up. Called by transports
        that carry each request separately (Streamable HTTP)."""
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is not None and not pending.future.done():
            pending.future.set_result(error)

    def cancel(
        self,
        request_id: RequestId,
        reason: str,
        context: SendContext,
        *,
        error: SyncClientsError | None = None,
    ) -> None:
        """Abandon a waiting request from another thread: the server is told (MCP
        cancellation; in the modern era over HTTP, its stream is closed) and the waiting
        caller gets ``error`` (default :class:`~syncclients.errors.ConnectionLostError`).
        A no-op when the request already finished."""
        with self._lock:
            pending = self._pending.get(request_id)
        if pending is None:
            return
        self._abandon(request_id, reason, context, notify=True)
        if not pending.future.done():
            pending.future.set_result(
                error
                or ConnectionLostError(f"{self.target}: request {request_id} cancelled ({reason})")
            )

    # -- client requests ------------------------------------------------------------------

    def request(
        self,
        method: str,
        params: dict[str, Any] | None,
        *,
        timeout_s: float | None,
        context: SendContext,
        progress_token: str | None = None,
        on_progress: ProgressCallback | None = None,
        cancel_on_timeout: bool = True,
        on_sent: Callable[[RequestId], None] | None = None,
    ) -> dict[str, Any]:
        """Send one request and wait for its answer.

        Args:
            method: the JSON-RPC method.
            params: the params object (already carrying any ``_meta``), or None.
            timeout_s: the most seconds to wait for the answer; None: no limit.
            context: what the transport should know (the request id is filled in here).
            progress_token: the ``_meta.progressToken`` the params carry, if any.
            on_progress: called with each matching ``notifications/progress`` params.
            cancel_on_timeout: send ``notifications/cancelled`` when the wait ends early
                (False for ``initialize`` and ``server/discover``, which must not be
                cancelled).
            on_sent: told the request id once the request is registered (a long-lived
                request, e.g. ``subscriptions/listen``, is stopped with :meth:`cancel`).

        Returns:
            The ``result`` object of the response.

        Raises:
            ReadTimeout: no answer within ``timeout_s`` (the server is sent
                ``notifications/cancelled``).
            MCPError: the server answered with a JSON-RPC error.
            TransportError: the connection failed (e.g. ServerExitedError).
            KeyboardInterrupt: re-raised after cancelling the request on the server.
        """
        rid = next(self._ids)
        pending = _Pending(method, ordered=progress_token is not None and on_progress is not None)
        ctx = replace(context, method=method, request_id=rid, timeout_s=timeout_s)
        with self._lock:
            if self._lost is not None:
                raise copy.copy(self._lost)
            self._pending[rid] = pending
            if progress_token is not None and on_progress is not None:
                self._progress[progress_token] = on_progress
        if on_sent is not None:
            on_sent(rid)
        try:
            try:
                self.transport.send(Request(rid, method, params), ctx)
                sent_hook: SentHook | None = getattr(_sent_hooks, "hook", None)
                if sent_hook is not None:
                    sent_hook(self._canceller(rid, method, ctx))
                outcome = pending.future.result(timeout=timeout_s)
            except FutureTimeout:
                self._abandon(rid, "timeout", ctx, notify=cancel_on_timeout)
                raise ReadTimeout(
                    f"{self.target} {method}: no answer within {timeout_s:.3f} s "
                    "(request cancelled on the server)",
                    timeout_s=timeout_s,
                    target=self.target,
                ) from None
            except SyncClientsError:
                self._forget(rid)
                raise
            except BaseException:  # KeyboardInterrupt, SystemExit: cancel, then re-raise
                self._abandon(rid, "interrupted", ctx, notify=cancel_on_timeout)
                raise
        finally:
            if progress_token is not None:
                with self._lock:
                    self._progress.pop(progress_token, None)
        if isinstance(outcome, SyncClientsError):  # lost connection, or (HTTP) a malformed
            raise copy.copy(outcome)  # message on this request's own stream: ProtocolError
        if isinstance(outcome, ErrorResponse):
            raise error_from_response(outcome.error, method=method, target=self.target)
        assert isinstance(outcome, Response)
        return outcome.result

    def notify(self, method: str, params: dict[str, Any] | None, context: SendContext) -> None:
        """Send a notification (no answer).

        Raises:
            TransportError: the connection is lost or the write failed.
        """
        with self._lock:
            if self._lost is not None:
                raise copy.copy(self._lost)
        self.transport.send(Notification(method, params), replace(context, method=method))

    # -- internals ------------------------------------------------------------------------

    def _canceller(self, rid: RequestId, method: str, ctx: SendContext) -> Callable[[], None]:
        def cancel() -> None:
            self.cancel(
                rid,
                "interrupted",
                ctx,
                error=CallInterruptedError(
                    f"{self.target} {method}: interrupted while running (request {rid} "
                    "cancelled on the server; it may have run)",
                    target=self.target,
                ),
            )

        return cancel

    def _forget(self, rid: RequestId) -> None:
        with self._lock:
            self._pending.pop(rid, None)

    def _abandon(self, rid: RequestId, reason: str, ctx: SendContext, *, notify: bool) -> None:
        with self._lock:
            was_pending = self._pending.pop(rid, None) is not None
            alive = self._lost is None
        if was_pending and alive and notify:
            self.transport.cancel(rid, reason, ctx)

    def _complete(self, message: Response | ErrorResponse) -> None:
        if message.id is None:
            logger.warning(
                "%s: error response without id: %s %s",
                self.target,
                message.error.code if isinstance(message, ErrorResponse) else "",
                message.error.message if isinstance(message, ErrorResponse) else "",
            )
            return
        with self._lock:
            pending = self._pending.pop(message.id, None)
        if pending is None:
            logger.debug("%s: answer to unknown or abandoned request %r", self.target, message.id)
            return
        if pending.ordered:
            try:  # behind the progress notifications already queued for this request
                self._notifier.submit(_resolve, pending.future, message)
                return
            except RuntimeError:  # the notifier is shut down: the client is closing
                pass
        _resolve(pending.future, message)

    def _submit(self, pool: ThreadPoolExecutor, fn: Callable[[Any], None], arg: Any) -> None:
        try:
            pool.submit(fn, arg)
        except RuntimeError:  # shut down: the client is closing
            logger.debug("%s: dropped %r during close", self.target, arg)

    def _server_cancelled(self, message: Notification) -> None:
        rid = (message.params or {}).get("requestId")
        if isinstance(rid, int | str):
            with self._lock:
                if rid in self._server_requests:
                    self._server_requests[rid] = True

    def _answer(self, request: Request) -> None:
        reply: Message
        try:
            result = self._on_request(request.method, request.params or {})
            reply = Response(request.id, result)
        except MCPError as exc:
            reply = ErrorResponse(request.id, ErrorObject(exc.code, exc.message, exc.data))
        except Exception as exc:
            logger.exception("%s: callback for %s failed", self.target, request.method)
            reply = ErrorResponse(
                request.id, ErrorObject(INTERNAL_ERROR, f"client callback failed: {exc}")
            )
        with self._lock:
            cancelled = self._server_requests.pop(request.id, False)
            dead = self._lost is not None
        if cancelled or dead:
            return
        try:
            self.transport.send(reply, SendContext(request_id=request.id))
        except TransportError as exc:
            logger.debug("%s: could not answer %s: %s", self.target, request.method, exc)

    def _notify(self, message: Notification) -> None:
        try:
            params = message.params or {}
            if message.method == "notifications/progress":
                token = params.get("progressToken")
                with self._lock:
                    callback = self._progress.get(token) if isinstance(token, str | int) else None
                if callback is not None:
                    callback(params)
                    return
            self._on_notification(message)
        except Exception:
            logger.exception("%s: notification handler for %s failed", self.target, message.method)
