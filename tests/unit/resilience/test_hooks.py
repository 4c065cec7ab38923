"""The default LoggingHook's levels: quiet at WARNING for client errors and rejections,
loud for exhausted retries and breaker transitions."""

from __future__ import annotations

import logging

import pytest

from syncclients import (
    BreakerPolicy,
    CircuitOpenError,
    ConnectError,
    HTTPStatusError,
    MCPError,
    RetryPolicy,
)
from syncclients.resilience import CircuitBreaker, LoggingHook, Resilience
from syncclients.resilience import retry as retry_mod

LOGGER = "syncclients.resilience"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff sleeps are recorded, not slept (backoff sleeps through time.sleep)."""
    monkeypatch.setattr(retry_mod.backoff._sync.time, "sleep", lambda s: None)


def raising(exc: Exception):
    def fn(ctx) -> None:
        raise exc

    return fn


def levels(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


def resilience(*, max_attempts: int = 1, breaker: CircuitBreaker | None = None) -> Resilience:
    return Resilience(
        target="svc",
        retry=RetryPolicy(max_attempts=max_attempts, initial_delay_s=0),
        breaker=breaker,
        budget=None,
        hooks=[LoggingHook()],
    )


@pytest.mark.parametrize(
    "error",
    [
        HTTPStatusError("404", status_code=404),
        HTTPStatusError("422", status_code=422),
        MCPError("no such tool", code=-32602),
    ],
)
def test_client_errors_are_debug(caplog: pytest.LogCaptureFixture, error: Exception) -> None:
    res = resilience(max_attempts=3)
    with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(type(error)):
        res.call(raising(error), operation="GET /x", retryable=lambda e: False)
    assert [lvl for lvl, _ in levels(caplog)] == [logging.DEBUG]


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_final_server_failures_are_warning(caplog: pytest.LogCaptureFixture, status: int) -> None:
    res = resilience()
    with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(HTTPStatusError):
        res.call(
            raising(HTTPStatusError("x", status_code=status)),
            operation="POST /x",
            retryable=lambda e: False,
        )
    assert [lvl for lvl, _ in levels(caplog)] == [logging.WARNING]


def test_retries_info_and_exhausted_retries_warning(caplog: pytest.LogCaptureFixture) -> None:
    res = resilience(max_attempts=3)
    with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(ConnectError):
        res.call(raising(ConnectError("down")), operation="GET /x", retryable=lambda e: True)
    assert [lvl for lvl, _ in levels(caplog)] == [logging.INFO, logging.INFO, logging.WARNING]
    assert "giving up: max_attempts" in levels(caplog)[-1][1]


def test_rejections_debug_and_breaker_transitions_warning_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    breaker = CircuitBreaker(
        BreakerPolicy(failure_threshold=2, recovery_timeout_s=60.0),
        name="svc",
        is_failure=lambda e: True,
    )
    res = resilience(breaker=breaker)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for _ in range(2):
            with pytest.raises(ConnectError):
                res.call(raising(ConnectError("down")), operation="GET /x", retryable=bool)
        for _ in range(5):
            with pytest.raises(CircuitOpenError):
                res.call(raising(ConnectError("down")), operation="GET /x", retryable=bool)
    records = levels(caplog)
    warnings = [msg for lvl, msg in records if lvl == logging.WARNING]
    transitions = [m for m in warnings if "circuit breaker" in m]
    assert transitions == ["svc: circuit breaker closed -> open"]
    rejected = [r for r in caplog.records if getattr(r, "syncclients.outcome", "") == "rejected"]
    assert len(rejected) == 5
    assert all(r.levelno == logging.DEBUG for r in rejected)


def test_warning_level_logger_sees_no_client_error_or_rejection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A web app at WARNING: a burst of 404s and rejections logs nothing."""
    res = resilience()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(20):
            with pytest.raises(HTTPStatusError):
                res.call(
                    raising(HTTPStatusError("404", status_code=404)),
                    operation="GET /missing",
                    retryable=lambda e: False,
                )
    assert levels(caplog) == []
