"""HTTP transport: pooled ``requests`` sessions, bounded body reads, and the one boundary where
``requests`` / ``urllib3`` exceptions become :mod:`syncclients.errors`.

The session owns no policy: urllib3 retries are off (``max_retries=0``) because retrying
lives in :mod:`syncclients.resilience` only, and redirects are requests' own. What requests
lacks and this module adds:

- a bounded wait for a pooled connection when the pool blocks (requests never passes a pool
  timeout to urllib3, so a caller would wait forever): :class:`~syncclients.errors.PoolTimeout`;
- a response size limit, checked against Content-Length and while reading (decoded bytes);
- an overall deadline while reading a body that trickles in (the read timeout is per read).
"""

from __future__ import annotations

import contextlib
import email.utils
import socket
import ssl
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.exceptions as rex
import urllib3.exceptions as uex
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..config import PoolLimits, Timeouts
from ..errors import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeout,
    DeadlineExceeded,
    PoolTimeout,
    ProtocolError,
    ReadTimeout,
    ResponseTooLargeError,
    SyncClientsError,
    TLSError,
    TransportError,
    UsageError,
)
from ..redact import is_secret_name, redact_text
from ..redact import strip_url as redact_url

__all__ = [
    "CREDENTIAL_HEADERS",
    "PooledHTTPAdapter",
    "build_session",
    "call_deadline",
    "origin",
    "parse_retry_after",
    "read_body",
    "redact_url",
    "same_origin_redirect",
    "send",
    "translate_exception",
    "translating",
]

_CHUNK_BYTES = 64 * 1024
_WATCHDOG_POLL_S = 0.05

#: The deadline of the request whose auth object is running on this thread (see
#: :func:`call_deadline`).
_CALL_DEADLINE: ContextVar[float | None] = ContextVar("syncclients_call_deadline", default=None)
#: Connections taken from our pools by a hard-deadline :func:`send` on this thread.
_WATCHED: ContextVar[list[Any] | None] = ContextVar("syncclients_watched_conns", default=None)


def call_deadline() -> float | None:
    """The ``time.monotonic()`` deadline of the request being prepared on this thread.

    :func:`send` sets it while the request's auth object runs, so an auth object that makes
    a request of its own (an OAuth token fetch) can bound it by the caller's deadline.

    Returns:
        The instant, or None when the caller has no deadline (or outside :func:`send`).
    """
    return _CALL_DEADLINE.get()


def _watch(conn: Any) -> Any:
    watched = _WATCHED.get()
    if watched is not None:
        watched.append(conn)
    return conn


def _bounded_pool_classes(pool_timeout_s: float | None) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes whose blocking wait for a connection is bounded by ``pool_timeout_s``."""

    class BoundedHTTPConnectionPool(HTTPConnectionPool):
        def _get_conn(self, timeout: float | None = None) -> Any:
            return _watch(super()._get_conn(timeout=pool_timeout_s if timeout is None else timeout))

    class BoundedHTTPSConnectionPool(HTTPSConnectionPool):
        def _get_conn(self, timeout: float | None = None) -> Any:
            return _watch(super()._get_conn(timeout=pool_timeout_s if timeout is None else timeout))

    return {"http": BoundedHTTPConnectionPool, "https": BoundedHTTPSConnectionPool}


class PooledHTTPAdapter(requests.adapters.HTTPAdapter):
    """An :class:`~requests.adapters.HTTPAdapter` with urllib3 retries off and, when the pool
    blocks, a bounded wait for a free connection.

    Args:
        limits: pool sizes, blocking and the pool wait bound (seconds).
    """

    def __init__(self, limits: PoolLimits) -> None:
        self.limits = limits
        super().__init__(
            pool_connections=limits.pool_connections,
            pool_maxsize=limits.pool_maxsize,
            max_retries=0,
            pool_block=limits.block,
        )

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _bounded_pool_classes(self.limits.pool_timeout_s)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme"):
            manager.pool_classes_by_scheme = _bounded_pool_classes(self.limits.pool_timeout_s)
        return manager

    def close(self) -> None:
        """Close every pooled connection now, then drop the pools.

        urllib3 2's ``PoolManager.clear()`` only forgets its pools: their idle sockets stay
        open until the pools are garbage collected, and a caller holding an exception whose
        traceback passes through urllib3 keeps a pool (and its sockets) alive indefinitely.
        A connection still in use when this runs is closed when it is released.
        """
        managers = [self.poolmanager, *self.proxy_manager.values()]
        for manager in managers:
            pools = getattr(manager, "pools", None)
            if pools is None:
                continue
            for key in list(pools.keys()):
                pool = pools.get(key)
                if pool is not None:
                    pool.close()
        super().close()


def build_session(limits: PoolLimits) -> requests.Session:
    """A new :class:`requests.Session` with a :class:`PooledHTTPAdapter` for http and https.

    Args:
        limits: pool sizes, blocking, and the pool wait bound.

    Returns:
        The session; the caller owns it and must close it.
    """
    session = requests.Session()
    adapter = PooledHTTPAdapter(limits)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _innermost(exc: BaseException) -> list[BaseException]:
    """The chain of wrapped exceptions: args[0] of requests errors, .reason of MaxRetryError."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        nxt: Any = getattr(current, "reason", None)
        if not isinstance(nxt, BaseException):
            args = getattr(current, "args", ())
            nxt = args[0] if args and isinstance(args[0], BaseException) else None
        if nxt is None:
            nxt = current.__cause__ or current.__context__
        current = nxt
    return chain


def translate_exception(
    exc: BaseException, *, target: str | None, timeouts: Timeouts | None = None
) -> SyncClientsError | UsageError:
    """Translate an exception from requests, urllib3 or the socket layer into our tree.

    This is the only place such exceptions are mapped (architecture: one boundary).

    Args:
        exc: what requests/urllib3 raised.
        target: the target to name on the error (base URL without credentials).
        timeouts: the limits in force, to report which one ran out.

    Returns:
        The exception to raise instead (chain it with ``from exc``).
    """
    msg = redact_text(f"{type(exc).__name__}: {exc}")  # urllib3 quotes the URL and query
    chain = _innermost(exc)
    connect_s = timeouts.connect_s if timeouts else None
    read_s = timeouts.read_s if timeouts else None

    # Programming errors: fix the call, do not retry.
    if isinstance(
        exc,
        rex.URLRequired
        | rex.MissingSchema
        | rex.InvalidSchema
        | rex.InvalidURL
        | rex.InvalidHeader
        | rex.InvalidProxyURL
        | rex.InvalidJSONError
        | rex.StreamConsumedError
        | rex.UnrewindableBodyError
        | uex.LocationValueError
        | uex.ProxySchemeUnknown
        | uex.ProxySchemeUnsupported,
    ) and not isinstance(exc, rex.JSONDecodeError):
        return UsageError(f"invalid HTTP request: {msg}")

    if any(isinstance(e, uex.EmptyPoolError) for e in chain):
        return PoolTimeout(
            "no pooled connection became free within the pool timeout", target=target
        )
    if isinstance(exc, rex.ConnectTimeout) or any(
        isinstance(e, uex.ConnectTimeoutError) and not isinstance(e, uex.NewConnectionError)
        for e in chain
    ):
        return ConnectTimeout(
            f"connect timed out after {connect_s} s: {msg}", timeout_s=connect_s, target=target
        )
    if isinstance(exc, rex.ReadTimeout) or any(
        isinstance(e, uex.ReadTimeoutError | socket.timeout) for e in chain
    ):
        return ReadTimeout(
            f"read timed out after {read_s} s: {msg}", timeout_s=read_s, target=target
        )
    if isinstance(exc, rex.SSLError) or any(
        isinstance(e, uex.SSLError | ssl.SSLError) for e in chain
    ):
        return TLSError(f"TLS failed: {msg}", target=target)
    if isinstance(exc, rex.ProxyError) or any(
        isinstance(e, uex.NewConnectionError | uex.NameResolutionError | uex.ProxyError)
        for e in chain
    ):
        return ConnectError(f"could not connect: {msg}", target=target)
    if isinstance(exc, rex.ContentDecodingError | uex.DecodeError):
        return ProtocolError(f"could not decode the response body: {msg}", target=target)
    if isinstance(exc, rex.TooManyRedirects):
        return ProtocolError(f"too many redirects: {msg}", target=target)
    if isinstance(exc, rex.JSONDecodeError):
        return ProtocolError(f"invalid JSON: {msg}", target=target)
    if isinstance(exc, uex.HeaderParsingError | uex.BodyNotHttplibCompatible):
        return ProtocolError(f"malformed HTTP response: {msg}", target=target)
    if isinstance(exc, uex.ClosedPoolError):
        return UsageError("the client's connection pool is closed (was the client closed?)")
    if isinstance(
        exc,
        rex.ChunkedEncodingError
        | rex.ConnectionError
        | uex.ProtocolError
        | uex.IncompleteRead
        | uex.ResponseNotChunked
        | ConnectionError
        | OSError,
    ):
        return ConnectionLostError(f"connection lost: {msg}", target=target)
    return TransportError(f"HTTP transport failed: {msg}", target=target)


_TRANSLATED = (rex.RequestException, uex.HTTPError, OSError)


@contextmanager
def translating(*, target: str | None, timeouts: Timeouts | None = None) -> Iterator[None]:
    """Context manager that translates requests/urllib3/socket exceptions raised inside it.

    Our own exceptions pass through unchanged.

    Raises:
        SyncClientsError: a translated transport failure (chained to the original).
        UsageError: a translated programming error (invalid URL, header, ...).
    """
    try:
        yield
    except (SyncClientsError, UsageError):
        raise
    except _TRANSLATED as exc:
        raise translate_exception(exc, target=target, timeouts=timeouts) from exc


def _body_chunks(response: requests.Response, deadline: float | None) -> Iterator[bytes]:
    """The body's (decoded) chunks as they arrive.

    With a deadline, each read returns whatever has arrived (``read1``, urllib3 >= 2.3), so
    the deadline is checked between small reads: ``iter_content`` reads until a whole chunk
    is in, and a body trickling in slower than that but faster than the read timeout would
    run past the deadline.
    """
    read1 = getattr(response.raw, "read1", None)
    if deadline is None or read1 is None:
        yield from response.iter_content(_CHUNK_BYTES)
        return
    while True:
        chunk = read1(_CHUNK_BYTES, decode_content=True)
        if not chunk:
            return
        yield chunk


def read_body(
    response: requests.Response,
    *,
    max_bytes: int | None,
    deadline: float | None,
    target: str | None,
) -> bytes:
    """Read a streamed response's whole body, bounded in size and time, and release the
    connection to the pool.

    The body is stored on the response (``response.content`` works afterwards).

    Args:
        response: a response made with ``stream=True``.
        max_bytes: the most (decoded) bytes accepted; None: no limit.
        deadline: a ``time.monotonic()`` instant after which reading stops; None: none.
        target: the target to name on errors.

    Returns:
        The body bytes.

    Raises:
        ResponseTooLargeError: the body (or its Content-Length) exceeds ``max_bytes``.
        ReadTimeout: the deadline passed while the body was still arriving.
        ConnectionLostError: the connection broke mid-body.
    """
    try:
        declared = response.headers.get("Content-Length")
        if max_bytes is not None and declared and declared.isdigit() and int(declared) > max_bytes:
            response.close()
            raise ResponseTooLargeError(
                f"response body of {declared} bytes exceeds the limit of {max_bytes} bytes",
                limit_bytes=max_bytes,
                target=target,
            )
        parts: list[bytes] = []
        size = 0
        with translating(target=target):
            for chunk in _body_chunks(response, deadline):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    response.close()
                    raise ResponseTooLargeError(
                        f"response body exceeds the limit of {max_bytes} bytes",
                        limit_bytes=max_bytes,
                        target=target,
                    )
                parts.append(chunk)
                if deadline is not None and time.monotonic() > deadline:
                    response.close()
                    raise ReadTimeout(
                        "the deadline passed while the response body was arriving",
                        target=target,
                    )
        body = b"".join(parts)
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        return body
    finally:
        response.close()  # returns the connection to the pool once the body is read


#: Headers that carry credentials whatever their name says (besides secret-looking names).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """The origin of a URL (RFC 6454 section 4): scheme, host, port (default port filled in).

    Returns:
        ``(scheme, host, port)``, lower-cased; port None for an unknown scheme without one,
        -1 for a malformed one.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def same_origin_redirect(old_url: str, new_url: str) -> bool:
    """Whether a redirect from ``old_url`` to ``new_url`` stays within one origin (RFC 6454).

    As requests does, an upgrade from ``http`` to ``https`` on the same host with default
    ports counts as the same origin (the credentials already went in clear text).
    """
    old, new = origin(old_url), origin(new_url)
    if old == new:
        return True
    return old == ("http", new[1], 80) and new == ("https", old[1], 443)


def _strip_credentials(
    request: requests.PreparedRequest, sensitive_headers: frozenset[str]
) -> list[str]:
    """Drop every credential header from a request about to leave its origin."""
    dropped = [
        name
        for name in list(request.headers)
        if name.lower() in CREDENTIAL_HEADERS
        or name.lower() in sensitive_headers
        or is_secret_name(name)
    ]
    for name in dropped:
        del request.headers[name]
    return dropped


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Any = None,
    json: Any = None,
    data: Any = None,
    auth: Any = None,
    timeouts: Timeouts,
    max_body_bytes: int | None,
    deadline: float | None = None,
    allow_redirects: bool = True,
    sensitive_headers: Collection[str] = (),
    verify: bool | str = True,
    cert: str | tuple[str, str] | None = None,
    target: str | None = None,
    hard_deadline: bool = False,
) -> requests.Response:
    """Send one HTTP request and read its whole (bounded) body. No retries, no policy.

    Redirects are followed one hop at a time (requests builds each next request: method
    rewrite, cookies, its own Authorization rule); when a hop leaves the origin of the
    previous one, every credential header is dropped from it: ``Authorization``,
    ``Proxy-Authorization``, ``Cookie``, headers with a secret-looking name (``X-API-Key``,
    ``X-Auth-Token``, see :func:`syncclients.redact.is_secret_name`), the header of an auth
    object with a ``header`` attribute (:class:`~syncclients.http.auth.APIKeyAuth`) and
    ``sensitive_headers``. requests alone drops only ``Authorization`` (RFC 9110 section
    15.4 leaves it to the client). Auth objects are applied once, to the first request.

    Args:
        session: the pooled session (see :func:`build_session`).
        method: the HTTP method, upper case.
        url: the absolute URL.
        headers: request headers (already validated).
        params: query parameters as requests accepts them.
        json: a JSON-serialisable body, or None.
        data: a form/bytes body, or None.
        auth: a requests auth object, or None.
        timeouts: connect and read limits in seconds (per hop).
        max_body_bytes: the response size limit in bytes, or None.
        deadline: a ``time.monotonic()`` instant bounding the body read and the redirect
            chain, or None.
        allow_redirects: follow redirects (at most ``session.max_redirects`` hops).
        sensitive_headers: more header names (any case) dropped on a cross-origin redirect.
        verify: TLS verification (True, False, or a CA bundle path).
        cert: a client certificate path or (cert, key) pair, or None.
        target: the target to name on errors.
        hard_deadline: make ``deadline`` bound the whole exchange, also a status line and
            headers that trickle in one byte per read timeout: at the deadline a watchdog
            thread shuts the connection's socket down (only on a session from
            :func:`build_session`; on another session the read timeouts, capped by the
            caller, are the bound). For rare requests (token fetches): it costs a thread.

    Returns:
        The response, body read (``response.content`` is set), connection released;
        ``response.history`` holds the redirect responses (bodies not kept).

    Raises:
        TransportError: connect/read failures, timeouts, TLS, size limit (subclasses).
        DeadlineExceeded: ``hard_deadline`` and the deadline passed.
        ProtocolError: an undecodable body encoding, too many redirects.
        UsageError: an invalid URL, header or body.
    """
    if not hard_deadline or deadline is None:
        return _send(
            session, method, url, headers, params, json, data, auth, timeouts, max_body_bytes,
            deadline, allow_redirects, sensitive_headers, verify, cert, target,
        )  # fmt: skip
    watched: list[Any] = []
    done = threading.Event()
    fired = threading.Event()

    def watchdog() -> None:
        if done.wait(max(0.0, deadline - time.monotonic())):
            return
        fired.set()
        while not done.is_set():  # a connection may still be connecting: look again
            for conn in list(watched):
                sock = getattr(conn, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            done.wait(_WATCHDOG_POLL_S)

    guard = threading.Thread(target=watchdog, name="syncclients-deadline", daemon=True)
    reset = _WATCHED.set(watched)
    guard.start()
    try:
        return _send(
            session, method, url, headers, params, json, data, auth, timeouts, max_body_bytes,
            deadline, allow_redirects, sensitive_headers, verify, cert, target,
        )  # fmt: skip
    except (SyncClientsError, UsageError) as exc:
        if fired.is_set() and not isinstance(exc, DeadlineExceeded):
            raise DeadlineExceeded(
                f"no complete answer before the deadline ({type(exc).__name__} after the "
                "connection was shut down)",
                target=target,
            ) from exc
        raise
    finally:
        done.set()
        _WATCHED.reset(reset)
        guard.join(1.0)


def _send(
    session: requests.Session,
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    params: Any,
    json: Any,
    data: Any,
    auth: Any,
    timeouts: Timeouts,
    max_body_bytes: int | None,
    deadline: float | None,
    allow_redirects: bool,
    sensitive_headers: Collection[str],
    verify: bool | str,
    cert: str | tuple[str, str] | None,
    target: str | None,
) -> requests.Response:
    strip = frozenset(h.lower() for h in sensitive_headers)
    auth_header = getattr(auth, "header", None)
    if isinstance(auth_header, str):
        strip |= {auth_header.lower()}
    with translating(target=target, timeouts=timeouts):
        reset = _CALL_DEADLINE.set(deadline)  # for auth objects that fetch a token
        try:
            prepared = session.prepare_request(
                requests.Request(
                    method,
                    url,
                    headers=dict(headers) if headers else None,
                    params=params or {},
                    json=json,
                    data=data or {},
                    auth=auth,
                )
            )
        finally:
            _CALL_DEADLINE.reset(reset)
        settings = session.merge_environment_settings(prepared.url, {}, True, verify, cert)
        options: dict[str, Any] = {"timeout": (timeouts.connect_s, timeouts.read_s), **settings}
        response = session.send(prepared, allow_redirects=False, **options)
        history: list[requests.Response] = []
        while allow_redirects and response.is_redirect:
            following = response.next
            if following is None:
                break
            history.append(response)
            response.close()
            if len(history) > session.max_redirects:
                raise ProtocolError(
                    f"too many redirects (more than {session.max_redirects})", target=target
                )
            if deadline is not None and time.monotonic() > deadline:
                raise ReadTimeout("the deadline passed while following redirects", target=target)
            if not same_origin_redirect(response.request.url or "", following.url or ""):
                _strip_credentials(following, strip)
            response = session.send(following, allow_redirects=False, **options)
        response.history = history
    read_body(response, max_bytes=max_body_bytes, deadline=deadline, target=target)
    return response


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a Retry-After header (RFC 9110 section 10.2.3) into seconds from now.

    Args:
        value: delta-seconds (``"120"``) or an HTTP-date (``"Wed, 21 Oct 2026 07:28:00 GMT"``).
        now: the current wall-clock time (``time.time()``), for tests.

    Returns:
        Seconds to wait (>= 0; a date in the past gives 0.0), or None when absent/invalid.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # RFC 9110 dates are GMT; a zone-less date is not one
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
