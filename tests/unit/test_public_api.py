"""The curated public API: what `from syncclients import *` gives, and the tree's shape."""

from __future__ import annotations

import builtins

import syncclients
from syncclients import errors

EXPECTED = {
    "USE_CLIENT_DEFAULT",
    "APIKeyAuth",
    "AttemptRecord",
    "AuthorizationError",
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
    "HTTPClient",
    "HTTPStatusError",
    "HealthReport",
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
    "GRPCClient",
    "GRPCResult",
    "GRPCStream",
    "GRPCTLSConfig",
    "HealthStatus",
    "GRPCStatusError",
    "GRPCTimeoutError",
    "GRPCTLSError",
    "GRPCUnavailableError",
    "MCPClient",
    "CallCancelledError",
    "CallInterruptedError",
    "InputRequiredLimitError",
    "MCPError",
    "MissingClientCapabilityError",
    "ServerExitedError",
    "ToolArgumentsError",
    "UnsupportedProtocolVersionError",
    "BatchCall",
    "BatchInterrupted",
    "BatchOutcome",
    "BatchProgress",
    "run_batch",
    "GroupTool",
    "MCPGroup",
    "ServerHealth",
}


def test_all_is_curated_and_importable() -> None:
    assert set(syncclients.__all__) >= EXPECTED
    for name in syncclients.__all__:
        assert getattr(syncclients, name) is not None


def test_exception_tree_shape() -> None:
    assert issubclass(errors.TransportError, errors.SyncClientsError)
    assert issubclass(errors.ConnectError, builtins.ConnectionError)
    for cls in (
        errors.ConnectTimeout,
        errors.ReadTimeout,
        errors.PoolTimeout,
        errors.DeadlineExceeded,
    ):
        assert issubclass(cls, builtins.TimeoutError) and issubclass(cls, errors.TransportError)
    for cls in (errors.HTTPStatusError, errors.CircuitOpenError, errors.ProtocolError):
        assert issubclass(cls, errors.SyncClientsError)
    assert not issubclass(errors.UsageError, errors.SyncClientsError)
    assert issubclass(errors.InvalidHeaderError, errors.UsageError)
    # every class in the module is drawn in its docstring
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert name in (errors.__doc__ or ""), name


def test_package_is_typed_and_has_null_handler() -> None:
    from pathlib import Path

    assert (Path(syncclients.__file__).parent / "py.typed").exists()
    import logging

    assert any(
        isinstance(h, logging.NullHandler) for h in logging.getLogger("syncclients").handlers
    )
