"""The exception tree of syncclients: every error the library raises into a caller.

Two roots, split by what the caller does next::

    SyncClientsError                  a call failed at run time (catch this in a view or a job)
    ├── TransportError                the exchange with the peer broke; carries .target
    │   ├── ConnectError              (+ builtins.ConnectionError) could not connect: the
    │   │   │                         request was NOT sent, so it is always safe to retry
    │   │   └── ConnectTimeout        (+ Timeout) connecting took longer than the connect timeout
    │   ├── ConnectionLostError       (+ builtins.ConnectionError) the connection dropped after
    │   │   │                         the request may have been sent (reset, truncated body)
    │   │   └── ServerExitedError     a stdio MCP server process ended (.exit_code, .stderr_tail)
    │   ├── SessionExpiredError       the MCP server no longer knows the Mcp-Session-Id (HTTP
    │   │                             404, or 400 "no valid session"); the request was NOT
    │   │                             processed: a new session is started, safe calls replayed
    │   │                             (.session_id, .status_code)
    │   ├── TLSError                  the TLS handshake or certificate check failed
    │   ├── ResponseTooLargeError     the body exceeded the configured limit (.limit_bytes)
    │   └── Timeout                   (+ builtins.TimeoutError) a time limit ran out
    │       ├── ConnectTimeout        (also a ConnectError, see above)
    │       ├── ReadTimeout           the peer did not answer within the read timeout
    │       ├── PoolTimeout           no pooled connection became free within the pool timeout
    │       └── DeadlineExceeded      the overall deadline of a call (all attempts) ran out
    ├── HTTPStatusError               the peer answered with a non-2xx status (.status_code,
    │                                 .response, .retry_after, .body_excerpt)
    ├── GRPCStatusError               a gRPC call ended with a non-OK status (.code, .details,
    │   │                             .trailing_metadata, .retry_after, .retry_pushback,
    │   │                             .method, .request_id)
    │   ├── GRPCUnavailableError      (+ TransportError) status UNAVAILABLE
    │   │   └── GRPCTLSError          (+ TLSError) UNAVAILABLE because the TLS handshake
    │   │                             failed; not retried
    │   └── GRPCTimeoutError          (+ Timeout, builtins.TimeoutError) DEADLINE_EXCEEDED
    ├── MCPError                      the MCP server answered with a JSON-RPC error (.code,
    │   │                             .data, .method): it is alive; not retried, not counted
    │   ├── UnsupportedProtocolVersionError  -32022 or no mutual version (.supported,
    │   │                             .requested)
    │   └── MissingClientCapabilityError     -32021 (.required_capabilities)
    ├── CircuitOpenError              (+ circuitbreaker.CircuitBreakerError) the breaker of the
    │                                 target is open: not sent; final, never retried
    │                                 (.name, .remaining_s)
    ├── CallCancelledError            a batch stopped early (fail_fast, Ctrl-C) before this
    │                                 call finished
    ├── CallInterruptedError          Ctrl-C stopped a batch while this call was running: it
    │                                 may have run on the server (cancellation sent);
    │                                 outcome unknown
    ├── AuthorizationError            MCP authorization (OAuth 2.1) could not get a token:
    │                                 discovery, registration, the user's consent or a token
    │                                 request failed (.status_code, .error); no secrets kept
    └── ProtocolError                 the peer's output is malformed (undecodable JSON, bad
        │                             framing, a reply that breaks the protocol) (.excerpt)
        ├── InputRequiredLimitError   the MCP server kept answering input_required (.max_rounds)
        └── ToolOutputError           a tool's structuredContent does not match its
                                      outputSchema (checked client-side, on by option)

    UsageError                        (+ builtins.ValueError) a programming error: bad
    ├── InvalidHeaderError            arguments or misuse. Fix the calling code; never
    ├── ToolArgumentsError            retried, never counted by a breaker. (Arguments that
    │                                 fail a tool's inputSchema, checked client-side.)
    └── ToolNotAllowedError           the tool is denied by the group's permissions (nothing
                                      was sent) (.server, .tool)

Retry exhaustion: when every permitted attempt failed (``max_attempts`` reached, the retry
budget spent, or a server-given delay that does not fit the deadline), the *last* error is
raised unchanged, so callers catch the real failure (as stamina, backoff and the gRPC A6
retry throttling do). When the overall deadline runs out between attempts,
:class:`DeadlineExceeded` is raised with the last error as its ``__cause__``.

Foreign exceptions (requests, urllib3, grpc, ...) are translated into this tree at exactly one
boundary per transport; nothing from a dependency reaches a caller untranslated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from circuitbreaker import CircuitBreakerError as _CircuitBreakerError

from .redact import redact_text

if TYPE_CHECKING:
    import grpc
    import requests

__all__ = [
    "AuthorizationError",
    "CallCancelledError",
    "CallInterruptedError",
    "CircuitOpenError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLostError",
    "DeadlineExceeded",
    "GRPCStatusError",
    "GRPCTLSError",
    "GRPCTimeoutError",
    "GRPCUnavailableError",
    "HTTPStatusError",
    "InputRequiredLimitError",
    "InvalidHeaderError",
    "MCPError",
    "MissingClientCapabilityError",
    "PoolTimeout",
    "ProtocolError",
    "ReadTimeout",
    "ResponseTooLargeError",
    "ServerExitedError",
    "SessionExpiredError",
    "SyncClientsError",
    "TLSError",
    "Timeout",
    "ToolArgumentsError",
    "ToolNotAllowedError",
    "ToolOutputError",
    "TransportError",
    "UnsupportedProtocolVersionError",
    "UsageError",
    "excerpt",
]

#: Longest excerpt of a peer's output kept on an error, in characters.
EXCERPT_CHARS = 512


def excerpt(data: bytes | str | None, limit: int = EXCERPT_CHARS) -> str:
    """Return a bounded, printable excerpt of peer output for an error message.

    Args:
        data: raw bytes (decoded as UTF-8 with replacement) or text; None gives "".
        limit: the most characters kept; a longer input is cut and marked with "...".

    Returns:
        A string of at most ``limit + 3`` characters.
    """
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes | bytearray) else data
    return text if len(text) <= limit else text[:limit] + "..."


class SyncClientsError(Exception):
    """Root of every run-time failure raised by syncclients.

    The message and target pass through :func:`syncclients.redact.redact_text`: URL
    userinfo, secret-looking query values (``api_key=***``) and ``Authorization`` values
    never reach a log through an error of ours.

    Attributes:
        target: what was being called (a base URL, a gRPC target, an MCP server name), or None.
    """

    def __init__(self, message: str, *, target: str | None = None) -> None:
        message = redact_text(message)
        target = None if target is None else redact_text(target)
        super().__init__(message)
        self.message = message
        self.target = target

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:  # keep pickling (multiprocessing, futures) working
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[BaseException], state: dict[str, Any]) -> BaseException:
    obj = cls.__new__(cls)
    Exception.__init__(obj, state.get("message", ""))
    obj.__dict__.update(state)
    return obj


class TransportError(SyncClientsError):
    """The exchange with the peer broke below the protocol (network, TLS, time limits)."""


class ConnectError(TransportError, ConnectionError):
    """Could not connect (refused, DNS failure, unreachable). The request was not sent."""


class ConnectionLostError(TransportError, ConnectionError):
    """The connection broke after the request may have been sent (reset, truncated body).

    Only idempotent requests are retried after this error.
    """


class TLSError(TransportError):
    """The TLS handshake or certificate verification failed. Not retried."""


class ResponseTooLargeError(TransportError):
    """The response body exceeded the configured size limit.

    Attributes:
        limit_bytes: the configured limit, in bytes.
    """

    def __init__(self, message: str, *, limit_bytes: int, target: str | None = None) -> None:
        super().__init__(message, target=target)
        self.limit_bytes = limit_bytes


class Timeout(TransportError, TimeoutError):
    """A time limit ran out. Also a builtin :class:`TimeoutError`.

    Attributes:
        timeout_s: the limit that ran out, in seconds, when known.
    """

    def __init__(
        self, message: str, *, timeout_s: float | None = None, target: str | None = None
    ) -> None:
        super().__init__(message, target=target)
        self.timeout_s = timeout_s


class ConnectTimeout(Timeout, ConnectError):
    """Connecting took longer than the connect timeout. The request was not sent."""


class ReadTimeout(Timeout):
    """The peer did not send data within the read timeout; the request may have been processed."""


class PoolTimeout(Timeout):
    """No pooled connection became free within the pool timeout. The request was not sent.

    Not retried and not counted by a breaker: it is local saturation, not a sick peer.
    """


class DeadlineExceeded(Timeout):
    """The overall deadline of a call, across all its attempts, ran out.

    ``__cause__`` holds the last attempt's error, when there was one.
    """


class HTTPStatusError(SyncClientsError):
    """The server answered with a status outside 2xx.

    Attributes:
        status_code: the HTTP status code (RFC 9110 section 15).
        response: the :class:`requests.Response` (its body already read and bounded).
        retry_after: the server's Retry-After as seconds from now (RFC 9110 section 10.2.3),
            or None when absent or unparsable.
        body_excerpt: at most :data:`EXCERPT_CHARS` characters of the body.
        request_id: the X-Request-ID sent with the request, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        response: requests.Response | None = None,
        retry_after: float | None = None,
        body_excerpt: str = "",
        request_id: str | None = None,
        target: str | None = None,
    ) -> None:
        super().__init__(message, target=target)
        self.status_code = status_code
        self.response = response
        self.retry_after = retry_after
        self.body_excerpt = body_excerpt
        self.request_id = request_id

    def __reduce__(self) -> Any:
        state = dict(self.__dict__, response=None)  # a Response does not pickle reliably
        return (_rebuild, (type(self), state))


class CircuitOpenError(SyncClientsError, _CircuitBreakerError):  # type: ignore[misc]
    """The circuit breaker of the target is open (or half-open with all probes taken).

    The call was not attempted. It is final: the retry layer never retries it.
    Also a :class:`circuitbreaker.CircuitBreakerError`, for code written against that package.

    Attributes:
        name: the breaker's name (one breaker per client/target).
        remaining_s: seconds until the breaker lets a probe through (0.0 when half-open).
    """

    def __init__(self, name: str, remaining_s: float, *, target: str | None = None) -> None:
        SyncClientsError.__init__(
            self,
            f"circuit {name!r} is open; next probe allowed in {remaining_s:.2f} s",
            target=target,
        )
        self.name = name
        self.remaining_s = remaining_s

    def __str__(self) -> str:  # circuitbreaker's __str__ expects its own breaker object
        return self.message


class ProtocolError(SyncClientsError):
    """The peer's output is malformed: undecodable JSON, broken framing, an invalid reply.

    Attributes:
        excerpt: a bounded excerpt of the offending output.
    """

    def __init__(self, message: str, *, excerpt: str = "", target: str | None = None) -> None:
        super().__init__(message, target=target)
        self.excerpt = excerpt


class UsageError(ValueError):
    """A programming error: invalid arguments, a closed client, misuse of the API.

    Deliberately *not* a :class:`SyncClientsError`: code that maps run-time failures to a 503
    should let bugs surface as bugs. Never retried, never counted by a breaker.
    """


class InvalidHeaderError(UsageError):
    """A header name or value is invalid (CR, LF or NUL, or not a string); nothing was sent."""


# --- MCP errors ---


class ServerExitedError(ConnectionLostError):
    """A stdio MCP server process ended; every call in flight on it failed with this error.

    Attributes:
        exit_code: the process's exit status (negative: killed by that signal), or None when
            it could not be read.
        stderr_tail: the last lines the server wrote to stderr (bounded), "" when none.
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None,
        stderr_tail: str = "",
        target: str | None = None,
    ) -> None:
        super().__init__(message, target=target)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


class InputRequiredLimitError(ProtocolError):
    """The server answered ``input_required`` more times than the client allows.

    Attributes:
        max_rounds: the limit that was reached (MCP 2026-07-28, multi round-trip requests).
    """

    def __init__(self, message: str, *, max_rounds: int, target: str | None = None) -> None:
        super().__init__(message, target=target)
        self.max_rounds = max_rounds


class MCPError(SyncClientsError):
    """The MCP server answered a request with a JSON-RPC error object.

    The server is alive and answered: a breaker does not count it, and it is not retried.

    Attributes:
        code: the JSON-RPC error code (e.g. -32601 method not found, -32602 invalid params,
            -32002 resource not found).
        data: the error's ``data`` member, or None.
        method: the request method that failed, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int,
        data: Any = None,
        method: str | None = None,
        target: str | None = None,
    ) -> None:
        super().__init__(message, target=target)
        self.code = code
        self.data = data
        self.method = method


class UnsupportedProtocolVersionError(MCPError):
    """No protocol version is shared with the server (-32022, or an unknown version answered).

    Attributes:
        supported: the versions the server named, when it named any.
        requested: the version the client asked for, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int = -32022,
        data: Any = None,
        method: str | None = None,
        supported: tuple[str, ...] = (),
        requested: str | None = None,
        target: str | None = None,
    ) -> None:
        super().__init__(message, code=code, data=data, method=method, target=target)
        self.supported = supported
        self.requested = requested


class MissingClientCapabilityError(MCPError):
    """The server needs a client capability that was not declared (-32021).

    Attributes:
        required_capabilities: ``data.requiredCapabilities`` from the error, or {}.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int = -32021,
        data: Any = None,
        method: str | None = None,
        required_capabilities: dict[str, Any] | None = None,
        target: str | None = None,
    ) -> None:
        super().__init__(message, code=code, data=data, method=method, target=target)
        self.required_capabilities = required_capabilities or {}


class ToolArgumentsError(UsageError):
    """Tool arguments do not satisfy the tool's ``inputSchema`` (client-side validation).

    Nothing was sent.
    """


class ToolNotAllowedError(UsageError):
    """The tool is denied by the permissions of its server in an MCPGroup (an allow list
    that does not name it, or a deny list that does). Nothing was sent.

    Attributes:
        server: the server's name.
        tool: the tool's name on that server.
    """

    def __init__(self, message: str, *, server: str, tool: str) -> None:
        super().__init__(message)
        self.server = server
        self.tool = tool


class ToolOutputError(ProtocolError):
    """A tool result's ``structuredContent`` is missing or does not match the tool's
    ``outputSchema`` (MCP server/tools "Output Schema"; checked client-side, on by option).
    The call ran on the server; its result is in ``.result``.

    Attributes:
        result: the :class:`~syncclients.mcp.types.CallToolResult` that failed the check.
    """

    def __init__(
        self, message: str, *, result: Any = None, excerpt: str = "", target: str | None = None
    ) -> None:
        super().__init__(message, excerpt=excerpt, target=target)
        self.result = result


# --- gRPC status errors ---

#: gRPC metadata as plain pairs: ``(key, value)``, a ``str`` value, or ``bytes`` for keys
#: ending in ``-bin`` (gRPC over HTTP/2, "Custom-Metadata").
GRPCMetadata = tuple[tuple[str, "str | bytes"], ...]


class GRPCStatusError(SyncClientsError):
    """A gRPC call ended with a status other than OK (gRPC doc "Status codes and their use").

    Raised for every non-OK status the client does not map more precisely; UNAVAILABLE and
    DEADLINE_EXCEEDED raise the subclasses below, which are also transport errors. Catch
    this class to handle every failed RPC by ``.code``.

    Attributes:
        code: the :class:`grpc.StatusCode`.
        details: the status message sent by the server (or set by gRPC locally), or "".
        trailing_metadata: the trailing metadata of the call as ``(key, value)`` pairs.
        retry_after: the server's ``grpc-retry-pushback-ms`` as seconds (gRPC proposal A6),
            or None when absent or invalid. The retry layer waits exactly this long.
        retry_pushback: the raw ``grpc-retry-pushback-ms`` value, or None when absent. A
            value that is present but negative or not an integer means "do not retry" (A6).
        method: the RPC method name, when known.
        request_id: the ``x-request-id`` sent with the call, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: GRPCMetadata = (),
        retry_after: float | None = None,
        retry_pushback: str | None = None,
        method: str | None = None,
        request_id: str | None = None,
        target: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, target=target, **kwargs)  # cooperative: Timeout takes more
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata
        self.retry_after = retry_after
        self.retry_pushback = retry_pushback
        self.method = method
        self.request_id = request_id


class GRPCUnavailableError(GRPCStatusError, TransportError):
    """Status UNAVAILABLE: the server could not be reached or is shedding load.

    Retried (gRPC doc: "most likely a transient condition"); counted by the breaker.
    """


class GRPCTLSError(GRPCUnavailableError, TLSError):
    """UNAVAILABLE because the TLS handshake or certificate verification failed.

    Not retried: the same certificates fail the same way. Counted by the breaker.
    """


class GRPCTimeoutError(GRPCStatusError, Timeout):
    """Status DEADLINE_EXCEEDED: the call's gRPC deadline ran out (client side or server side).

    Also a :class:`Timeout` and a builtin :class:`TimeoutError`. Retried only for idempotent
    calls. When the overall deadline of the call (all attempts) ran out, the caller gets
    :class:`DeadlineExceeded` instead, with this error as its ``__cause__``.
    """


# --- MCP HTTP transport errors ---


class SessionExpiredError(TransportError):
    """The MCP server no longer knows this client's session (MCP 2025-11-25, basic/transports,
    "Session Management": HTTP 404 to a request carrying ``Mcp-Session-Id``; server-everything
    answers 400 "No valid session ID provided" instead).

    The server rejected the message before processing it. :class:`~syncclients.MCPClient`
    always starts a new session (a new ``initialize`` without a session id) on the next
    attempt and replays the request itself when it is safe to repeat (lists, reads, ping,
    idempotent or read-only tools); any other call is raised to the caller with this error,
    and the caller may replay it (a 404 means it was not processed). A
    :class:`TransportError` rather than a :class:`ProtocolError`:
    the session is state of the Streamable HTTP transport (an HTTP header), the peer's
    output is well-formed, and recovery is a reconnect, like a lost stdio connection. Not a
    :class:`ConnectionLostError`, whose "may have been processed" would forbid replaying
    non-idempotent calls.

    Attributes:
        session_id: the expired session id (None when the server had not assigned one).
        status_code: the HTTP status that reported it (404 or 400).
    """

    def __init__(
        self,
        message: str,
        *,
        session_id: str | None,
        status_code: int,
        target: str | None = None,
    ) -> None:
        super().__init__(message, target=target)
        self.session_id = session_id
        self.status_code = status_code


# --- batch errors ---


class CallCancelledError(SyncClientsError):
    """The call was cancelled before it finished: a batch stopped early (``fail_fast`` or
    Ctrl-C) and this item had not started, so nothing was sent for it.

    A call that was already running when Ctrl-C came is a :class:`CallInterruptedError`
    instead (its outcome is unknown).
    """


class CallInterruptedError(SyncClientsError):
    """Ctrl-C stopped a batch while this call was running: its request may have reached the
    server and run there, fully or in part. Its outcome is unknown.

    The request was cancelled on the server where the protocol allows it (MCP
    ``notifications/cancelled``, MCP basic/utilities/cancellation), which a server may
    ignore. Not a :class:`CallCancelledError`: that one means the call was never sent.
    """


class AuthorizationError(SyncClientsError):
    """MCP authorization (OAuth 2.1, RFC 6749/9728/8414) could not obtain a usable token.

    Raised for bad or missing metadata, a wrong issuer, a failed registration, a denied or
    mismatched authorization response, a token endpoint error, or a step-up retry limit. The
    message never contains tokens, codes, verifiers or client secrets.

    Attributes:
        status_code: the HTTP status of the failing authorization request, or None.
        error: the OAuth ``error`` code (e.g. ``"invalid_grant"``), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        status_code: int | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message, target=target)
        self.status_code = status_code
        self.error = error
