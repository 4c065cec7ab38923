"""Resilience core: circuit breaker, retry with backoff, retry budget, hooks.

Knows nothing of HTTP, gRPC or MCP: clients pass their own classification of failures.
"""

from .breaker import BreakerInfo, CircuitBreaker, Permit, StateListener
from .budget import RetryBudget
from .hooks import AttemptRecord, Hook, LoggingHook
from .pipeline import AttemptContext, Resilience, server_delay_hint

__all__ = [
    "AttemptContext",
    "AttemptRecord",
    "BreakerInfo",
    "CircuitBreaker",
    "Hook",
    "LoggingHook",
    "Permit",
    "Resilience",
    "RetryBudget",
    "StateListener",
    "server_delay_hint",
]
