"""MCPClient: the synchronous MCP client facade (policy + protocol, no asyncio).

One client talks to one server over one transport. Any number of threads may call it at
once; each call waits on its own future with its own timeout. Every call runs under the
client's :class:`~syncclients.resilience.Resilience` (deadline, budgeted retry, one breaker
per server); only calls that are safe to repeat are retried: lists, reads, ping, and
``tools/call`` for tools annotated ``readOnlyHint``/``idempotentHint`` or called with
``idempotent=True``.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar

from ..batch import BatchCall, BatchOutcome, BatchProgress, run_batch
from ..config import (
    USE_CLIENT_DEFAULT,
    BreakerPolicy,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeouts,
    UseClientDefault,
)
from ..errors import (
    CallInterruptedError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeout,
    MCPError,
    ProtocolError,
    ReadTimeout,
    ServerExitedError,
    SessionExpiredError,
    Timeout,
    TransportError,
    UsageError,
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
from ..resilience.cache import CacheStats, ResultCache
from ..resilience.stats import CallStats
from .config import ServerEntry
from .connecting import Handshake, RestartPacer, connect_bound
from .dispatcher import DispatchStats, report_sent_requests
from .jsonrpc_batch import BATCH_VERSION, JsonRpcBatcher
from .listen import Listener
from .messages import Notification
from .metrics import MCPClientMetrics, build_metrics
from .param_headers import InvalidHeaderAnnotation, header_specs, param_headers
from .session import (
    Callbacks,
    ElicitationCallback,
    Era,
    LoggingCallback,
    NotificationCallback,
    ProgressCallback,
    RootsCallback,
    SamplingCallback,
    Session,
)
from .transport import SendContext, Transport
from .types import (
    CallToolResult,
    Completion,
    GetPromptResult,
    Implementation,
    Listing,
    Prompt,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    ServerCapabilities,
    Tool,
    cache_hints,
)
from .validation import validate_arguments as _validate
from .validation import validate_structured_content

__all__ = ["MCPClient"]

logger = logging.getLogger("syncclients.mcp")

if TYPE_CHECKING:
    from ..transports.stdio import ResourceLimits

T = TypeVar("T")

#: MCP logging levels (RFC 5424 severities), lowest first.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

_DEFAULT_TIMEOUTS = Timeouts(connect_s=30.0, read_s=60.0)
_DEFAULT_RETRY = RetryPolicy(max_attempts=3, deadline_s=None)
_CLIENT_INFO = {"name": "syncclients", "version": "0.1.0"}


def _counts_as_failure(exc: BaseException) -> bool:
    """Breaker classification: the server is sick (transport, malformed output), not an
    answered error (MCPError) and never a programming error."""
    return isinstance(exc, TransportError | ProtocolError)


class MCPClient:
    """A blocking, thread-safe client for one MCP server.

    Build one with :meth:`stdio`, :meth:`http` or :meth:`from_config`; use it as a context
    manager or call :meth:`close`. The connection (process start and era negotiation) is
    made on first use or on ``with``.

    Args:
        transport_factory: makes a fresh, unstarted transport (called again on restart).
        era: ``"auto"`` (probe ``server/discover``, fall back to ``initialize``),
            ``"legacy"`` (handshake era only) or ``"2026-07-28"`` (modern only).
        sampling, elicitation, roots, on_log, on_progress, on_notification: callbacks, run
            on client threads; their presence declares the matching client capabilities
            (see :class:`~syncclients.mcp.session.Callbacks`).
        elicitation_modes: elicitation modes declared when ``elicitation`` is given.
        timeouts: ``connect_s`` bounds process start plus negotiation (a connect that
            times out is not retried with a fresh process; callers arriving during a
            handshake wait on it, each within its own ``connect_s`` and deadline);
            ``read_s`` is each request's default wait for its answer, in seconds (None: no
            limit). Default 30 s / 60 s.
        retry: the retry policy (default 3 attempts, no overall deadline). Only safe calls
            are retried.
        breaker: the breaker policy of this server (one breaker per client); None: none.
        retry_budget: the retry budget of this client; None: none.
        hooks: receive one record per attempt (default: logging).
        plugins: :class:`~syncclients.observability.Plugin` instances for this client only
            (in addition to the process-wide ones); torn down on :meth:`close`.
        restart_on_exit: when the server process exited (or its connection broke), start
            it again on the next call (and let safe calls retry). Default True. Restarts
            happen only inside calls the breaker admits (closed, or a half-open probe), and
            consecutive restarts of a server that keeps crashing are spaced 0.5, 1, 2, ...
            up to 30 s apart (calls in between raise the exit error); a server that ran
            30 s resets that. False: later calls raise the exit error until :meth:`close`.
        validate_arguments: check ``call_tool`` arguments against the tool's
            ``inputSchema`` before sending (needs ``jsonschema``; lists tools once if
            needed).
        validate_output: check a result's ``structuredContent`` against the tool's
            ``outputSchema`` (MCP server/tools "Output Schema": clients SHOULD validate);
            a mismatch raises ToolOutputError (needs ``jsonschema``; lists tools once if
            needed). Error results are not checked.
        client_info: the ``clientInfo`` sent to the server.
        name: the server's name in errors, logs and the breaker (default: the target).
        input_required_max_rounds: the most modern-era input rounds per call (default 10).
        cache_lists: keep list results and resource reads for as long as the server's cache
            hint (``ttlMs``, MCP 2026-07-28 caching; capped at 24 h) allows; evicted by
            ``*/list_changed`` and ``notifications/resources/updated``. Results without a
            hint are never cached.
        cache_tool_results: keep results of tools annotated ``readOnlyHint`` (as last
            listed) for ``tool_result_ttl_s`` seconds, keyed by tool and canonical
            arguments; concurrent identical calls make one request. Error results are not
            kept. Off by default.
        tool_result_ttl_s: how long a cached tool result stays fresh, in seconds.
        cache_maxsize: the most cached entries (lists, reads and tool results together).
        jsonrpc_batch_size: with a server that negotiated 2025-03-26 (the only MCP version
            that allows JSON-RPC batches) over Streamable HTTP, send concurrent requests (e.g.
            of :meth:`call_tool_batch`) as arrays of up to this many, each still with its own
            outcome; 0 or 1: never batch. Other versions and transports ignore it. At most
            2 POSTs are in flight, so this saves POSTs and client CPU (about half per call)
            but is slower with a slow server (``bench/jsonrpc_batch.py``).
    """

    def __init__(
        self,
        transport_factory: Callable[[], Transport],
        *,
        era: Era = "auto",
        sampling: SamplingCallback | None = None,
        elicitation: ElicitationCallback | None = None,
        roots: RootsCallback | None = None,
        on_log: LoggingCallback | None = None,
        on_progress: ProgressCallback | None = None,
        on_notification: NotificationCallback | None = None,
        elicitation_modes: Sequence[str] = ("form", "url"),
        timeouts: Timeouts | float | tuple[float | None, float | None] | None = _DEFAULT_TIMEOUTS,
        retry: RetryPolicy = _DEFAULT_RETRY,
        breaker: BreakerPolicy | None = BreakerPolicy(),
        retry_budget: RetryBudgetPolicy | None = RetryBudgetPolicy(),
        hooks: Sequence[Hook] | None = None,
        plugins: Sequence[Hook] = (),
        restart_on_exit: bool = True,
        validate_arguments: bool = False,
        validate_output: bool = False,
        client_info: Mapping[str, Any] | None = None,
        name: str | None = None,
        input_required_max_rounds: int = 10,
        cache_lists: bool = True,
        cache_tool_results: bool = False,
        tool_result_ttl_s: float = 60.0,
        cache_maxsize: int = 1024,
        jsonrpc_batch_size: int = 0,
    ) -> None:
        if era not in ("auto", "legacy", "2026-07-28"):
            raise UsageError(f"era must be 'auto', 'legacy' or '2026-07-28', got {era!r}")
        for label, fn in (
            ("sampling", sampling),
            ("elicitation", elicitation),
            ("roots", roots),
            ("on_log", on_log),
            ("on_progress", on_progress),
            ("on_notification", on_notification),
        ):
            if fn is not None and not callable(fn):
                raise UsageError(f"{label} must be a callable")
        self._factory = transport_factory
        self._era: Era = era
        self._callbacks = Callbacks(
            sampling=sampling,
            elicitation=elicitation,
            roots=roots,
            logging=on_log,
            progress=on_progress,
            notification=on_notification,
            elicitation_modes=tuple(elicitation_modes),
        )
        self.timeouts = Timeouts.coerce(timeouts)
        self.restart_on_exit = restart_on_exit
        self.validate_arguments = validate_arguments
        self.validate_output = validate_output
        self._client_info = dict(client_info or _CLIENT_INFO)
        self._max_rounds = input_required_max_rounds
        self._name = name
        self._state_lock = threading.Lock()
        self._handshake: Handshake[Session] | None = None
        self._pacer = RestartPacer()
        self._session_started = 0.0
        self._session: Session | None = None
        self._opening: Session | None = None
        self._closed = False
        self._tools: dict[str, Tool] = {}
        self._resilience: Resilience | None = None
        self._retry = retry
        self._breaker_policy = breaker
        self._budget_policy = retry_budget
        self._hooks = hooks
        self._plugins = tuple(plugins)
        self._log_level: str | None = None
        self._rejected_tools: set[str] = set()
        self._factory_target: str | None = None
        self._listen_lock = threading.Lock()
        self._listen_uris: set[str] = set()
        self._listener: Listener | None = None
        self.cache_lists = cache_lists
        self.cache_tool_results = cache_tool_results
        self._cache: ResultCache[tuple[str, ...], Any] = ResultCache(
            cache_maxsize, default_ttl_s=tool_result_ttl_s
        )
        if jsonrpc_batch_size < 0:
            raise UsageError(f"jsonrpc_batch_size must be >= 0, got {jsonrpc_batch_size!r}")
        self.jsonrpc_batch_size = jsonrpc_batch_size
        self._dispatch_stats = DispatchStats()  # shared by every session: survives restarts
        self._stats = CallStats()  # a hook of the pipeline; see metrics()

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def stdio(
        cls,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        limits: ResourceLimits | None = None,
        era: Era = "auto",
        stderr_tail_lines: int = 40,
        shutdown_grace_s: float = 2.0,
        close_timeout_s: float = 5.0,
        max_message_bytes: int | None = None,
        secret_values: Mapping[str, str] | None = None,
        **options: Any,
    ) -> MCPClient:
        """A client for a server started as a subprocess (MCP transports "stdio").

        The server gets a minimal environment (HOME, LOGNAME, PATH, SHELL, TERM, USER) plus
        ``env``, runs in its own session/process group, and is stopped on :meth:`close`
        with every process of its group (close stdin, wait ``shutdown_grace_s``, SIGTERM the
        group, wait, SIGKILL the group; all within ``close_timeout_s``), also when it
        already exited by itself. A server that exited is started again on the next call
        the breaker admits, paced when it keeps crashing (``restart_on_exit=False``: never).

        Args:
            command: the program and its arguments, e.g. ``["uvx", "mcp-server-time"]``.
            env: variables added to the minimal environment; None: none.
            cwd: the server's working directory; None: ours.
            limits: resource limits (memory, CPU seconds, open files) set in the server's
                process before it runs; None: none.
            era: see :class:`MCPClient`.
            stderr_tail_lines: stderr lines kept for error messages (each at most 2000
                bytes: memory stays bounded even when the server writes no newline).
            shutdown_grace_s: the most seconds per shutdown step.
            close_timeout_s: the most seconds :meth:`close` spends stopping the server.
            max_message_bytes: the longest stdout message accepted, in bytes; a longer
                one breaks the connection (ConnectionLostError). None: 64 MiB.
            secret_values: ``{VAR: value}`` expanded from ``${VAR}`` in a config file: shown
                as ``${VAR}`` wherever the command line is printed; None: none.
            **options: any other :class:`MCPClient` keyword (callbacks, timeouts, ...).

        Returns:
            An unconnected client (it connects on first use or on ``with``).

        Raises:
            UsageError: ``command`` is not a non-empty list of strings.
        """
        from ..transports.stdio import StdioTransport

        def factory() -> Transport:
            return StdioTransport(
                command,
                env=env,
                cwd=cwd,
                limits=limits,
                stderr_tail_lines=stderr_tail_lines,
                shutdown_grace_s=shutdown_grace_s,
                close_timeout_s=close_timeout_s,
                max_message_bytes=max_message_bytes,
                name=options.get("name"),
                secret_values=secret_values,
            )

        factory()  # validate the arguments now (starts nothing)
        return cls(factory, era=era, **options)

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        era: Era = "auto",
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        max_body_bytes: int | None = 16 * 1024 * 1024,
        **options: Any,
    ) -> MCPClient:
        """A client for a Streamable HTTP server (MCP basic/transports "Streamable HTTP").

        Requests go over a pooled ``requests`` session: one POST per message, answers as
        JSON or SSE; in the handshake era the session id is kept, a background GET stream
        carries server-initiated messages, a dropped stream is resumed with
        ``Last-Event-ID``, and the session is ended with DELETE on :meth:`close`. A lost
        session (404, or 400 "no valid session") starts a new one transparently; the failed
        request is replayed when it is safe (lists, reads, ping, idempotent tools), otherwise
        the caller gets :class:`~syncclients.errors.SessionExpiredError`.

        Args:
            url: the MCP endpoint, e.g. ``"http://127.0.0.1:8000/mcp"``.
            headers: extra headers for every request (validated; e.g. ``Authorization``).
            auth: a requests auth object (see :mod:`syncclients.http.auth`).
            era: see :class:`MCPClient`.
            verify: TLS verification: True, False, or a CA bundle path.
            cert: a client certificate path or (cert, key) pair for mutual TLS.
            max_body_bytes: the largest JSON answer accepted, in bytes; None: no limit.
            **options: any other :class:`MCPClient` keyword.

        Returns:
            An unconnected client (it connects on first use or on ``with``).

        Raises:
            UsageError: ``url`` is not an absolute http(s) URL, or a header is invalid.
        """
        from ..transports.streamable_http import StreamableHTTPTransport

        def factory() -> Transport:
            return StreamableHTTPTransport(
                url, headers=headers, auth=auth, verify=verify, cert=cert,
                max_body_bytes=max_body_bytes,
            )  # fmt: skip

        factory()  # validate the arguments now (connects nothing)
        return cls(factory, era=era, **options)

    @classmethod
    def sse(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        endpoint_timeout_s: float = 10.0,
        **options: Any,
    ) -> MCPClient:
        """A client for a legacy HTTP+SSE server (protocol 2024-11-05: GET the SSE URL,
        wait for its ``endpoint`` event, POST every message there; answers arrive on the
        stream). Always the handshake era.

        Args:
            url: the SSE endpoint, e.g. ``"http://127.0.0.1:8000/sse"``.
            headers, auth, verify, cert: as :meth:`http`.
            endpoint_timeout_s: the most seconds to wait for the ``endpoint`` event.
            **options: any other :class:`MCPClient` keyword (``era`` is fixed to legacy).

        Raises:
            UsageError: ``url`` is not an absolute http(s) URL.
        """
        from ..transports.legacy_sse import LegacySSETransport

        options.pop("era", None)

        def factory() -> Transport:
            return LegacySSETransport(
                url, headers=headers, auth=auth, verify=verify, cert=cert,
                endpoint_timeout_s=endpoint_timeout_s,
            )  # fmt: skip

        factory()
        return cls(factory, era="legacy", **options)

    @classmethod
    def from_config(
        cls, name: str, path: str | os.PathLike[str] | None = None, **options: Any
    ) -> MCPClient:
        """A client for server ``name`` of a standard ``mcpServers`` JSON file.

        Entries with ``command`` (+ ``args``, ``env``, ``cwd``) use :meth:`stdio`; entries
        with ``url`` (+ ``headers``) use :meth:`http`, or :meth:`sse` when their ``type``
        is ``"sse"``. ``${VAR}`` and ``${VAR:-default}``
        in strings are expanded from the environment.

        Args:
            name: the key under ``mcpServers``.
            path: the file; None: ``$MCP_CONFIG``, else ``./.mcp.json``.
            **options: any other :class:`MCPClient` keyword.

        Raises:
            UsageError: no such file, invalid JSON, no such server, or a malformed entry.
        """
        from .config import load_server

        return cls.from_entry(load_server(name, path), **options)

    @classmethod
    def from_entry(cls, entry: ServerEntry, **options: Any) -> MCPClient:
        """A client for one parsed ``mcpServers`` entry (see :mod:`syncclients.mcp.config`).

        Args:
            entry: the entry; ``command`` entries use :meth:`stdio`, ``url`` ones :meth:`http`.
            **options: any other :class:`MCPClient` keyword (``name`` defaults to the key),
                plus ``auths``: ``{auth_name: auth object}`` for ``url`` entries whose
                ``"auth"`` field names one (e.g. a :class:`syncclients.auth.OAuth`).

        Raises:
            UsageError: a malformed entry, or an ``"auth"`` name not in ``auths``.
        """
        options.setdefault("name", entry.name)
        auths = options.pop("auths", None) or {}
        auth_name = entry.raw.get("auth")
        if auth_name is not None:
            if entry.url is None or not isinstance(auth_name, str) or auth_name not in auths:
                known = ", ".join(auths) or "none given"
                raise UsageError(
                    f"mcpServers entry {entry.name!r} names auth {auth_name!r}, which is not "
                    f"one of the auths passed for url servers ({known})"
                )
            options["auth"] = auths[auth_name]
        if entry.command is not None:
            from ..transports.stdio import ResourceLimits

            options.setdefault(
                "limits", ResourceLimits.from_config(entry.raw.get("limits"), entry.name)
            )
            return cls.stdio(
                [entry.command, *entry.args], env=entry.env or None, cwd=entry.cwd,
                secret_values=entry.expanded, **options,
            )  # fmt: skip
        if entry.url is None:
            raise UsageError(f"mcpServers entry {entry.name!r} has neither command nor url")
        if str(entry.raw.get("type", "")).lower() == "sse":
            return cls.sse(entry.url, headers=entry.headers or None, **options)
        return cls.http(entry.url, headers=entry.headers or None, **options)

    # -- lifecycle ---------------------------------------------------------------------------

    def connect(self) -> MCPClient:
        """Start the server and negotiate now (otherwise done on first use).

        Returns:
            This client.

        Raises:
            ConnectError: the server could not be started.
            UnsupportedProtocolVersionError: no shared protocol version.
            TransportError: the server exited during negotiation.
        """
        self._live(None)
        return self

    def close(self) -> None:
        """Stop every thread, stream and subprocess this client started. Idempotent.

        Calls still waiting fail with :class:`~syncclients.errors.ConnectionLostError`.
        """
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            sessions = [s for s in (self._session, self._opening) if s is not None]
            self._session = None
        for session in sessions:
            session.close()
        listener = self._listener
        if listener is not None:
            listener.stop()  # its request already failed with the session: joins the thread
        if self._resilience is not None:
            self._resilience.close()

    def __enter__(self) -> MCPClient:
        return self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MCPClient({redact_text(self.target)!r}, era={self._era!r})"

    @property
    def target(self) -> str:
        """The server's name (the ``name`` given, or the command / URL)."""
        if self._name is not None:
            return self._name
        session = self._session
        if session is not None:
            return session.target
        if self._factory_target is None:  # a transport only to learn its name: built once
            self._factory_target = self._factory().target
        return self._factory_target

    @property
    def resilience(self) -> Resilience:
        """The client's resilience pipeline (its breaker and retry budget)."""
        if self._resilience is None:
            with self._state_lock:
                if self._resilience is None:
                    target = self.target
                    self._resilience = Resilience(
                        target=target,
                        retry=self._retry,
                        breaker=None
                        if self._breaker_policy is None
                        else CircuitBreaker(
                            self._breaker_policy,
                            name=f"mcp:{target}",
                            is_failure=_counts_as_failure,
                        ),
                        budget=None
                        if self._budget_policy is None
                        else RetryBudget(self._budget_policy),
                        hooks=(
                            self._stats,
                            *((LoggingHook(),) if self._hooks is None else self._hooks),
                            *self._plugins,
                        ),
                        protocol="mcp",
                    )
        return self._resilience

    # -- negotiated state (connects on first access) -----------------------------------------

    @property
    def server_info(self) -> Implementation:
        """The server's name and version."""
        return self._live(None).server_info

    @property
    def capabilities(self) -> ServerCapabilities:
        """The server's capabilities."""
        return self._live(None).capabilities

    @property
    def instructions(self) -> str | None:
        """The server's instructions, or None."""
        return self._live(None).instructions

    @property
    def protocol_version(self) -> str:
        """The negotiated protocol version (e.g. ``"2025-11-25"`` or ``"2026-07-28"``)."""
        return self._live(None).protocol_version

    @property
    def era(self) -> str:
        """``"legacy"`` (handshake era) or ``"modern"`` (2026-07-28 envelope)."""
        return self._live(None).era

    @property
    def pid(self) -> int | None:
        """The stdio server's process id (None for other transports or before start)."""
        session = self._session
        return getattr(session.transport, "pid", None) if session is not None else None

    @property
    def stderr_tail(self) -> str:
        """The stdio server's last stderr lines ("" for other transports or before start)."""
        session = self._session
        tail = getattr(session.transport, "stderr_tail", "") if session is not None else ""
        return tail if isinstance(tail, str) else ""

    # -- API ---------------------------------------------------------------------------------

    def ping(self, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT) -> None:
        """Check the server answers (``ping``; ``server/discover`` in the modern era,
        which has no ping). Retried.

        Args:
            timeout: seconds per attempt; None: no limit; default the client's read timeout.

        Raises:
            ReadTimeout: no answer in time. TransportError, MCPError, CircuitOpenError.
        """

        def run(session: Session, timeout_s: float | None) -> None:
            if session.era == "modern":
                session.dispatcher.request(
                    "server/discover",
                    session._envelope({}, {}),
                    timeout_s=timeout_s,
                    context=_ctx(session),
                    cancel_on_timeout=False,
                )
            else:
                session.request("ping", None, timeout_s=timeout_s)

        self._run("ping", run, retryable=True, timeout=timeout)

    def list_tools(
        self, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT
    ) -> Listing[Tool]:
        """All tools (follows ``nextCursor`` to the end). Retried.

        Args:
            timeout: seconds per page and attempt; None: no limit; default the client's.

        Returns:
            A :class:`Listing` of :class:`Tool` with the server's cache hints.

        Raises:
            MCPError, TransportError, ReadTimeout, ProtocolError, CircuitOpenError.
        """
        listing = self._paginate("tools/list", "tools", Tool.from_wire, timeout)
        return self._store_tools(listing, self._session)

    def _store_tools(self, listing: Listing[Tool], session: Session | None) -> Listing[Tool]:
        """Remember the tools (annotations, schemas) for later calls. On Streamable HTTP in
        the modern era, tools with invalid ``x-mcp-header`` annotations are dropped first
        (MCP 2026-07-28: the client MUST exclude them from tools/list)."""
        if session is not None and _mirrors_headers(session):
            kept = tuple(t for t in listing if self._valid_header_annotations(t))
            if len(kept) != len(listing):
                listing = Listing(kept, listing.ttl_ms, listing.cache_scope)
        with self._state_lock:
            self._tools = {tool.name: tool for tool in listing}
        return listing

    def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        idempotent: bool | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> CallToolResult:
        """Call a tool and return its result (MCP server/tools "Calling Tools").

        An unknown tool or bad arguments come back as the server answers: an ``is_error``
        result or an :class:`~syncclients.errors.MCPError` (e.g. -32602). On a timeout or
        KeyboardInterrupt the request is cancelled on the server.

        Args:
            name: the tool name.
            arguments: the arguments object; None: ``{}``.
            timeout: seconds per attempt to wait for the result; None: no limit; default the
                client's read timeout.
            on_progress: receives :class:`~syncclients.mcp.types.Progress` updates.
            idempotent: True: safe to retry; False: never retried; None: retried only when
                the tool (as last listed) is annotated ``readOnlyHint`` or
                ``idempotentHint``.
            meta: extra ``_meta`` keys for the request.

        Returns:
            The :class:`CallToolResult` (check ``is_error``).

        Raises:
            ToolArgumentsError: ``validate_arguments`` is on and the arguments do not match
                the input schema (nothing was sent).
            ToolOutputError: ``validate_output`` is on and the result's structured content
                is missing or does not match the tool's output schema.
            MCPError: the server answered with a JSON-RPC error.
            ReadTimeout: no result in time. TransportError (ServerExitedError),
                CircuitOpenError, ProtocolError.
        """
        return self._call_tool(
            name,
            arguments,
            timeout=timeout,
            on_progress=on_progress,
            idempotent=idempotent,
            meta=meta,
        )

    def _call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        on_progress: ProgressCallback | None = None,
        idempotent: bool | None = None,
        meta: Mapping[str, Any] | None = None,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        on_attempt: Callable[[int], None] | None = None,
    ) -> CallToolResult:
        if not isinstance(name, str) or not name:
            raise UsageError(f"tool name must be a non-empty string, got {name!r}")
        if arguments is not None and not isinstance(arguments, Mapping):
            raise UsageError("arguments must be a mapping (a JSON object)")
        args = dict(arguments or {})
        tool = self._tools.get(name)
        if self.validate_arguments:
            if tool is None:
                tool = {t.name: t for t in self.list_tools()}.get(name)
            if tool is not None:
                _validate(tool, args)
        retryable = (
            idempotent
            if idempotent is not None
            else bool(tool is not None and tool.annotations.safe_to_retry)
        )
        params = {"name": name, "arguments": args}

        def run(session: Session, timeout_s: float | None) -> CallToolResult:
            headers = None
            if _mirrors_headers(session):
                # Streamable HTTP, modern era: the tool's x-mcp-header parameters must be
                # known to send its Mcp-Param-* headers; list the tools once if needed
                known = tool or self._tools.get(name)
                if known is None and not self._tools:
                    listing = self._fetch_listing(
                        session, "tools/list", "tools", Tool.from_wire, timeout_s
                    )
                    known = {t.name: t for t in self._store_tools(listing, session)}.get(name)
                if known is None and name in self._rejected_tools:
                    raise UsageError(
                        f"tool {name!r} is excluded from tools/list: its x-mcp-header "
                        "annotations are invalid (MCP 2026-07-28 Streamable HTTP)"
                    )
                if known is not None:
                    headers = param_headers(header_specs(known.input_schema), args)
            try:
                raw = session.request(
                    "tools/call", params, timeout_s=timeout_s, on_progress=on_progress,
                    meta=meta, headers=headers,
                )  # fmt: skip
            except MCPError as exc:
                if exc.code != HEADER_MISMATCH or not _mirrors_headers(session):
                    raise
                # MCP 2026-07-28 Streamable HTTP: -32020 means the Mcp-Param-* headers do not
                # match what the server expects (its tool changed since we listed it). The
                # server rejected the request before running it, so re-list the tools and
                # retry once with fresh headers (a SHOULD); a second -32020 is raised.
                listing = self._fetch_listing(
                    session, "tools/list", "tools", Tool.from_wire, timeout_s
                )
                known = {t.name: t for t in self._store_tools(listing, session)}.get(name)
                headers = param_headers(header_specs(known.input_schema), args) if known else None
                raw = session.request(
                    "tools/call", params, timeout_s=timeout_s, on_progress=on_progress,
                    meta=meta, headers=headers,
                )  # fmt: skip
            return CallToolResult.from_wire(raw)

        def fetch() -> tuple[CallToolResult, float | None]:
            result = self._run(
                f"tools/call {name}",
                run,
                retryable=retryable,
                timeout=timeout,
                deadline_s=deadline_s,
                on_attempt=on_attempt,
            )
            return result, (0.0 if result.is_error else None)  # errors are never kept

        key = self._tool_cache_key(tool, name, args) if meta is None else None
        result = fetch()[0] if key is None else self._cache.get_or_compute(key, fetch)
        if self.validate_output and not result.is_error:
            known = self._tools.get(name) or {t.name: t for t in self.list_tools()}.get(name)
            if known is not None:
                validate_structured_content(known, result, target=self.target)
        return result

    def call_tool_batch(
        self,
        calls: Iterable[tuple[str, Mapping[str, Any] | None]],
        *,
        max_workers: int = 8,
        timeout: float | None = None,
        deadline: float | None = None,
        fail_fast: bool = False,
        on_progress: Callable[[BatchProgress], None] | None = None,
        progress: bool = False,
        executor: Executor | None = None,
    ) -> list[BatchOutcome[CallToolResult]]:
        """Call many tools concurrently on this server; one outcome per call, in order.

        Each call runs as :meth:`call_tool` would (retried only when safe, under the
        breaker and retry budget), on a thread pool of ``max_workers`` (or ``executor``).
        A failing call never loses the others: its outcome carries the error. A tool that
        answers ``isError`` is a failed call (status ``"tool_error"``, ``ok`` False, counted
        as failed by progress and ``fail_fast``) whose ``result`` is kept. On Ctrl-C, calls
        already sent are cancelled on the server (``notifications/cancelled``) and reported
        as ``"interrupted"`` (:class:`~syncclients.errors.CallInterruptedError`, outcome
        unknown); only calls never started are ``"cancelled"``.

        Args:
            calls: ``(tool_name, arguments)`` pairs (arguments a mapping or None).
            max_workers: the most calls in flight at once.
            timeout: seconds each call may take, all its attempts included; None: the
                client's per-attempt read timeout only.
            deadline: seconds the whole batch may take from now; calls still running then
                time out on their own (and are cancelled on the server), calls not started
                get :class:`~syncclients.errors.DeadlineExceeded`. None: no deadline.
            fail_fast: after the first failed call, start no new ones (they get
                :class:`~syncclients.errors.CallCancelledError`).
            on_progress: called on this thread after each call finishes
                (:class:`~syncclients.batch.BatchProgress`).
            progress: show a tqdm progress bar on stderr (extra ``progress``).
            executor: run on this executor (not shut down here) instead of a new pool.

        Returns:
            A list of :class:`~syncclients.batch.BatchOutcome` in input order: ``.ok``,
            ``.result`` (:class:`CallToolResult`), ``.error``, ``.attempts``,
            ``.duration_s``, ``.status``.

        Raises:
            BatchInterrupted: Ctrl-C; carries the outcomes so far.
            UsageError: malformed ``calls`` or arguments (before anything is sent).
        """
        items = [_check_call(call) for call in calls]

        def one(item: tuple[str, Mapping[str, Any] | None], call: BatchCall) -> CallToolResult:
            return self._call_in_batch(item[0], item[1], call)

        return run_batch(
            one,
            items,
            max_workers=max_workers,
            timeout=timeout,
            deadline=deadline,
            fail_fast=fail_fast,
            on_progress=on_progress,
            progress=progress,
            executor=executor,
            description=f"{self.target} tools/call",
            result_failed=tool_failed,
        )

    def _call_in_batch(
        self, name: str, arguments: Mapping[str, Any] | None, call: BatchCall
    ) -> CallToolResult:
        """One ``tools/call`` of a batch: bounded by the batch's time for it, attempts
        reported back to the batch (also used by :class:`~syncclients.mcp.group.MCPGroup`).
        Each request it sends is registered with the batch, so Ctrl-C cancels it on the
        server; after Ctrl-C no new attempt starts."""

        def count(attempt: int) -> None:
            if call.interrupted:
                raise CallInterruptedError(
                    f"{self.target} tools/call {name}: interrupted before attempt {attempt}",
                    target=self.target,
                )
            call.attempts = attempt

        with report_sent_requests(call.on_interrupt):
            return self._call_tool(name, arguments, deadline_s=call.timeout_s, on_attempt=count)

    def metrics(self) -> MCPClientMetrics:
        """A snapshot of this client's counters since it was created, as
        :meth:`HTTPClient.metrics() <syncclients.HTTPClient.metrics>` gives (calls, errors,
        attempts, retries, rejections, latency percentiles in seconds, breaker, retry
        budget) plus the cache and the notification-flood counters (see
        :class:`~syncclients.mcp.metrics.MCPClientMetrics`). Never connects."""
        return build_metrics(
            self._stats, self.resilience, self._cache.stats(), self._dispatch_stats
        )

    def cache_stats(self) -> CacheStats:
        """Hits, misses, size and invalidations of this client's cache (lists, reads and
        tool results)."""
        return self._cache.stats()

    def invalidate_cache(self, tool: str | None = None) -> int:
        """Drop cached entries: every cached result of ``tool``, or everything (None).

        Returns:
            How many entries were removed.
        """
        if tool is None:
            return self._cache.invalidate()
        return self._cache.invalidate(lambda key: key[:2] == ("tool", tool))

    def _valid_header_annotations(self, tool: Tool) -> bool:
        try:
            header_specs(tool.input_schema)
        except InvalidHeaderAnnotation as exc:
            if tool.name not in self._rejected_tools:
                self._rejected_tools.add(tool.name)
                logger.warning(
                    "%s: tool %r dropped: invalid x-mcp-header annotation (%s)",
                    self.target, tool.name, exc,
                )  # fmt: skip
            return False
        return True

    def _tool_cache_key(
        self, tool: Tool | None, name: str, arguments: Mapping[str, Any]
    ) -> tuple[str, ...] | None:
        if not self.cache_tool_results or tool is None or not tool.annotations.read_only_hint:
            return None
        try:
            canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            return None  # not JSON: the request will fail on its own; never cache it
        return ("tool", name, canonical)

    def list_resources(
        self, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT
    ) -> Listing[Resource]:
        """All resources (follows cursors). Retried. Raises as :meth:`list_tools`."""
        return self._paginate("resources/list", "resources", Resource.from_wire, timeout)

    def list_resource_templates(
        self, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT
    ) -> Listing[ResourceTemplate]:
        """All resource templates (follows cursors). Retried. Raises as :meth:`list_tools`."""
        return self._paginate(
            "resources/templates/list", "resourceTemplates", ResourceTemplate.from_wire, timeout
        )

    def read_resource(
        self, uri: str, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT
    ) -> ReadResourceResult:
        """Read a resource. Retried.

        Args:
            uri: the resource URI.
            timeout: seconds per attempt; None: no limit; default the client's.

        Returns:
            The contents with cache hints.

        Raises:
            MCPError: e.g. -32002 (handshake era) / -32602 (modern) for a missing resource.
            TransportError, ReadTimeout, ProtocolError, CircuitOpenError.
        """

        def run(session: Session, timeout_s: float | None) -> ReadResourceResult:
            raw = session.request("resources/read", {"uri": uri}, timeout_s=timeout_s)
            return ReadResourceResult.from_wire(raw)

        def fetch() -> tuple[ReadResourceResult, float | None]:
            result = self._run("resources/read", run, retryable=True, timeout=timeout)
            return result, _hint_ttl_s(result.ttl_ms)

        if not self.cache_lists:
            return fetch()[0]
        cached: ReadResourceResult = self._cache.get_or_compute(("read", uri), fetch)
        return cached

    def subscribe_resource(
        self, uri: str, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT
    ) -> None:
        """Ask for ``notifications/resources/updated`` about ``uri``; they reach
        ``on_notification`` and evict the cached read of ``uri``.

        Handshake era: ``resources/subscribe``. Modern era (2026-07-28, which has no
        resources/subscribe): one ``subscriptions/listen`` request kept open on a background
        thread, re-sent with the new filter (which also asks for tools, prompts and
        resources list_changed); returns once the server acknowledged it.

        Args:
            uri: the resource URI.
            timeout: seconds to wait for the answer or acknowledgement; None: no limit.

        Raises:
            MCPError, TransportError, ReadTimeout.
        """
        session = self._live(None)
        if session.era != "modern":
            self._simple("resources/subscribe", {"uri": uri}, timeout, legacy_only=True)
            return
        with self._listen_lock:
            self._listen_uris.add(uri)
            self._relisten(session, timeout)

    def unsubscribe_resource(
        self, uri: str, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT
    ) -> None:
        """Stop updates about ``uri`` (``resources/unsubscribe``, or a new listen filter in
        the modern era; the listen request ends when no URI is left). Raises as
        :meth:`subscribe_resource`."""
        session = self._live(None)
        if session.era != "modern":
            self._simple("resources/unsubscribe", {"uri": uri}, timeout, legacy_only=True)
            return
        with self._listen_lock:
            self._listen_uris.discard(uri)
            self._relisten(session, timeout)

    def _relisten(self, session: Session, timeout: float | UseClientDefault | None) -> None:
        """Replace the modern-era listen request by one with the current filter (lock held)."""
        old, self._listener = self._listener, None
        if old is not None:
            old.stop()
        if not self._listen_uris:
            return
        listener = Listener(
            session,
            {
                "toolsListChanged": True,
                "promptsListChanged": True,
                "resourcesListChanged": True,
                "resourceSubscriptions": sorted(self._listen_uris),
            },
        )
        self._listener = listener
        wait_s = self.timeouts.read_s if isinstance(timeout, UseClientDefault) else timeout
        try:
            listener.start(wait_s)
        except BaseException:
            self._listener = None
            raise

    def list_prompts(
        self, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT
    ) -> Listing[Prompt]:
        """All prompts (follows cursors). Retried. Raises as :meth:`list_tools`."""
        return self._paginate("prompts/list", "prompts", Prompt.from_wire, timeout)

    def get_prompt(
        self,
        name: str,
        arguments: Mapping[str, str] | None = None,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> GetPromptResult:
        """Render a prompt. Retried.

        Args:
            name: the prompt name.
            arguments: string arguments; None: none.
            timeout: seconds per attempt; None: no limit; default the client's.

        Raises:
            MCPError, TransportError, ReadTimeout, ProtocolError, CircuitOpenError.
        """
        params: dict[str, Any] = {"name": name}
        if arguments:
            params["arguments"] = dict(arguments)

        def run(session: Session, timeout_s: float | None) -> GetPromptResult:
            return GetPromptResult.from_wire(
                session.request("prompts/get", params, timeout_s=timeout_s)
            )

        return self._run(f"prompts/get {name}", run, retryable=True, timeout=timeout)

    def complete(
        self,
        *,
        argument: str,
        value: str,
        prompt: str | None = None,
        resource_template: str | None = None,
        context_arguments: Mapping[str, str] | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Completion:
        """Ask for completions of a prompt or resource-template argument. Retried.

        Args:
            argument: the argument's name.
            value: what the user typed so far.
            prompt: the prompt name (exactly one of ``prompt`` / ``resource_template``).
            resource_template: the template URI.
            context_arguments: already-resolved arguments.
            timeout: seconds per attempt; None: no limit; default the client's.

        Raises:
            UsageError: not exactly one of ``prompt`` / ``resource_template``.
            MCPError, TransportError, ReadTimeout, ProtocolError.
        """
        if (prompt is None) == (resource_template is None):
            raise UsageError("pass exactly one of prompt= or resource_template=")
        ref = (
            {"type": "ref/prompt", "name": prompt}
            if prompt is not None
            else {"type": "ref/resource", "uri": resource_template}
        )
        params: dict[str, Any] = {"ref": ref, "argument": {"name": argument, "value": value}}
        if context_arguments:
            params["context"] = {"arguments": dict(context_arguments)}

        def run(session: Session, timeout_s: float | None) -> Completion:
            return Completion.from_wire(
                session.request("completion/complete", params, timeout_s=timeout_s)
            )

        return self._run("completion/complete", run, retryable=True, timeout=timeout)

    def set_logging_level(
        self, level: str, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT
    ) -> None:
        """Set the lowest server log level delivered to ``on_log``.

        Handshake era: ``logging/setLevel``, sent only when the server advertises the
        ``logging`` capability (otherwise nothing is sent). Modern era: sent as ``_meta``
        ``logLevel`` on every later request (logging is opt-in per request there).

        Args:
            level: one of debug, info, notice, warning, error, critical, alert, emergency.

        Raises:
            UsageError: an unknown level. MCPError, TransportError, ReadTimeout.
        """
        if level not in LOG_LEVELS:
            raise UsageError(f"level must be one of {LOG_LEVELS}, got {level!r}")
        self._log_level = level
        session = self._live(None)
        session.log_level = level
        if session.era == "legacy" and session.capabilities.logging:
            self._simple("logging/setLevel", {"level": level}, timeout, legacy_only=True)

    # -- internals ---------------------------------------------------------------------------

    def _live(self, ctx: AttemptContext | None) -> Session:
        session = self._session
        if session is not None and session.dispatcher.lost is None:
            return session
        # One handshake at a time; callers arriving meanwhile wait on it with their own
        # bound instead of queueing on a lock (each fails within its own connect timeout).
        bound = connect_bound(
            self.timeouts.connect_s,
            None if ctx is None else ctx.remaining_s(),
            target=self.target,
        )
        end = None if bound is None else time.monotonic() + bound
        while True:
            with self._state_lock:
                if self._closed:
                    raise UsageError(f"MCPClient for {self.target!r} is closed")
                session = self._session
                if session is not None and session.dispatcher.lost is None:
                    return session
                handshake = self._handshake
                leader = handshake is None
                if handshake is None:
                    handshake = self._handshake = Handshake()
            if leader:
                return self._connect(session, handshake, bound)
            left = None if end is None else max(0.0, end - time.monotonic())
            handshake.wait(left, target=self.target)
            error = handshake.error
            if (
                error is None  # connected
                or not isinstance(error, Exception)  # its caller was interrupted (Ctrl-C)
                or (isinstance(error, Timeout) and (end is None or end - time.monotonic() > 0.01))
            ):
                continue  # (after a timeout of the other caller's bound, we have time left)
            raise copy.copy(error)

    def _connect(
        self, lost_session: Session | None, handshake: Handshake[Session], bound: float | None
    ) -> Session:
        """Run the handshake ``handshake`` stands for (this caller leads it)."""
        session: Session | None = None
        try:
            if lost_session is not None:
                self._retire(lost_session)
            session = Session(
                self._factory(),
                callbacks=self._callbacks,
                client_info=self._client_info,
                era=self._era,
                on_notification=self._internal_notification,
                input_required_max_rounds=self._max_rounds,
                dispatch_stats=self._dispatch_stats,
            )
            session.log_level = self._log_level
            with self._state_lock:
                if self._closed:
                    raise UsageError(f"MCPClient for {self.target!r} is closed")
                self._opening = session
            started = time.monotonic()
            try:
                session.open(bound)
            except ReadTimeout as exc:
                limit = "" if bound is None else f" (connect time limit {bound:.3f} s)"
                raise ConnectTimeout(
                    f"{exc}: the MCP handshake did not finish{limit}",
                    timeout_s=bound,
                    target=session.target,
                ) from exc
            finally:
                with self._state_lock:
                    self._opening = None
            self._maybe_batch(session)
            with self._state_lock:
                if self._closed:
                    session.close()
                    raise UsageError(f"MCPClient for {self.target!r} is closed")
                self._session = session
                self._session_started = started
        except BaseException as exc:
            handshake.finish(None, exc)
            raise
        finally:
            with self._state_lock:
                if self._handshake is handshake:
                    self._handshake = None
        handshake.finish(session, None)
        return session

    def _retire(self, session: Session) -> None:
        """Close a lost session before a new one is opened, or raise its loss.

        A lost HTTP session is always renewed (MCP transports "Session Management": start a
        new session). A server process that exited is restarted unless
        ``restart_on_exit=False``, paced by :class:`~.connecting.RestartPacer`.

        Raises:
            TransportError: the loss, when the server is not restarted (now).
        """
        lost = session.dispatcher.lost
        assert lost is not None
        if not isinstance(lost, SessionExpiredError):
            if not self.restart_on_exit:
                raise copy.copy(lost)
            wait_s = self._pacer.wait_s(time.monotonic() - self._session_started)
            if wait_s > 0:
                error = copy.copy(lost)
                error.message = (
                    f"{lost.message} (not restarted yet: restart {self._pacer.consecutive + 1}"
                    f" in a row is paced, next in {wait_s:.1f} s)"
                )
                error.args = (error.message,)
                raise error
            self._pacer.restarted()
        logger.info("%s: server connection lost (%s); restarting", session.target, lost)
        session.close()
        with self._state_lock:
            if self._session is session:
                self._session = None

    def _maybe_batch(self, session: Session) -> None:
        """Coalesce concurrent requests into JSON-RPC batches when asked for and allowed:
        the session negotiated 2025-03-26 (the only version with batches) over a transport
        that can send them."""
        size = self.jsonrpc_batch_size
        send_batch = getattr(session.transport, "send_batch", None)
        if size >= 2 and session.protocol_version == BATCH_VERSION and send_batch is not None:
            session.dispatcher.batcher = JsonRpcBatcher(session.transport.send, send_batch, size)

    def _internal_notification(self, message: Notification) -> None:
        listener = self._listener
        if listener is not None:
            listener.on_notification(message)
        method = message.method
        if method == "notifications/tools/list_changed":
            with self._state_lock:
                self._tools = {}
        lists = _LIST_CHANGED.get(method)
        if lists:
            self._cache.invalidate(lambda key: key[0] == "list" and key[1] in lists)
        elif method == "notifications/resources/updated":
            params = message.params if isinstance(message.params, Mapping) else {}
            uri = params.get("uri")
            if isinstance(uri, str):
                self._cache.invalidate(("read", uri))

    def _attempt_timeout(
        self, timeout: float | UseClientDefault | None, ctx: AttemptContext
    ) -> float | None:
        limit = self.timeouts.read_s if isinstance(timeout, UseClientDefault) else timeout
        if limit is not None and (isinstance(limit, bool) or limit <= 0):
            raise UsageError(f"timeout must be > 0 seconds or None, got {limit!r}")
        remaining = ctx.remaining_s()
        if remaining is not None:
            limit = max(remaining, 0.001) if limit is None else min(limit, max(remaining, 0.001))
        return limit

    def _run(
        self,
        operation: str,
        fn: Callable[[Session, float | None], T],
        *,
        retryable: bool,
        timeout: float | UseClientDefault | None,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        on_attempt: Callable[[int], None] | None = None,
    ) -> T:
        def attempt(ctx: AttemptContext) -> T:
            if on_attempt is not None:
                on_attempt(ctx.attempt)
            timeout_s = self._attempt_timeout(timeout, ctx)
            return fn(self._live(ctx), timeout_s)

        def classify(exc: BaseException) -> bool:
            if isinstance(exc, SessionExpiredError):
                return retryable  # a new session is started on the next attempt
            if isinstance(exc, ServerExitedError):
                return retryable and self.restart_on_exit
            if isinstance(exc, ConnectTimeout):
                return False  # the connect timeout bounds the connect: no fresh process
            if isinstance(exc, ConnectError):
                return True  # nothing was sent
            return retryable and isinstance(exc, ConnectionLostError | ReadTimeout)

        started = time.monotonic()
        ok = False
        try:
            result = self.resilience.call(
                attempt, operation=operation, retryable=classify, deadline_s=deadline_s
            )
            ok = True
            return result
        finally:
            self._stats.finish(ok, time.monotonic() - started)

    def _paginate(
        self,
        method: str,
        key: str,
        parse: Callable[[Any], T],
        timeout: float | UseClientDefault | None,
    ) -> Listing[T]:
        def run(session: Session, timeout_s: float | None) -> Listing[T]:
            return self._fetch_listing(session, method, key, parse, timeout_s)

        def fetch() -> tuple[Listing[T], float | None]:
            listing = self._run(method, run, retryable=True, timeout=timeout)
            return listing, _hint_ttl_s(listing.ttl_ms)

        if not self.cache_lists:
            return fetch()[0]
        result: Listing[T] = self._cache.get_or_compute(("list", method), fetch)
        return result

    @staticmethod
    def _fetch_listing(
        session: Session,
        method: str,
        key: str,
        parse: Callable[[Any], T],
        timeout_s: float | None,
    ) -> Listing[T]:
        """Every page of a list method (MCP pagination: ``cursor`` / ``nextCursor``)."""
        items: list[T] = []
        ttls: list[int] = []
        scope: str | None = None
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            raw = session.request(
                method, {"cursor": cursor} if cursor else None, timeout_s=timeout_s
            )
            page = raw.get(key)
            if not isinstance(page, list):
                raise ProtocolError(
                    f"{session.target} {method}: result has no {key!r} list",
                    target=session.target,
                )
            items.extend(parse(item) for item in page)
            ttl, page_scope = cache_hints(raw)
            if ttl is not None:
                ttls.append(ttl)
            scope = page_scope or scope
            nxt = raw.get("nextCursor")
            if not isinstance(nxt, str) or not nxt:
                break
            if nxt in seen:
                raise ProtocolError(
                    f"{session.target} {method}: the server repeated cursor {nxt!r}",
                    target=session.target,
                )
            seen.add(nxt)
            cursor = nxt
        return Listing(tuple(items), min(ttls) if ttls else None, scope)

    def _simple(
        self,
        method: str,
        params: dict[str, Any],
        timeout: float | UseClientDefault | None,
        *,
        legacy_only: bool,
    ) -> None:
        def run(session: Session, timeout_s: float | None) -> None:
            if legacy_only and session.era == "modern":
                raise UsageError(f"{method} does not exist in the modern MCP era (2026-07-28)")
            session.request(method, params, timeout_s=timeout_s)

        self._run(method, run, retryable=True, timeout=timeout)


#: list_changed notifications and the list methods whose cached results they evict.
_LIST_CHANGED: dict[str, tuple[str, ...]] = {
    "notifications/tools/list_changed": ("tools/list",),
    "notifications/prompts/list_changed": ("prompts/list",),
    "notifications/resources/list_changed": ("resources/list", "resources/templates/list"),
}


def tool_failed(result: CallToolResult) -> bool:
    """A batch's ``result_failed`` for ``tools/call``: the tool answered ``isError``."""
    return result.is_error


#: JSON-RPC error of a modern-era server whose Mcp-* headers do not match the body.
HEADER_MISMATCH = -32020


def _mirrors_headers(session: Session) -> bool:
    """Whether ``Mcp-Param-*`` headers apply: Streamable HTTP in the modern era."""
    return session.era == "modern" and session.transport.mirrors_param_headers


def _hint_ttl_s(ttl_ms: int | None) -> float:
    """Seconds a result with cache hint ``ttl_ms`` may be kept (0: not at all)."""
    return 0.0 if ttl_ms is None else ttl_ms / 1000.0


def _check_call(call: Any) -> tuple[str, Mapping[str, Any] | None]:
    """Validate one ``(tool_name, arguments)`` pair of a batch."""
    if not isinstance(call, tuple | list) or len(call) != 2:
        raise UsageError(f"each call must be a (tool_name, arguments) pair, got {call!r}")
    name, arguments = call
    if not isinstance(name, str) or not name:
        raise UsageError(f"tool name must be a non-empty string, got {name!r}")
    if arguments is not None and not isinstance(arguments, Mapping):
        raise UsageError(f"arguments for {name!r} must be a mapping or None")
    return name, arguments


def _ctx(session: Session) -> SendContext:
    return SendContext(protocol_version=session.protocol_version, modern=session.era == "modern")
