"""What every provider shares: request building, capability checks, the resilience call,
streams that fail over only before their first event, and SDK-neutral error translation.

One attempt is::

    rate limiter -> breaker -> SDK call (its own retries off, our timeouts) -> translation

wrapped by :class:`~syncclients.resilience.Resilience` (deadline, retry). A router runs the
same path with a shared :class:`AttemptBudget`, so retries and failovers draw on one count.
"""

from __future__ import annotations

import abc
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ..config import (
    USE_CLIENT_DEFAULT,
    BreakerPolicy,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeouts,
    UseClientDefault,
)
from ..errors import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeout,
    DeadlineExceeded,
    ProtocolError,
    ReadTimeout,
    SyncClientsError,
    UsageError,
    excerpt,
)
from ..resilience import AttemptContext, CircuitBreaker, Hook, Resilience, RetryBudget
from ..resilience.hooks import LoggingHook
from ..resilience.stats import CallStats, ClientMetrics
from .errors import RateLimitedError, is_transient
from .ratelimit import RateLimit, RateLimiter
from .types import (
    Capabilities,
    ChatResponse,
    Message,
    ResponseFormat,
    StreamDone,
    StreamEvent,
    Tool,
    normalize_messages,
    normalize_response_format,
    normalize_tool_choice,
    normalize_tools,
)

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUTS",
    "AttemptBudget",
    "LLMStream",
    "Provider",
    "ProviderHealth",
    "Request",
]

T = TypeVar("T")

#: The default retry policy of a provider: 3 attempts, 0.5 s .. 8 s backoff (the SDKs'
#: numbers), the server's delay honoured up to 60 s, 300 s for the whole call.
DEFAULT_RETRY = RetryPolicy(
    max_attempts=3, initial_delay_s=0.5, max_delay_s=8.0, deadline_s=300.0, max_retry_after_s=60.0
)
#: The default per-attempt limits: 5 s to connect, 120 s between bytes (also the stream's
#: idle timeout). The SDKs default to 600 s (openai, anthropic) or none (google-genai).
DEFAULT_TIMEOUTS = Timeouts(connect_s=5.0, read_s=120.0)


@dataclass(frozen=True, slots=True)
class Request:
    """A normalized generate/stream request (what providers convert to their wire format)."""

    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    tool_choice: str | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    provider_options: Mapping[str, Any] = field(default_factory=dict)

    def estimated_tokens(self) -> int:
        """Prompt tokens estimated at 4 characters per token, plus ``max_tokens``."""
        chars = sum(len(m.text) for m in self.messages)
        chars += sum(len(json.dumps(dict(t.parameters))) + len(t.description) for t in self.tools)
        return chars // 4 + 1 + (self.max_tokens or 0)

    def needs(self) -> list[str]:
        """The capabilities this request needs: ``tools``, ``vision``, ``json_output``."""
        out = []
        if self.tools:
            out.append("tools")
        if any(m.has_image for m in self.messages):
            out.append("vision")
        if self.response_format is not None:
            out.append("json_output")
        return out


def build_request(
    messages: Iterable[Message | Mapping[str, Any]],
    *,
    tools: Iterable[Any] | None,
    tool_choice: Any,
    response_format: Any,
    temperature: float | None,
    max_tokens: int | None,
    stop: str | Sequence[str] | None,
    provider_options: Mapping[str, Any] | None,
) -> Request:
    """Normalize the public arguments into a :class:`Request` (raises UsageError)."""
    if max_tokens is not None and (isinstance(max_tokens, bool) or max_tokens < 1):
        raise UsageError(f"max_tokens must be an int >= 1, got {max_tokens!r}")
    return Request(
        normalize_messages(messages),
        normalize_tools(tools),
        normalize_tool_choice(tool_choice),
        normalize_response_format(response_format),
        temperature,
        max_tokens,
        (stop,) if isinstance(stop, str) else tuple(stop or ()),
        dict(provider_options or {}),
    )


class AttemptBudget:
    """The attempts one call may still make, across retries and failovers (one thread)."""

    def __init__(self, max_attempts: int) -> None:
        self.max_attempts = max_attempts
        self.used = 0

    @property
    def remaining(self) -> int:
        """Attempts left (never negative)."""
        return max(0, self.max_attempts - self.used)


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """The result of :meth:`Provider.health`.

    Attributes:
        provider: the provider's name.
        reachable: the model listing answered.
        latency_s: how long it took, in seconds (None when it failed).
        breaker_state: ``closed``, ``open``, ``half_open``, or None without a breaker.
        calls: calls made through this provider object.
        errors: of those, how many ended with an error.
        last_error: the last error's message (keys never appear in it), or None.
    """

    provider: str
    reachable: bool
    latency_s: float | None
    breaker_state: str | None
    calls: int
    errors: int
    last_error: str | None


class LLMStream(Iterator[StreamEvent]):
    """An iterator of stream events; also a context manager.

    Leaving it early (``break`` in a ``for`` over it, :meth:`close`, the ``with`` block's
    end, or garbage collection) closes the HTTP response at once. After the
    :class:`~syncclients.llm.types.StreamDone` event, :attr:`response` holds the response.
    """

    def __init__(
        self,
        events: Iterator[StreamEvent],
        close: Callable[[], None],
        translate: Callable[[BaseException], BaseException],
        deadline: float | None,
        name: str,
    ) -> None:
        self._events = events
        self._close = close
        self._translate = translate
        self._deadline = deadline
        self._name = name
        self._closed = False
        self.response: ChatResponse | None = None

    def __iter__(self) -> LLMStream:
        return self

    def __next__(self) -> StreamEvent:
        if self._closed:
            raise StopIteration
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.close()
            raise DeadlineExceeded(f"{self._name}: stream deadline exceeded", target=self._name)
        try:
            event = next(self._events)
        except StopIteration:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise self._translate(exc) from exc
        if isinstance(event, StreamDone):
            self.response = event.response
        return event

    def close(self) -> None:
        """Close the HTTP response (idempotent, never raises)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):  # closing a dead connection may fail: nothing to do
            self._close()

    def __enter__(self) -> LLMStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


@dataclass(slots=True)
class RawStream:
    """What a provider module returns when it opens a stream: our events and a closer."""

    events: Iterator[StreamEvent]
    close: Callable[[], None]


def translate_common(exc: BaseException, name: str) -> BaseException | None:
    """Translate what escapes every SDK the same way: ``httpx2`` errors, raw JSON errors.

    Returns:
        Our error, or None when ``exc`` is not one of these.
    """
    if isinstance(exc, SyncClientsError | UsageError):
        return exc
    httpx2: Any = sys.modules.get("httpx2")  # loaded by whichever SDK raised
    if httpx2 is not None:
        if isinstance(exc, httpx2.ConnectTimeout):
            return ConnectTimeout(f"{name}: connect timed out", target=name)
        if isinstance(exc, httpx2.TimeoutException):
            return ReadTimeout(f"{name}: read timed out ({type(exc).__name__})", target=name)
        if isinstance(exc, httpx2.ConnectError):
            return ConnectError(f"{name}: could not connect: {exc}", target=name)
        if isinstance(exc, httpx2.TransportError):
            return ConnectionLostError(
                f"{name}: connection lost ({type(exc).__name__}: {excerpt(str(exc), 200)})",
                target=name,
            )
    if isinstance(exc, json.JSONDecodeError | ValueError | KeyError | TypeError):
        return ProtocolError(
            f"{name}: malformed response ({type(exc).__name__})",
            excerpt=excerpt(str(exc), 200),
            target=name,
        )
    return None


class Provider(abc.ABC):
    """One LLM provider on its official SDK, with our resilience; safe to share between threads.

    Subclasses implement :meth:`_send`, :meth:`_open_stream`, :meth:`_translate_sdk` and
    :meth:`_list_models`. See :class:`~syncclients.llm.OpenAIProvider` for the arguments.
    """

    #: What the provider supports (a subclass default; ``capabilities=`` overrides it).
    default_capabilities = Capabilities()
    #: The optional extra that installs the SDK.
    extra = ""

    def __init__(
        self,
        *,
        name: str,
        model: str,
        timeout: Timeouts | float | tuple[float | None, float | None] | None,
        retry: RetryPolicy | None,
        breaker: BreakerPolicy | None,
        rate_limit: RateLimit | None,
        capabilities: Capabilities | None,
        hooks: Sequence[Hook] | None,
        budget: RetryBudgetPolicy | None = RetryBudgetPolicy(),
    ) -> None:
        if not model:
            raise UsageError(f"{type(self).__name__} needs model=")
        self.name = name
        self.model = model
        self.timeouts = Timeouts.coerce(timeout) if timeout is not None else DEFAULT_TIMEOUTS
        self.retry = retry or DEFAULT_RETRY
        self.capabilities = capabilities or self.default_capabilities
        self.breaker = (
            CircuitBreaker(breaker, name=name, is_failure=_breaker_failure)
            if breaker is not None
            else None
        )
        self.rate_limiter = RateLimiter(rate_limit) if rate_limit is not None else None
        self.budget = RetryBudget(budget) if budget is not None else None
        self._call_stats = CallStats()  # a hook of the pipeline; see metrics()
        user_hooks: tuple[Hook, ...] = tuple(hooks) if hooks is not None else (LoggingHook(),)
        self._resilience = Resilience(
            target=name,
            retry=self.retry,
            breaker=self.breaker,
            budget=self.budget,
            hooks=(self._call_stats, *user_hooks),
            protocol="llm",
        )
        self._stats_lock = threading.Lock()
        self.calls = 0
        self.errors = 0
        self.last_error: str | None = None
        self.latency_ewma_s: float | None = None

    # -- what subclasses implement --------------------------------------------------------

    @abc.abstractmethod
    def _send(self, request: Request, timeouts: Timeouts) -> ChatResponse:
        """Make one SDK call and convert its response (SDK errors propagate)."""

    @abc.abstractmethod
    def _open_stream(self, request: Request, timeouts: Timeouts) -> RawStream:
        """Open one SDK stream (SDK errors propagate)."""

    @abc.abstractmethod
    def _translate_sdk(self, exc: BaseException) -> BaseException | None:
        """Translate an SDK exception, or None when it is not the SDK's."""

    @abc.abstractmethod
    def _list_models(self, timeouts: Timeouts) -> list[str]:
        """The model ids the provider lists (SDK errors propagate)."""

    def close(self) -> None:  # noqa: B027 - optional for subclasses
        """Close the SDK client's connections."""

    # -- translation ----------------------------------------------------------------------

    def translate(self, exc: BaseException) -> BaseException:
        """Map any exception raised while talking to the provider into our tree."""
        out = self._translate_sdk(exc) or translate_common(exc, self.name)
        if out is None:
            out = ProtocolError(f"{self.name}: unexpected {type(exc).__name__}: {exc}")
        if out is not exc and out.__cause__ is None:
            out.__cause__ = exc
        return out

    # -- public API ---------------------------------------------------------------------------

    def check(self, request: Request, *, stream: bool = False) -> None:
        """Raise :class:`UsageError` when this provider cannot serve ``request``."""
        missing = [c for c in request.needs() if not getattr(self.capabilities, c)]
        if stream and not self.capabilities.streaming:
            missing.append("streaming")
        if missing:
            raise UsageError(f"{self.name} ({self.model}) does not support {', '.join(missing)}")

    def generate(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        tools: Iterable[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        timeout: Timeouts | float | UseClientDefault = USE_CLIENT_DEFAULT,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        provider_options: Mapping[str, Any] | None = None,
    ) -> ChatResponse:
        """Generate one response.

        Args:
            messages: :class:`Message` values or OpenAI-style dicts.
            tools: :class:`Tool` values, OpenAI function dicts or MCP ``Tool`` objects.
            tool_choice: ``"auto"``, ``"none"``, ``"required"``, a tool name, or OpenAI's
                ``{"type": "function", "function": {"name": ...}}``; None: provider default.
            response_format: a :class:`ResponseFormat`, OpenAI's ``response_format`` dict,
                or a JSON Schema dict.
            temperature: sampling temperature; None: provider default.
            max_tokens: the most output tokens; None: provider default (Anthropic requires
                one: 4096 is sent).
            stop: stop sequence(s).
            timeout: per-attempt limits (seconds, or :class:`Timeouts`); default the
                provider's. Each attempt's limits are capped at what remains of the deadline.
            deadline_s: the most seconds for the whole call, retries included; None: no
                deadline; default ``retry.deadline_s``.
            provider_options: extra request fields passed to the SDK call as they are (see
                the provider class).

        Returns:
            The :class:`ChatResponse`.

        Raises:
            UsageError: invalid arguments, or a capability this provider lacks (nothing sent).
            ProviderError: the provider's error after retries (see :mod:`.errors`).
            TransportError: a network failure or timeout after retries.
            DeadlineExceeded: the deadline ran out.
            CircuitOpenError: this provider's breaker is open.
        """
        request = build_request(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
            temperature=temperature,
            max_tokens=max_tokens,
            stop=stop,
            provider_options=provider_options,
        )
        self.check(request)
        return self._call(
            request,
            lambda t: self._send(request, t),
            timeout=timeout,
            deadline=self._deadline(deadline_s),
            budget=None,
            may_wait=True,
        )

    def stream(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        tools: Iterable[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        timeout: Timeouts | float | UseClientDefault = USE_CLIENT_DEFAULT,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        provider_options: Mapping[str, Any] | None = None,
    ) -> LLMStream:
        """Stream one response as :class:`TextDelta` / :class:`ToolCallDelta` events and a
        final :class:`StreamDone`.

        Opening the stream and reading its first event are retried like :meth:`generate`;
        after the first event an error is raised from the iterator as it is (translated),
        never retried. The read timeout is the idle timeout: a stream that sends nothing for
        longer fails with :class:`~syncclients.errors.ReadTimeout`; the deadline bounds the
        whole stream. Arguments, exceptions: as :meth:`generate`.
        """
        request = build_request(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
            temperature=temperature,
            max_tokens=max_tokens,
            stop=stop,
            provider_options=provider_options,
        )
        self.check(request, stream=True)
        deadline = self._deadline(deadline_s)
        return self._call(
            request,
            lambda t: self._start_stream(request, t, deadline),
            timeout=timeout,
            deadline=deadline,
            budget=None,
            may_wait=True,
        )

    def list_models(self, *, timeout: float | None = 10.0) -> list[str]:
        """The model ids this provider's key can use (one attempt, no retry).

        Args:
            timeout: seconds for the request; None: the provider's timeouts.

        Raises:
            ProviderError, TransportError: as :meth:`generate`.
        """
        timeouts = self.timeouts if timeout is None else Timeouts.coerce(timeout)
        try:
            return self._list_models(timeouts)
        except Exception as exc:
            raise self.translate(exc) from exc

    def health(self, *, timeout: float = 5.0) -> ProviderHealth:
        """Probe the provider with :meth:`list_models` and report its state (never raises).

        Args:
            timeout: seconds for the probe.
        """
        started = time.monotonic()
        latency: float | None
        probe_error: str | None
        try:
            self.list_models(timeout=timeout)
        except Exception as exc:
            reachable, latency, probe_error = False, None, str(exc)
        else:
            reachable, latency, probe_error = True, time.monotonic() - started, None
        with self._stats_lock:
            return ProviderHealth(
                self.name,
                reachable,
                latency,
                self.breaker.state if self.breaker is not None else None,
                self.calls,
                self.errors,
                probe_error or self.last_error,
            )

    # -- the resilient call (used by the router too) ---------------------------------------

    def _deadline(self, deadline_s: float | UseClientDefault | None) -> float | None:
        budget = self.retry.deadline_s if isinstance(deadline_s, UseClientDefault) else deadline_s
        return None if budget is None else time.monotonic() + budget

    def _call(
        self,
        request: Request,
        send: Callable[[Timeouts], T],
        *,
        timeout: Timeouts | float | UseClientDefault,
        deadline: float | None,
        budget: AttemptBudget | None,
        may_wait: bool,
    ) -> T:
        """Run ``send`` under rate limit, breaker, retry and deadline.

        Args:
            budget: the router's shared attempt budget, or None (the retry policy alone).
            may_wait: wait for the rate limiter within the deadline; False: refuse at once
                (:class:`RateLimitedError` with ``local=True``) so a router fails over.
        """
        base = self.timeouts if isinstance(timeout, UseClientDefault) else Timeouts.coerce(timeout)
        policy = self.retry
        if budget is not None:
            policy = replace(
                policy, max_attempts=max(1, min(policy.max_attempts, budget.remaining))
            )
        tokens = request.estimated_tokens()

        def attempt(ctx: AttemptContext) -> T:
            remaining = ctx.remaining_s()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceeded(f"{self.name}: deadline exceeded", target=self.name)
            if self.rate_limiter is not None:
                wait = self.rate_limiter.acquire(tokens, remaining if may_wait else 0.0)
                if wait is not None:
                    raise RateLimitedError(
                        f"{self.name}: client-side rate limit; {wait:.2f} s to wait",
                        local=True,
                        provider=self.name,
                        retry_after=wait,
                    )
            if budget is not None:
                budget.used += 1
            started = time.monotonic()
            try:
                result = send(base.capped(remaining))
            except Exception as exc:
                error = self.translate(exc)
                self._record(error)
                raise error from exc
            self._record(None, time.monotonic() - started)
            if self.rate_limiter is not None and isinstance(result, ChatResponse):
                actual = result.usage.input_tokens + result.usage.output_tokens
                self.rate_limiter.correct(tokens, actual)
            return result

        remaining_deadline = None if deadline is None else deadline - time.monotonic()
        if remaining_deadline is not None and remaining_deadline <= 0:
            raise DeadlineExceeded(f"{self.name}: deadline exceeded", target=self.name)
        return self._call_stats.timed(
            lambda: self._resilience.call(
                attempt,
                operation=f"chat {self.model}",
                retryable=_retryable,
                retry=policy,
                deadline_s=remaining_deadline,
            )
        )

    def _start_stream(
        self, request: Request, timeouts: Timeouts, deadline: float | None
    ) -> LLMStream:
        raw = self._open_stream(request, timeouts)
        try:
            first = next(raw.events)
        except BaseException:
            with contextlib.suppress(Exception):  # the original error matters, not the close
                raw.close()
            raise

        def events() -> Iterator[StreamEvent]:
            yield first
            yield from raw.events

        return LLMStream(events(), raw.close, self.translate, deadline, self.name)

    def metrics(self) -> ClientMetrics:
        """A snapshot of this provider's counters, latency percentiles, breaker and budget.

        The fields of :meth:`HTTPClient.metrics() <syncclients.HTTPClient.metrics>`: a call
        is one :meth:`generate` (or one stream opened, its latency the time to the first
        event), with every attempt and retry it made; a call refused before any attempt (an
        expired deadline) is not counted.
        """
        return self._call_stats.snapshot(self.breaker, self.budget)

    def _record(self, error: BaseException | None, latency_s: float | None = None) -> None:
        with self._stats_lock:
            self.calls += 1
            if error is not None:
                self.errors += 1
                self.last_error = str(error)
            elif latency_s is not None:
                prev = self.latency_ewma_s
                self.latency_ewma_s = latency_s if prev is None else 0.8 * prev + 0.2 * latency_s
                self.last_error = None

    def __repr__(self) -> str:  # no key, no URL query
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r})"


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, RateLimitedError) and exc.local:
        return False
    return is_transient(exc)


def _breaker_failure(exc: BaseException) -> bool:
    return _retryable(exc)


def require(module: str, extra: str, cls: str) -> Any:
    """Import an SDK module or raise :class:`UsageError` naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            f"{cls} needs the {module!r} package: pip install 'syncclients[{extra}]'"
        ) from exc


def dumps_args(arguments: Mapping[str, Any]) -> str:
    """Tool-call arguments as compact JSON text."""
    return json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)


def loads_args(text: str | None, name: str) -> dict[str, Any]:
    """Decode a tool call's JSON arguments ("" is {}); raise ProtocolError when invalid."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            f"{name}: tool call arguments are not JSON", excerpt=excerpt(text, 200), target=name
        ) from exc
    if not isinstance(value, dict):
        raise ProtocolError(f"{name}: tool call arguments are not an object", target=name)
    return value
