"""``MCPClient.metrics()``: the HTTPClient snapshot's fields plus what is MCP's own.

The counters and percentiles come from the same :class:`~syncclients.resilience.stats.
CallStats` machinery as :meth:`HTTPClient.metrics() <syncclients.HTTPClient.metrics>`; this
module adds the result cache and the dispatcher's flood counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..resilience import Resilience
from ..resilience.cache import CacheStats
from ..resilience.stats import CallStats, ClientMetrics
from .dispatcher import DispatchStats

__all__ = ["MCPClientMetrics", "build_metrics"]


@dataclass(frozen=True, slots=True)
class MCPClientMetrics(ClientMetrics):
    """A snapshot of an MCPClient's counters since it was created (all its sessions and
    server restarts included). The fields of :class:`~syncclients.ClientMetrics` (``calls``,
    ``successes``, ``errors``, ``attempts``, ``retries``, ``rejected``, latency percentiles,
    ``breaker``, ``budget_tokens``) mean the same; calls answered from the cache are not
    calls there (they are ``cache_hits``). A tool answering ``isError`` is a success here
    (the call returned); batches count it as failed.

    Attributes:
        cache_hits: lookups answered from the result cache (lists, reads, tool results).
        cache_misses: lookups that went to the server.
        cache_size: entries in the cache now.
        dropped_notifications: server notifications dropped because the notification queue
            was full (a slow notification callback; see :mod:`syncclients.mcp.dispatcher`).
        coalesced_notifications: change notifications absorbed by an identical one waiting.
        rejected_server_requests: server-to-client requests answered "client busy" (-32000).
    """

    cache_hits: int
    cache_misses: int
    cache_size: int
    dropped_notifications: int
    coalesced_notifications: int
    rejected_server_requests: int


def build_metrics(
    stats: CallStats, resilience: Resilience, cache: CacheStats, dispatch: DispatchStats
) -> MCPClientMetrics:
    """Assemble an :class:`MCPClientMetrics` from a client's parts.

    Args:
        stats: the client's call counters (a hook of its resilience pipeline).
        resilience: the client's pipeline (its breaker and retry budget).
        cache: the client's cache statistics.
        dispatch: the flood counters shared by the client's sessions.

    Returns:
        The snapshot.
    """
    with dispatch.lock:
        dropped = dispatch.notifications_dropped
        coalesced = dispatch.notifications_coalesced
        rejected_requests = dispatch.server_requests_rejected
    return MCPClientMetrics(
        **stats.snapshot_fields(resilience.breaker, resilience.budget),
        cache_hits=cache.hits,
        cache_misses=cache.misses,
        cache_size=cache.size,
        dropped_notifications=dropped,
        coalesced_notifications=coalesced,
        rejected_server_requests=rejected_requests,
    )
