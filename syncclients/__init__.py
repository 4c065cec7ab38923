"""syncclients: blocking, thread-based clients for HTTP, gRPC and MCP servers.

For code that is not async (Django and Flask views, Jupyter notebooks, batch scripts):
every client is synchronous, safe to share between threads, and guarded by a circuit
breaker, budgeted retries with backoff, and deadlines.
"""

import logging

from .batch import BatchCall, BatchInterrupted, BatchOutcome, BatchProgress, run_batch
from .config import (
    USE_CLIENT_DEFAULT,
    BreakerPolicy,
    PoolLimits,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeouts,
)
from .errors import (
    AuthorizationError,
    CallCancelledError,
    CallInterruptedError,
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
    InputRequiredLimitError,
    InvalidHeaderError,
    MCPError,
    MissingClientCapabilityError,
    PoolTimeout,
    ProtocolError,
    ReadTimeout,
    ResponseTooLargeError,
    ServerExitedError,
    SyncClientsError,
    Timeout,
    TLSError,
    ToolArgumentsError,
    TransportError,
    UnsupportedProtocolVersionError,
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
from .mcp import GroupTool, MCPClient, MCPGroup, ServerHealth
from .resilience import AttemptRecord, BreakerInfo, CircuitBreaker, LoggingHook, RetryBudget

__version__ = "0.1.0"

__all__ = [
    "USE_CLIENT_DEFAULT",
    "APIKeyAuth",
    "AttemptRecord",
    "AuthorizationError",
    "BasicAuth",
    "BatchCall",
    "BatchInterrupted",
    "BatchOutcome",
    "BatchProgress",
    "BearerAuth",
    "BreakerInfo",
    "BreakerPolicy",
    "CallCancelledError",
    "CallInterruptedError",
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
    "GroupTool",
    "HTTPClient",
    "HTTPStatusError",
    "HealthReport",
    "HealthStatus",
    "InputRequiredLimitError",
    "InvalidHeaderError",
    "LoggingHook",
    "MCPClient",
    "MCPError",
    "MCPGroup",
    "MissingClientCapabilityError",
    "OAuth2ClientCredentials",
    "PoolLimits",
    "PoolTimeout",
    "ProtocolError",
    "ReadTimeout",
    "ResponseTooLargeError",
    "RetryBudget",
    "RetryBudgetPolicy",
    "RetryPolicy",
    "ServerExitedError",
    "ServerHealth",
    "SyncClientsError",
    "TLSError",
    "Timeout",
    "Timeouts",
    "ToolArgumentsError",
    "TransportError",
    "UnsupportedProtocolVersionError",
    "UsageError",
    "__version__",
    "run_batch",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
