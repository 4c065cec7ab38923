"""The errors of :mod:`syncclients.llm`, in the library's one tree, and server-delay parsing.

::

    SyncClientsError
    ├── TransportError (ConnectError, ConnectTimeout, ReadTimeout, ConnectionLostError)
    │                          the network failed: transient, retried and failed over
    ├── ProtocolError          a malformed response or stream event: not retried
    └── ProviderError          the provider answered with an error (.provider, .status_code,
        │                      .retry_after, .body_excerpt)
        ├── RateLimitedError   429, or our own client-side limit (.local): transient
        ├── OverloadedError    529 (Anthropic) or 503: transient
        ├── ProviderServerError  other 5xx and 408/409: transient
        ├── AuthenticationError  401: final, not failed over
        ├── PermissionDeniedError  403: final
        ├── BadRequestError    400, 404, 413, 422: final
        │   └── ContextLengthExceededError  the prompt does not fit: final (a router may be
        │                      told to fail over on it: ``failover_on_context_length``)
        └── ContentFilteredError  the request itself was refused by a safety filter: final

A response that a filter blocked is not an error: it ends with
``finish_reason="content_filter"`` and ``ChatResponse.filter_reason``.

Each provider module translates its SDK's exceptions into this tree in one function
(``_translate``); nothing from an SDK (nor ``httpx2``, nor a raw ``json`` error from the
middle of a stream) reaches a caller untranslated.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import SyncClientsError, TransportError, excerpt
from ..transports.http import parse_retry_after

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ContentFilteredError",
    "ContextLengthExceededError",
    "OverloadedError",
    "PermissionDeniedError",
    "ProviderError",
    "ProviderServerError",
    "RateLimitedError",
    "error_for_status",
    "is_transient",
    "server_delay_s",
]


class ProviderError(SyncClientsError):
    """An LLM provider answered with an error status.

    Attributes:
        provider: the provider's name.
        status_code: the HTTP status (0 when none, e.g. a local rate limit).
        retry_after: the server-given delay in seconds (``retry-after-ms``, ``retry-after``,
            rate-limit reset headers), or None.
        body_excerpt: a bounded excerpt of the error body.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int = 0,
        retry_after: float | None = None,
        body_excerpt: str = "",
    ) -> None:
        super().__init__(message, target=provider)
        self.provider = provider
        self.status_code = status_code
        self.retry_after = retry_after
        self.body_excerpt = body_excerpt


class RateLimitedError(ProviderError):
    """429 Too Many Requests, or our client-side limit (``local=True``, nothing was sent)."""

    def __init__(self, message: str, *, local: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.local = local


class OverloadedError(ProviderError):
    """The provider is overloaded (Anthropic 529, or 503). Transient."""


class ProviderServerError(ProviderError):
    """Any other server-side failure (5xx, 408, 409). Transient."""


class AuthenticationError(ProviderError):
    """401: the key is missing, wrong or revoked. Final."""


class PermissionDeniedError(ProviderError):
    """403: the key may not use this model or feature. Final."""


class BadRequestError(ProviderError):
    """The request is invalid for this provider (400, 404, 413, 422). Final."""


class ContextLengthExceededError(BadRequestError):
    """The prompt (plus ``max_tokens``) exceeds the model's context window. Final."""


class ContentFilteredError(ProviderError):
    """The request was refused by the provider's safety filter before generating. Final."""


_CONTEXT_PATTERNS = re.compile(
    r"context_length_exceeded|context length|maximum context|prompt is too long|"
    r"too many tokens|exceeds the maximum number of tokens|input token count",
    re.IGNORECASE,
)
_FILTER_PATTERNS = re.compile(r"content_filter|content_policy|content management policy", re.I)


def error_for_status(
    provider: str, status: int, body: str, headers: Mapping[str, str] | None
) -> ProviderError:
    """Build the :class:`ProviderError` subclass for an HTTP error status.

    Args:
        provider: the provider's name (for the message and ``.provider``).
        status: the HTTP status code.
        body: the error body text (bounded here; never contains the request's key).
        headers: the response headers, read for the server-given delay.

    Returns:
        The error to raise.
    """
    short = excerpt(body, 300)
    delay = server_delay_s(headers) if headers is not None else None
    kwargs: dict[str, Any] = {
        "provider": provider,
        "status_code": status,
        "retry_after": delay,
        "body_excerpt": short,
    }
    message = f"{provider}: HTTP {status}: {short}"
    if status == 429:
        return RateLimitedError(message, **kwargs)
    if status in (503, 529) or "overloaded" in body.lower():
        return OverloadedError(message, **kwargs)
    if status >= 500 or status in (408, 409):
        return ProviderServerError(message, **kwargs)
    if status == 401:
        return AuthenticationError(message, **kwargs)
    if status == 403:
        return PermissionDeniedError(message, **kwargs)
    if _CONTEXT_PATTERNS.search(body):
        return ContextLengthExceededError(message, **kwargs)
    if _FILTER_PATTERNS.search(body):
        return ContentFilteredError(message, **kwargs)
    return BadRequestError(message, **kwargs)


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying or failing over: rate limits, overload, server
    errors, timeouts and connection failures (not TLS failures)."""
    from ..errors import TLSError

    if isinstance(exc, RateLimitedError | OverloadedError | ProviderServerError):
        return True
    return isinstance(exc, TransportError) and not isinstance(exc, TLSError)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _duration_s(value: str) -> float | None:
    """OpenAI's reset durations: ``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"``."""
    total, pos = 0.0, 0
    value = value.strip()
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            return None
        number, unit = float(match.group(1)), match.group(2)
        total += number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
        pos = match.end()
    return total if pos == len(value) and pos else None


def _reset_s(value: str, now: float) -> float | None:
    duration = _duration_s(value)
    if duration is not None:
        return duration
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def server_delay_s(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The delay a provider asks for before the next request, in seconds, or None.

    Read in this order (the first present wins): ``retry-after-ms`` (milliseconds, OpenAI
    and Anthropic), ``x-ms-retry-after-ms`` (Azure), ``retry-after`` (seconds or HTTP-date,
    RFC 9110 section 10.2.3), then the rate-limit reset headers: OpenAI's
    ``x-ratelimit-reset-requests`` / ``-tokens`` (durations like ``6m0s``) and Anthropic's
    ``anthropic-ratelimit-*-reset`` (RFC 3339 instants). Of the reset headers, those whose
    ``remaining`` counterpart is 0 are used (the exhausted limit), else all; the longest wins.

    Args:
        headers: the response headers (case-insensitive mapping or a dict).
        now: the current wall-clock time (``time.time()``), for tests.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    current = time.time() if now is None else now
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if name in lower:
            try:
                return max(0.0, float(lower[name]) / 1000.0)
            except ValueError:
                pass
    if "retry-after" in lower:
        value = lower["retry-after"].strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = parse_retry_after(value, now=current)
            if parsed is not None:
                return parsed
    resets: list[tuple[bool, float]] = []
    for name, value in lower.items():
        if name.startswith(("x-ratelimit-reset-", "anthropic-ratelimit-")) and name.endswith(
            ("reset", "-requests", "-tokens")
        ):
            if name.startswith("anthropic-") and not name.endswith("-reset"):
                continue
            seconds = _reset_s(value, current)
            if seconds is None:
                continue
            if name.startswith("x-ratelimit-reset-"):
                remaining = lower.get("x-ratelimit-remaining-" + name[len("x-ratelimit-reset-") :])
            else:
                remaining = lower.get(name[: -len("-reset")] + "-remaining")
            resets.append((remaining is not None and remaining.strip() == "0", seconds))
    if not resets:
        return None
    exhausted = [s for flag, s in resets if flag]
    return max(exhausted or [s for _flag, s in resets])
