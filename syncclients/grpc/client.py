"""GRPCClient: a blocking gRPC client with deadlines, metadata, retries, a breaker and health.

The facade owns policy; the channel (:mod:`syncclients.transports.grpc_channel`) owns
connections, TLS and the translation of grpc exceptions. Every call runs through the one
:class:`~syncclients.resilience.Resilience` pipeline of the client::

    caller -> deadline -> budgeted retry -> circuit breaker -> attempt (one gRPC call)

One retry layer only: channels this client creates set ``grpc.enable_retries`` to 0, so a
failed attempt is retried by :class:`~syncclients.config.RetryPolicy` alone, never also by
gRPC's service-config retries (stacked retries multiply load).

Which failures are retried (gRPC doc "Status codes and their use in gRPC", proposal A6):

- UNAVAILABLE, ABORTED and RESOURCE_EXHAUSTED, whatever the method. A RESOURCE_EXHAUSTED for
  an oversized message is not retried (it would fail the same way). A UNAVAILABLE caused by
  a failed TLS handshake (:class:`~syncclients.errors.GRPCTLSError`) is not retried.
- DEADLINE_EXCEEDED only for idempotent calls (the server may have done the work).
- A server's ``grpc-retry-pushback-ms`` trailing metadata sets the delay exactly; a negative
  or malformed value stops retrying (A6).
- Nothing else: NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED, ... are raised at once.

Retries also need the client's retry budget (A6 retry throttling) to allow them.

The breaker (one per client, i.e. per target) counts only statuses that say the server is
unhealthy: UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL and RESOURCE_EXHAUSTED (not the
oversized-message kind). Caller errors (NOT_FOUND, INVALID_ARGUMENT, ...) count as successes:
the server answered.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Collection, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from ..config import (
    USE_CLIENT_DEFAULT,
    BreakerPolicy,
    RetryBudgetPolicy,
    RetryPolicy,
    UseClientDefault,
)
from ..errors import (
    DeadlineExceeded,
    GRPCMetadata,
    GRPCStatusError,
    GRPCTimeoutError,
    GRPCTLSError,
    InvalidHeaderError,
    UsageError,
)
from ..resilience import AttemptContext, CircuitBreaker, Hook, Resilience, RetryBudget
from ..resilience.hooks import LoggingHook
from ..resilience.stats import CallStats, ClientMetrics
from ..transports.grpc_channel import (
    GRPCTLSConfig,
    MetadataInput,
    ResponseStream,
    create_channel,
    invoke_unary,
    is_message_size_error,
    normalize_metadata,
    open_stream,
    wait_for_channel_ready,
)
from .health import HealthStatus, check_health, watch_health

__all__ = [
    "REQUEST_ID_KEY",
    "TENANT_ID_KEY",
    "GRPCClient",
    "GRPCResult",
    "GRPCStream",
    "grpc_breaker_failure",
    "grpc_retryable",
]

#: The metadata key of the per-call request id (sent on every call).
REQUEST_ID_KEY = "x-request-id"
#: The metadata key of the tenant id (sent when a tenant id is given).
TENANT_ID_KEY = "x-tenant-id"

_RETRY_ALWAYS = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
_BREAKER_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


def grpc_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """The client's safety classification: may this failed attempt be retried?

    Args:
        exc: the attempt's (translated) exception.
        idempotent: whether repeating the call is harmless.

    Returns:
        True for UNAVAILABLE (not a TLS failure), ABORTED and RESOURCE_EXHAUSTED (not an
        oversized message), and for DEADLINE_EXCEEDED when ``idempotent``; False for the
        rest, and when the server's ``grpc-retry-pushback-ms`` says not to retry (gRPC A6).
    """
    if not isinstance(exc, GRPCStatusError) or isinstance(exc, GRPCTLSError):
        return False
    if exc.retry_pushback is not None and exc.retry_after is None:
        return False  # A6: a negative or malformed pushback means "do not retry"
    if exc.code in _RETRY_ALWAYS:
        return not is_message_size_error(exc)
    return exc.code is grpc.StatusCode.DEADLINE_EXCEEDED and idempotent


def grpc_breaker_failure(exc: BaseException) -> bool:
    """The breaker's default classification: does this failure mean the server is unhealthy?

    Returns:
        True for UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL and RESOURCE_EXHAUSTED (except an
        oversized message); False for everything else, caller errors included.
    """
    return (
        isinstance(exc, GRPCStatusError)
        and exc.code in _BREAKER_CODES
        and not is_message_size_error(exc)
    )


@dataclass(frozen=True, slots=True)
class GRPCResult:
    """A successful unary call with its metadata (see :meth:`GRPCClient.call_with_metadata`).

    Attributes:
        response: the response message.
        initial_metadata: the server's initial (header) metadata, ``(key, value)`` pairs.
        trailing_metadata: the server's trailing metadata, ``(key, value)`` pairs.
        request_id: the ``x-request-id`` sent (the same on every attempt).
        attempts: how many attempts the call took (1 without retries).
    """

    response: Any
    initial_metadata: GRPCMetadata
    trailing_metadata: GRPCMetadata
    request_id: str
    attempts: int


class GRPCStream:
    """The responses of a server-streaming call (see :meth:`GRPCClient.stream`).

    Iterate it for the response messages; iteration ends when the server ends the stream
    with OK. Use it as a context manager, or call :meth:`cancel`, to end a stream you stop
    reading early (otherwise the call runs on the server until its deadline).

    Attributes:
        request_id: the ``x-request-id`` sent.
        attempts: how many attempts starting the stream took.
    """

    def __init__(
        self,
        stream: ResponseStream,
        *,
        request_id: str,
        attempts: int,
        deadline: float | None,
        clock: Callable[[], float],
        target: str,
        method: str,
    ) -> None:
        self._stream = stream
        self.request_id = request_id
        self.attempts = attempts
        self._deadline = deadline
        self._clock = clock
        self._target = target
        self._method = method

    def __iter__(self) -> GRPCStream:
        return self

    def __next__(self) -> Any:
        """The next response message.

        Raises:
            StopIteration: the stream ended with OK, or was cancelled locally.
            DeadlineExceeded: the call's overall deadline ran out (cause: the gRPC error).
            GRPCStatusError: (or a subclass) the server ended the stream with another
                status. Failures after the first response are never retried.
        """
        try:
            return next(self._stream)
        except GRPCTimeoutError as exc:
            if self._deadline is not None and self._clock() >= self._deadline:
                raise DeadlineExceeded(
                    f"{self._target} {self._method}: the stream's deadline ran out",
                    timeout_s=exc.timeout_s,
                    target=self._target,
                ) from exc
            raise

    def cancel(self) -> bool:
        """Cancel the call; iteration then stops. True when it was still running."""
        return self._stream.cancel()

    close = cancel

    def is_active(self) -> bool:
        """True while the call is running."""
        return self._stream.is_active()

    def initial_metadata(self) -> GRPCMetadata:
        """The server's initial metadata pairs."""
        return self._stream.initial_metadata()

    def trailing_metadata(self) -> GRPCMetadata:
        """The server's trailing metadata pairs (blocks until the stream ended)."""
        return self._stream.trailing_metadata()

    def code(self) -> grpc.StatusCode:
        """The final status code (blocks until the stream ended)."""
        return self._stream.code()

    def __enter__(self) -> GRPCStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._stream.is_active():
            self._stream.cancel()


def _seconds_or_none(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UsageError(f"{name} must be a positive number of seconds or None, got {value!r}")


class GRPCClient:
    """A synchronous gRPC client for one target, safe to share between threads.

    Args:
        target: the gRPC target (``"host:port"``, ``"dns:///host:port"``, ``"unix:path"``);
            also the name of the breaker and of records.
        stub_class: the generated stub class (``pkg_pb2_grpc.FooStub``), or any callable
            taking a channel and returning an object whose attributes are the methods.
        retry: the retry policy: attempts, backoff and the default overall deadline of a
            call (``deadline_s``, seconds). ``RetryPolicy.never()`` for a single attempt.
        breaker: a :class:`~syncclients.config.BreakerPolicy` for this client's breaker; a
            :class:`~syncclients.resilience.CircuitBreaker` to share one breaker between
            clients of the same target; or None for no breaker.
        retry_budget: the retry budget of this client (gRPC A6 retry throttling), or None
            for no budget.
        credentials: None for plaintext; a :class:`GRPCTLSConfig` for TLS (root
            certificates) or mutual TLS (plus a client key and chain); or ready
            ``grpc.ChannelCredentials``.
        options: extra raw channel arguments ``[(name, value), ...]`` (they may not turn
            gRPC retries on; see :func:`~syncclients.transports.grpc_channel.channel_options`).
        channel: an existing ``grpc.Channel`` to use instead of creating one. The client
            never closes a channel it was given; the channel keyword arguments
            (``credentials``, ``options``, keepalive, message sizes, ``compression``) must
            then be left unset. Its gRPC retries should be off (``grpc.enable_retries`` 0).
        attempt_timeout_s: the most time one attempt may take, in seconds, so that a hung
            attempt can be retried (idempotent calls); each attempt's gRPC deadline is the
            smaller of this and what remains of the call's overall deadline. None: attempts
            are bounded by the overall deadline only.
        metadata: metadata sent on every call (a mapping or ``(key, value)`` pairs), e.g. an
            ``authorization`` token; per-call metadata replaces a key given here.
        tenant_id: a tenant id sent as ``x-tenant-id`` on every call; None: not sent.
        idempotent_methods: names of methods that are idempotent by default (their
            DEADLINE_EXCEEDED is retried); a call's ``idempotent=`` overrides it.
        wait_for_ready: gRPC "wait for ready" semantics for every call: while the channel
            is connecting or in transient failure, calls wait (up to their deadline) instead
            of failing at once with UNAVAILABLE.
        compression: the channel's default compression (``grpc.Compression.Gzip``), or None.
        keepalive_time_s: HTTP/2 keepalive ping interval in seconds, or None (gRPC default:
            off). The server must permit it (else GOAWAY "too_many_pings").
        keepalive_timeout_s: seconds to wait for a ping acknowledgement, or None (gRPC
            default, 20 s).
        keepalive_permit_without_calls: ping also while no call is active.
        max_send_message_bytes: the largest request message in bytes, or None (unlimited).
        max_receive_message_bytes: the largest response message in bytes, or None (gRPC's
            4 MiB).
        hooks: called with one :class:`~syncclients.resilience.AttemptRecord` per attempt;
            None: a :class:`~syncclients.resilience.LoggingHook`.

    Raises:
        UsageError: invalid arguments (nothing is replaced by a default).
    """

    def __init__(
        self,
        target: str,
        stub_class: Callable[[grpc.Channel], Any],
        *,
        retry: RetryPolicy = RetryPolicy(),
        breaker: BreakerPolicy | CircuitBreaker | None = BreakerPolicy(),
        retry_budget: RetryBudgetPolicy | None = RetryBudgetPolicy(),
        credentials: GRPCTLSConfig | grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] | None = None,
        channel: grpc.Channel | None = None,
        attempt_timeout_s: float | None = None,
        metadata: MetadataInput | None = None,
        tenant_id: str | None = None,
        idempotent_methods: Collection[str] = (),
        wait_for_ready: bool = False,
        compression: grpc.Compression | None = None,
        keepalive_time_s: float | None = None,
        keepalive_timeout_s: float | None = None,
        keepalive_permit_without_calls: bool = False,
        max_send_message_bytes: int | None = None,
        max_receive_message_bytes: int | None = None,
        hooks: Sequence[Hook] | None = None,
    ) -> None:
        if not isinstance(target, str) or not target:
            raise UsageError(f"target must be a non-empty str, got {target!r}")
        if not callable(stub_class):
            raise UsageError(f"stub_class must be a stub class (callable), got {stub_class!r}")
        if not isinstance(retry, RetryPolicy):
            raise UsageError(f"retry must be a RetryPolicy, got {retry!r}")
        if breaker is not None and not isinstance(breaker, BreakerPolicy | CircuitBreaker):
            raise UsageError(
                f"breaker must be a BreakerPolicy, CircuitBreaker or None: {breaker!r}"
            )
        if retry_budget is not None and not isinstance(retry_budget, RetryBudgetPolicy):
            raise UsageError(f"retry_budget must be a RetryBudgetPolicy or None: {retry_budget!r}")
        _seconds_or_none("attempt_timeout_s", attempt_timeout_s)
        if tenant_id is not None:
            self._check_tenant(tenant_id)
        if isinstance(idempotent_methods, str):
            raise UsageError("idempotent_methods must be a collection of method names")
        self.target = target
        self._default_metadata = normalize_metadata(metadata)
        self._tenant_id = tenant_id
        self._idempotent_methods = frozenset(idempotent_methods)
        self._attempt_timeout_s = attempt_timeout_s
        self._wait_for_ready = True if wait_for_ready else None
        if channel is not None:
            channel_kwargs_set = (
                credentials is not None
                or options is not None
                or compression is not None
                or keepalive_time_s is not None
                or keepalive_timeout_s is not None
                or keepalive_permit_without_calls
                or max_send_message_bytes is not None
                or max_receive_message_bytes is not None
            )
            if channel_kwargs_set:
                raise UsageError(
                    "channel settings (credentials, options, compression, keepalive, message "
                    "sizes) apply to channels the client creates; configure your own channel"
                )
            self._channel = channel
            self._owns_channel = False
        else:
            self._channel = create_channel(
                target,
                credentials=credentials,
                options=options,
                keepalive_time_s=keepalive_time_s,
                keepalive_timeout_s=keepalive_timeout_s,
                keepalive_permit_without_calls=keepalive_permit_without_calls,
                max_send_message_bytes=max_send_message_bytes,
                max_receive_message_bytes=max_receive_message_bytes,
                compression=compression,
            )
            self._owns_channel = True
        try:
            self._stub = stub_class(self._channel)
        except Exception:
            if self._owns_channel:
                self._channel.close()
            raise
        if isinstance(breaker, BreakerPolicy):
            self.breaker: CircuitBreaker | None = CircuitBreaker(
                breaker, name=f"grpc:{target}", is_failure=grpc_breaker_failure
            )
        else:
            self.breaker = breaker
        self.retry_budget = RetryBudget(retry_budget) if retry_budget is not None else None
        self._stats = CallStats()  # a hook of the pipeline; see metrics()
        user_hooks: tuple[Hook, ...] = tuple(hooks) if hooks is not None else (LoggingHook(),)
        self._resilience = Resilience(
            target=target,
            retry=retry,
            breaker=self.breaker,
            budget=self.retry_budget,
            hooks=(self._stats, *user_hooks),
            protocol="grpc",
        )
        self._closed = False
        self._lock = threading.Lock()

    # -- properties ---------------------------------------------------------------------------

    @property
    def channel(self) -> grpc.Channel:
        """The underlying ``grpc.Channel`` (owned by the client unless it was given one)."""
        return self._channel

    @property
    def retry(self) -> RetryPolicy:
        """The client's default retry policy."""
        return self._resilience.retry

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    # -- calls --------------------------------------------------------------------------------

    def call(
        self,
        method_name: str,
        request: Any,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        metadata: MetadataInput | None = None,
        idempotent: bool | None = None,
        tenant_id: str | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Any:
        """Call a unary-unary method and return its response message.

        Args:
            method_name: the method's name on the stub (``"GetFeature"``).
            request: the request message.
            timeout: the overall deadline of the call in seconds, all attempts and backoff
                delays included (like a gRPC deadline with gRPC's own retries, A6); each
                attempt's gRPC deadline (``grpc-timeout``) is what remains of it.
                USE_CLIENT_DEFAULT: the retry policy's ``deadline_s``. None: no deadline
                (an attempt then waits without limit unless ``attempt_timeout_s`` is set).
            metadata: metadata for this call (a mapping or ``(key, value)`` pairs; values
                are ``str``, or ``bytes`` for ``*-bin`` keys). An ``x-request-id`` is added
                unless given here; the same id is sent on every attempt.
            idempotent: whether repeating the call is harmless (then DEADLINE_EXCEEDED is
                retried). None: True when the method is in the client's
                ``idempotent_methods``.
            tenant_id: the tenant id sent as ``x-tenant-id``; None: none; USE_CLIENT_DEFAULT:
                the client's.
            retry: a retry policy for this call; USE_CLIENT_DEFAULT: the client's.

        Returns:
            The response message.

        Raises:
            GRPCStatusError: the call failed with a non-OK status (``.code``, ``.details``,
                ``.trailing_metadata``), after any permitted retries.
            GRPCUnavailableError: status UNAVAILABLE (also a TransportError).
            GRPCTimeoutError: DEADLINE_EXCEEDED of an attempt (also a builtin TimeoutError).
            DeadlineExceeded: the overall deadline ran out (``__cause__``: the last error).
            CircuitOpenError: the target's breaker is open; nothing was sent.
            InvalidHeaderError: invalid metadata; nothing was sent.
            UsageError: an unknown or non-unary method, a request of the wrong type, or a
                closed client.
            ProtocolError: the response did not deserialize.
        """
        return self.call_with_metadata(
            method_name,
            request,
            timeout=timeout,
            metadata=metadata,
            idempotent=idempotent,
            tenant_id=tenant_id,
            retry=retry,
        ).response

    def call_with_metadata(
        self,
        method_name: str,
        request: Any,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        metadata: MetadataInput | None = None,
        idempotent: bool | None = None,
        tenant_id: str | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> GRPCResult:
        """Like :meth:`call`, but return the response with the server's metadata.

        Returns:
            A :class:`GRPCResult`: ``response``, ``initial_metadata``,
            ``trailing_metadata``, ``request_id`` and ``attempts``.

        Raises:
            The same as :meth:`call`.
        """
        multicallable = self._method(method_name, streaming=False)
        sent, request_id = self._call_metadata(metadata, tenant_id)
        deadline_s = self._deadline_s(timeout)
        retryable = self._retryable(method_name, idempotent)
        self._check_retry(retry)

        def attempt(ctx: AttemptContext) -> GRPCResult:
            outcome = invoke_unary(
                multicallable,
                request,
                target=self.target,
                method=method_name,
                timeout_s=self._attempt_timeout(ctx),
                metadata=sent,
                wait_for_ready=self._wait_for_ready,
                request_id=request_id,
            )
            return GRPCResult(
                response=outcome.response,
                initial_metadata=outcome.initial_metadata,
                trailing_metadata=outcome.trailing_metadata,
                request_id=request_id,
                attempts=ctx.attempt,
            )

        return self._stats.timed(
            lambda: self._resilience.call(
                attempt,
                operation=method_name,
                retryable=retryable,
                retry=retry,
                deadline_s=deadline_s,
            )
        )

    def stream(
        self,
        method_name: str,
        request: Any,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        metadata: MetadataInput | None = None,
        idempotent: bool | None = None,
        tenant_id: str | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> GRPCStream:
        """Call a server-streaming method; iterate the result for its responses.

        The call is started here, and this returns once the first response (or the end of
        the stream) arrived: failures before the first response are retried like a unary
        call's and raised here; failures after it are raised while iterating and never
        retried (a retry would repeat responses already delivered). The breaker judges the
        start of the stream. The overall deadline (``timeout``) bounds the whole stream,
        reading included.

        Args:
            method_name: the method's name on the stub.
            request: the request message.
            timeout: the overall deadline in seconds, for starting (with retries) and reading
                the whole stream; USE_CLIENT_DEFAULT: the retry policy's ``deadline_s``;
                None: no deadline.
            metadata: see :meth:`call`.
            idempotent: see :meth:`call`.
            tenant_id: see :meth:`call`.
            retry: see :meth:`call`.

        Returns:
            A :class:`GRPCStream` (an iterator of response messages, and a context manager
            that cancels the call when left early).

        Raises:
            The same as :meth:`call`, for failures before the first response.
        """
        multicallable = self._method(method_name, streaming=True)
        sent, request_id = self._call_metadata(metadata, tenant_id)
        deadline_s = self._deadline_s(timeout)
        retryable = self._retryable(method_name, idempotent)
        self._check_retry(retry)

        def attempt(ctx: AttemptContext) -> GRPCStream:
            stream = open_stream(
                multicallable,
                request,
                target=self.target,
                method=method_name,
                timeout_s=self._attempt_timeout(ctx),
                metadata=sent,
                wait_for_ready=self._wait_for_ready,
                request_id=request_id,
            )
            return GRPCStream(
                stream,
                request_id=request_id,
                attempts=ctx.attempt,
                deadline=ctx.deadline,
                clock=ctx.clock,
                target=self.target,
                method=method_name,
            )

        return self._stats.timed(
            lambda: self._resilience.call(
                attempt,
                operation=method_name,
                retryable=retryable,
                retry=retry,
                deadline_s=deadline_s,
            )
        )

    def metrics(self) -> ClientMetrics:
        """A snapshot of this client's counters, latency percentiles, breaker and budget.

        The fields of :meth:`HTTPClient.metrics() <syncclients.HTTPClient.metrics>`; a
        stream's latency is the time to open it (its first attempt's headers), not to drain it.
        """
        return self._stats.snapshot(self.breaker, self.retry_budget)

    # -- health -------------------------------------------------------------------------------

    def health_check(
        self,
        service: str = "",
        *,
        timeout_s: float = 5.0,
        metadata: MetadataInput | None = None,
    ) -> HealthStatus:
        """Ask the server for its serving status (``grpc.health.v1.Health/Check``).

        One attempt, outside the retry layer and the breaker: a health check reports what
        the server says now, and an open breaker does not hide it.

        Args:
            service: the fully qualified service name (``"package.Service"``), or "" for the
                server as a whole (gRPC doc "GRPC Health Checking Protocol").
            timeout_s: the check's gRPC deadline, in seconds (> 0).
            metadata: extra metadata for this check (the client's metadata is sent too).

        Returns:
            The :class:`~syncclients.grpc.health.HealthStatus` (``SERVING``,
            ``NOT_SERVING``, ``UNKNOWN``; ``SERVICE_UNKNOWN`` for a service the server does
            not know).

        Raises:
            GRPCUnavailableError: the server could not be reached.
            GRPCTimeoutError: no answer within ``timeout_s``.
            GRPCStatusError: another status (UNIMPLEMENTED: no health service).
            UsageError: invalid arguments or a closed client.
            ImportError: grpcio-health-checking is not installed.
        """
        self._check_open()
        sent, request_id = self._call_metadata(metadata, USE_CLIENT_DEFAULT)
        return check_health(
            self._channel,
            target=self.target,
            service=service,
            timeout_s=timeout_s,
            metadata=sent,
            request_id=request_id,
        )

    def watch_health(
        self,
        service: str = "",
        *,
        duration_s: float,
        metadata: MetadataInput | None = None,
    ) -> Generator[HealthStatus, None, None]:
        """Watch the serving status for at most ``duration_s`` seconds (``Health/Watch``).

        The server sends the current status, then every change. Iteration ends quietly when
        ``duration_s`` has passed; stop early with ``break`` (the call is cancelled).
        Outside the retry layer and the breaker.

        Args:
            service: the fully qualified service name, or "" for the server as a whole.
            duration_s: how long to watch, in seconds (> 0): the bound of the watch.
            metadata: extra metadata for this watch (the client's metadata is sent too).

        Returns:
            An iterator of :class:`~syncclients.grpc.health.HealthStatus`.

        Raises:
            GRPCStatusError: (while iterating) the watch failed, e.g. UNAVAILABLE or
                UNIMPLEMENTED.
            UsageError: invalid arguments or a closed client.
            ImportError: grpcio-health-checking is not installed.
        """
        self._check_open()
        sent, request_id = self._call_metadata(metadata, USE_CLIENT_DEFAULT)
        return watch_health(
            self._channel,
            target=self.target,
            service=service,
            duration_s=duration_s,
            metadata=sent,
            request_id=request_id,
        )

    def wait_until_ready(self, timeout_s: float = 5.0) -> None:
        """Block until the channel is connected (READY), at most ``timeout_s`` seconds.

        Starts connecting an idle channel. Useful at start-up, before the first call.

        Args:
            timeout_s: the most time to wait, in seconds (> 0).

        Raises:
            ConnectTimeout: not connected in time (a Timeout and a ConnectError).
            UsageError: invalid ``timeout_s`` or a closed client.
        """
        self._check_open()
        wait_for_channel_ready(self._channel, target=self.target, timeout_s=timeout_s)

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the client, and its channel if the client created it (idempotent).

        Calls in flight on a closed channel end with CANCELLED; later calls raise
        :class:`~syncclients.errors.UsageError`. A channel passed in is left open.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._resilience.close()
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> GRPCClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"GRPCClient(target={self.target!r}, {state})"

    # -- internals ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError(f"GRPCClient({self.target!r}) is closed")

    def _method(self, method_name: str, *, streaming: bool) -> Any:
        self._check_open()
        if not isinstance(method_name, str) or not method_name or method_name.startswith("_"):
            raise UsageError(f"method_name must be a method of the stub, got {method_name!r}")
        multicallable = getattr(self._stub, method_name, None)
        if multicallable is None:
            public = sorted(name for name in vars(self._stub) if not name.startswith("_"))
            raise UsageError(
                f"{type(self._stub).__name__} has no method {method_name!r}; "
                f"it has {', '.join(public) or 'none'}"
            )
        wanted = grpc.UnaryStreamMultiCallable if streaming else grpc.UnaryUnaryMultiCallable
        if not isinstance(multicallable, wanted):
            use = "call()" if streaming else "stream()"
            kind = "server-streaming" if streaming else "unary-unary"
            raise UsageError(
                f"{method_name!r} is not a {kind} method ({type(multicallable).__name__}); "
                f"use {use} for it, or a raw grpc stub for client and bidirectional streaming"
            )
        return multicallable

    @staticmethod
    def _check_tenant(tenant_id: str) -> None:
        if not isinstance(tenant_id, str) or not tenant_id:
            raise InvalidHeaderError(f"tenant_id must be a non-empty str, got {tenant_id!r}")

    def _call_metadata(
        self,
        metadata: MetadataInput | None,
        tenant_id: str | UseClientDefault | None,
    ) -> tuple[list[tuple[str, str | bytes]], str]:
        call_md = normalize_metadata(metadata)
        given = {key for key, _ in call_md}
        merged = [(k, v) for k, v in self._default_metadata if k not in given]
        merged.extend(call_md)
        tenant = self._tenant_id if isinstance(tenant_id, UseClientDefault) else tenant_id
        if tenant is not None and TENANT_ID_KEY not in given:
            self._check_tenant(tenant)
            merged = [(k, v) for k, v in merged if k != TENANT_ID_KEY]
            merged.extend(normalize_metadata([(TENANT_ID_KEY, tenant)]))
        request_ids = [v for k, v in merged if k == REQUEST_ID_KEY]
        if request_ids:
            request_id = request_ids[-1]
            if len(request_ids) > 1 or not isinstance(request_id, str):
                raise InvalidHeaderError(f"give at most one {REQUEST_ID_KEY} (a str)")
        else:
            request_id = uuid.uuid4().hex
            merged.append((REQUEST_ID_KEY, request_id))
        return merged, request_id

    @staticmethod
    def _check_retry(retry: RetryPolicy | UseClientDefault) -> None:
        if not isinstance(retry, RetryPolicy | UseClientDefault):
            raise UsageError(f"retry must be a RetryPolicy or USE_CLIENT_DEFAULT, got {retry!r}")

    @staticmethod
    def _deadline_s(timeout: float | UseClientDefault | None) -> float | UseClientDefault | None:
        if not isinstance(timeout, UseClientDefault):
            _seconds_or_none("timeout", timeout)
        return timeout

    def _retryable(
        self, method_name: str, idempotent: bool | None
    ) -> Callable[[BaseException], bool]:
        if idempotent is None:
            idem = method_name in self._idempotent_methods
        elif isinstance(idempotent, bool):
            idem = idempotent
        else:
            raise UsageError(f"idempotent must be True, False or None, got {idempotent!r}")

        def retryable(exc: BaseException) -> bool:
            return grpc_retryable(exc, idempotent=idem)

        return retryable

    def _attempt_timeout(self, ctx: AttemptContext) -> float | None:
        remaining = ctx.remaining_s()
        limit = self._attempt_timeout_s
        if remaining is None:
            return limit
        remaining = max(remaining, 0.0)
        return remaining if limit is None else min(limit, remaining)
