"""Correlates JSON-RPC request ids with waiting threads, and routes what the server sends.

Many threads may call :meth:`Dispatcher.request` at once through one transport; each waits
on its own future with its own timeout. The transport's reader thread only completes
futures and queues work: server requests run on a small worker pool (a callback may block,
e.g. to ask a user), notifications run in order on one notification thread. JSON-RPC 2.0
sections 4-5; MCP basic/utilities/cancellation and progress.

Bounded memory under a flood (the reader thread never blocks on a slow callback, so answers
to our requests are never delayed by one):

- **Responses to our requests** are never queued behind callbacks and never dropped (one
  with a progress callback is queued after that request's earlier progress notifications,
  outside the bound: there are at most as many as our requests in flight).
- **Notifications** wait in one FIFO queue of at most ``max_queued_notifications`` messages
  and about ``max_queued_notification_bytes`` of payload (default 1000 and 16 MiB). When it
  is full, an arriving notification is dropped: counted in :class:`DispatchStats` (and so
  in ``MCPClient.metrics()``) and logged at WARNING at most once every 10 s. Tail drop
  keeps what is queued in order.
- **Change notifications** (``notifications/*/list_changed``, ``notifications/resources/
  updated``) drive cache invalidation, so they are not dropped while the queue is full:
  an identical one already waiting absorbs it (coalesced: one delivery means "refetch"),
  and at most ``max_queued_notifications`` distinct ones wait beyond the bound.
- **Cancellations** (``notifications/cancelled``) are handled on the reader thread at once.
- **Server-to-client requests** (sampling, elicitation, roots, ping) always get an answer:
  at most ``max_pending_server_requests`` run or wait at once; one more is answered at
  once with JSON-RPC error -32000 ("client busy"), never dropped silently.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import threading
import time
from collections import deque
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
from ..resilience.plugins import current_attempt
from .jsonrpc_batch import JsonRpcBatcher
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

__all__ = ["DispatchStats", "Dispatcher", "error_from_response", "report_sent_requests"]

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

#: JSON-RPC "server error" (implementation-defined range -32000..-32099): the client has
#: too many server requests pending to take one more.
CLIENT_BUSY = -32000
#: Seconds between two warnings about dropped notifications (one dispatcher).
DROP_LOG_INTERVAL_S = 10.0
_STICKY_SUFFIX = "/list_changed"
_STICKY_METHODS = frozenset({"notifications/resources/updated"})


class DispatchStats:
    """Counters of what a flood made the dispatcher shed. Thread-safe; may be shared by the
    successive dispatchers (sessions) of one client, so the counts survive a restart.

    Attributes:
        notifications_dropped: notifications dropped because the queue was full.
        notifications_coalesced: change notifications absorbed by an identical one waiting.
        server_requests_rejected: server requests answered "client busy" at once.
        notification_queue_peak: the most notifications that waited at once.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.notifications_dropped = 0
        self.notifications_coalesced = 0
        self.server_requests_rejected = 0
        self.notification_queue_peak = 0


def _approx_size(value: Any) -> int:
    """About how many bytes ``value`` (parsed JSON) took on the wire: string lengths plus a
    few bytes per other node. Linear in the nodes, like the parsing that made it."""
    size = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, dict):
            size += 2
            for key, sub in item.items():
                size += len(key) + 4
                stack.append(sub)
        elif isinstance(item, list):
            size += 2 + len(item)
            stack.extend(item)
        else:
            size += 8
    return size


def _sticky_key(message: Notification) -> tuple[str, str] | None:
    method = message.method
    if method.endswith(_STICKY_SUFFIX):
        return (method, "")
    if method in _STICKY_METHODS:
        uri = (message.params or {}).get("uri")
        return (method, uri if isinstance(uri, str) else "")
    return None


class _Notifier:
    """One daemon thread running queued work in order; notifications bounded (see module)."""

    def __init__(
        self, target: str, *, max_items: int, max_bytes: int, stats: DispatchStats
    ) -> None:
        self._target = target
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._stats = stats
        self._cond = threading.Condition()
        # (fn, arg, bytes counted, sticky key); fn(arg) runs on the thread
        self._items: deque[tuple[Callable[[Any], None], Any, int, tuple[str, str] | None]] = deque()
        self._queued = 0  # notifications waiting (ordered responses excluded)
        self._queued_bytes = 0
        self._sticky: set[tuple[str, str]] = set()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._unlogged_drops = 0
        self._last_drop_log = -DROP_LOG_INTERVAL_S

    def offer(self, fn: Callable[[Notification], None], message: Notification) -> None:
        """Queue a notification for ``fn``, or drop it when the queue is full."""
        key = _sticky_key(message)
        size = _approx_size(message.params)
        with self._cond:
            if self._closed:
                return
            if key is not None and key in self._sticky:
                with self._stats.lock:
                    self._stats.notifications_coalesced += 1
                return
            full = self._queued > 0 and (
                self._queued >= self._max_items or self._queued_bytes + size > self._max_bytes
            )
            if full and (key is None or len(self._sticky) >= self._max_items):
                self._dropped(message.method)
                return
            if key is not None:
                self._sticky.add(key)
            self._queued += 1
            self._queued_bytes += size
            with self._stats.lock:
                if self._queued > self._stats.notification_queue_peak:
                    self._stats.notification_queue_peak = self._queued
            self._items.append((fn, message, size, key))
            self._start()

    def put_ordered(self, fn: Callable[[Any], None], arg: Any) -> bool:
        """Queue ``fn(arg)`` outside the bound (never dropped); False when closed."""
        with self._cond:
            if self._closed:
                return False
            self._items.append((fn, arg, -1, None))
            self._start()
            return True

    def close(self) -> None:
        """Drop the notifications that wait, complete the ordered responses that wait (their
        callers must not hang), and let the thread end (after a running callback returns)."""
        with self._cond:
            self._closed = True
            ordered = [(fn, arg) for fn, arg, size, _ in self._items if size < 0]
            self._items.clear()
            self._sticky.clear()
            self._queued = self._queued_bytes = 0
            unlogged, self._unlogged_drops = self._unlogged_drops, 0
            self._cond.notify_all()
        for fn, arg in ordered:
            fn(arg)  # _resolve: completes a future, runs no user code
        if unlogged:
            logger.warning(
                "%s: dropped %d more notifications (queue full: a notification callback "
                "was too slow)",
                self._target,
                unlogged,
            )

    def _dropped(self, method: str) -> None:  # with self._cond held
        with self._stats.lock:
            self._stats.notifications_dropped += 1
            total = self._stats.notifications_dropped
        self._unlogged_drops += 1
        now = time.monotonic()
        if now - self._last_drop_log < DROP_LOG_INTERVAL_S:
            return
        count, self._unlogged_drops = self._unlogged_drops, 0
        self._last_drop_log = now
        logger.warning(
            "%s: notification queue full (%d waiting, a notification callback is too slow): "
            "dropped %d notification(s), last %s; %d dropped in all",
            self._target,
            self._queued,
            count,
            method,
            total,
        )

    def _start(self) -> None:  # with self._cond held
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mcp-notify", daemon=True)
            self._thread.start()
        self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                fn, arg, size, key = self._items.popleft()
                if size >= 0:
                    self._queued -= 1
                    self._queued_bytes -= size
                if key is not None:
                    self._sticky.discard(key)
            try:
                fn(arg)
            except Exception:  # the handlers log their own failures; never kill the thread
                logger.exception("%s: notification work failed", self._target)


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
        max_queued_notifications: the most notifications waiting for the notification
            thread (>= 1); more are dropped and counted (see the module docstring).
        max_queued_notification_bytes: about the most payload bytes they may hold (one
            notification is always accepted into an empty queue).
        max_pending_server_requests: the most server requests running or waiting (>= 1);
            more are answered with JSON-RPC error -32000 at once.
        stats: where drops are counted (shared across a client's sessions); None: a new one.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        on_request: RequestHandler,
        on_notification: NotificationHandler,
        request_workers: int = 4,
        max_queued_notifications: int = 1000,
        max_queued_notification_bytes: int = 16 * 1024 * 1024,
        max_pending_server_requests: int = 64,
        stats: DispatchStats | None = None,
    ) -> None:
        self.transport = transport
        #: Coalesces requests into JSON-RPC batches (2025-03-26 sessions only); None: off.
        self.batcher: JsonRpcBatcher | None = None
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
        self.stats = stats if stats is not None else DispatchStats()
        self._max_server_requests = max(1, max_pending_server_requests)
        self._workers = ThreadPoolExecutor(request_workers, thread_name_prefix="mcp-callback")
        self._notifier = _Notifier(
            self.target,
            max_items=max(1, max_queued_notifications),
            max_bytes=max_queued_notification_bytes,
            stats=self.stats,
        )

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
        self._notifier.close()

    # -- MessageSink (called by the transport's threads) ----------------------------------

    def message_received(self, message: Message) -> None:
        """Route one message from the server; never raises, never blocks on user code."""
        try:
            if isinstance(message, Response | ErrorResponse):
                self._complete(message)
            elif isinstance(message, Request):
                with self._lock:
                    busy = len(self._server_requests) >= self._max_server_requests
                    if not busy:
                        self._server_requests[message.id] = False
                if busy:
                    self._reject_busy(message)
                else:
                    self._submit(self._workers, self._answer, message)
            elif message.method == "notifications/cancelled":
                self._server_cancelled(message)
            else:
                self._notifier.offer(self._notify, message)
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
        scope = current_attempt()  # instrumented by plugins: id out, trace context in
        if scope is not None:
            scope.request_id = rid
            scope.data["network.transport"] = getattr(self.transport, "network_transport", None)
            scope.data["mcp.protocol.version"] = context.protocol_version
            if method == "tools/call" and params:  # for a plugin's opt-in content recording
                scope.data["mcp.arguments"] = params.get("arguments")
            if scope.carrier:
                params = dict(params or {})
                params["_meta"] = {**scope.carrier, **(params.get("_meta") or {})}
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
                batcher = self.batcher
                if batcher is not None and not ctx.modern:
                    batcher.send(Request(rid, method, params), ctx)
                else:
                    self.transport.send(Request(rid, method, params), ctx)
                sent_hook: SentHook | None = getattr(_sent_hooks, "hook", None)
                if sent_hook is not None:
                    sent_hook(self._canceller(rid, method, ctx))
                outcome = pending.future.result(timeout=timeout_s)
            except FutureTimeout:
                self._abandon(rid, "timeout", ctx, notify=cancel_on_timeout)
                what = "request cancelled on the server" if cancel_on_timeout else "not cancelled"
                raise ReadTimeout(
                    f"{self.target} {method}: no answer within {timeout_s:.3f} s ({what})",
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
            if scope is not None:  # after the answer: an initialize response sets it
                scope.data["mcp.session.id"] = getattr(self.transport, "session_id", None)
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
        # behind the progress notifications already queued for this request (unless the
        # notifier is closed: the client is closing)
        if pending.ordered and self._notifier.put_ordered(
            lambda m: _resolve(pending.future, m), message
        ):
            return
        _resolve(pending.future, message)

    def _submit(self, pool: ThreadPoolExecutor, fn: Callable[[Any], None], arg: Any) -> None:
        try:
            pool.submit(fn, arg)
        except RuntimeError:  # shut down: the client is closing
            if isinstance(arg, Request):
                with self._lock:
                    self._server_requests.pop(arg.id, None)
            logger.debug("%s: dropped %r during close", self.target, arg)

    def _reject_busy(self, request: Request) -> None:
        """Answer a server request at once with "client busy" (on the reader thread: the
        answer is one short line, and not reading meanwhile is backpressure on the flood)."""
        with self.stats.lock:
            self.stats.server_requests_rejected += 1
            total = self.stats.server_requests_rejected
        if total == 1 or total % 100 == 0:
            logger.warning(
                "%s: %d server requests pending; answered %s with 'client busy' (%d so far)",
                self.target,
                self._max_server_requests,
                request.method,
                total,
            )
        reply = ErrorResponse(
            request.id,
            ErrorObject(
                CLIENT_BUSY,
                f"client busy: {self._max_server_requests} server requests already pending",
            ),
        )
        try:
            self.transport.send(reply, SendContext(request_id=request.id))
        except TransportError as exc:
            logger.debug("%s: could not answer %s: %s", self.target, request.method, exc)

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
