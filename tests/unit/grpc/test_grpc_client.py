"""GRPCClient unary calls against a real in-process gRPC server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from syncclients import (
    BreakerPolicy,
    CircuitOpenError,
    DeadlineExceeded,
    InvalidHeaderError,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeout,
    TransportError,
    UsageError,
)
from syncclients.errors import GRPCStatusError, GRPCTimeoutError, GRPCUnavailableError
from syncclients.grpc import GRPCClient
from syncclients.resilience import AttemptRecord, CircuitBreaker

Factory = Callable[..., GRPCClient]


def say(proto: SimpleNamespace, text: str = "hi", **kwargs: Any) -> Any:
    return proto.pb2.SayRequest(text=text, **kwargs)


# -- calls and metadata ------------------------------------------------------------------------


def test_unary_call_returns_the_response(client: GRPCClient, proto: SimpleNamespace) -> None:
    reply = client.call("Say", say(proto, "hello", payload=b"\x00\xff"))
    assert reply.text == "hello"
    assert reply.payload == b"\x00\xff"


def test_metadata_both_ways(client: GRPCClient, proto: SimpleNamespace, echo_server: Any) -> None:
    result = client.call_with_metadata(
        "Say", say(proto), metadata={"X-Custom": "one", "blob-bin": b"\x01\x02"}
    )
    sent = echo_server.servicer.metadata()
    assert sent["x-custom"] == "one"
    assert sent["blob-bin"] == b"\x01\x02"
    assert sent["x-request-id"] == result.request_id
    assert len(result.request_id) == 32
    assert result.attempts == 1
    assert ("x-server", "echo") in result.initial_metadata
    trailing = dict(result.trailing_metadata)
    assert trailing["x-echo-request-id"] == result.request_id
    assert trailing["x-trace-bin"] == b"\x00\x01"


def test_every_call_gets_its_own_request_id(client: GRPCClient, proto: SimpleNamespace) -> None:
    first = client.call_with_metadata("Say", say(proto)).request_id
    second = client.call_with_metadata("Say", say(proto)).request_id
    assert first != second


def test_metadata_as_pairs_and_a_given_request_id(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    result = client.call_with_metadata(
        "Say", say(proto), metadata=[("x-request-id", "abc"), ("x-multi", "1"), ("x-multi", "2")]
    )
    assert result.request_id == "abc"
    received = [(k, v) for k, v in echo_server.servicer.calls[-1][1] if k == "x-multi"]
    assert received == [("x-multi", "1"), ("x-multi", "2")]
    assert echo_server.servicer.metadata()["x-request-id"] == "abc"


def test_client_metadata_and_tenant_id(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(
        echo_server.target, metadata={"authorization": "Bearer t", "x-a": "1"}, tenant_id="acme"
    )
    client.call("Say", say(proto), metadata={"x-a": "2"})
    sent = echo_server.servicer.metadata()
    assert sent["authorization"] == "Bearer t"
    assert sent["x-a"] == "2"
    assert sent["x-tenant-id"] == "acme"
    client.call("Say", say(proto), tenant_id="other")
    assert echo_server.servicer.metadata()["x-tenant-id"] == "other"
    client.call("Say", say(proto), tenant_id=None)
    assert "x-tenant-id" not in echo_server.servicer.metadata()


def test_invalid_metadata_sends_nothing(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    with pytest.raises(InvalidHeaderError):
        client.call("Say", say(proto), metadata={"x": "bad\r\nvalue"})
    with pytest.raises(InvalidHeaderError):
        client.call("Say", say(proto), tenant_id="")
    assert echo_server.servicer.count("Say") == 0


def test_usage_errors(client: GRPCClient, proto: SimpleNamespace, echo_server: Any) -> None:
    with pytest.raises(UsageError, match="no method 'Nope'"):
        client.call("Nope", say(proto))
    with pytest.raises(UsageError, match="stream"):
        client.call("Count", proto.pb2.CountRequest(count=1))
    with pytest.raises(UsageError, match="serialized"):
        client.call("Say", "not a message")
    with pytest.raises(UsageError):
        client.call("Say", say(proto), timeout=0)
    with pytest.raises(UsageError):
        client.call("Say", say(proto), idempotent="yes")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        client.call("Say", say(proto), retry=3)  # type: ignore[arg-type]
    assert echo_server.servicer.count("Say") == 0


def test_constructor_validation(proto: SimpleNamespace) -> None:
    stub = proto.pb2_grpc.EchoStub
    with pytest.raises(UsageError):
        GRPCClient("", stub)
    with pytest.raises(UsageError):
        GRPCClient("127.0.0.1:1", stub, retry=3)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        GRPCClient("127.0.0.1:1", stub, attempt_timeout_s=-1)
    with pytest.raises(UsageError):
        GRPCClient("127.0.0.1:1", stub, options=[("grpc.enable_retries", 1)])
    channel = grpc.insecure_channel("127.0.0.1:1")
    try:
        with pytest.raises(UsageError, match="own channel"):
            GRPCClient("127.0.0.1:1", stub, channel=channel, max_receive_message_bytes=10)
    finally:
        channel.close()


# -- status errors and retries -----------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNAUTHENTICATED,
    ],
)
def test_caller_errors_are_raised_at_once(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any, code: grpc.StatusCode
) -> None:
    echo_server.servicer.fail_next("Say", 1, code, details="nope", trailing=(("x-why", "because"),))
    with pytest.raises(GRPCStatusError) as info:
        client.call("Say", say(proto), idempotent=True)
    assert info.value.code is code
    assert info.value.details == "nope"
    assert ("x-why", "because") in info.value.trailing_metadata
    assert info.value.request_id == echo_server.servicer.metadata()["x-request-id"]
    assert echo_server.servicer.count("Say") == 1


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.RESOURCE_EXHAUSTED],
)
def test_transient_failures_are_retried(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any, code: grpc.StatusCode
) -> None:
    records: list[AttemptRecord] = []
    client = make_client(echo_server.target, hooks=[records.append])
    echo_server.servicer.fail_next("Say", 2, code)
    result = client.call_with_metadata("Say", say(proto, "third time"))
    assert result.response.text == "third time"
    assert result.attempts == 3
    assert echo_server.servicer.count("Say") == 3
    assert [r.outcome for r in records] == ["failure", "failure", "success"]
    ids = {dict(md)["x-request-id"] for _, md in echo_server.servicer.calls}
    assert ids == {result.request_id}  # one request id across attempts


def test_per_call_retry_policy(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    echo_server.servicer.fail_next("Say", 1, grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(GRPCUnavailableError):
        client.call("Say", say(proto), retry=RetryPolicy.never())
    assert echo_server.servicer.count("Say") == 1


def test_retries_stop_at_max_attempts_with_the_last_error(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(echo_server.target)
    echo_server.servicer.fail_next("Say", 5, grpc.StatusCode.UNAVAILABLE, details="down")
    with pytest.raises(GRPCUnavailableError) as info:
        client.call("Say", say(proto))
    assert isinstance(info.value, TransportError)
    assert info.value.code is grpc.StatusCode.UNAVAILABLE
    assert echo_server.servicer.count("Say") == 3


def test_pushback_sets_the_retry_delay_exactly(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    records: list[AttemptRecord] = []
    client = make_client(echo_server.target, hooks=[records.append])
    echo_server.servicer.fail_next(
        "Say",
        1,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        trailing=(("grpc-retry-pushback-ms", "300"),),
    )
    started = time.monotonic()
    assert client.call("Say", say(proto, "ok")).text == "ok"
    assert time.monotonic() - started >= 0.3
    assert records[0].delay_s == pytest.approx(0.3)
    assert records[0].will_retry


def test_negative_pushback_stops_retrying(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(echo_server.target)
    echo_server.servicer.fail_next(
        "Say", 3, grpc.StatusCode.UNAVAILABLE, trailing=(("grpc-retry-pushback-ms", "-1"),)
    )
    with pytest.raises(GRPCUnavailableError) as info:
        client.call("Say", say(proto))
    assert info.value.retry_pushback == "-1"
    assert echo_server.servicer.count("Say") == 1


def test_pushback_longer_than_the_deadline_ends_retrying(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(echo_server.target)
    echo_server.servicer.fail_next(
        "Say", 1, grpc.StatusCode.UNAVAILABLE, trailing=(("grpc-retry-pushback-ms", "60000"),)
    )
    with pytest.raises(GRPCUnavailableError) as info:
        client.call("Say", say(proto), timeout=5.0)
    assert info.value.retry_after == 60.0
    assert echo_server.servicer.count("Say") == 1


def test_retry_budget_limits_retries(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(
        echo_server.target,
        retry=RetryPolicy(max_attempts=5, initial_delay_s=0, deadline_s=15),
        retry_budget=RetryBudgetPolicy(max_tokens=4, token_ratio=0.1),
    )
    echo_server.servicer.fail_next("Say", 100, grpc.StatusCode.UNAVAILABLE)
    for _ in range(3):
        with pytest.raises(GRPCUnavailableError):
            client.call("Say", say(proto))
    # 4 tokens: retries are allowed while more than 2 remain, so 2 failures spend the
    # allowance; every later call makes a single attempt.
    assert echo_server.servicer.count("Say") == 4
    assert client.retry_budget is not None
    assert client.retry_budget.tokens == 0.0


def test_budget_off_means_plain_retries(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(echo_server.target, retry_budget=None)
    echo_server.servicer.fail_next("Say", 6, grpc.StatusCode.UNAVAILABLE)
    for _ in range(2):
        with pytest.raises(GRPCUnavailableError):
            client.call("Say", say(proto))
    assert echo_server.servicer.count("Say") == 6


# -- deadlines ---------------------------------------------------------------------------------


def test_attempt_deadline_is_not_retried_for_non_idempotent_calls(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(echo_server.target, attempt_timeout_s=0.2)
    with pytest.raises(GRPCTimeoutError) as info:
        client.call("Say", say(proto, delay_ms=5000))
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, Timeout)
    assert info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert info.value.timeout_s == pytest.approx(0.2)
    assert echo_server.servicer.count("Say") == 1


def test_attempt_deadline_is_retried_for_idempotent_calls(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(echo_server.target, attempt_timeout_s=0.2, idempotent_methods={"Say"})
    with pytest.raises(GRPCTimeoutError):
        client.call("Say", say(proto, delay_ms=5000))
    assert echo_server.servicer.count("Say") == 3
    with pytest.raises(GRPCTimeoutError):
        client.call("Say", say(proto, delay_ms=5000), idempotent=False)
    assert echo_server.servicer.count("Say") == 4


def test_overall_deadline_raises_deadline_exceeded(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        client.call("Say", say(proto, delay_ms=5000), timeout=0.3, idempotent=True)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 3.0
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value.__cause__, GRPCTimeoutError)
    assert echo_server.servicer.count("Say") == 1


def test_deadline_is_propagated_to_the_server(
    client: GRPCClient, proto: SimpleNamespace, echo_server: Any
) -> None:
    client.call("Say", say(proto), timeout=7.0)
    remaining = echo_server.servicer.time_remaining[-1]
    assert remaining is not None
    # The grpc-timeout header carries at most 8 digits of a unit and gRPC rounds the
    # deadline up when it encodes it, so the server may see a few ms more than 7 s.
    assert 0 < remaining <= 7.0 + 0.05
    client.call("Say", say(proto), timeout=None)
    remaining = echo_server.servicer.time_remaining[-1]
    assert remaining is None or remaining > 1e9  # no deadline: gRPC reports "infinite"


# -- breaker -----------------------------------------------------------------------------------


def test_breaker_opens_on_server_failures(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(
        echo_server.target,
        retry=RetryPolicy.never(deadline_s=10),
        breaker=BreakerPolicy(failure_threshold=2, recovery_timeout_s=60),
    )
    echo_server.servicer.fail_next("Say", 2, grpc.StatusCode.INTERNAL)
    for _ in range(2):
        with pytest.raises(GRPCStatusError):
            client.call("Say", say(proto))
    with pytest.raises(CircuitOpenError) as info:
        client.call("Say", say(proto))
    assert info.value.name == f"grpc:{echo_server.target}"
    assert echo_server.servicer.count("Say") == 2
    assert client.breaker is not None
    assert client.breaker.state == "open"


def test_breaker_ignores_caller_errors(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(
        echo_server.target,
        retry=RetryPolicy.never(deadline_s=10),
        breaker=BreakerPolicy(failure_threshold=2, recovery_timeout_s=60),
    )
    for code in (
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.ABORTED,
    ):
        echo_server.servicer.fail_next("Say", 1, code)
        with pytest.raises(GRPCStatusError):
            client.call("Say", say(proto))
    assert client.breaker is not None
    assert client.breaker.state == "closed"
    assert client.call("Say", say(proto, "still")).text == "still"


def test_breaker_recovers_after_a_successful_probe(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(
        echo_server.target,
        retry=RetryPolicy.never(deadline_s=10),
        breaker=BreakerPolicy(failure_threshold=1, recovery_timeout_s=0),
    )
    echo_server.servicer.fail_next("Say", 1, grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(GRPCUnavailableError):
        client.call("Say", say(proto))
    assert client.call("Say", say(proto, "probe")).text == "probe"
    assert client.breaker is not None
    assert client.breaker.state == "closed"


def test_shared_breaker_instance(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=1, recovery_timeout_s=60), name="x")
    first = make_client(echo_server.target, breaker=breaker, retry=RetryPolicy.never())
    second = make_client(echo_server.target, breaker=breaker, retry=RetryPolicy.never())
    echo_server.servicer.fail_next("Say", 1, grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(GRPCUnavailableError):
        first.call("Say", say(proto))
    with pytest.raises(CircuitOpenError):
        second.call("Say", say(proto))


def test_unreachable_server_is_unavailable_and_opens_the_breaker(
    make_client: Factory, proto: SimpleNamespace, server_factory: Any
) -> None:
    running = server_factory()
    target = running.target
    running.server.stop(grace=None).wait(timeout=10)
    client = make_client(
        target,
        retry=RetryPolicy(max_attempts=2, initial_delay_s=0.01, deadline_s=10),
        breaker=BreakerPolicy(failure_threshold=2, recovery_timeout_s=60),
    )
    with pytest.raises(GRPCUnavailableError):
        client.call("Say", say(proto))
    with pytest.raises(CircuitOpenError):
        client.call("Say", say(proto))


# -- channel settings --------------------------------------------------------------------------


def test_message_size_limit_is_not_retried(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(
        echo_server.target,
        max_receive_message_bytes=64,
        breaker=BreakerPolicy(failure_threshold=1, recovery_timeout_s=60),
    )
    with pytest.raises(GRPCStatusError) as info:
        client.call("Say", say(proto, payload=b"x" * 1000))
    assert info.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert echo_server.servicer.count("Say") == 1
    assert client.breaker is not None
    assert client.breaker.state == "closed"


def test_compression_and_keepalive(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(
        echo_server.target,
        compression=grpc.Compression.Gzip,
        keepalive_time_s=30,
        keepalive_timeout_s=5,
        max_send_message_bytes=1 << 20,
    )
    payload = b"a" * 10_000
    assert client.call("Say", say(proto, payload=payload)).payload == payload


def test_wait_until_ready(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any, server_factory: Any
) -> None:
    make_client(echo_server.target).wait_until_ready(timeout_s=5)
    down = server_factory()
    target = down.target
    down.server.stop(grace=None).wait(timeout=10)
    client = make_client(target)
    started = time.monotonic()
    with pytest.raises(Timeout) as info:
        client.wait_until_ready(timeout_s=0.3)
    assert isinstance(info.value, ConnectionError)
    assert time.monotonic() - started < 3.0


def test_wait_for_ready_calls_wait_for_the_server(
    make_client: Factory, proto: SimpleNamespace, server_factory: Any
) -> None:
    first = server_factory()
    port = first.port
    first.server.stop(grace=None).wait(timeout=10)
    client = make_client(f"127.0.0.1:{port}", wait_for_ready=True, retry=RetryPolicy.never())
    with pytest.raises(DeadlineExceeded):
        client.call("Say", say(proto), timeout=0.3)  # waits instead of failing fast
    server_factory(port=port)
    assert client.call("Say", say(proto, "up"), timeout=10).text == "up"


# -- lifecycle ---------------------------------------------------------------------------------


def test_close_closes_the_owned_channel(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    with make_client(echo_server.target) as client:
        assert client.call("Say", say(proto)).text == "hi"
    assert client.closed
    with pytest.raises(UsageError, match="closed"):
        client.call("Say", say(proto))
    with pytest.raises(ValueError, match="closed channel"):  # raw grpc: the channel is closed
        client.channel.unary_unary("/x.Y/Z")(b"", timeout=1)
    client.close()  # idempotent


def test_a_given_channel_is_not_closed(proto: SimpleNamespace, echo_server: Any) -> None:
    channel = grpc.insecure_channel(echo_server.target, options=[("grpc.enable_retries", 0)])
    try:
        with GRPCClient(echo_server.target, proto.pb2_grpc.EchoStub, channel=channel) as client:
            assert client.call("Say", say(proto, "mine")).text == "mine"
        stub = proto.pb2_grpc.EchoStub(channel)
        assert stub.Say(say(proto, "still open"), timeout=5).text == "still open"
    finally:
        channel.close()


def test_repr(client: GRPCClient) -> None:
    assert "open" in repr(client)


def test_metrics_snapshot_counts_calls_attempts_and_retries(
    make_client: Factory, proto: SimpleNamespace, echo_server: Any
) -> None:
    client = make_client(echo_server.target, breaker=BreakerPolicy(failure_threshold=50))
    before = client.metrics()
    assert (before.calls, before.attempts, before.latency_p50_s) == (0, 0, None)
    echo_server.servicer.fail_next("Say", 1, grpc.StatusCode.UNAVAILABLE)
    assert client.call("Say", say(proto, "ok")).text == "ok"
    echo_server.servicer.fail_next("Say", 5, grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(GRPCUnavailableError):
        client.call("Say", say(proto))
    m = client.metrics()
    assert (m.calls, m.successes, m.errors) == (2, 1, 1)
    assert (m.attempts, m.retries, m.rejected) == (5, 3, 0)  # 2 + 3 attempts
    assert m.latency_p50_s is not None and m.latency_max_s is not None
    assert 0 < m.latency_p50_s <= m.latency_max_s
    assert m.breaker is not None and m.breaker.state == "closed"
    assert m.budget_tokens is not None
