"""``LLMRouter``: one synchronous interface over several providers, with failover that never
multiplies load.

Per call: the providers are ordered by the strategy; those that cannot serve the request
(capabilities) are skipped; each candidate is tried under its own breaker and rate limit,
and all attempts (retries on one provider and failovers to the next) draw on one
:class:`~syncclients.llm.base.AttemptBudget` of ``max_attempts``, under one deadline. So
with a first provider failing 100 % of the time, a call makes at most ``max_attempts``
attempts, and once that provider's breaker opens it is skipped without any attempt.

Failover happens on a transient error (429, 529, 5xx, timeouts, connection failures), an
open breaker or a client-side rate limit; not on authentication, permission, bad request,
content filter (nor context length, unless ``failover_on_context_length=True``). A stream
fails over only before its first event: after that its errors are raised from the iterator.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import (
    USE_CLIENT_DEFAULT,
    BreakerPolicy,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeouts,
    UseClientDefault,
)
from ..errors import CircuitOpenError, DeadlineExceeded, UsageError
from ..resilience.stats import ClientMetrics
from .base import AttemptBudget, LLMStream, Provider, ProviderHealth, Request, build_request
from .errors import ContextLengthExceededError, RateLimitedError, is_transient
from .ratelimit import RateLimit
from .types import ChatResponse, Message

__all__ = ["STRATEGIES", "LLMRouter"]

STRATEGIES = ("fallback", "round_robin", "least_latency", "weighted")


@dataclass(slots=True)
class _Generation:
    providers: tuple[Provider, ...]
    weights: tuple[float, ...]
    owned: bool
    in_flight: int = 0
    retired: bool = False
    closed: bool = field(default=False)


class LLMRouter:
    """Route calls over several providers with one attempt budget and one deadline.

    Args:
        providers: the providers (at least one; names must be unique).
        strategy: the order candidates are tried in: ``"fallback"`` (as given),
            ``"round_robin"`` (rotating the first), ``"least_latency"`` (lowest moving
            average of successful call latency first; untried providers first), or
            ``"weighted"`` (the first drawn at random by ``weights``, the rest by weight).
        weights: one positive weight per provider for ``"weighted"``; default all 1.
        max_attempts: attempts per call across all retries and failovers (>= 1).
        attempts_per_provider: attempts on one provider before failing over to the next
            (the last candidate may use what remains of ``max_attempts``, up to its retry
            policy's ``max_attempts``). None: each provider's retry policy decides.
        deadline_s: the default deadline of a call, in seconds, across all attempts and
            failovers; None: none (only per-attempt timeouts bound a call).
        failover_on_context_length: also fail over when a provider answers that the prompt
            exceeds its context window (another may have a larger one).

    Thread-safe: share one router between threads. Providers it was given are not closed by
    it; those :meth:`from_config` built are closed by :meth:`close` and :meth:`reload`.
    """

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        strategy: str = "fallback",
        weights: Sequence[float] | None = None,
        max_attempts: int = 4,
        attempts_per_provider: int | None = 1,
        deadline_s: float | None = 300.0,
        failover_on_context_length: bool = False,
    ) -> None:
        if strategy not in STRATEGIES:
            raise UsageError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise UsageError(f"max_attempts must be an int >= 1, got {max_attempts!r}")
        if attempts_per_provider is not None and attempts_per_provider < 1:
            raise UsageError("attempts_per_provider must be >= 1 or None")
        if deadline_s is not None and deadline_s <= 0:
            raise UsageError("deadline_s must be > 0 or None")
        self.strategy = strategy
        self.max_attempts = max_attempts
        self.attempts_per_provider = attempts_per_provider
        self.deadline_s = deadline_s
        self.failover_on_context_length = failover_on_context_length
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._source: Any = None
        self._gen = self._generation(providers, weights, owned=False)

    @staticmethod
    def _generation(
        providers: Sequence[Provider], weights: Sequence[float] | None, *, owned: bool
    ) -> _Generation:
        providers = tuple(providers)
        if not providers:
            raise UsageError("LLMRouter needs at least one provider")
        names = [p.name for p in providers]
        if len(set(names)) != len(names):
            raise UsageError(f"provider names must be unique, got {names}")
        w = tuple(float(x) for x in weights) if weights is not None else (1.0,) * len(providers)
        if len(w) != len(providers) or any(x <= 0 for x in w):
            raise UsageError("weights: one positive number per provider")
        return _Generation(providers, w, owned)

    @property
    def providers(self) -> tuple[Provider, ...]:
        """The current providers."""
        return self._gen.providers

    # -- ordering -----------------------------------------------------------------------------

    def _order(self, gen: _Generation) -> list[Provider]:
        providers = list(gen.providers)
        if self.strategy == "round_robin":
            start = next(self._turn) % len(providers)
            return providers[start:] + providers[:start]
        if self.strategy == "least_latency":
            return sorted(providers, key=lambda p: p.latency_ewma_s or 0.0)
        if self.strategy == "weighted":
            pairs = list(zip(providers, gen.weights, strict=False))
            first = random.choices(range(len(pairs)), weights=gen.weights)[0]  # noqa: S311
            rest = sorted((p for i, p in enumerate(pairs) if i != first), key=lambda x: -x[1])
            return [pairs[first][0]] + [p for p, _w in rest]
        return providers

    def _fails_over(self, exc: BaseException) -> bool:
        if isinstance(exc, CircuitOpenError):
            return True
        if isinstance(exc, RateLimitedError):
            return True
        if isinstance(exc, ContextLengthExceededError):
            return self.failover_on_context_length
        return is_transient(exc) and not isinstance(exc, DeadlineExceeded)

    # -- calls ----------------------------------------------------------------------------------

    def _enter(self) -> _Generation:
        with self._lock:
            gen = self._gen
            gen.in_flight += 1
            return gen

    def _leave(self, gen: _Generation) -> None:
        with self._lock:
            gen.in_flight -= 1
            close = gen.retired and gen.in_flight == 0 and gen.owned and not gen.closed
            if close:
                gen.closed = True
        if close:
            for provider in gen.providers:
                provider.close()

    def _route(
        self,
        request: Request,
        *,
        stream: bool,
        timeout: Timeouts | float | UseClientDefault,
        deadline_s: float | UseClientDefault | None,
    ) -> Any:
        budget_s = self.deadline_s if isinstance(deadline_s, UseClientDefault) else deadline_s
        deadline = None if budget_s is None else time.monotonic() + budget_s
        gen = self._enter()
        handed_off = False
        try:
            candidates = []
            refusals = []
            for provider in self._order(gen):
                try:
                    provider.check(request, stream=stream)
                except UsageError as exc:
                    refusals.append(str(exc))
                else:
                    candidates.append(provider)
            if not candidates:
                raise UsageError("no provider can serve this request: " + "; ".join(refusals))
            budget = AttemptBudget(self.max_attempts)
            last: BaseException | None = None
            for index, provider in enumerate(candidates):
                if budget.remaining <= 0:
                    break
                is_last = index == len(candidates) - 1
                share = AttemptBudget(budget.remaining)
                if not is_last and self.attempts_per_provider is not None:
                    share = AttemptBudget(min(budget.remaining, self.attempts_per_provider))
                send = _sender(provider, request, stream=stream, deadline=deadline)
                try:
                    result: Any = provider._call(
                        request,
                        send,
                        timeout=timeout,
                        deadline=deadline,
                        budget=share,
                        may_wait=is_last,
                    )
                except Exception as exc:
                    budget.used += share.used
                    if not self._fails_over(exc):
                        raise
                    last = exc
                    continue
                budget.used += share.used
                if stream:
                    assert isinstance(result, LLMStream)
                    result._close = _chain(result._close, lambda: self._leave(gen))
                    handed_off = True
                return result
            assert last is not None
            raise last
        finally:
            if not handed_off:
                self._leave(gen)

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
        """Generate one response on the first provider that answers.

        Arguments as :meth:`Provider.generate`; ``deadline_s`` defaults to the router's and
        spans every attempt and failover; ``provider_options`` go to every provider (keep
        them to fields all of them accept, or use one provider directly).

        Returns:
            The :class:`ChatResponse`; ``.provider`` names the provider that answered.

        Raises:
            UsageError: invalid arguments, or no provider can serve the request.
            ProviderError: a final error (authentication, bad request, ...) from a provider,
                raised at once; or the last transient error when every candidate failed or
                the attempt budget ran out.
            TransportError, DeadlineExceeded, CircuitOpenError: the last failure when all
                candidates failed (CircuitOpenError when every breaker is open).
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
        result: ChatResponse = self._route(
            request, stream=False, timeout=timeout, deadline_s=deadline_s
        )
        return result

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
        """Stream one response from the first provider whose stream starts.

        Fails over only before the first event (the provider's stream is opened and its first
        event read inside the attempt); after that, errors are raised from the iterator and
        never replayed on another provider. Arguments, exceptions: as :meth:`generate`.
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
        result: LLMStream = self._route(
            request, stream=True, timeout=timeout, deadline_s=deadline_s
        )
        return result

    def list_models(self, *, timeout: float = 10.0) -> dict[str, list[str]]:
        """``{provider name: model ids}`` for every provider that answered within
        ``timeout`` seconds (see :meth:`health` for the ones that did not)."""
        out: dict[str, list[str]] = {}
        for provider in self.providers:
            try:
                out[provider.name] = provider.list_models(timeout=timeout)
            except Exception:  # noqa: S112 - reported by health()
                continue
        return out

    def health(self, *, timeout: float = 5.0) -> dict[str, ProviderHealth]:
        """``{provider name: ProviderHealth}``: reachable, latency, breaker state, errors."""
        return {p.name: p.health(timeout=timeout) for p in self.providers}

    def metrics(self) -> dict[str, ClientMetrics]:
        """``{provider name: ClientMetrics}`` of the current providers (see
        :meth:`Provider.metrics() <syncclients.llm.base.Provider.metrics>`); a failed-over
        call counts at each provider it reached. Never makes a call."""
        return {p.name: p.metrics() for p in self.providers}

    # -- configuration ----------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str | os.PathLike[str]) -> LLMRouter:
        """Build a router from a mapping or a JSON / TOML file.

        The shape::

            {"strategy": "fallback", "max_attempts": 4, "deadline_s": 120,
             "attempts_per_provider": 1, "failover_on_context_length": false,
             "providers": [
               {"type": "openai", "model": "gpt-4o-mini", "api_key": "${OPENAI_API_KEY}",
                "timeout": 30, "retry": {"max_attempts": 2}, "breaker": {...} or null,
                "rate_limit": {"requests_per_minute": 60, "tokens_per_minute": 90000},
                "weight": 1},
               {"type": "azure", "deployment": "...", "endpoint": "...", "api_version": "..."},
               {"type": "anthropic", ...}, {"type": "gemini", ...}]}

        Other provider keys are the provider's keyword arguments. ``${NAME}`` in any string is
        replaced by the environment variable ``NAME`` (``$${`` for a literal ``${``).

        Raises:
            UsageError: an unknown key or type, a missing environment variable (named, its
                value never shown), an unreadable file.
        """
        data, source = _load(config)
        router = cls._build(data)
        router._source = source
        return router

    @classmethod
    def _build(cls, data: Mapping[str, Any]) -> LLMRouter:
        options = {k: v for k, v in data.items() if k != "providers"}
        allowed = {
            "strategy",
            "max_attempts",
            "attempts_per_provider",
            "deadline_s",
            "failover_on_context_length",
        }
        unknown = set(options) - allowed
        if unknown:
            raise UsageError(f"unknown router keys: {sorted(unknown)}")
        providers, weights = _providers(data.get("providers") or ())
        router = cls(providers, weights=weights, **options)
        router._gen.owned = True
        return router

    def reload(self, config: Mapping[str, Any] | str | os.PathLike[str] | None = None) -> None:
        """Swap in new providers (and settings) without failing calls in flight.

        Args:
            config: a mapping or file as :meth:`from_config`; None: read again the file
                this router was built from.

        Calls (and open streams) that started before keep the providers they started with;
        old providers built from configuration are closed when the last of them ends.

        Raises:
            UsageError: as :meth:`from_config`; the router is then unchanged.
        """
        if config is None:
            if self._source is None:
                raise UsageError("reload() without a config needs a router built from a file")
            config = self._source
        data, source = _load(config)
        fresh = self._build(data)
        with self._lock:
            old = self._gen
            self._gen = fresh._gen
            self.strategy = fresh.strategy
            self.max_attempts = fresh.max_attempts
            self.attempts_per_provider = fresh.attempts_per_provider
            self.deadline_s = fresh.deadline_s
            self.failover_on_context_length = fresh.failover_on_context_length
            if source is not None:
                self._source = source
            old.retired = True
            close = old.owned and old.in_flight == 0 and not old.closed
            if close:
                old.closed = True
        if close:
            for provider in old.providers:
                provider.close()

    def close(self) -> None:
        """Close the providers this router built from configuration (others are the caller's)."""
        with self._lock:
            gen = self._gen
            gen.retired = True
            close = gen.owned and not gen.closed
            gen.closed = gen.closed or close
        if close:
            for provider in gen.providers:
                provider.close()

    def __enter__(self) -> LLMRouter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        names = [p.name for p in self.providers]
        return f"LLMRouter(strategy={self.strategy!r}, providers={names})"


def _sender(
    provider: Provider, request: Request, *, stream: bool, deadline: float | None
) -> Callable[[Timeouts], Any]:
    def send(timeouts: Timeouts) -> Any:
        if stream:
            return provider._start_stream(request, timeouts, deadline)
        return provider._send(request, timeouts)

    return send


def _chain(first: Any, second: Any) -> Any:
    def both() -> None:
        try:
            first()
        finally:
            second()

    return both


_ENV = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: Any) -> Any:
    """Replace ``${NAME}`` by the environment variable in every string of ``value``.

    Raises:
        UsageError: a variable is not set (its name is given; no value is ever shown).
    """
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            name = match.group(1)
            if name not in os.environ:
                raise UsageError(f"environment variable {name} is not set")
            return os.environ[name]

        return _ENV.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: expand_env(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [expand_env(v) for v in value]
    return value


def _load(config: Mapping[str, Any] | str | os.PathLike[str]) -> tuple[dict[str, Any], Any]:
    if isinstance(config, Mapping):
        return expand_env(dict(config)), None
    path = Path(config)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read LLM config {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            import importlib

            data = importlib.import_module("tomllib").loads(text)  # Python >= 3.11
        else:
            data = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise UsageError(f"invalid LLM config {path}: {exc}") from None
    return expand_env(data), path


def _providers(items: Iterable[Mapping[str, Any]]) -> tuple[list[Provider], list[float]]:
    from .anthropic_provider import AnthropicProvider
    from .gemini_provider import GeminiProvider
    from .openai_provider import AzureOpenAIProvider, OpenAIProvider

    kinds: dict[str, type[Provider]] = {
        "openai": OpenAIProvider,
        "azure": AzureOpenAIProvider,
        "anthropic": AnthropicProvider,
        "gemini": GeminiProvider,
    }
    providers: list[Provider] = []
    weights: list[float] = []
    try:
        for item in items:
            spec = dict(item)
            kind = spec.pop("type", None)
            if kind not in kinds:
                raise UsageError(f"provider type must be one of {sorted(kinds)}, got {kind!r}")
            weights.append(float(spec.pop("weight", 1.0)))
            if "retry" in spec and spec["retry"] is not None:
                spec["retry"] = RetryPolicy(**spec["retry"])
            if "breaker" in spec and spec["breaker"] is not None:
                spec["breaker"] = BreakerPolicy(**spec["breaker"])
            if "budget" in spec and spec["budget"] is not None:
                spec["budget"] = RetryBudgetPolicy(**spec["budget"])
            if "rate_limit" in spec and spec["rate_limit"] is not None:
                spec["rate_limit"] = RateLimit(**spec["rate_limit"])
            if isinstance(spec.get("timeout"), list):
                spec["timeout"] = tuple(spec["timeout"])
            try:
                providers.append(kinds[kind](**spec))
            except TypeError as exc:  # an unknown key; the message names it, not its value
                raise UsageError(f"{kind} provider: {exc}") from None
    except BaseException:
        for provider in providers:
            provider.close()
        raise
    return providers, weights
