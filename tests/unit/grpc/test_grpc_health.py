"""Health checking (grpc.health.v1) and channel readiness against a real server."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2

from syncclients import UsageError
from syncclients.errors import GRPCStatusError, GRPCUnavailableError
from syncclients.grpc import GRPCClient, HealthStatus

Factory = Callable[..., GRPCClient]
SERVICE = "syncclients.test.v1.Echo"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_check_serving_and_not_serving(client: GRPCClient, echo_server: Any) -> None:
    assert client.health_check() is HealthStatus.SERVING  # the server as a whole
    echo_server.health.set(SERVICE, SERVING)
    assert client.health_check(SERVICE) is HealthStatus.SERVING
    echo_server.health.set(SERVICE, NOT_SERVING)
    assert client.health_check(SERVICE) is HealthStatus.NOT_SERVING
    assert str(HealthStatus.NOT_SERVING) == "NOT_SERVING"


def test_check_unknown_service(client: GRPCClient) -> None:
    assert client.health_check("no.such.Service") is HealthStatus.SERVICE_UNKNOWN


def test_check_sends_client_metadata(make_client: Factory, server_factory: Any) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    class Recorder(grpc.ServerInterceptor):  # type: ignore[misc]
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            seen.append((details.method, dict(details.invocation_metadata)))
            return continuation(details)

    running = server_factory(interceptors=(Recorder(),))
    client = make_client(running.target, tenant_id="acme", metadata={"authorization": "t"})
    assert client.health_check(metadata={"x-probe": "1"}) is HealthStatus.SERVING
    method, metadata = seen[-1]
    assert method == "/grpc.health.v1.Health/Check"
    assert metadata["x-probe"] == "1"
    assert metadata["x-tenant-id"] == "acme"
    assert metadata["authorization"] == "t"
    assert len(metadata["x-request-id"]) == 32


def test_check_without_health_service(
    make_client: Factory, proto: SimpleNamespace, server_factory: Any
) -> None:
    running = server_factory()
    # A server with only the Echo service: build one by hand.
    from concurrent import futures

    bare = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    proto.pb2_grpc.add_EchoServicer_to_server(running.servicer, bare)
    port = bare.add_insecure_port("127.0.0.1:0")
    bare.start()
    try:
        client = make_client(f"127.0.0.1:{port}")
        with pytest.raises(GRPCStatusError) as info:
            client.health_check()
        assert info.value.code is grpc.StatusCode.UNIMPLEMENTED
    finally:
        assert bare.stop(grace=None).wait(timeout=10)


def test_check_unreachable(make_client: Factory, server_factory: Any) -> None:
    running = server_factory()
    target = running.target
    running.server.stop(grace=None).wait(timeout=10)
    with pytest.raises(GRPCUnavailableError):
        make_client(target).health_check(timeout_s=5)


def test_check_arguments(client: GRPCClient) -> None:
    with pytest.raises(UsageError):
        client.health_check(timeout_s=0)
    with pytest.raises(UsageError):
        client.health_check(service=None)  # type: ignore[arg-type]


def test_watch_sees_changes_then_ends_at_its_bound(client: GRPCClient, echo_server: Any) -> None:
    echo_server.health.set(SERVICE, NOT_SERVING)
    seen = []
    for status in client.watch_health(SERVICE, duration_s=1.0):
        seen.append(status)
        if status is HealthStatus.NOT_SERVING:
            echo_server.health.set(SERVICE, SERVING)
    assert seen == [HealthStatus.NOT_SERVING, HealthStatus.SERVING]


def test_watch_unknown_service_and_early_stop(client: GRPCClient, echo_server: Any) -> None:
    watch = client.watch_health("no.such.Service", duration_s=30)
    assert next(iter(watch)) is HealthStatus.SERVICE_UNKNOWN
    watch.close()  # closing the generator cancels the call


def test_watch_arguments(client: GRPCClient) -> None:
    with pytest.raises(UsageError):
        client.watch_health(duration_s=0)


def test_health_after_close(make_client: Factory, echo_server: Any) -> None:
    client = make_client(echo_server.target)
    client.close()
    with pytest.raises(UsageError):
        client.health_check()
    with pytest.raises(UsageError):
        client.wait_until_ready()
