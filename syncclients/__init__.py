"""syncclients: blocking, thread-based clients for HTTP, gRPC and MCP servers.

For code that is not async (Django and Flask views, Jupyter notebooks, batch scripts):
every client is synchronous, safe to share between threads, and guarded by a circuit
breaker, budgeted retries with backoff, and deadlines.
"""

import logging

from .config import (
    USE_CLIENT_DEFAULT,
    BreakerPolicy,
    PoolLimits,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeouts,
)
from .errors import (
    CircuitOpenError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeout,
    DeadlineExceeded,
    GRPCStatusError,
    GRPCTimeoutError,
    GRPCTLSError,
    GRPCUnavailableError,
    HTTPStatusError,
    InvalidHeaderError,
    PoolTimeout,
    ProtocolError,
    ReadTimeout,
    ResponseTooLargeError,
    SyncClientsError,
    Timeout,
    TLSError,
    TransportError,
    UsageError,
)
from .grpc import (
    GRPCClient,
    GRPCResult,
    GRPCStream,
    GRPCTLSConfig,
    HealthStatus,
)
from .http import (
    APIKeyAuth,
    BasicAuth,
    BearerAuth,
    ClientMetrics,
    HealthReport,
    HTTPClient,
    OAuth2ClientCredentials,
)
from .resilience import AttemptRecord, BreakerInfo, CircuitBreaker, LoggingHook, RetryBudget

__version__ = "0.1.0"

__all__ = [
    "USE_CLIENT_DEFAULT",
    "APIKeyAuth",
    "AttemptRecord",
    "BasicAuth",
    "BearerAuth",
    "BreakerInfo",
    "BreakerPolicy",
    "CircuitBreaker",
    "CircuitOpenError",
    "ClientMetrics",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLostError",
    "DeadlineExceeded",
    "GRPCClient",
    "GRPCResult",
    "GRPCStatusError",
    "GRPCStream",
    "GRPCTLSConfig",
    "GRPCTLSError",
    "GRPCTimeoutError",
    "GRPCUnavailableError",
    "HTTPClient",
    "HTTPStatusError",
    "HealthReport",
    "HealthStatus",
    "InvalidHeaderError",
    "LoggingHook",
    "OAuth2ClientCredentials",
    "PoolLimits",
    "PoolTimeout",
    "ProtocolError",
    "ReadTimeout",
    "ResponseTooLargeError",
    "RetryBudget",
    "RetryBudgetPolicy",
    "RetryPolicy",
    "SyncClientsError",
    "TLSError",
    "Timeout",
    "Timeouts",
    "TransportError",
    "UsageError",
    "__version__",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
