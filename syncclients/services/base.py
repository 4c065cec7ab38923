"""The common base of the platform service clients: one HTTPClient, one breaker and one
retry budget per service, whole-call timeouts, the ``{"data": ...}`` envelope, and opt-in
fallbacks.

Choices where the contract (``shared/docs/platform-services.md``) is inconsistent:

- The breaker wraps the whole call (its retries included) and counts calls, not attempts
  (inconsistency 2): it opens after 5 consecutive failed calls, stays open 60 s, and needs 3
  successful probes; a failed probe reopens it. It counts timeouts, network errors, 408,
  429, 5xx and malformed replies (inconsistency 6), never 4xx answers or usage errors.
- Retries follow HTTP semantics (inconsistency 4): a connection that failed before sending
  is always retried; after sending, only operations that are safe to repeat (GET, PUT,
  DELETE, read-only model operations, and POSTs carrying an idempotency key or event id).
- An operation's timeout bounds the whole call, retries and backoff included.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from ..config import (
    BreakerPolicy,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeouts,
    UseClientDefault,
)
from ..errors import ProtocolError, SyncClientsError, UsageError, excerpt
from ..http.auth import APIKeyAuth
from ..http.client import ClientMetrics, HTTPClient, http_is_failure
from ..resilience import CircuitBreaker, Hook
from .settings import ServiceSettings

__all__ = ["DEFAULT_BREAKER", "DEFAULT_RETRY", "ServiceClient", "ServiceHealth"]

T = TypeVar("T")
C = TypeVar("C", bound="ServiceClient")
FallbackArg = bool | UseClientDefault

log = logging.getLogger("syncclients.services")

#: The contract's retry: 3 retries, 1 s x 2^n capped at 30 s, full jitter.
DEFAULT_RETRY = RetryPolicy(
    max_attempts=4, initial_delay_s=1.0, max_delay_s=30.0, multiplier=2.0, deadline_s=30.0
)
#: The contract's breaker: 5 consecutive failed calls, open 60 s, 3 successful probes.
DEFAULT_BREAKER = BreakerPolicy(
    failure_threshold=5, recovery_timeout_s=60.0, half_open_max_calls=3, success_threshold=3
)


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """The result of :meth:`ServiceClient.health` (contract section 1, "Health").

    Attributes:
        service: the service name.
        status: ``"healthy"`` or ``"unhealthy"``.
        response_time_ms: the probe's duration in milliseconds, None when unhealthy.
        circuit_breaker_state: ``"closed"``, ``"open"`` or ``"half_open"``.
        total_requests: calls made by this client so far.
        error_count: calls that raised.
        error_rate: ``error_count / total_requests`` (0.0 before any call); None when unhealthy.
        error: why the probe failed, or None.
    """

    service: str
    status: str
    response_time_ms: float | None
    circuit_breaker_state: str
    total_requests: int
    error_count: int
    error_rate: float | None
    error: str | None = None


class ServiceClient:
    """Base of the platform clients. Thread-safe; close it (or use ``with``) when done.

    Args:
        base_url: the service's base URL (``external_services.<service>_url``).
        tenant_id: the default tenant (``X-Tenant-ID``); each call may override it.
        auth: a requests auth object (see :mod:`syncclients.http.auth`), or None.
        fallback: the default of each call's ``fallback=``: True returns the contract's
            canned result (marked ``fallback=True`` with the error) instead of raising.
        retry: the retry policy (its ``deadline_s`` is replaced by each operation's timeout).
        breaker: the breaker policy around whole calls; None: no breaker.
        budget: the retry budget shared by this client's calls; None: no budget.
        connect_timeout_s: the connect limit of each attempt, seconds.
        hooks: per-attempt hooks (see :class:`~syncclients.AttemptRecord`); None: logging.
        verify: TLS verification: True, False or a CA bundle path.
        user_agent: the User-Agent; default ``MCP-Engine/<service>-client`` (contract).

    Raises:
        UsageError: an invalid base URL or policy.
    """

    service: ClassVar[str] = "service"

    def __init__(
        self,
        base_url: str,
        *,
        tenant_id: str | None = None,
        auth: Any = None,
        fallback: bool = False,
        retry: RetryPolicy = DEFAULT_RETRY,
        breaker: BreakerPolicy | None = DEFAULT_BREAKER,
        budget: RetryBudgetPolicy | None = RetryBudgetPolicy(),
        connect_timeout_s: float = 5.0,
        hooks: Sequence[Hook] | None = None,
        verify: bool | str = True,
        user_agent: str | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.fallback = fallback
        self.connect_timeout_s = connect_timeout_s
        self.http = HTTPClient(
            base_url.rstrip("/") + "/",
            retry=retry,
            breaker=None,  # ours wraps the whole call: it counts calls, not attempts
            budget=budget,
            pool_connections=4,
            pool_maxsize=20,  # contract: 20 kept alive; more opened under load (100)
            pool_block=False,
            headers={
                "Accept": "application/json",
                "User-Agent": user_agent or f"MCP-Engine/{self.service}-client",
            },
            auth=auth,
            verify=verify,
            hooks=hooks,
            name=self.service,
        )
        self.breaker = (
            CircuitBreaker(breaker, name=self.service, is_failure=http_is_failure)
            if breaker is not None
            else None
        )

    @classmethod
    def from_settings(cls: type[C], settings: ServiceSettings, **kwargs: Any) -> C:
        """Build the client from :class:`ServiceSettings` (keyword arguments win).

        Raises:
            UsageError: the settings have no URL for this service.
        """
        kwargs.setdefault("tenant_id", settings.tenant_id)
        kwargs.setdefault("fallback", settings.fallback)
        if settings.api_key is not None:
            kwargs.setdefault("auth", APIKeyAuth(settings.api_key))
        return cls(settings.url_for(cls.service), **kwargs)

    # -- the one call path ---------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        timeout_s: float,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        tenant_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, str]:
        """Send one call under the breaker, retry and ``timeout_s`` for the whole of it.

        Returns:
            ``(decoded body, request id)``.

        Raises:
            SyncClientsError: the call failed (HTTPStatusError, Timeout, ConnectError,
                CircuitOpenError, ProtocolError, ...).
        """
        if path.startswith("/") or "://" in path:
            raise UsageError(f"service paths are relative, got {path!r}")
        request_id = uuid.uuid4().hex
        sent: dict[str, str] = {"X-Request-ID": request_id}
        tenant = tenant_id if tenant_id is not None else self.tenant_id
        if tenant is not None:
            sent["X-Tenant-ID"] = tenant
        sent.update(headers or {})
        permit = self.breaker.acquire() if self.breaker is not None else None
        error: BaseException | None = None
        try:
            response = self.http.request(
                method,
                path,
                json=json if json else None,  # contract: {} sends no body
                params={k: v for k, v in (params or {}).items() if v is not None} or None,
                headers=sent,
                timeout=Timeouts(min(self.connect_timeout_s, timeout_s), timeout_s),
                idempotent=idempotent,
                deadline_s=timeout_s,
            )
            return self.http.decode(response), request_id
        except BaseException as exc:
            error = exc
            raise
        finally:
            if self.breaker is not None and permit is not None:
                self.breaker.release(permit, error)

    def _data(self, body: Any) -> dict[str, Any]:
        """The ``data`` object of an enveloped reply.

        Raises:
            ProtocolError: the reply is not ``{"data": {...}}`` (a non-JSON body included).
        """
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict):
            return data
        shown = body if isinstance(body, str) else repr(body)
        raise ProtocolError(
            f"{self.service}: reply is not a {{'data': {{...}}}} envelope",
            excerpt=excerpt(shown),
            target=self.http.target,
        )

    def _guard(
        self,
        fallback: FallbackArg,
        call: Callable[[], T],
        make_fallback: Callable[[SyncClientsError], T],
        operation: str,
    ) -> T:
        """Run ``call``; on a run-time failure return ``make_fallback(error)`` when the
        fallback is enabled (per call, else per client), else raise. UsageError always
        raises."""
        use = self.fallback if isinstance(fallback, UseClientDefault) else fallback
        try:
            return call()
        except SyncClientsError as exc:
            if not use:
                raise
            log.warning(
                "%s %s failed, returning its fallback: %s",
                self.service,
                operation,
                exc,
                extra={"syncclients.service": self.service, "syncclients.fallback": True},
            )
            return make_fallback(exc)

    # -- health, metrics, lifecycle -------------------------------------------------------

    def health(self, *, timeout_s: float = 5.0) -> ServiceHealth:
        """Probe ``GET /health`` once (5 s) and report with this client's counters."""
        report = self.http.health_check("health", timeout_s=timeout_s)
        m = self.http.metrics()
        state = self.breaker.state if self.breaker is not None else "closed"
        if report.ok:
            rate = m.errors / m.calls if m.calls else 0.0
            return ServiceHealth(
                self.service, "healthy", report.latency_s * 1000, state, m.calls, m.errors, rate
            )
        return ServiceHealth(
            self.service, "unhealthy", None, state, m.calls, m.errors, None, report.error
        )

    def metrics(self) -> ClientMetrics:
        """The underlying HTTPClient's counters (calls, attempts, retries, latency)."""
        return self.http.metrics()

    def close(self) -> None:
        """Close the connections. Idempotent."""
        self.http.close()

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.http.target!r})"


def resolve_fallback(value: FallbackArg) -> FallbackArg:
    """Validate a ``fallback=`` argument (a bool or USE_CLIENT_DEFAULT)."""
    if isinstance(value, bool | UseClientDefault):
        return value
    raise UsageError(f"fallback must be True, False or USE_CLIENT_DEFAULT, got {value!r}")
