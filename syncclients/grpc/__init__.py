"""gRPC: :class:`GRPCClient`, a blocking client with deadlines, metadata, budgeted retries, a
circuit breaker per target, and the standard health checking protocol.

Example::

    from syncclients.grpc import GRPCClient
    from myproto import greeter_pb2, greeter_pb2_grpc

    with GRPCClient("localhost:50051", greeter_pb2_grpc.GreeterStub) as client:
        reply = client.call("SayHello", greeter_pb2.HelloRequest(name="you"), timeout=2.0)
"""

from ..transports.grpc_channel import GRPCTLSConfig
from .client import (
    REQUEST_ID_KEY,
    TENANT_ID_KEY,
    GRPCClient,
    GRPCResult,
    GRPCStream,
    grpc_breaker_failure,
    grpc_retryable,
)
from .health import HealthStatus

__all__ = [
    "REQUEST_ID_KEY",
    "TENANT_ID_KEY",
    "GRPCClient",
    "GRPCResult",
    "GRPCStream",
    "GRPCTLSConfig",
    "HealthStatus",
    "grpc_breaker_failure",
    "grpc_retryable",
]
