"""Fixtures for the gRPC tests: real gRPC servers in-process on 127.0.0.1.

The test service (``syncclients_test_echo.proto``, next to this file) is compiled at test
time with grpc_tools.protoc into a temporary directory; no generated code is checked in.
Every server binds an ephemeral port on 127.0.0.1 and is stopped in fixture teardown; every
wait is bounded.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2_grpc

from syncclients import RetryPolicy
from syncclients.grpc import GRPCClient

HERE = Path(__file__).parent
PROTO = HERE / "syncclients_test_echo.proto"
MODULE = "syncclients_test_echo"


@pytest.fixture(scope="session")
def proto(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The generated ``*_pb2`` and ``*_pb2_grpc`` modules of the test service."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("generated")
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{HERE}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            str(PROTO),
        ]
    )
    assert rc == 0, f"protoc failed with {rc}"
    sys.path.insert(0, str(out))
    try:
        pb2 = importlib.import_module(f"{MODULE}_pb2")
        pb2_grpc = importlib.import_module(f"{MODULE}_pb2_grpc")
    finally:
        sys.path.remove(str(out))
    return SimpleNamespace(pb2=pb2, pb2_grpc=pb2_grpc)


@dataclass
class Failure:
    code: grpc.StatusCode
    details: str = "scripted failure"
    trailing: tuple[tuple[str, str], ...] = ()


@dataclass
class EchoServicer:
    """The test service. Tests script failures with :meth:`fail_next` and read what arrived."""

    pb2: Any
    calls: list[tuple[str, tuple[tuple[str, Any], ...]]] = field(default_factory=list)
    failures: dict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    always_fail: dict[str, Failure] = field(default_factory=dict)
    time_remaining: list[float | None] = field(default_factory=list)
    stream_ended: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, method: str, n: int, code: grpc.StatusCode, **kw: Any) -> None:
        with self.lock:
            self.failures[method].extend(Failure(code, **kw) for _ in range(n))

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for name, _ in self.calls if name == method)

    def metadata(self, index: int = -1) -> dict[str, Any]:
        with self.lock:
            return dict(self.calls[index][1])

    def _begin(self, method: str, context: grpc.ServicerContext) -> None:
        with self.lock:
            self.calls.append((method, tuple(context.invocation_metadata())))
            self.time_remaining.append(context.time_remaining())
            scripted = self.failures[method]
            failure = scripted.popleft() if scripted else self.always_fail.get(method)
        if failure is not None:
            if failure.trailing:
                context.set_trailing_metadata(failure.trailing)
            context.abort(failure.code, failure.details)

    def Say(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._begin("Say", context)
        ended = threading.Event()
        context.add_callback(ended.set)
        if request.delay_ms and ended.wait(request.delay_ms / 1000):
            return self.pb2.SayReply()  # the client gave up (deadline or cancel)
        received = dict(context.invocation_metadata())
        context.send_initial_metadata((("x-server", "echo"),))
        context.set_trailing_metadata(
            (
                ("x-echo-request-id", str(received.get("x-request-id", ""))),
                ("x-trace-bin", b"\x00\x01"),
            )
        )
        return self.pb2.SayReply(text=request.text, payload=request.payload)

    def Count(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        context.add_callback(self.stream_ended.set)
        self._begin("Count", context)
        ended = threading.Event()
        context.add_callback(ended.set)
        context.send_initial_metadata((("x-server", "echo"),))
        for index in range(request.count):
            if request.delay_ms and ended.wait(request.delay_ms / 1000):
                return
            if request.fail_after and index == request.fail_after:
                context.abort(grpc.StatusCode.UNAVAILABLE, "stream broke")
            yield self.pb2.CountReply(index=index)
        context.set_trailing_metadata((("x-sent", str(request.count)),))


@dataclass
class RunningServer:
    target: str
    port: int
    servicer: EchoServicer
    health: health.HealthServicer
    server: grpc.Server


def start_server(
    proto: SimpleNamespace,
    *,
    credentials: grpc.ServerCredentials | None = None,
    options: tuple[tuple[str, Any], ...] = (),
    interceptors: tuple[grpc.ServerInterceptor, ...] = (),
    port: int = 0,
) -> RunningServer:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8), options=options, interceptors=interceptors
    )
    servicer = EchoServicer(pb2=proto.pb2)
    proto.pb2_grpc.add_EchoServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = f"127.0.0.1:{port}"
    if credentials is None:
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, credentials)
    assert bound, "could not bind 127.0.0.1"
    server.start()
    return RunningServer(f"127.0.0.1:{bound}", bound, servicer, health_servicer, server)


def stop_server(running: RunningServer) -> None:
    running.health.enter_graceful_shutdown()
    assert running.server.stop(grace=None).wait(timeout=10)


@pytest.fixture
def server_factory(proto: SimpleNamespace) -> Iterator[Callable[..., RunningServer]]:
    """Start servers (TLS options and the like); all are stopped at teardown."""
    started: list[RunningServer] = []

    def factory(**kwargs: Any) -> RunningServer:
        running = start_server(proto, **kwargs)
        started.append(running)
        return running

    yield factory
    for running in started:
        stop_server(running)


@pytest.fixture
def echo_server(server_factory: Callable[..., RunningServer]) -> RunningServer:
    """A plaintext test server on 127.0.0.1 with the Echo and Health services."""
    return server_factory()


#: Fast retries so that the tests stay quick; every call is bounded by deadline_s.
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay_s=0.01, max_delay_s=0.05, deadline_s=15.0)


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """The retry policy ``make_client`` uses by default."""
    return FAST_RETRY


@pytest.fixture
def make_client(proto: SimpleNamespace) -> Iterator[Callable[..., GRPCClient]]:
    """Build GRPCClients for the Echo stub (fast retries, no breaker unless given)."""
    clients: list[GRPCClient] = []

    def factory(target: str, **kwargs: Any) -> GRPCClient:
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("breaker", None)
        client = GRPCClient(target, proto.pb2_grpc.EchoStub, **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., GRPCClient], echo_server: RunningServer) -> GRPCClient:
    """A plaintext client of ``echo_server``."""
    return make_client(echo_server.target)
