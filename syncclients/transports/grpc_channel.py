"""gRPC transport: channel construction, metadata checks, and the one boundary where ``grpc``
exceptions become :mod:`syncclients.errors`.

Retrying is ours, not gRPC's: every channel built here sets ``("grpc.enable_retries", 0)``
so gRPC's own retry machinery (service-config retry policies, proposal A6) never runs under
the retry layer of :mod:`syncclients.resilience`; stacking both would multiply attempts. An
``options`` list that turns gRPC retries back on is refused. The channel owns no policy:
no retry, breaker or deadline logic lives here.

What is translated here, and into what (gRPC doc "Status codes and their use in gRPC"):

============================  ======================================================
``grpc.RpcError`` status       raised
============================  ======================================================
UNAVAILABLE                    :class:`~syncclients.errors.GRPCUnavailableError`
                               (a TransportError); :class:`~syncclients.errors.GRPCTLSError`
                               when the TLS handshake failed
DEADLINE_EXCEEDED              :class:`~syncclients.errors.GRPCTimeoutError` (a Timeout,
                               a builtin TimeoutError)
INTERNAL "Exception            :class:`~syncclients.errors.UsageError` (the request is not
serializing request!"          the method's message type; nothing was sent)
INTERNAL "Exception            :class:`~syncclients.errors.ProtocolError` (the reply does
deserializing response!"       not parse as the method's response type)
any other non-OK status        :class:`~syncclients.errors.GRPCStatusError`
============================  ======================================================

``ValueError("Cannot invoke RPC on closed channel!")`` becomes a
:class:`~syncclients.errors.UsageError`, and ``grpc.FutureTimeoutError`` of a readiness wait
a :class:`~syncclients.errors.ConnectTimeout`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import grpc

from ..errors import (
    ConnectTimeout,
    GRPCMetadata,
    GRPCStatusError,
    GRPCTimeoutError,
    GRPCTLSError,
    GRPCUnavailableError,
    InvalidHeaderError,
    ProtocolError,
    SyncClientsError,
    UsageError,
)

__all__ = [
    "PUSHBACK_KEY",
    "GRPCTLSConfig",
    "MetadataInput",
    "ResponseStream",
    "UnaryOutcome",
    "channel_options",
    "create_channel",
    "invoke_unary",
    "is_message_size_error",
    "normalize_metadata",
    "open_stream",
    "parse_retry_pushback",
    "translate_rpc_error",
    "translating",
    "wait_for_channel_ready",
]

#: Trailing metadata key a server uses to ask for a retry delay, in milliseconds (gRPC A6).
PUSHBACK_KEY = "grpc-retry-pushback-ms"

#: Metadata as a caller passes it: a mapping or an iterable of ``(key, value)`` pairs.
#: Values are ``str``, or ``bytes`` for keys ending in ``-bin``.
MetadataInput = Mapping[str, "str | bytes"] | Iterable[tuple[str, "str | bytes"]]

# gRPC over HTTP/2 (PROTOCOL-HTTP2.md): Header-Name is lowercase 0-9 a-z _ - . ;
# ASCII-Value is printable ASCII, space included.
_KEY_RE = re.compile(r"[0-9a-z_.\-]+")
_ASCII_VALUE_RE = re.compile(r"[\x20-\x7e]*")
_PUSHBACK_RE = re.compile(r"[0-9]{1,18}")
_TLS_FAILURE_RE = re.compile(
    r"handshake failed|SSL_ERROR|CERTIFICATE_VERIFY_FAILED|TSI_PROTOCOL_FAILURE", re.IGNORECASE
)
_SIZE_LIMIT_MARK = "message larger than max"
_SERIALIZE_REQUEST_FAILED = "Exception serializing request!"
_DESERIALIZE_RESPONSE_FAILED = "Exception deserializing response!"
_CLOSED_CHANNEL_MARK = "closed channel"

# Channel argument names (grpc_types.h) we set from keyword arguments.
_ENABLE_RETRIES = "grpc.enable_retries"
_SERVICE_CONFIG = "grpc.service_config"
_KEEPALIVE_TIME = "grpc.keepalive_time_ms"
_KEEPALIVE_TIMEOUT = "grpc.keepalive_timeout_ms"
_KEEPALIVE_PERMIT = "grpc.keepalive_permit_without_calls"
_MAX_SEND = "grpc.max_send_message_length"
_MAX_RECEIVE = "grpc.max_receive_message_length"
_TARGET_NAME_OVERRIDE = "grpc.ssl_target_name_override"


# -- metadata ---------------------------------------------------------------------------------


def normalize_metadata(metadata: MetadataInput | None) -> list[tuple[str, str | bytes]]:
    """Check and normalise call metadata into the list of pairs gRPC takes.

    Keys are lowercased (HTTP/2 header names are lowercase; gRPC rejects others). The rules
    are gRPC's (PROTOCOL-HTTP2.md, "Custom-Metadata"): keys use ``0-9 a-z _ - .`` and must
    not start with ``grpc-`` (reserved); keys ending in ``-bin`` take ``bytes`` values (sent
    base64-encoded by gRPC); other keys take ``str`` values of printable ASCII.

    Args:
        metadata: a mapping ``{key: value}``, an iterable of ``(key, value)`` pairs (a key may
            repeat), or None for none.

    Returns:
        A new list of ``(key, value)`` pairs, in the given order.

    Raises:
        InvalidHeaderError: a key or value breaks the rules above; nothing was sent.
    """
    if metadata is None:
        return []
    pairs: Iterable[Any] = metadata.items() if isinstance(metadata, Mapping) else metadata
    if isinstance(pairs, str | bytes):
        raise InvalidHeaderError("metadata must be a mapping or (key, value) pairs, not a string")
    result: list[tuple[str, str | bytes]] = []
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidHeaderError(f"metadata entries must be (key, value) pairs, got {pair!r}")
        key, value = pair
        if not isinstance(key, str):
            raise InvalidHeaderError(f"metadata key must be a str, got {key!r}")
        key = key.lower()
        if not _KEY_RE.fullmatch(key):
            raise InvalidHeaderError(f"invalid gRPC metadata key {key!r}: use 0-9 a-z _ - .")
        if key.startswith("grpc-"):
            raise InvalidHeaderError(f"gRPC metadata key {key!r} is reserved (grpc-*)")
        if key.endswith("-bin"):
            if not isinstance(value, bytes):
                raise InvalidHeaderError(f"binary metadata {key!r} takes bytes, got {value!r}")
        elif not isinstance(value, str) or not _ASCII_VALUE_RE.fullmatch(value):
            raise InvalidHeaderError(
                f"metadata {key!r} takes printable ASCII str (or name it *-bin for bytes), "
                f"got {value!r}"
            )
        result.append((key, value))
    return result


def _plain_metadata(metadata: Any) -> GRPCMetadata:
    """gRPC's metadata (``_Metadatum`` tuples, or None) as plain, picklable pairs."""
    if not metadata:
        return ()
    return tuple((str(key), value) for key, value in metadata)


def parse_retry_pushback(trailing_metadata: GRPCMetadata) -> tuple[str | None, float | None]:
    """Read ``grpc-retry-pushback-ms`` from trailing metadata (gRPC proposal A6).

    Args:
        trailing_metadata: the call's trailing metadata pairs.

    Returns:
        ``(raw, seconds)``: ``raw`` is the value as sent (None when absent); ``seconds`` the
        delay it asks for, or None when absent, negative or not an integer (which A6 defines
        as "do not retry").
    """
    for key, value in trailing_metadata:
        if key == PUSHBACK_KEY:
            raw = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
            raw = raw.strip()
            seconds = int(raw) / 1000.0 if _PUSHBACK_RE.fullmatch(raw) else None
            return raw, seconds
    return None, None


# -- exception translation --------------------------------------------------------------------


def _status_of(exc: grpc.RpcError) -> tuple[Any, str, GRPCMetadata]:
    code_fn = getattr(exc, "code", None)
    details_fn = getattr(exc, "details", None)
    trailing_fn = getattr(exc, "trailing_metadata", None)
    code = code_fn() if callable(code_fn) else None
    details = details_fn() if callable(details_fn) else None
    trailing = trailing_fn() if callable(trailing_fn) else None
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    return code, details or "", _plain_metadata(trailing)


def translate_rpc_error(
    exc: grpc.RpcError,
    *,
    target: str,
    method: str | None = None,
    request_id: str | None = None,
    timeout_s: float | None = None,
) -> Exception:
    """Translate a ``grpc.RpcError`` into the syncclients exception tree (table above).

    Args:
        exc: the error a gRPC call raised (a ``grpc.Call`` with ``code()``, ``details()`` and
            ``trailing_metadata()``; anything else counts as status UNKNOWN).
        target: the channel target, for messages and ``.target``.
        method: the RPC method name, when known.
        request_id: the ``x-request-id`` sent with the call, when known.
        timeout_s: the gRPC deadline the attempt had, in seconds (for ``.timeout_s``).

    Returns:
        The translated exception (not raised): a :class:`GRPCStatusError` (or subclass),
        :class:`UsageError` or :class:`ProtocolError`.
    """
    code, details, trailing = _status_of(exc)
    where = f"{target} {method}" if method else target
    message = f"{where}: {code.name}: {details}" if details else f"{where}: {code.name}"
    if code is grpc.StatusCode.INTERNAL and details == _SERIALIZE_REQUEST_FAILED:
        return UsageError(
            f"{where}: the request could not be serialized (is it the method's request "
            "message type?); nothing was sent"
        )
    if code is grpc.StatusCode.INTERNAL and details == _DESERIALIZE_RESPONSE_FAILED:
        return ProtocolError(
            f"{where}: the response could not be deserialized as the method's response type",
            excerpt=details,
            target=target,
        )
    raw, seconds = parse_retry_pushback(trailing)
    common: dict[str, Any] = {
        "code": code,
        "details": details,
        "trailing_metadata": trailing,
        "retry_after": seconds,
        "retry_pushback": raw,
        "method": method,
        "request_id": request_id,
        "target": target,
    }
    if code is grpc.StatusCode.UNAVAILABLE:
        if _TLS_FAILURE_RE.search(details):
            return GRPCTLSError(message, **common)
        return GRPCUnavailableError(message, **common)
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return GRPCTimeoutError(message, timeout_s=timeout_s, **common)
    return GRPCStatusError(message, **common)


def is_message_size_error(exc: BaseException) -> bool:
    """True for RESOURCE_EXHAUSTED raised because a message exceeded a size limit.

    gRPC reports an oversized message (either side's ``max_*_message_length``) as
    RESOURCE_EXHAUSTED with "... message larger than max (N vs. M)". That is a property of the
    request or of the configuration, not server load: retrying fails the same way.
    """
    return (
        isinstance(exc, GRPCStatusError)
        and exc.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        and _SIZE_LIMIT_MARK in exc.details
    )


def _raise_translated(
    exc: BaseException,
    *,
    target: str,
    method: str | None,
    request_id: str | None,
    timeout_s: float | None,
) -> NoReturn:
    if isinstance(exc, grpc.RpcError):
        raise translate_rpc_error(
            exc, target=target, method=method, request_id=request_id, timeout_s=timeout_s
        ) from exc
    if isinstance(exc, ValueError) and _CLOSED_CHANNEL_MARK in str(exc):
        raise UsageError(f"{target}: the gRPC channel is closed") from exc
    raise exc


@contextmanager
def translating(
    *,
    target: str,
    method: str | None = None,
    request_id: str | None = None,
    timeout_s: float | None = None,
) -> Iterator[None]:
    """Run a block of grpc calls, translating grpc exceptions (see the module table).

    Args:
        target: the channel target, for messages and ``.target``.
        method: the RPC method name, when known.
        request_id: the ``x-request-id`` sent with the call, when known.
        timeout_s: the attempt's gRPC deadline in seconds, when known.

    Raises:
        GRPCStatusError: (or a subclass) a non-OK status.
        UsageError: the channel is closed, or the request did not serialize.
        ProtocolError: the response did not deserialize.
    """
    try:
        yield
    except SyncClientsError:
        raise
    except (grpc.RpcError, ValueError) as exc:
        _raise_translated(
            exc, target=target, method=method, request_id=request_id, timeout_s=timeout_s
        )


# -- calls ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnaryOutcome:
    """What a successful unary call returned.

    Attributes:
        response: the response message.
        initial_metadata: the server's initial (header) metadata pairs.
        trailing_metadata: the server's trailing metadata pairs.
    """

    response: Any
    initial_metadata: GRPCMetadata
    trailing_metadata: GRPCMetadata


def invoke_unary(
    multicallable: grpc.UnaryUnaryMultiCallable,
    request: Any,
    *,
    target: str,
    method: str,
    timeout_s: float | None,
    metadata: Sequence[tuple[str, str | bytes]] = (),
    wait_for_ready: bool | None = None,
    compression: grpc.Compression | None = None,
    request_id: str | None = None,
) -> UnaryOutcome:
    """Make one unary-unary call (one attempt, no retry) and return its outcome.

    Args:
        multicallable: the stub's method (``stub.Method``).
        request: the request message.
        target: the channel target, for errors.
        method: the method name, for errors.
        timeout_s: the gRPC deadline of this attempt, in seconds from now (sent to the server
            as ``grpc-timeout``); None: no deadline.
        metadata: checked metadata pairs (see :func:`normalize_metadata`).
        wait_for_ready: gRPC "wait for ready" semantics: queue the call until the channel
            is ready (up to the deadline) instead of failing fast with UNAVAILABLE.
        compression: a per-call compression algorithm, or None for the channel default.
        request_id: the ``x-request-id`` sent, for errors.

    Returns:
        An :class:`UnaryOutcome` with the response and both metadata sets.

    Raises:
        GRPCStatusError: (or a subclass) the call ended with a non-OK status.
        UsageError: the channel is closed, or the request did not serialize.
        ProtocolError: the response did not deserialize.
    """
    with translating(target=target, method=method, request_id=request_id, timeout_s=timeout_s):
        response, call = multicallable.with_call(
            request,
            timeout=timeout_s,
            metadata=tuple(metadata) or None,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )
        return UnaryOutcome(
            response=response,
            initial_metadata=_plain_metadata(call.initial_metadata()),
            trailing_metadata=_plain_metadata(call.trailing_metadata()),
        )


class ResponseStream:
    """The responses of one server-streaming call, with grpc errors translated.

    Iterate it for the response messages. The call's deadline bounds the whole stream. Use it
    as a context manager (or call :meth:`cancel`) to end a stream that is not read to its end;
    after a local cancel, iteration simply stops.

    Not built directly: see :func:`open_stream`.
    """

    def __init__(
        self,
        call: Any,
        *,
        target: str,
        method: str,
        request_id: str | None,
        timeout_s: float | None,
    ) -> None:
        self._call = call
        self._target = target
        self._method = method
        self._request_id = request_id
        self._timeout_s = timeout_s
        self._buffer: deque[Any] = deque()
        self._exhausted = False
        self._cancelled = False

    def _translating(self) -> Any:
        return translating(
            target=self._target,
            method=self._method,
            request_id=self._request_id,
            timeout_s=self._timeout_s,
        )

    def prefetch(self) -> None:
        """Wait for the first response (or the end of the call) and keep it for iteration.

        Raises:
            GRPCStatusError: (or a subclass) the call failed before its first response.
        """
        try:
            item = self._next_from_call()
        except StopIteration:
            return
        self._buffer.append(item)

    def _next_from_call(self) -> Any:
        if self._exhausted or self._cancelled:
            raise StopIteration
        try:
            with self._translating():
                return next(self._call)
        except StopIteration:
            self._exhausted = True
            raise
        except GRPCStatusError as exc:
            self._exhausted = True
            if self._cancelled and exc.code is grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise
        except BaseException:
            self._call.cancel()  # KeyboardInterrupt and the like: do not leave the RPC running
            raise

    def __iter__(self) -> ResponseStream:
        return self

    def __next__(self) -> Any:
        """The next response message.

        Raises:
            StopIteration: the server ended the stream with OK, or it was cancelled locally.
            GRPCStatusError: (or a subclass) the server ended it with another status.
        """
        if self._buffer:
            return self._buffer.popleft()
        return self._next_from_call()

    def cancel(self) -> bool:
        """Cancel the call (RST_STREAM with CANCELLED to the server); iteration then stops.

        Returns:
            True when the call was still running and is now cancelled.
        """
        self._cancelled = True
        return bool(self._call.cancel())

    def is_active(self) -> bool:
        """True while the call is running (not ended, not cancelled)."""
        return bool(self._call.is_active())

    def initial_metadata(self) -> GRPCMetadata:
        """The server's initial metadata (blocks until it arrived or the call ended)."""
        with self._translating():
            return _plain_metadata(self._call.initial_metadata())

    def trailing_metadata(self) -> GRPCMetadata:
        """The server's trailing metadata (blocks until the call ended: read the stream first)."""
        with self._translating():
            return _plain_metadata(self._call.trailing_metadata())

    def code(self) -> grpc.StatusCode:
        """The final status code (blocks until the call ended)."""
        with self._translating():
            return self._call.code()

    def details(self) -> str:
        """The final status message, or "" (blocks until the call ended)."""
        with self._translating():
            return str(self._call.details() or "")

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._call.is_active():
            self.cancel()


def open_stream(
    multicallable: grpc.UnaryStreamMultiCallable,
    request: Any,
    *,
    target: str,
    method: str,
    timeout_s: float | None,
    metadata: Sequence[tuple[str, str | bytes]] = (),
    wait_for_ready: bool | None = None,
    compression: grpc.Compression | None = None,
    request_id: str | None = None,
    prefetch: bool = True,
) -> ResponseStream:
    """Start one server-streaming call (one attempt) and return its response stream.

    Args:
        multicallable: the stub's method (``stub.Method``).
        request: the request message.
        target: the channel target, for errors.
        method: the method name, for errors.
        timeout_s: the gRPC deadline of the whole stream, in seconds from now; None: none.
        metadata: checked metadata pairs (see :func:`normalize_metadata`).
        wait_for_ready: gRPC "wait for ready" semantics (see :func:`invoke_unary`).
        compression: a per-call compression algorithm, or None for the channel default.
        request_id: the ``x-request-id`` sent, for errors.
        prefetch: wait for the first response (or the end of the call) before returning, so
            that a failure to start the stream is raised here, where it may be retried.

    Returns:
        A :class:`ResponseStream`.

    Raises:
        GRPCStatusError: (or a subclass) the call failed before its first response
            (``prefetch`` only).
        UsageError: the channel is closed, or the request did not serialize.
    """
    with translating(target=target, method=method, request_id=request_id, timeout_s=timeout_s):
        call = multicallable(
            request,
            timeout=timeout_s,
            metadata=tuple(metadata) or None,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )
    stream = ResponseStream(
        call, target=target, method=method, request_id=request_id, timeout_s=timeout_s
    )
    if prefetch:
        stream.prefetch()
    return stream


def wait_for_channel_ready(channel: grpc.Channel, *, target: str, timeout_s: float) -> None:
    """Block until the channel is connected (READY), at most ``timeout_s`` seconds.

    Uses ``grpc.channel_ready_future``, which also asks an idle channel to connect.

    Args:
        channel: the channel.
        target: the channel target, for errors.
        timeout_s: the most time to wait, in seconds (> 0).

    Raises:
        ConnectTimeout: the channel was not ready in time (a Timeout and a ConnectError).
        UsageError: ``timeout_s`` is not a positive number, or the channel is closed.
    """
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s <= 0:
        raise UsageError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    future = grpc.channel_ready_future(channel)
    try:
        future.result(timeout=timeout_s)
    except grpc.FutureTimeoutError as exc:
        raise ConnectTimeout(
            f"{target}: channel not ready within {timeout_s:.3f} s",
            timeout_s=float(timeout_s),
            target=target,
        ) from exc
    except ValueError as exc:
        _raise_translated(exc, target=target, method=None, request_id=None, timeout_s=timeout_s)
    finally:
        future.cancel()


# -- channels ---------------------------------------------------------------------------------


def _read(path: str | Path | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


@dataclass(frozen=True, slots=True)
class GRPCTLSConfig:
    """TLS settings of a gRPC channel: server verification and, optionally, a client
    certificate (mutual TLS). Wraps ``grpc.ssl_channel_credentials``.

    Args:
        root_certificates: PEM bytes of the CA certificates that verify the server; None:
            the roots gRPC ships with (or ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``).
        private_key: PEM bytes of the client's private key (mutual TLS), or None.
        certificate_chain: PEM bytes of the client's certificate chain (mutual TLS), or None.
            Give both ``private_key`` and ``certificate_chain``, or neither.
        server_name_override: the name to verify the server certificate against instead of
            the target's host (channel argument ``grpc.ssl_target_name_override``); for tests
            and for servers reached by IP. None: the target's host.

    Raises:
        UsageError: a value is not bytes, or only one of key and chain is given.
    """

    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None
    server_name_override: str | None = None

    def __post_init__(self) -> None:
        for name in ("root_certificates", "private_key", "certificate_chain"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bytes):
                raise UsageError(f"GRPCTLSConfig.{name} must be PEM bytes, got {type(value)}")
        if (self.private_key is None) != (self.certificate_chain is None):
            raise UsageError(
                "GRPCTLSConfig: mutual TLS needs both private_key and certificate_chain"
            )
        if self.server_name_override is not None and not isinstance(self.server_name_override, str):
            raise UsageError("GRPCTLSConfig.server_name_override must be a str")

    @classmethod
    def from_files(
        cls,
        *,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        server_name_override: str | None = None,
    ) -> GRPCTLSConfig:
        """Read the PEM files and build the settings.

        Args:
            ca_file: a PEM file of CA certificates that verify the server, or None.
            cert_file: a PEM file of the client certificate chain (mutual TLS), or None.
            key_file: a PEM file of the client private key (mutual TLS), or None.
            server_name_override: see the class.

        Raises:
            OSError: a file could not be read.
            UsageError: only one of ``cert_file`` and ``key_file`` was given.
        """
        return cls(
            root_certificates=_read(ca_file),
            private_key=_read(key_file),
            certificate_chain=_read(cert_file),
            server_name_override=server_name_override,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """The ``grpc.ChannelCredentials`` for these settings."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )


def _positive_number(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UsageError(f"{name} must be a positive number, got {value!r}")


def _positive_int(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be an int >= 1, got {value!r}")


def _retries_enabled_by(key: str, value: Any) -> bool:
    if key == _ENABLE_RETRIES:
        return bool(value)
    if key == _SERVICE_CONFIG:
        text = value.decode() if isinstance(value, bytes) else str(value)
        return "retryPolicy" in text or "hedgingPolicy" in text
    return False


def channel_options(
    *,
    options: Sequence[tuple[str, Any]] | None = None,
    keepalive_time_s: float | None = None,
    keepalive_timeout_s: float | None = None,
    keepalive_permit_without_calls: bool = False,
    max_send_message_bytes: int | None = None,
    max_receive_message_bytes: int | None = None,
    server_name_override: str | None = None,
) -> list[tuple[str, Any]]:
    """Build the channel arguments of a channel we create (gRPC ``grpc_types.h`` names).

    Always contains ``("grpc.enable_retries", 0)``: retrying is done by syncclients' retry
    layer only.

    Args:
        options: extra raw channel arguments, ``[(name, value), ...]``; they may not set an
            argument that a keyword below controls, nor turn gRPC retries on (a
            ``grpc.enable_retries`` other than 0, or a ``grpc.service_config`` with a
            ``retryPolicy`` or ``hedgingPolicy``).
        keepalive_time_s: send an HTTP/2 PING after this many idle seconds
            (``grpc.keepalive_time_ms``); None: gRPC's default (no keepalive pings). The
            server must allow pings this frequent, or it closes the connection with
            GOAWAY "too_many_pings".
        keepalive_timeout_s: close the connection when a PING is not acknowledged in this many
            seconds (``grpc.keepalive_timeout_ms``); None: gRPC's default (20 s).
        keepalive_permit_without_calls: also ping while no call is active.
        max_send_message_bytes: the largest request message, in bytes; None: gRPC's default
            (unlimited).
        max_receive_message_bytes: the largest response message, in bytes; None: gRPC's
            default (4 MiB).
        server_name_override: the TLS name to verify (see :class:`GRPCTLSConfig`).

    Returns:
        A new list of ``(name, value)`` pairs.

    Raises:
        UsageError: an invalid value, a conflicting option, or gRPC retries turned on.
    """
    _positive_number("keepalive_time_s", keepalive_time_s)
    _positive_number("keepalive_timeout_s", keepalive_timeout_s)
    _positive_int("max_send_message_bytes", max_send_message_bytes)
    _positive_int("max_receive_message_bytes", max_receive_message_bytes)
    ours: dict[str, Any] = {_ENABLE_RETRIES: 0}
    if keepalive_time_s is not None:
        ours[_KEEPALIVE_TIME] = max(1, round(keepalive_time_s * 1000))
    if keepalive_timeout_s is not None:
        ours[_KEEPALIVE_TIMEOUT] = max(1, round(keepalive_timeout_s * 1000))
    if keepalive_permit_without_calls:
        ours[_KEEPALIVE_PERMIT] = 1
    if max_send_message_bytes is not None:
        ours[_MAX_SEND] = max_send_message_bytes
    if max_receive_message_bytes is not None:
        ours[_MAX_RECEIVE] = max_receive_message_bytes
    if server_name_override is not None:
        ours[_TARGET_NAME_OVERRIDE] = server_name_override
    extra: list[tuple[str, Any]] = []
    for entry in options or ():
        if not isinstance(entry, tuple | list) or len(entry) != 2 or not isinstance(entry[0], str):
            raise UsageError(f"channel options must be (name, value) pairs, got {entry!r}")
        key, value = entry
        if _retries_enabled_by(key, value):
            raise UsageError(
                f"channel option {key!r} turns gRPC retries on; syncclients retries in one "
                "layer only (its RetryPolicy). Use retry=RetryPolicy.never() and your own "
                "channel if you want gRPC's retries instead."
            )
        if key in ours and key != _ENABLE_RETRIES:
            raise UsageError(f"channel option {key!r} is set by a keyword argument; pass it once")
        if key != _ENABLE_RETRIES:
            extra.append((key, value))
    return [*ours.items(), *extra]


def create_channel(
    target: str,
    *,
    credentials: GRPCTLSConfig | grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, Any]] | None = None,
    keepalive_time_s: float | None = None,
    keepalive_timeout_s: float | None = None,
    keepalive_permit_without_calls: bool = False,
    max_send_message_bytes: int | None = None,
    max_receive_message_bytes: int | None = None,
    compression: grpc.Compression | None = None,
) -> grpc.Channel:
    """Create a gRPC channel: insecure, TLS or mutual TLS, with gRPC retries off.

    Args:
        target: a gRPC target (``"host:port"``, ``"dns:///host:port"``, ``"unix:path"``; gRPC
            doc "gRPC Name Resolution").
        credentials: None for plaintext (``grpc.insecure_channel``); a
            :class:`GRPCTLSConfig` for TLS or mutual TLS; or ready ``grpc.ChannelCredentials``.
        options: extra channel arguments (see :func:`channel_options`).
        keepalive_time_s: see :func:`channel_options`.
        keepalive_timeout_s: see :func:`channel_options`.
        keepalive_permit_without_calls: see :func:`channel_options`.
        max_send_message_bytes: see :func:`channel_options`.
        max_receive_message_bytes: see :func:`channel_options`.
        compression: the channel's default compression (``grpc.Compression.Gzip``,
            ``Deflate``), or None for none.

    Returns:
        A new ``grpc.Channel``; the caller owns it and must close it.

    Raises:
        UsageError: invalid arguments (see :func:`channel_options`).
    """
    if not isinstance(target, str) or not target:
        raise UsageError(f"target must be a non-empty str, got {target!r}")
    if compression is not None and not isinstance(compression, grpc.Compression):
        raise UsageError(f"compression must be a grpc.Compression, got {compression!r}")
    tls = credentials if isinstance(credentials, GRPCTLSConfig) else None
    built = channel_options(
        options=options,
        keepalive_time_s=keepalive_time_s,
        keepalive_timeout_s=keepalive_timeout_s,
        keepalive_permit_without_calls=keepalive_permit_without_calls,
        max_send_message_bytes=max_send_message_bytes,
        max_receive_message_bytes=max_receive_message_bytes,
        server_name_override=tls.server_name_override if tls is not None else None,
    )
    if credentials is None:
        return grpc.insecure_channel(target, options=built, compression=compression)
    if tls is not None:
        creds = tls.channel_credentials()
    elif isinstance(credentials, grpc.ChannelCredentials):
        creds = credentials
    else:
        raise UsageError(
            f"credentials must be a GRPCTLSConfig, grpc.ChannelCredentials or None, "
            f"got {credentials!r}"
        )
    return grpc.secure_channel(target, creds, options=built, compression=compression)
