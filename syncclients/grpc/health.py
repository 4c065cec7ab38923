"""The standard gRPC health checking protocol (``grpc.health.v1.Health``), client side.

Source: gRPC doc "GRPC Health Checking Protocol" (doc/health-checking.md). ``Check`` asks
once; ``Watch`` streams the serving status and every change of it. The message classes come
from ``grpcio-health-checking`` (``grpc_health.v1``), an optional dependency imported only
when a health call is made.
"""

from __future__ import annotations

import enum
from collections.abc import Generator, Sequence
from types import ModuleType
from typing import Any

import grpc

from ..errors import GRPCStatusError, GRPCTimeoutError, UsageError
from ..transports.grpc_channel import ResponseStream, invoke_unary, open_stream

__all__ = ["HealthStatus", "check_health", "watch_health"]

_CHECK = "/grpc.health.v1.Health/Check"
_WATCH = "/grpc.health.v1.Health/Watch"


class HealthStatus(str, enum.Enum):
    """A serving status of ``grpc.health.v1.HealthCheckResponse.ServingStatus``.

    ``SERVICE_UNKNOWN`` is what Watch reports for a service the server does not know; for
    Check the server answers NOT_FOUND, which :func:`check_health` also reports as
    ``SERVICE_UNKNOWN``.
    """

    UNKNOWN = "UNKNOWN"
    SERVING = "SERVING"
    NOT_SERVING = "NOT_SERVING"
    SERVICE_UNKNOWN = "SERVICE_UNKNOWN"

    def __str__(self) -> str:
        return self.value


def _health_pb2() -> ModuleType:
    try:
        from grpc_health.v1 import health_pb2
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "gRPC health checking needs the grpcio-health-checking package "
            "(pip install grpcio-health-checking)"
        ) from exc
    module: ModuleType = health_pb2
    return module


def _status(pb2: ModuleType, response: Any) -> HealthStatus:
    name = pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    try:
        return HealthStatus(name)
    except ValueError:  # a status added after this client was written
        return HealthStatus.UNKNOWN


def _check_service(service: str) -> None:
    if not isinstance(service, str):
        raise UsageError(f"service must be a str ('' for the whole server), got {service!r}")


def _check_seconds(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UsageError(f"{name} must be a positive number of seconds, got {value!r}")


def check_health(
    channel: grpc.Channel,
    *,
    target: str,
    service: str = "",
    timeout_s: float = 5.0,
    metadata: Sequence[tuple[str, str | bytes]] = (),
    request_id: str | None = None,
) -> HealthStatus:
    """Ask the server once for the serving status of ``service`` (``Health/Check``).

    Args:
        channel: the channel to ask on.
        target: the channel target, for errors.
        service: the fully qualified service name (``"package.Service"``), or "" for the
            server as a whole.
        timeout_s: the call's gRPC deadline, in seconds (> 0).
        metadata: checked metadata pairs to send.
        request_id: the ``x-request-id`` in ``metadata``, for errors.

    Returns:
        The :class:`HealthStatus`; ``SERVICE_UNKNOWN`` when the server answered NOT_FOUND.

    Raises:
        GRPCUnavailableError: the server could not be reached.
        GRPCTimeoutError: no answer within ``timeout_s``.
        GRPCStatusError: another status, e.g. UNIMPLEMENTED when the server has no health
            service.
        UsageError: invalid arguments.
        ImportError: grpcio-health-checking is not installed.
    """
    _check_service(service)
    _check_seconds("timeout_s", timeout_s)
    pb2 = _health_pb2()
    check = channel.unary_unary(
        _CHECK,
        request_serializer=pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=pb2.HealthCheckResponse.FromString,
    )
    try:
        outcome = invoke_unary(
            check,
            pb2.HealthCheckRequest(service=service),
            target=target,
            method="grpc.health.v1.Health/Check",
            timeout_s=float(timeout_s),
            metadata=metadata,
            request_id=request_id,
        )
    except GRPCStatusError as exc:
        if exc.code is grpc.StatusCode.NOT_FOUND:
            return HealthStatus.SERVICE_UNKNOWN
        raise
    return _status(pb2, outcome.response)


def watch_health(
    channel: grpc.Channel,
    *,
    target: str,
    service: str = "",
    duration_s: float,
    metadata: Sequence[tuple[str, str | bytes]] = (),
    request_id: str | None = None,
) -> Generator[HealthStatus, None, None]:
    """Watch the serving status of ``service`` for at most ``duration_s`` seconds.

    The server sends the current status at once and then every change (``Health/Watch``).
    The watch is a server-streaming call whose gRPC deadline is ``duration_s``: when it runs
    out, the iteration simply ends (the bound is the point, not a failure). Stop iterating
    early (``break``, or ``close()`` on the generator) to cancel the call.

    Args:
        channel: the channel to watch on.
        target: the channel target, for errors.
        service: the fully qualified service name, or "" for the server as a whole.
        duration_s: how long to watch, in seconds (> 0).
        metadata: checked metadata pairs to send.
        request_id: the ``x-request-id`` in ``metadata``, for errors.

    Returns:
        An iterator of each :class:`HealthStatus` the server sends (the call is started
        before this returns; its responses arrive as you iterate).

    Raises:
        GRPCUnavailableError: the server could not be reached (or went away).
        GRPCStatusError: another status, e.g. UNIMPLEMENTED when the server has no health
            service or does not implement Watch.
        UsageError: invalid arguments.
        ImportError: grpcio-health-checking is not installed.
    """
    _check_service(service)
    _check_seconds("duration_s", duration_s)
    pb2 = _health_pb2()
    watch = channel.unary_stream(
        _WATCH,
        request_serializer=pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=pb2.HealthCheckResponse.FromString,
    )
    stream = open_stream(
        watch,
        pb2.HealthCheckRequest(service=service),
        target=target,
        method="grpc.health.v1.Health/Watch",
        timeout_s=float(duration_s),
        metadata=metadata,
        request_id=request_id,
        prefetch=False,
    )
    return _statuses(stream, pb2)


def _statuses(stream: ResponseStream, pb2: ModuleType) -> Generator[HealthStatus, None, None]:
    with stream:
        try:
            for response in stream:
                yield _status(pb2, response)
        except GRPCTimeoutError:
            return  # the watch's bound ran out: the normal end of a bounded watch
