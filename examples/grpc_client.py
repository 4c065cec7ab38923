"""GRPCClient in a few calls: unary, server streaming, retries, metadata and health checks.

Run it with no arguments: it starts its own small gRPC server on 127.0.0.1 (an ephemeral
port), calls it, prints what happened and stops the server. Give a target
(``python examples/grpc_client.py host:port``) to only check the health of your own server
(any server with the standard ``grpc.health.v1`` service).

The demo service needs no generated code: the server uses grpc's generic handlers and the
client a small hand-written stub whose methods send and receive raw bytes. With generated
code you pass ``my_pb2_grpc.MyServiceStub`` instead.

Needs: syncclients, grpcio, grpcio-health-checking.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from syncclients import BreakerPolicy, RetryPolicy
from syncclients.errors import GRPCStatusError
from syncclients.grpc import GRPCClient

SERVICE = "demo.Echo"


# -- a small demo server -----------------------------------------------------------------------


class DemoServer:
    """Echo service on 127.0.0.1: Upper (unary), Countdown (server streaming), Flaky (unary,
    fails with UNAVAILABLE every other call), plus grpc.health.v1."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flaky_calls = 0
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handlers = {
            "Upper": grpc.unary_unary_rpc_method_handler(self.upper),
            "Countdown": grpc.unary_stream_rpc_method_handler(self.countdown),
            "Flaky": grpc.unary_unary_rpc_method_handler(self.flaky),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers),)
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.health.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)

    def upper(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        tenant = dict(context.invocation_metadata()).get("x-tenant-id", "-")
        context.set_trailing_metadata((("x-served-tenant", str(tenant)),))
        return request.upper()

    def countdown(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        for n in range(int(request or b"3"), 0, -1):
            yield str(n).encode()

    def flaky(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self._lock:
            self._flaky_calls += 1
            failing = self._flaky_calls % 2 == 1
        if failing:
            context.set_trailing_metadata((("grpc-retry-pushback-ms", "50"),))
            context.abort(grpc.StatusCode.UNAVAILABLE, "warming up, retry in 50 ms")
        return b"ok after a retry"

    def __enter__(self) -> DemoServer:
        self.server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace=None).wait(timeout=5)


class EchoStub:
    """A hand-written stub: each attribute is a grpc multicallable (bytes in, bytes out)."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.Upper = channel.unary_unary(f"/{SERVICE}/Upper")
        self.Countdown = channel.unary_stream(f"/{SERVICE}/Countdown")
        self.Flaky = channel.unary_unary(f"/{SERVICE}/Flaky")


# -- the client --------------------------------------------------------------------------------


def demo(target: str) -> None:
    retry = RetryPolicy(max_attempts=3, initial_delay_s=0.05, deadline_s=10.0)
    breaker = BreakerPolicy(failure_threshold=5, recovery_timeout_s=30.0)
    with GRPCClient(
        target,
        EchoStub,
        retry=retry,
        breaker=breaker,
        tenant_id="acme",
        metadata={"authorization": "Bearer demo-token"},
        attempt_timeout_s=2.0,
    ) as client:
        client.wait_until_ready(timeout_s=5.0)
        print("health (server):", client.health_check())
        print(f"health ({SERVICE}):", client.health_check(SERVICE))

        result = client.call_with_metadata("Upper", b"hello grpc", timeout=5.0)
        print("Upper ->", result.response.decode(), "| request id", result.request_id)
        print("  trailing metadata:", dict(result.trailing_metadata))

        with client.stream("Countdown", b"3", timeout=5.0) as stream:
            print("Countdown ->", [item.decode() for item in stream])

        flaky = client.call_with_metadata("Flaky", b"", timeout=5.0)
        print(f"Flaky -> {flaky.response.decode()} ({flaky.attempts} attempts)")

        try:
            client.call("Flaky", b"", retry=RetryPolicy.never())
        except GRPCStatusError as exc:
            print(f"Flaky without retries -> {exc.code.name}: {exc.details}")
        if client.breaker is not None:
            print("breaker:", client.breaker.state)


def health_only(target: str) -> int:
    with GRPCClient(target, EchoStub, retry=RetryPolicy.never(deadline_s=10.0)) as client:
        try:
            print(target, "health:", client.health_check(timeout_s=5.0))
        except GRPCStatusError as exc:
            print(target, "health check failed:", exc)
            return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        return health_only(argv[1])
    with DemoServer() as server:
        target = f"127.0.0.1:{server.port}"
        print("demo server on", target)
        demo(target)
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
