"""HTTPClient: a thread-safe, blocking HTTP client with pooled connections, timeouts,
budgeted retries, a circuit breaker and deadlines, on ``requests``."""

from __future__ import annotations

import json as _json
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from ..config import (
    USE_CLIENT_DEFAULT,
    BreakerPolicy,
    PoolLimits,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeouts,
    UseClientDefault,
)
from ..errors import (
    ConnectError,
    ConnectionLostError,
    HTTPStatusError,
    PoolTimeout,
    ProtocolError,
    ReadTimeout,
    ResponseTooLargeError,
    SyncClientsError,
    TransportError,
    UsageError,
    excerpt,
)
from ..redact import redact_text
from ..resilience import (
    AttemptContext,
    CircuitBreaker,
    Hook,
    LoggingHook,
    Resilience,
    RetryBudget,
)
from ..resilience.stats import CallStats, ClientMetrics
from ..transports.http import build_session, origin, parse_retry_after, redact_url, send
from .headers import check_header, check_headers

__all__ = ["ClientMetrics", "HTTPClient", "HealthReport", "parse_retry_after"]

TimeoutArg = Timeouts | float | tuple[float | None, float | None] | None

#: Methods that are idempotent by definition (RFC 9110 section 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
#: Statuses retried for idempotent requests.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_ENCODED_DOT = re.compile(r"%2e", re.IGNORECASE)


def resolve_path(base_url: str, path: str, *, allow_absolute: bool) -> str:
    """The URL a request ``path`` names under ``base_url`` (RFC 3986 section 5.2).

    A path is always relative to ``base_url`` (a leading ``/`` is dropped, so ``"/items"``
    and ``"items"`` both name ``base_url + "items"``), and a colon in its first segment is
    part of the path (``"items:search"``, Google's custom methods), not a URL scheme.

    Args:
        base_url: the client's base URL, ending with ``/``.
        path: the request path, or an absolute ``http(s)://`` URL.
        allow_absolute: allow an absolute URL, a network-path reference (``//host/x``), or a
            path whose dot segments (``..``, also percent-encoded) leave ``base_url``.

    Returns:
        The absolute URL.

    Raises:
        UsageError: ``path`` leaves ``base_url`` (another origin, or above its path) and
            ``allow_absolute`` is False; the client's credentials would go with it.
    """
    if _ABSOLUTE.match(path) or path.startswith("//"):
        url = urljoin(base_url, path)
    else:
        relative = path.lstrip("/")
        if ":" in relative.split("/", 1)[0]:
            relative = "./" + relative  # RFC 3986 section 4.2: a colon in the first segment
        url = urljoin(base_url, relative)
    if allow_absolute:
        return url
    base = urlsplit(base_url)
    decoded = urljoin(base_url, _ENCODED_DOT.sub(".", urlunsplit(("", "", *urlsplit(url)[2:]))))
    inside = all(
        origin(candidate) == origin(base_url) and urlsplit(candidate).path.startswith(base.path)
        for candidate in (url, decoded)
    )
    if not inside:
        raise UsageError(
            f"path {redact_url(path)!r} leaves the base URL {redact_url(base_url)!r}; the "
            "client's credentials would go with it. Pass allow_absolute_urls=True to allow it."
        )
    return url


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The result of :meth:`HTTPClient.health_check`.

    Attributes:
        ok: True when the endpoint answered 2xx.
        status_code: the HTTP status, or None when no answer came.
        latency_s: how long the check took, in seconds.
        error: a one-line description of the failure, or None.
        breaker_state: the client's breaker state, or None without a breaker.
    """

    ok: bool
    status_code: int | None
    latency_s: float
    error: str | None
    breaker_state: str | None


def http_is_failure(exc: BaseException) -> bool:
    """The breaker's default: which failures mean the target is unhealthy.

    Transport failures (except a local pool wait or our own size limit), 408, 429 and 5xx
    statuses, and malformed responses count; other statuses and programming errors do not.
    """
    if isinstance(exc, PoolTimeout | ResponseTooLargeError):
        return False
    if isinstance(exc, HTTPStatusError):
        return exc.status_code >= 500 or exc.status_code in (408, 429)
    return isinstance(exc, TransportError | ProtocolError)


class HTTPClient:
    """A blocking HTTP client for one service, safe to share between threads.

    Every request gets connect/read timeouts, an ``X-Request-ID``, a bounded response size,
    and runs under the client's overall deadline, budgeted retry and circuit breaker (in
    that order; see :mod:`syncclients.resilience.pipeline`). Retries are only made when
    safe: a connection that failed before the request was sent is always retried; read
    failures and 429/502/503/504 only for idempotent requests (GET, HEAD, PUT, DELETE,
    OPTIONS, TRACE; or ``idempotent=True``; or an ``Idempotency-Key`` header). POST and
    PATCH are never retried silently.

    Args:
        base_url: the service's base URL; request paths are joined to it (RFC 3986).
        timeout: per-attempt limits: seconds for both, a ``(connect_s, read_s)`` pair, a
            :class:`~syncclients.Timeouts`, or None for no limits (not recommended).
        retry: the retry policy (attempts, backoff, deadline). ``RetryPolicy.never()`` for none.
        breaker: the breaker policy; None: no breaker.
        budget: the retry budget shared by this client's calls; None: no budget.
        pool_connections: per-host pools kept.
        pool_maxsize: connections kept (and, when ``pool_block``, allowed) per host.
        pool_block: cap connections at ``pool_maxsize`` and wait for a free one.
        pool_timeout_s: the most seconds to wait for a free connection; then PoolTimeout.
        headers: default headers for every request (validated now).
        auth: any requests auth object (see :mod:`syncclients.http.auth`).
        tenant_id: a tenant identifier sent in ``tenant_header`` on every request, or None.
        tenant_header: the header name for ``tenant_id``.
        max_response_bytes: the largest response body accepted, in bytes; None: no limit.
        follow_redirects: follow redirects. Credential headers (``Authorization``,
            ``Proxy-Authorization``, ``Cookie``, the ``APIKeyAuth`` header, every header with
            a secret-looking name such as ``X-API-Key``, and ``sensitive_headers``) are
            dropped when a redirect leaves the request's origin (RFC 9110 section 15.4).
        sensitive_headers: more header names to drop on a cross-origin redirect.
        allow_absolute_urls: allow request paths that are absolute URLs or leave
            ``base_url`` (``//host/x``, ``..``); by default they raise UsageError, because
            the client's auth and headers would go with them. Per call: ``request(...,
            allow_absolute_url=True)``.
        verify: TLS verification: True, False, or a CA bundle path.
        cert: a client certificate path or (cert, key) pair for mutual TLS.
        hooks: called with an :class:`~syncclients.AttemptRecord` per attempt; None: log.
        plugins: :class:`~syncclients.observability.Plugin` instances for this client only
            (in addition to the process-wide ones); set up on first call, torn down on
            :meth:`close`.
        session: a ready requests.Session to use instead of our pooled one (not closed by
            :meth:`close`; pool arguments do not apply to it).
        name: the breaker/metrics name; default the base URL (redacted).

    Raises:
        UsageError: an invalid base URL, header or policy value.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: TimeoutArg = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        breaker: BreakerPolicy | None = BreakerPolicy(),
        budget: RetryBudgetPolicy | None = RetryBudgetPolicy(),
        pool_connections: int = 10,
        pool_maxsize: int = 10,
        pool_block: bool = True,
        pool_timeout_s: float | None = 10.0,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        tenant_id: str | None = None,
        tenant_header: str = "X-Tenant-ID",
        max_response_bytes: int | None = 10 * 1024 * 1024,
        follow_redirects: bool = True,
        sensitive_headers: Sequence[str] = (),
        allow_absolute_urls: bool = False,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        hooks: Sequence[Hook] | None = None,
        plugins: Sequence[Hook] = (),
        session: requests.Session | None = None,
        name: str | None = None,
    ) -> None:
        parts = urlsplit(base_url) if isinstance(base_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            shown = redact_text(base_url) if isinstance(base_url, str) else repr(base_url)
            raise UsageError(f"base_url must be an absolute http(s) URL, got {shown!r}")
        if max_response_bytes is not None and max_response_bytes <= 0:
            raise UsageError(f"max_response_bytes must be > 0 or None, got {max_response_bytes}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.target = redact_url(self.base_url)
        self.timeouts = Timeouts.coerce(timeout)
        self.retry = retry
        self.pool = PoolLimits(pool_connections, pool_maxsize, pool_block, pool_timeout_s)
        self.headers = check_headers(headers)
        if tenant_id is not None:
            check_header(tenant_header, tenant_id)
            self.headers[tenant_header] = tenant_id
        self.auth = auth
        self.max_response_bytes = max_response_bytes
        self.follow_redirects = follow_redirects
        self.allow_absolute_urls = allow_absolute_urls
        self.sensitive_headers = frozenset(h.lower() for h in sensitive_headers)
        self.verify = verify
        self.cert = cert
        self._own_session = session is None
        self._session = session if session is not None else build_session(self.pool)
        self._stats = CallStats()
        self._breaker = (
            CircuitBreaker(breaker, name=name or self.target, is_failure=http_is_failure)
            if breaker is not None
            else None
        )
        self._budget = RetryBudget(budget) if budget is not None else None
        user_hooks: tuple[Hook, ...] = tuple(hooks) if hooks is not None else (LoggingHook(),)
        self._resilience = Resilience(
            target=self.target,
            retry=retry,
            breaker=self._breaker,
            budget=self._budget,
            hooks=(self._stats, *user_hooks, *plugins),
            protocol="http",
        )
        self._closed = False
        self._close_lock = threading.Lock()

    # -- public surface ----------------------------------------------------------------------

    @property
    def breaker(self) -> CircuitBreaker | None:
        """This client's circuit breaker (one per client), or None."""
        return self._breaker

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg | UseClientDefault = USE_CLIENT_DEFAULT,
        idempotent: bool | None = None,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
        allow_absolute_url: bool | None = None,
    ) -> requests.Response:
        """Send a request under the client's policies and return the response.

        Args:
            method: the HTTP method (any case).
            path: a path relative to ``base_url`` (``"items/1"``, ``"items:search"``); an
                absolute URL, ``//host/x`` or a ``..`` that leaves ``base_url`` only with
                ``allow_absolute_url`` (see :func:`resolve_path`).
            params: query parameters (a mapping or pairs), as requests takes them.
            json: a JSON-serialisable body, or None for none.
            data: a form mapping, bytes or str body, or None. Use only one of json/data.
                A body that is a one-shot stream cannot be retried: pass bytes to allow it.
            headers: headers for this request (validated; override the client's).
            timeout: per-attempt limits for this call (see the constructor); None: no limits.
            idempotent: True allows retrying read failures and 429/502/503/504 even for POST
                or PATCH; False forbids it even for GET; None: decided by the method and an
                ``Idempotency-Key`` header.
            deadline_s: the overall deadline of this call in seconds; None: no deadline;
                default the retry policy's ``deadline_s``.
            retry: a retry policy for this call only.
            allow_absolute_url: allow a path that leaves ``base_url`` for this call; None:
                the client's ``allow_absolute_urls``.

        Returns:
            The :class:`requests.Response`, status 2xx, body read (``.content``, ``.json()``).

        Raises:
            HTTPStatusError: the final answer was not 2xx.
            CircuitOpenError: the breaker is open; nothing was sent.
            ConnectError, ConnectionLostError, TLSError: the connection failed.
            Timeout: ConnectTimeout, ReadTimeout, PoolTimeout or DeadlineExceeded.
            ResponseTooLargeError: the body exceeded ``max_response_bytes``.
            ProtocolError: a malformed response.
            UsageError: invalid arguments or headers, a path that leaves ``base_url``
                without ``allow_absolute_url``, or a closed client.
        """
        if self._closed:
            raise UsageError("this HTTPClient is closed")
        method = method.upper()
        allow = self.allow_absolute_urls if allow_absolute_url is None else allow_absolute_url
        url = resolve_path(self.base_url, path, allow_absolute=allow)
        merged = dict(self.headers)
        merged.update(check_headers(headers))
        request_id = (
            next((v for k, v in merged.items() if k.lower() == "x-request-id"), None)
            or uuid.uuid4().hex
        )
        merged.setdefault("X-Request-ID", request_id)
        if idempotent is None:
            has_key = any(k.lower() == "idempotency-key" for k in merged)
            idempotent = method in IDEMPOTENT_METHODS or has_key
        timeouts = (
            self.timeouts if isinstance(timeout, UseClientDefault) else Timeouts.coerce(timeout)
        )
        operation = f"{method} {urlsplit(url).path or '/'}"
        safe = bool(idempotent)

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, ConnectError):  # includes ConnectTimeout: nothing was sent
                return True
            if isinstance(exc, ReadTimeout | ConnectionLostError):
                return safe
            if isinstance(exc, HTTPStatusError):
                return safe and exc.status_code in RETRYABLE_STATUSES
            return False

        def attempt(ctx: AttemptContext) -> requests.Response:
            remaining = ctx.remaining_s()
            capped = timeouts.capped(remaining)
            response = self._send(method, url, merged, params, json, data, capped, ctx)
            if response.status_code == 401 and hasattr(self.auth, "invalidate"):
                self.auth.invalidate()  # a stale token: fetch a new one and try once more
                response = self._send(method, url, merged, params, json, data, capped, ctx)
            if not 200 <= response.status_code < 300:
                raise self._status_error(response, method, url, request_id)
            return response

        started = time.monotonic()
        ok = False
        try:
            result = self._resilience.call(
                attempt,
                operation=operation,
                retryable=retryable,
                retry=retry,
                deadline_s=deadline_s,
            )
            ok = True
            return result
        finally:
            self._stats.finish(ok, time.monotonic() - started)

    def get(
        self,
        path: str,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg | UseClientDefault = USE_CLIENT_DEFAULT,
        idempotent: bool | None = None,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Any:
        """GET ``path`` and return the decoded body (see :meth:`decode`).

        Arguments and exceptions as :meth:`request`; also ProtocolError for a JSON content
        type whose body is not valid JSON.
        """
        return self.decode(
            self.request(
                "GET",
                path,
                params=params,
                headers=headers,
                timeout=timeout,
                idempotent=idempotent,
                deadline_s=deadline_s,
            )
        )

    def post(
        self,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg | UseClientDefault = USE_CLIENT_DEFAULT,
        idempotent: bool | None = None,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Any:
        """POST and return the decoded body. Not retried after sending unless
        ``idempotent=True`` or an ``Idempotency-Key`` header is given. See :meth:`request`."""
        return self.decode(
            self.request(
                "POST",
                path,
                params=params,
                json=json,
                data=data,
                headers=headers,
                timeout=timeout,
                idempotent=idempotent,
                deadline_s=deadline_s,
            )
        )

    def put(
        self,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg | UseClientDefault = USE_CLIENT_DEFAULT,
        idempotent: bool | None = None,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Any:
        """PUT and return the decoded body (idempotent by definition). See :meth:`request`."""
        return self.decode(
            self.request(
                "PUT",
                path,
                params=params,
                json=json,
                data=data,
                headers=headers,
                timeout=timeout,
                idempotent=idempotent,
                deadline_s=deadline_s,
            )
        )

    def patch(
        self,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg | UseClientDefault = USE_CLIENT_DEFAULT,
        idempotent: bool | None = None,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Any:
        """PATCH and return the decoded body. Not retried after sending unless
        ``idempotent=True`` or an ``Idempotency-Key`` header is given. See :meth:`request`."""
        return self.decode(
            self.request(
                "PATCH",
                path,
                params=params,
                json=json,
                data=data,
                headers=headers,
                timeout=timeout,
                idempotent=idempotent,
                deadline_s=deadline_s,
            )
        )

    def delete(
        self,
        path: str,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg | UseClientDefault = USE_CLIENT_DEFAULT,
        idempotent: bool | None = None,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Any:
        """DELETE and return the decoded body (idempotent by definition). See :meth:`request`."""
        return self.decode(
            self.request(
                "DELETE",
                path,
                params=params,
                headers=headers,
                timeout=timeout,
                idempotent=idempotent,
                deadline_s=deadline_s,
            )
        )

    @staticmethod
    def decode(response: requests.Response) -> Any:
        """Decode a response body.

        Returns:
            None for an empty body; the parsed JSON when the Content-Type is JSON
            (``application/json`` or ``*+json``); otherwise the text (charset from the
            Content-Type, UTF-8 by default).

        Raises:
            ProtocolError: a JSON content type whose body does not parse (with an excerpt).
        """
        body = response.content
        if not body:
            return None
        ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype == "application/json" or ctype.endswith("+json"):
            try:
                return _json.loads(body)
            except ValueError as exc:
                raise ProtocolError(
                    f"response declared {ctype} but is not valid JSON: {exc}",
                    excerpt=excerpt(body),
                    target=redact_url(response.url or ""),
                ) from None
        charset = (
            response.encoding if "charset=" in response.headers.get("Content-Type", "") else None
        )
        try:
            return body.decode(charset or "utf-8", "replace")
        except LookupError:  # an unknown charset name: fall back to UTF-8
            return body.decode("utf-8", "replace")

    def metrics(self) -> ClientMetrics:
        """A snapshot of this client's counters, latency percentiles, breaker and budget."""
        return self._stats.snapshot(self._breaker, self._budget)

    def health_check(self, path: str = "/health", *, timeout_s: float = 2.0) -> HealthReport:
        """Probe ``path`` once with GET, bypassing retry and breaker (it observes them).

        Args:
            path: the health endpoint, relative to ``base_url``.
            timeout_s: connect and read limit for the probe, in seconds.

        Returns:
            A :class:`HealthReport`; transport failures are reported, not raised.

        Raises:
            UsageError: the client is closed, or ``path`` leaves ``base_url``.
        """
        if self._closed:
            raise UsageError("this HTTPClient is closed")
        url = resolve_path(self.base_url, path, allow_absolute=self.allow_absolute_urls)
        headers = dict(self.headers)
        headers.setdefault("X-Request-ID", uuid.uuid4().hex)
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = send(
                self._session,
                "GET",
                url,
                headers=headers,
                auth=self.auth,
                timeouts=Timeouts(timeout_s, timeout_s),
                max_body_bytes=64 * 1024,
                deadline=started + timeout_s,
                verify=self.verify,
                cert=self.cert,
                target=self.target,
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except SyncClientsError as exc:
            error = f"{type(exc).__name__}: {exc}"
        return HealthReport(
            ok=error is None,
            status_code=status,
            latency_s=time.monotonic() - started,
            error=error,
            breaker_state=self._breaker.state if self._breaker else None,
        )

    def close(self) -> None:
        """Close the pooled connections this client created. Idempotent; later calls raise
        UsageError. A session passed in by the caller is left open."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._resilience.close()
        if self._own_session:
            self._session.close()

    def __enter__(self) -> HTTPClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        auth = type(self.auth).__name__ if self.auth is not None else None
        state = "closed" if self._closed else "open"
        return f"HTTPClient({self.target!r}, auth={auth}, {state})"

    # -- internals ---------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: Any,
        json: Any,
        data: Any,
        timeouts: Timeouts,
        ctx: AttemptContext,
    ) -> requests.Response:
        if self._closed:
            raise UsageError("this HTTPClient is closed")
        return send(
            self._session,
            method,
            url,
            headers=headers,
            params=params,
            json=json,
            data=data,
            auth=self.auth,
            timeouts=timeouts,
            max_body_bytes=self.max_response_bytes,
            deadline=ctx.deadline,
            allow_redirects=self.follow_redirects,
            sensitive_headers=self.sensitive_headers,
            verify=self.verify,
            cert=self.cert,
            target=self.target,
        )

    def _status_error(
        self, response: requests.Response, method: str, url: str, request_id: str
    ) -> HTTPStatusError:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        reason = response.reason or ""
        return HTTPStatusError(
            f"{method} {redact_url(url)} answered {response.status_code} {reason}".rstrip()
            + f" (X-Request-ID {request_id})",
            status_code=response.status_code,
            response=response,
            retry_after=retry_after,
            body_excerpt=excerpt(response.content),
            request_id=request_id,
            target=self.target,
        )
