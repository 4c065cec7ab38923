"""NetworkMCPClient: tools and resources of services found through discovery, over real MCP
(Streamable HTTP, the default) or the platform gateway's REST wire (contract section 4).

Per service: its own endpoints (resolved on first use, refreshed, failover among them), its
own connection pool, circuit breaker and retry budget. Choices where the contract is
inconsistent (section 7):

1. Retries follow safety, not "every failure": a connection that failed before sending is
   retried (on the next endpoint); 429 is retried; timeouts, resets and 502/503/504 only for
   calls marked ``idempotent=True``; other 4xx never.
2. The breaker counts calls (one per call, retries included), resets its count on success,
   admits one probe when half-open, and a failed probe reopens it.
3. ``get_resource`` raises on a non-200 status and follows the SSE specification
   (``data:`` with or without the space); a stream counts as a success when it ends.
8. A batch returns :class:`~syncclients.BatchOutcome` objects (ordered), never an error
   disguised as a tool result.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import requests

from ..batch import BatchCall, BatchOutcome, run_batch
from ..config import BreakerPolicy, PoolLimits, RetryBudgetPolicy, RetryPolicy, Timeouts
from ..errors import (
    CircuitOpenError,
    ConnectError,
    ConnectionLostError,
    HTTPStatusError,
    ReadTimeout,
    UsageError,
    excerpt,
)
from ..http.auth import BearerAuth
from ..http.client import HTTPClient, http_is_failure
from ..mcp.client import MCPClient
from ..resilience import AttemptContext, CircuitBreaker, Hook, Resilience, RetryBudget
from ..resilience.hooks import LoggingHook
from ..resilience.stats import CallStats, ClientMetrics
from ..transports.http import build_session, parse_retry_after, redact_url, translating
from ..transports.sse import SSEParser
from .discovery import EndpointSet, ServiceDiscovery

__all__ = ["NETWORK_BREAKER", "NetworkMCPClient", "ToolResult", "Wire"]

log = logging.getLogger("syncclients.services.network")

Wire = Literal["mcp", "rest"]

#: The contract's per-service breaker: 5 failed calls, 30 s open, one probe closes it.
NETWORK_BREAKER = BreakerPolicy(failure_threshold=5, recovery_timeout_s=30.0)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool's result, from either wire.

    Attributes:
        service, tool: what was called.
        data: the JSON result: the REST reply unchanged, or MCP ``structuredContent``
            (None when the tool returned only content).
        content: MCP content blocks (empty on the REST wire).
        is_error: MCP ``isError`` (the tool failed and says why in ``content``); always
            False on the REST wire, where a failure is a non-200 status and raises.
        wire: ``"mcp"`` or ``"rest"``.
        endpoint: the base URL that answered.
        raw: the wire object.
    """

    service: str
    tool: str
    data: Any
    content: tuple[Any, ...] = ()
    is_error: bool = False
    wire: Wire = "rest"
    endpoint: str = ""
    raw: Any = field(default=None, repr=False)


class _Service:
    def __init__(self, owner: NetworkMCPClient, name: str, wire: Wire) -> None:
        self.name = name
        self.wire = wire
        self.endpoints = EndpointSet(owner.discovery, name, refresh_s=owner.refresh_s)
        self.breaker = CircuitBreaker(
            owner.breakers.get(name, owner.breaker), name=name, is_failure=http_is_failure
        )
        self.budget = RetryBudget(owner.budget)
        self.stats = CallStats()  # a hook of the pipeline; see NetworkMCPClient.metrics()
        hooks = owner.hooks if owner.hooks is not None else (LoggingHook(),)
        self.resilience = Resilience(
            target=name,
            retry=owner.retry,
            breaker=None,
            budget=self.budget,
            hooks=(self.stats, *hooks),
        )
        self.session = build_session(PoolLimits(4, owner.pool_maxsize, True, 10.0))
        self.lock = threading.Lock()
        self.http: dict[str, HTTPClient] = {}
        self.mcp: dict[str, MCPClient] = {}

    def close(self) -> None:
        with self.lock:
            clients: list[Any] = [*self.http.values(), *self.mcp.values()]
            self.http.clear()
            self.mcp.clear()
        for client in clients:
            client.close()
        self.session.close()


class NetworkMCPClient:
    """Call tools and read resources of services found by a :class:`ServiceDiscovery`.

    Args:
        discovery: where services run (static, environment, DNS SRV, Consul, ...).
        wires: the wire per service name; others use ``default_wire``.
        default_wire: ``"mcp"`` (Streamable HTTP at ``<endpoint><mcp_path>``) or ``"rest"``
            (``POST /tool/{name}``, ``GET /resource/{path}``).
        mcp_path: the MCP endpoint's path under a service's base URL.
        token: a bearer token for every service (never logged or shown), or None.
        verify: TLS verification: True, False, or a CA bundle path.
        timeout_s: a tool call's whole-call limit, retries included (contract: 30 s).
        resource_timeout_s: the most seconds a resource stream may stay silent (60 s).
        max_retries: retries per call (0: none); backoff 0.2, 0.4, 0.8 s with jitter.
        breaker: the breaker policy of each service (contract: 5 failures, 30 s).
        breakers: per-service policies (e.g. a tolerant service: 10 failures, 60 s).
        budget: the retry budget policy of each service.
        pool_maxsize: connections per service endpoint (contract: 10).
        refresh_s: re-resolve a service after this many seconds (60); None: never.
        hooks: per-attempt hooks; None: logging.

    Raises:
        UsageError: an invalid wire or retry count.
    """

    def __init__(
        self,
        discovery: ServiceDiscovery,
        *,
        wires: Mapping[str, Wire] | None = None,
        default_wire: Wire = "mcp",
        mcp_path: str = "/mcp",
        token: str | None = None,
        verify: bool | str = True,
        timeout_s: float = 30.0,
        resource_timeout_s: float = 60.0,
        max_retries: int = 3,
        breaker: BreakerPolicy = NETWORK_BREAKER,
        breakers: Mapping[str, BreakerPolicy] | None = None,
        budget: RetryBudgetPolicy = RetryBudgetPolicy(),
        pool_maxsize: int = 10,
        refresh_s: float | None = 60.0,
        hooks: Sequence[Hook] | None = None,
    ) -> None:
        for name, wire in {**(wires or {}), "": default_wire}.items():
            if wire not in ("mcp", "rest"):
                raise UsageError(f"wire must be 'mcp' or 'rest', got {wire!r} for {name!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise UsageError(f"max_retries must be an int >= 0, got {max_retries!r}")
        self.discovery = discovery
        self.wires = dict(wires or {})
        self.default_wire: Wire = default_wire
        self.mcp_path = "/" + mcp_path.strip("/")
        self._auth = BearerAuth(token) if token else None
        self.verify = verify
        self.timeout_s = timeout_s
        self.resource_timeout_s = resource_timeout_s
        self.retry = RetryPolicy(
            max_attempts=max_retries + 1,
            initial_delay_s=0.2,
            max_delay_s=0.8,
            multiplier=2.0,
            deadline_s=timeout_s,
        )
        self.breaker = breaker
        self.breakers = dict(breakers or {})
        self.budget = budget
        self.pool_maxsize = pool_maxsize
        self.refresh_s = refresh_s
        self.hooks: tuple[Hook, ...] | None = tuple(hooks) if hooks is not None else None
        self._services: dict[str, _Service] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- per service ------------------------------------------------------------------------

    def _service(self, name: str) -> _Service:
        if self._closed:
            raise UsageError("this NetworkMCPClient is closed")
        if not name:
            raise UsageError("a service name must not be empty")
        with self._lock:
            svc = self._services.get(name)
            if svc is None:
                svc = self._services[name] = _Service(
                    self, name, self.wires.get(name, self.default_wire)
                )
            return svc

    def metrics(self) -> dict[str, ClientMetrics]:
        """``{service name: ClientMetrics}`` of the services called so far (the fields of
        :meth:`HTTPClient.metrics() <syncclients.HTTPClient.metrics>`; a call is one
        :meth:`call_tool`, with its failovers between endpoints as retries). Never calls."""
        with self._lock:
            services = list(self._services.values())
        return {svc.name: svc.stats.snapshot(svc.breaker, svc.budget) for svc in services}

    def breaker_state(self, service: str) -> str:
        """The service's breaker state: ``"closed"``, ``"open"`` or ``"half_open"``."""
        return self._service(service).breaker.state

    def _http(self, svc: _Service, url: str) -> HTTPClient:
        with svc.lock:
            client = svc.http.get(url)
            if client is None:
                client = svc.http[url] = HTTPClient(
                    url,
                    session=svc.session,
                    retry=RetryPolicy.never(),
                    breaker=None,
                    budget=None,
                    headers={"Accept": "application/json"},
                    auth=self._auth,
                    verify=self.verify,
                    hooks=(),
                    name=svc.name,
                )
            return client

    def _mcp(self, svc: _Service, url: str) -> MCPClient:
        with svc.lock:
            client = svc.mcp.get(url)
            if client is None:
                client = svc.mcp[url] = MCPClient.http(
                    url + self.mcp_path,
                    auth=self._auth,
                    verify=self.verify,
                    retry=RetryPolicy.never(),  # ours: across endpoints, per service
                    breaker=None,  # ours: one per service
                    retry_budget=None,
                    hooks=(),
                    name=f"{svc.name}@{redact_url(url)}",
                )
            return client

    # -- tools -------------------------------------------------------------------------------

    def call_tool(
        self,
        service: str,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        idempotent: bool = False,
    ) -> ToolResult:
        """Call ``tool`` of ``service`` (failover among its endpoints).

        Args:
            service: the service name, as discovery knows it.
            tool: the tool name.
            arguments: the arguments object; None: ``{}``.
            timeout_s: the whole call's limit, retries included; None: the client's (30 s).
            idempotent: the tool is safe to repeat: retry after timeouts, resets and
                502/503/504 too.

        Returns:
            A :class:`ToolResult`.

        Raises:
            ServiceNotFoundError: discovery knows no endpoint.
            HTTPStatusError: a non-200 answer (REST), message ``Service error (<status>):
                <detail or message>``.
            MCPError: the MCP server answered with a JSON-RPC error.
            CircuitOpenError: the service's breaker is open; nothing was sent.
            Timeout, ConnectError, ConnectionLostError, ProtocolError: the call failed.
        """
        svc = self._service(service)
        args = dict(arguments or {})
        limit = self.timeout_s if timeout_s is None else timeout_s

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, ConnectError):
                return True
            if isinstance(exc, HTTPStatusError):
                return exc.status_code == 429 or (idempotent and exc.status_code in (502, 503, 504))
            return idempotent and isinstance(exc, ReadTimeout | ConnectionLostError)

        def attempt(ctx: AttemptContext) -> ToolResult:
            url = svc.endpoints.endpoints()[0]
            try:
                if svc.wire == "rest":
                    result = self._rest_tool(svc, url, tool, args, ctx)
                else:
                    result = self._mcp_tool(svc, url, tool, args, ctx, idempotent)
            except Exception as exc:
                if http_is_failure(exc):
                    svc.endpoints.mark_failed(url)  # the next attempt tries another
                raise
            svc.endpoints.mark_ok(url)
            return result

        def guarded() -> ToolResult:
            try:
                permit = svc.breaker.acquire()
            except CircuitOpenError:
                with svc.stats.lock:  # refused before any attempt, as the pipeline counts it
                    svc.stats.rejected += 1
                raise
            error: BaseException | None = None
            try:
                return svc.resilience.call(
                    attempt, operation=f"tool {tool}", retryable=retryable, deadline_s=limit
                )
            except BaseException as exc:
                error = exc
                raise
            finally:
                svc.breaker.release(permit, error)

        return svc.stats.timed(guarded)

    def _rest_tool(
        self, svc: _Service, url: str, tool: str, args: dict[str, Any], ctx: AttemptContext
    ) -> ToolResult:
        remaining = ctx.remaining_s()
        client = self._http(svc, url)
        try:
            response = client.request(
                "POST",
                f"tool/{quote(tool, safe='')}",
                json=args,
                timeout=Timeouts(5.0, self.timeout_s).capped(remaining),
                retry=RetryPolicy.never(deadline_s=remaining),
                deadline_s=remaining,
                idempotent=False,  # retried by us, per service, across endpoints
            )
        except HTTPStatusError as exc:
            raise _service_error(exc) from None
        if response.status_code != 200:  # the contract: 200 only
            raise _service_error(
                HTTPStatusError(
                    f"HTTP {response.status_code}",
                    status_code=response.status_code,
                    response=response,
                    target=client.target,
                )
            )
        data = client.decode(response)
        return ToolResult(svc.name, tool, data, wire="rest", endpoint=url, raw=data)

    def _mcp_tool(
        self,
        svc: _Service,
        url: str,
        tool: str,
        args: dict[str, Any],
        ctx: AttemptContext,
        idempotent: bool,
    ) -> ToolResult:
        client = self._mcp(svc, url)
        result = client.call_tool(tool, args, timeout=ctx.remaining_s(), idempotent=idempotent)
        return ToolResult(
            svc.name,
            tool,
            result.structured_content,
            tuple(result.content),
            result.is_error,
            wire="mcp",
            endpoint=url,
            raw=result,
        )

    def call_tool_batch(
        self,
        calls: Iterable[tuple[str, str, Mapping[str, Any] | None]],
        *,
        timeout_s: float | None = None,
        deadline_s: float | None = None,
        max_workers: int = 8,
        idempotent: bool = False,
    ) -> list[BatchOutcome[ToolResult]]:
        """Run ``(service, tool, arguments)`` calls concurrently (see :func:`run_batch`).

        Args:
            calls: the calls.
            timeout_s: each call's limit, seconds; None: the client's.
            deadline_s: the whole batch's limit, seconds; None: none.
            max_workers: calls running at once.
            idempotent: the tools are safe to repeat (see :meth:`call_tool`).

        Returns:
            One :class:`~syncclients.BatchOutcome` per call, in input order; a failed call's
            outcome carries its exception (never a result-shaped error).
        """

        def one(item: tuple[str, str, Mapping[str, Any] | None], call: BatchCall) -> ToolResult:
            service, tool, arguments = item
            return self.call_tool(
                service, tool, arguments, timeout_s=call.timeout_s, idempotent=idempotent
            )

        return run_batch(
            one,
            calls,
            max_workers=max_workers,
            timeout=timeout_s or self.timeout_s,
            deadline=deadline_s,
            description="tool calls",
        )

    # -- resources -------------------------------------------------------------------------

    def get_resource(self, service: str, path: str) -> Iterator[Any]:
        """Iterate over a resource's items.

        REST wire: ``GET /resource/{path}`` as ``text/event-stream``; each event's data is
        parsed as JSON and yielded in order (an event that is not JSON is skipped with a
        warning). MCP wire: ``resources/read`` of ``path`` as the URI; each of its contents
        is yielded. Closing the iterator (or leaving a ``for`` loop early) closes the
        connection at once. Streams are not retried; a connect failure tries the next
        endpoint.

        Raises:
            HTTPStatusError: a non-200 answer (``Service error (<status>): ...``).
            ReadTimeout: the stream was silent longer than ``resource_timeout_s``.
            CircuitOpenError, ConnectError, ConnectionLostError, ServiceNotFoundError.
        """
        svc = self._service(service)
        if not path:
            raise UsageError("a resource path must not be empty")
        return self._stream(svc, path)

    def _stream(self, svc: _Service, path: str) -> Iterator[Any]:
        permit = svc.breaker.acquire()
        error: BaseException | None = None
        try:
            if svc.wire == "mcp":
                url = svc.endpoints.endpoints()[0]
                result = self._mcp(svc, url).read_resource(path, timeout=self.resource_timeout_s)
                yield from result.contents
                return
            response, url = self._open_stream(svc, path)
            try:
                parser = SSEParser()
                with translating(
                    target=redact_url(url), timeouts=Timeouts(5.0, self.resource_timeout_s)
                ):
                    for chunk in response.iter_content(chunk_size=None):
                        for event in parser.feed(chunk):
                            try:
                                item = json.loads(event.data)
                            except ValueError:
                                log.warning(
                                    "%s: skipped a resource event that is not JSON: %s",
                                    svc.name,
                                    excerpt(event.data, 80),
                                )
                                continue
                            yield item
            finally:
                response.close()
        except GeneratorExit:
            raise  # the consumer stopped early: the stream itself did not fail
        except BaseException as exc:
            error = exc
            raise
        finally:
            svc.breaker.release(permit, error)

    def _open_stream(self, svc: _Service, path: str) -> tuple[requests.Response, str]:
        last: Exception | None = None
        for url in svc.endpoints.endpoints():
            full = f"{url}/resource/{quote(path, safe='/')}"
            headers = {"Accept": "text/event-stream"}
            try:
                with translating(
                    target=redact_url(url), timeouts=Timeouts(5.0, self.resource_timeout_s)
                ):
                    response = svc.session.get(
                        full,
                        headers=headers,
                        auth=self._auth,
                        stream=True,
                        timeout=(5.0, self.resource_timeout_s),
                        verify=self.verify,
                    )
            except ConnectError as exc:
                svc.endpoints.mark_failed(url)
                last = exc
                continue
            if response.status_code != 200:
                body = response.raw.read(64 * 1024, decode_content=True) or b""
                response.close()
                raise _service_error(
                    HTTPStatusError(
                        f"HTTP {response.status_code}",
                        status_code=response.status_code,
                        body_excerpt=excerpt(body),
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                        target=redact_url(url),
                    ),
                    body=body,
                )
            svc.endpoints.mark_ok(url)
            return response, url
        assert last is not None  # endpoints() never returns an empty list
        raise last

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close every service's connections; calls in flight (batches included) fail, and
        new calls raise UsageError. Idempotent."""
        with self._lock:
            self._closed = True
            services = list(self._services.values())
            self._services.clear()
        for svc in services:
            svc.close()

    def __enter__(self) -> NetworkMCPClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NetworkMCPClient(services={sorted(self._services)}, wire={self.default_wire!r})"


def _service_error(exc: HTTPStatusError, body: bytes | None = None) -> HTTPStatusError:
    """The contract's message: JSON ``detail``, else ``message``, else ``Unknown error``; a
    non-JSON body's text, else ``HTTP <status>``."""
    raw = body if body is not None else (exc.response.content if exc.response is not None else b"")
    message: str
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
        message = excerpt(raw, 200) or f"HTTP {exc.status_code}"
    else:
        if isinstance(parsed, dict):
            message = str(parsed.get("detail") or parsed.get("message") or "Unknown error")
        else:
            message = excerpt(raw, 200) or f"HTTP {exc.status_code}"
    return HTTPStatusError(
        f"Service error ({exc.status_code}): {message}",
        status_code=exc.status_code,
        response=exc.response,
        retry_after=exc.retry_after,
        body_excerpt=exc.body_excerpt or excerpt(raw),
        request_id=exc.request_id,
        target=exc.target,
    )
