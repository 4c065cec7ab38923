"""GRPCClient server-streaming calls against a real in-process gRPC server."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from syncclients import DeadlineExceeded, RetryPolicy, UsageError
from syncclients.errors import GRPCStatusError, GRPCUnavailableError
from syncclients.grpc import GRPCClient

Factory = Callable[..., GRPCClient]


def count(proto: SimpleNamespace, n: int, **kwargs: Any) -> Any:
    return proto.pb2.CountRequest(count=n, **kwargs)


def test_stream_yields_every_response(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    with client.stream("Count", count(proto, 5), metadata={"x-a": "1"}) as stream:
        assert [reply.index for reply in stream] == [0, 1, 2, 3, 4]
        assert stream.code() is grpc.StatusCode.OK
        assert ("x-server", "echo") in stream.initial_metadata()
        assert ("x-sent", "5") in stream.trailing_metadata()
        assert not stream.is_active()
    sent = echo_server.servicer.metadata()
    assert sent["x-a"] == "1"
    assert sent["x-request-id"] == stream.request_id


def test_empty_stream(client: GRPCClient, proto: SimpleNamespace) -> None:
    assert list(client.stream("Count", count(proto, 0))) == []


def test_stream_start_is_retried(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    echo_server.servicer.fail_next("Count", 2, grpc.StatusCode.UNAVAILABLE)
    stream = client.stream("Count", count(proto, 3))
    assert stream.attempts == 3
    assert [reply.index for reply in stream] == [0, 1, 2]
    assert echo_server.servicer.count("Count") == 3


def test_stream_caller_error_is_raised_at_start(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    echo_server.servicer.fail_next("Count", 1, grpc.StatusCode.PERMISSION_DENIED)
    with pytest.raises(GRPCStatusError) as info:
        client.stream("Count", count(proto, 3))
    assert info.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert echo_server.servicer.count("Count") == 1


def test_failure_mid_stream_is_translated_and_not_retried(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    stream = client.stream("Count", count(proto, 5, fail_after=2))
    received = [next(stream).index, next(stream).index]
    with pytest.raises(GRPCUnavailableError) as info:
        next(stream)
    assert received == [0, 1]
    assert info.value.details == "stream broke"
    assert echo_server.servicer.count("Count") == 1


def test_stream_deadline_bounds_the_whole_stream(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(echo_server.target, retry=RetryPolicy.never(deadline_s=10))
    stream = client.stream("Count", count(proto, 100, delay_ms=200), timeout=1.5)
    received: list[int] = []
    with pytest.raises(DeadlineExceeded) as info:
        received.extend(reply.index for reply in stream)
    assert isinstance(info.value, TimeoutError)
    assert 1 <= len(received) < 20


def test_leaving_a_stream_early_cancels_it(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    with client.stream("Count", count(proto, 1000, delay_ms=50)) as stream:
        assert next(stream).index == 0
    assert echo_server.servicer.stream_ended.wait(timeout=5)
    assert list(stream) == []  # iteration stops after a local cancel
    assert not stream.is_active()


def test_cancel_stops_iteration(client: GRPCClient, proto: SimpleNamespace) -> None:
    stream = client.stream("Count", count(proto, 1000, delay_ms=50))
    assert next(stream).index == 0
    assert stream.cancel()
    assert list(stream) == []


def test_stream_of_a_unary_method_is_refused(client: GRPCClient, proto: SimpleNamespace) -> None:
    with pytest.raises(UsageError, match="call"):
        client.stream("Say", proto.pb2.SayRequest())
