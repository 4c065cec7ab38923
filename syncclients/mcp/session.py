"""One MCP connection's protocol state: era negotiation, the request envelope, callbacks.

Two eras (mcp-protocol.md section 1):

- handshake era (2024-11-05 .. 2025-11-25): ``initialize`` then
  ``notifications/initialized``; capabilities travel once; the server may send requests
  (sampling, elicitation, roots, ping) during a call.
- modern era (2026-07-28): no handshake; every request carries the ``_meta`` envelope
  (protocol version, client capabilities, client info, optional log level); a call may
  answer ``resultType: "input_required"`` and is retried with ``inputResponses`` and the
  exact ``requestState`` (at most :data:`INPUT_REQUIRED_MAX_ROUNDS` rounds).

Auto negotiation probes ``server/discover`` like the official client and caches the verdict
per transport key (per origin for HTTP, per launch spec for stdio) in this process.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import (
    InputRequiredLimitError,
    MCPError,
    ProtocolError,
    ReadTimeout,
    UnsupportedProtocolVersionError,
    UsageError,
    excerpt,
)
from .dispatcher import Dispatcher, DispatchStats
from .messages import METHOD_NOT_FOUND, Notification
from .transport import SendContext, Transport
from .types import (
    CreateMessageRequest,
    CreateMessageResult,
    ElicitRequest,
    ElicitResult,
    Implementation,
    LogMessage,
    Progress,
    Root,
    ServerCapabilities,
    ServerNotification,
)

__all__ = [
    "DISCOVER_TIMEOUT_S",
    "HANDSHAKE_VERSIONS",
    "INPUT_REQUIRED_MAX_ROUNDS",
    "LATEST_HANDSHAKE_VERSION",
    "LATEST_MODERN_VERSION",
    "MODERN_VERSIONS",
    "Callbacks",
    "Era",
    "Session",
    "clear_era_cache",
]

logger = logging.getLogger("syncclients.mcp")

HANDSHAKE_VERSIONS: tuple[str, ...] = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS: tuple[str, ...] = ("2026-07-28",)
LATEST_HANDSHAKE_VERSION = HANDSHAKE_VERSIONS[-1]
LATEST_MODERN_VERSION = MODERN_VERSIONS[-1]
#: The ``server/discover`` probe's own time limit, in seconds (as the official client).
DISCOVER_TIMEOUT_S = 10.0
#: Input-required rounds before giving up (the official clients use 10).
INPUT_REQUIRED_MAX_ROUNDS = 10
#: Methods whose result may be ``input_required`` (2026-07-28).
INPUT_REQUIRED_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
#: The params key that names the target of a request (the ``Mcp-Name`` header).
NAME_KEYS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}

META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

#: ``"auto"``, ``"legacy"`` (the handshake era) or a modern version such as "2026-07-28".
Era = str

_verdicts: dict[str, str] = {}
_verdicts_lock = threading.Lock()


def clear_era_cache() -> None:
    """Forget every cached era verdict (the next auto negotiation probes again)."""
    with _verdicts_lock:
        _verdicts.clear()


def _cached_verdict(key: str | None) -> str | None:
    if key is None:
        return None
    with _verdicts_lock:
        return _verdicts.get(key)


def _remember_verdict(key: str | None, verdict: str) -> None:
    if key is not None:
        with _verdicts_lock:
            _verdicts[key] = verdict


SamplingCallback = Callable[[CreateMessageRequest], "CreateMessageResult | Mapping[str, Any]"]
ElicitationCallback = Callable[[ElicitRequest], "ElicitResult | Mapping[str, Any]"]
RootsCallback = Callable[[], "Sequence[Root | str | Mapping[str, Any]]"]
LoggingCallback = Callable[[LogMessage], None]
ProgressCallback = Callable[[Progress], None]
NotificationCallback = Callable[[ServerNotification], None]


@dataclass(frozen=True, slots=True)
class Callbacks:
    """Plain functions the client calls on its worker threads (never the reader thread).

    The client declares exactly the capabilities these imply (MCP client features).

    Attributes:
        sampling: answers ``sampling/createMessage``; returns a CreateMessageResult or the
            wire dict. Declares ``sampling``.
        elicitation: answers ``elicitation/create`` (form and URL modes); returns an
            ElicitResult or the wire dict. Declares ``elicitation`` with the
            ``elicitation_modes``.
        roots: returns the roots (Root, a ``file://`` URI string, or a wire dict). Declares
            ``roots`` (with ``listChanged``).
        logging: receives ``notifications/message``.
        progress: receives progress of calls that have no per-call ``on_progress``.
        notification: receives every other notification (``*/list_changed``,
            ``notifications/resources/updated``, ``notifications/elicitation/complete``).
        elicitation_modes: the elicitation modes declared, ``("form", "url")`` by default.
    """

    sampling: SamplingCallback | None = None
    elicitation: ElicitationCallback | None = None
    roots: RootsCallback | None = None
    logging: LoggingCallback | None = None
    progress: ProgressCallback | None = None
    notification: NotificationCallback | None = None
    elicitation_modes: tuple[str, ...] = ("form", "url")

    def capabilities(self) -> dict[str, Any]:
        """The ``ClientCapabilities`` object these callbacks imply."""
        caps: dict[str, Any] = {}
        if self.sampling is not None:
            caps["sampling"] = {}
        if self.elicitation is not None:
            caps["elicitation"] = {mode: {} for mode in self.elicitation_modes}
        if self.roots is not None:
            caps["roots"] = {"listChanged": True}
        return caps


@dataclass(slots=True)
class _State:
    era: Literal["legacy", "modern"] = "legacy"
    protocol_version: str = ""
    server_info: Implementation = field(default_factory=lambda: Implementation("", ""))
    capabilities: ServerCapabilities = field(default_factory=ServerCapabilities)
    instructions: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class Session:
    """The protocol state of one connection (one transport). Thread-safe after :meth:`open`.

    Args:
        transport: the connection, not started.
        callbacks: the client's callbacks (and so its declared capabilities).
        client_info: ``{"name": ..., "version": ...}`` sent to the server.
        era: ``"auto"``, ``"legacy"`` or a modern version ("2026-07-28").
        on_notification: an internal hook called before the user's callbacks (cache
            invalidation), on the notification thread.
        request_workers: threads that run server-request callbacks.
        input_required_max_rounds: the most ``input_required`` rounds per call.
        dispatch_stats: where the dispatcher counts dropped notifications and rejected
            server requests (a client shares one across its sessions); None: a new one.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        callbacks: Callbacks,
        client_info: Mapping[str, Any],
        era: Era = "auto",
        on_notification: Callable[[Notification], None] | None = None,
        request_workers: int = 4,
        input_required_max_rounds: int = INPUT_REQUIRED_MAX_ROUNDS,
        dispatch_stats: DispatchStats | None = None,
    ) -> None:
        if era not in ("auto", "legacy") and era not in MODERN_VERSIONS:
            raise UsageError(
                f"era must be 'auto', 'legacy' or one of {list(MODERN_VERSIONS)}, got {era!r}"
            )
        self.transport = transport
        self.target = transport.target
        self.callbacks = callbacks
        self.client_info = dict(client_info)
        self.era_choice = era
        self.max_rounds = input_required_max_rounds
        self.log_level: str | None = None
        self._hook = on_notification
        self._state = _State()
        self._tokens = itertools.count(1)
        self.dispatcher = Dispatcher(
            transport,
            on_request=self.handle_server_request,
            on_notification=self._on_notification,
            request_workers=request_workers,
            stats=dispatch_stats,
        )

    # -- negotiated state ------------------------------------------------------------------

    @property
    def era(self) -> Literal["legacy", "modern"]:
        """``"legacy"`` (handshake era) or ``"modern"`` (per-request envelope)."""
        return self._state.era

    @property
    def protocol_version(self) -> str:
        """The negotiated protocol version."""
        return self._state.protocol_version

    @property
    def server_info(self) -> Implementation:
        """The server's name and version."""
        return self._state.server_info

    @property
    def capabilities(self) -> ServerCapabilities:
        """The server's capabilities."""
        return self._state.capabilities

    @property
    def instructions(self) -> str | None:
        """The server's instructions for the model, or None."""
        return self._state.instructions

    @property
    def negotiation_result(self) -> Mapping[str, Any]:
        """The raw ``initialize`` or ``server/discover`` result."""
        return self._state.raw

    # -- lifecycle -------------------------------------------------------------------------

    def open(self, timeout_s: float | None) -> None:
        """Start the transport and negotiate the era (mcp-protocol.md section 1).

        Args:
            timeout_s: the most seconds for start and negotiation together; None: no limit
                (the discover probe keeps its own 10 s limit).

        Raises:
            ConnectError: the transport could not start.
            UnsupportedProtocolVersionError: no protocol version is shared.
            MCPError: the server rejected the handshake.
            TransportError: the connection failed (e.g. the server exited at once).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.dispatcher.start()
        try:
            self._negotiate(deadline)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection: fail waiting calls, stop threads and the transport."""
        self.dispatcher.close()

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send a request in the negotiated era and return its final result object.

        In the modern era an ``input_required`` answer is resolved here from the same
        callbacks that answer handshake-era server requests (2026-07-28 multi round-trip).

        Args:
            method: the MCP method.
            params: the params (without envelope), or None.
            timeout_s: the most seconds for the whole exchange, all input rounds included;
                None: no limit.
            on_progress: receives progress notifications for this request (a
                ``progressToken`` is added); None: the client-wide progress callback, if any.
            meta: extra ``_meta`` keys for the request.
            headers: extra HTTP headers for every round of this request (``Mcp-Param-*``);
                ignored by stdio.

        Returns:
            The ``result`` object (``resultType`` "complete").

        Raises:
            ReadTimeout: no final answer within ``timeout_s``.
            MCPError: a JSON-RPC error from the server (or a refused input request).
            InputRequiredLimitError: more than ``input_required_max_rounds`` rounds.
            TransportError: the connection failed.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        base: dict[str, Any] = dict(params or {})
        user_meta = dict(base.pop("_meta", None) or {})
        if meta:
            user_meta.update(meta)
        callback = on_progress or self.callbacks.progress
        token: str | None = None
        if callback is not None:
            token = f"p{next(self._tokens)}"
            user_meta["progressToken"] = token
        progress_fn = None
        if callback is not None:
            cb = callback

            def progress_fn(params: dict[str, Any]) -> None:
                cb(Progress.from_wire(params))

        result = self._send(method, base, user_meta, deadline, token, progress_fn, headers)
        if self.era != "modern" or method not in INPUT_REQUIRED_METHODS:
            return result
        rounds = 0
        delay_s = 0.05
        while result.get("resultType") == "input_required":
            rounds += 1
            if rounds > self.max_rounds:
                raise InputRequiredLimitError(
                    f"{self.target} {method}: the server still needed input after "
                    f"{self.max_rounds} rounds",
                    max_rounds=self.max_rounds,
                    target=self.target,
                )
            requests = result.get("inputRequests")
            retry = dict(base)
            if isinstance(requests, Mapping) and requests:
                delay_s = 0.05
                retry["inputResponses"] = {
                    key: self._answer_input(method, req) for key, req in requests.items()
                }
            else:  # only state: poll with a short bounded backoff, as the official client
                time.sleep(min(delay_s, _remaining(deadline) or delay_s))
                delay_s = min(delay_s * 2, 0.25)
            if "requestState" in result:
                retry["requestState"] = result["requestState"]
            result = self._send(method, retry, user_meta, deadline, token, progress_fn, headers)
        return result

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        """Send a notification in the negotiated era.

        Raises:
            TransportError: the connection is lost.
        """
        payload = dict(params or {})
        modern = self.era == "modern"
        if modern:
            payload = self._envelope(payload, {})
        self.dispatcher.notify(
            method,
            payload or None,
            SendContext(protocol_version=self.protocol_version or None, modern=modern),
        )

    def _send(
        self,
        method: str,
        params: dict[str, Any],
        meta: Mapping[str, Any],
        deadline: float | None,
        token: str | None,
        progress_fn: Callable[[dict[str, Any]], None] | None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        modern = self.era == "modern"
        if modern:
            payload = self._envelope(params, meta)
        else:
            payload = dict(params)
            if meta:
                payload["_meta"] = dict(meta)
        name_key = NAME_KEYS.get(method)
        name = payload.get(name_key) if name_key else None
        remaining = _remaining(deadline)
        if remaining is not None and remaining <= 0:
            raise ReadTimeout(
                f"{self.target} {method}: time limit ran out", timeout_s=0.0, target=self.target
            )
        return self.dispatcher.request(
            method,
            payload or None,
            timeout_s=remaining,
            context=SendContext(
                name=name if isinstance(name, str) else None,
                protocol_version=self.protocol_version or None,
                modern=modern,
                headers=headers or None,
            ),
            progress_token=token,
            on_progress=progress_fn,
        )

    def _envelope(
        self, params: Mapping[str, Any], meta: Mapping[str, Any], version: str | None = None
    ) -> dict[str, Any]:
        out = dict(params)
        envelope = dict(meta)
        envelope[META_PROTOCOL_VERSION] = version or self.protocol_version
        envelope[META_CLIENT_CAPABILITIES] = self.callbacks.capabilities()
        envelope[META_CLIENT_INFO] = self.client_info
        if self.log_level is not None:
            envelope.setdefault(META_LOG_LEVEL, self.log_level)
        out["_meta"] = envelope
        return out

    def _answer_input(self, method: str, request: Any) -> dict[str, Any]:
        if not isinstance(request, Mapping) or not isinstance(request.get("method"), str):
            raise ProtocolError(
                f"{self.target} {method}: malformed input request",
                excerpt=excerpt(repr(request)),
                target=self.target,
            )
        params = request.get("params")
        return self.handle_server_request(
            request["method"], dict(params) if isinstance(params, Mapping) else {}
        )

    # -- negotiation -----------------------------------------------------------------------

    def _negotiate(self, deadline: float | None) -> None:
        choice = self.era_choice
        if choice == "legacy":
            self._initialize(deadline)
            return
        if choice in MODERN_VERSIONS:
            self._discover_strict(choice, deadline)
            return
        key = self.transport.era_cache_key()
        if _cached_verdict(key) == "legacy":
            try:
                self._initialize(deadline)
                return
            except UnsupportedProtocolVersionError as exc:
                if exc.code != -32022:
                    raise
                logger.info("%s: cached legacy verdict is stale; probing again", self.target)
        self._auto(key, deadline)

    def _auto(self, key: str | None, deadline: float | None) -> None:
        version = LATEST_MODERN_VERSION
        for attempt in range(2):
            result: dict[str, Any] | None = None
            after = ""
            try:
                result = self._discover(version, deadline)
            except UnsupportedProtocolVersionError as exc:
                mutual = [v for v in MODERN_VERSIONS if v in exc.supported]
                if mutual and attempt == 0:
                    version = mutual[-1]
                    continue
                if exc.supported and not any(v in HANDSHAKE_VERSIONS for v in exc.supported):
                    raise  # modern-only and disjoint: a real incompatibility
            except MCPError as exc:
                logger.debug("%s: discover refused (%s); using initialize", self.target, exc.code)
            except ReadTimeout as exc:
                if not getattr(self.transport, "probe_timeout_means_legacy", False):
                    raise  # an outage is never an era verdict
                logger.debug("%s: discover timed out; using initialize", self.target)
                after = str(exc)
            if result is not None and self._adopt_discover(result):
                _remember_verdict(key, "modern")
                return
            try:
                self._initialize(deadline, after=after)
            except UnsupportedProtocolVersionError as exc:
                # -32022 to initialize is modern evidence: re-probe once at a named version.
                mutual = [v for v in MODERN_VERSIONS if v in exc.supported]
                if exc.code != -32022 or attempt != 0 or not mutual:
                    raise
                version = mutual[-1]
                continue
            _remember_verdict(key, "legacy")
            return
        raise UnsupportedProtocolVersionError(  # pragma: no cover - the loop returns or raises
            f"{self.target}: era negotiation failed", target=self.target
        )

    def _discover(self, version: str, deadline: float | None) -> dict[str, Any]:
        remaining = _remaining(deadline)
        timeout = DISCOVER_TIMEOUT_S if remaining is None else min(DISCOVER_TIMEOUT_S, remaining)
        if timeout <= 0:
            raise ReadTimeout(
                f"{self.target}: server/discover not sent: the connect time limit ran out",
                timeout_s=0.0,
                target=self.target,
            )
        try:
            return self.dispatcher.request(
                "server/discover",
                self._envelope({}, {}, version),
                timeout_s=timeout,
                context=SendContext(protocol_version=version, modern=True),
                cancel_on_timeout=False,
            )
        except ReadTimeout as exc:  # the dispatcher's text would claim a cancellation
            raise ReadTimeout(
                f"{self.target}: no answer to server/discover within {timeout:.3f} s",
                timeout_s=timeout,
                target=self.target,
            ) from exc

    def _discover_strict(self, version: str, deadline: float | None) -> None:
        try:
            result = self._discover(version, deadline)
        except UnsupportedProtocolVersionError as exc:
            raise UnsupportedProtocolVersionError(
                f"{self.target}: the server does not support protocol {version} "
                f"(it supports {list(exc.supported)})",
                data=exc.data,
                method="server/discover",
                supported=exc.supported,
                requested=version,
                target=self.target,
            ) from exc
        if not self._adopt_discover(result, required=version):
            supported = result.get("supportedVersions")
            raise UnsupportedProtocolVersionError(
                f"{self.target}: the server does not offer protocol {version} "
                f"(supportedVersions={supported!r})",
                method="server/discover",
                supported=tuple(supported) if isinstance(supported, list) else (),
                requested=version,
                target=self.target,
            )

    def _adopt_discover(self, result: Mapping[str, Any], required: str | None = None) -> bool:
        supported = result.get("supportedVersions")
        if not isinstance(supported, list):
            return False
        mutual = [v for v in MODERN_VERSIONS if v in supported and required in (None, v)]
        if not mutual:
            return False
        meta = result.get("_meta")
        info = meta.get(META_SERVER_INFO) if isinstance(meta, Mapping) else None
        try:
            server_info = Implementation.from_wire(info) if info is not None else None
        except ProtocolError:
            server_info = None  # display-only: malformed reads as unknown
        instructions = result.get("instructions")
        self._state = _State(
            era="modern",
            protocol_version=mutual[-1],
            server_info=server_info or Implementation("", ""),
            capabilities=ServerCapabilities.from_wire(result.get("capabilities")),
            instructions=instructions if isinstance(instructions, str) else None,
            raw=result,
        )
        return True

    def _initialize(self, deadline: float | None, *, after: str = "") -> None:
        """Send ``initialize`` (never cancelled: MCP lifecycle) within ``deadline``.

        Args:
            deadline: the monotonic time the handshake must finish by; None: no limit.
            after: why ``initialize`` follows a probe (added to a timeout's message).

        Raises:
            ReadTimeout: no answer by ``deadline``, or no time was left to send it.
        """
        params = {
            "protocolVersion": LATEST_HANDSHAKE_VERSION,
            "capabilities": self.callbacks.capabilities(),
            "clientInfo": self.client_info,
        }
        remaining = _remaining(deadline)
        prefix = f"{after}; " if after else f"{self.target}: "
        if remaining is not None and remaining <= 0:
            raise ReadTimeout(
                f"{prefix}initialize not sent: the connect time limit ran out",
                timeout_s=0.0,
                target=self.target,
            )
        try:
            result = self.dispatcher.request(
                "initialize",
                params,
                timeout_s=remaining,
                context=SendContext(),
                cancel_on_timeout=False,
            )
        except ReadTimeout as exc:  # the dispatcher's text would claim a cancellation
            raise ReadTimeout(
                f"{prefix}no answer to initialize within {remaining or 0:.3f} s",
                timeout_s=remaining,
                target=self.target,
            ) from exc
        version = result.get("protocolVersion")
        if version not in HANDSHAKE_VERSIONS:
            raise UnsupportedProtocolVersionError(
                f"{self.target}: the server answered initialize with protocol {version!r}, "
                f"which this client does not support ({list(HANDSHAKE_VERSIONS)})",
                code=0,
                method="initialize",
                supported=(version,) if isinstance(version, str) else (),
                requested=LATEST_HANDSHAKE_VERSION,
                target=self.target,
            )
        instructions = result.get("instructions")
        self._state = _State(
            era="legacy",
            protocol_version=version,
            server_info=Implementation.from_wire(result.get("serverInfo")),
            capabilities=ServerCapabilities.from_wire(result.get("capabilities")),
            instructions=instructions if isinstance(instructions, str) else None,
            raw=result,
        )
        self.dispatcher.notify(
            "notifications/initialized", None, SendContext(protocol_version=version)
        )

    # -- server to client ------------------------------------------------------------------

    def handle_server_request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer a server request (handshake era) or an input request (modern era).

        Args:
            method: ``ping``, ``sampling/createMessage``, ``elicitation/create`` or
                ``roots/list``.
            params: the request params.

        Returns:
            The result object to send back.

        Raises:
            MCPError: -32601 for a method without a callback (nothing was declared for it).
        """
        cb = self.callbacks
        if method == "ping":
            return {}
        if method == "sampling/createMessage" and cb.sampling is not None:
            answer: Any = cb.sampling(CreateMessageRequest.from_wire(params))
            return answer.to_wire() if isinstance(answer, CreateMessageResult) else dict(answer)
        if method == "elicitation/create" and cb.elicitation is not None:
            answer = cb.elicitation(ElicitRequest.from_wire(params))
            return answer.to_wire() if isinstance(answer, ElicitResult) else dict(answer)
        if method == "roots/list" and cb.roots is not None:
            roots = []
            for root in cb.roots():
                if isinstance(root, Root):
                    roots.append(root.to_wire())
                elif isinstance(root, str):
                    roots.append({"uri": root})
                else:
                    roots.append(dict(root))
            return {"roots": roots}
        raise MCPError(f"client does not support {method}", code=METHOD_NOT_FOUND, method=method)

    def _on_notification(self, message: Notification) -> None:
        if self._hook is not None:
            self._hook(message)
        params = message.params or {}
        cb = self.callbacks
        if message.method == "notifications/message":
            if cb.logging is not None:
                level = params.get("level")
                cb.logging(
                    LogMessage(
                        level if isinstance(level, str) else "info",
                        params.get("data"),
                        params.get("logger") if isinstance(params.get("logger"), str) else None,
                        params,
                    )
                )
            return
        if message.method == "notifications/progress":
            if cb.progress is not None:
                cb.progress(Progress.from_wire(params))
            return
        if cb.notification is not None:
            cb.notification(ServerNotification(message.method, params))


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()
