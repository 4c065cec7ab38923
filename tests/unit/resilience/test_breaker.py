"""CircuitBreaker: transitions, bounded half-open probes, failure-rate mode, listeners."""

from __future__ import annotations

import threading

import circuitbreaker
import pytest

from syncclients import BreakerPolicy, CircuitOpenError, UsageError
from syncclients.resilience import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fail() -> None:
    raise ConnectionError("down")


def trip(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionError):
            breaker.call(fail)


def test_opens_after_consecutive_failures_and_rejects_without_calling() -> None:
    clock = Clock()
    b = CircuitBreaker(
        BreakerPolicy(failure_threshold=3, recovery_timeout_s=10), name="t", clock=clock
    )
    trip(b, 2)
    assert b.state == "closed"
    trip(b, 1)
    assert b.state == "open"
    called = []
    with pytest.raises(CircuitOpenError) as info:
        b.call(called.append, 1)
    assert called == []
    assert info.value.name == "t"
    assert info.value.remaining_s == pytest.approx(10.0)
    assert isinstance(info.value, circuitbreaker.CircuitBreakerError)


def test_success_resets_consecutive_count() -> None:
    b = CircuitBreaker(BreakerPolicy(failure_threshold=2), name="t")
    trip(b, 1)
    assert b.call(lambda: 7) == 7
    trip(b, 1)
    assert b.state == "closed"


def test_recovery_half_open_then_success_threshold_closes() -> None:
    clock = Clock()
    policy = BreakerPolicy(failure_threshold=1, recovery_timeout_s=5, success_threshold=2)
    b = CircuitBreaker(policy, name="t", clock=clock)
    trip(b, 1)
    clock.now += 4.9
    assert b.state == "open"
    clock.now += 0.2
    assert b.state == "half_open"
    b.call(lambda: None)
    assert b.state == "half_open"  # one success is not enough
    b.call(lambda: None)
    assert b.state == "closed"


def test_failed_probe_reopens() -> None:
    clock = Clock()
    b = CircuitBreaker(
        BreakerPolicy(failure_threshold=1, recovery_timeout_s=1), name="t", clock=clock
    )
    trip(b, 1)
    clock.now += 1
    trip(b, 1)
    assert b.state == "open"
    assert b.info().remaining_s == pytest.approx(1.0)


def test_zero_recovery_timeout_is_honoured() -> None:
    b = CircuitBreaker(BreakerPolicy(failure_threshold=1, recovery_timeout_s=0), name="t")
    trip(b, 1)
    assert b.state == "half_open"  # not silently 30 s as in circuitbreaker
    assert b.call(lambda: 1) == 1
    assert b.state == "closed"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"half_open_max_calls": 0},
        {"success_threshold": 0},
        {"recovery_timeout_s": -1},
        {"failure_rate": 1.5},
        {"failure_threshold": None},
        {"window_size": 10, "minimum_calls": 20},
    ],
)
def test_invalid_policy_values_are_rejected_not_replaced(kwargs: dict) -> None:
    with pytest.raises(UsageError):
        BreakerPolicy(**kwargs)


def test_half_open_admits_only_permitted_probes_under_32_threads() -> None:
    clock = Clock()
    policy = BreakerPolicy(failure_threshold=1, recovery_timeout_s=1, half_open_max_calls=3)
    b = CircuitBreaker(policy, name="t", clock=clock)
    trip(b, 1)
    clock.now += 1
    release = threading.Event()
    barrier = threading.Barrier(32)
    admitted, rejected = [], []
    lock = threading.Lock()

    def probe() -> None:
        with lock:
            admitted.append(1)
        assert release.wait(10)

    def worker() -> None:
        barrier.wait(10)
        try:
            b.call(probe)
        except CircuitOpenError:
            with lock:
                rejected.append(1)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    # every thread either is inside a probe or has been rejected before we release
    for _ in range(1000):
        with lock:
            if len(admitted) + len(rejected) == 32:
                break
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(10)
    assert len(admitted) == 3
    assert len(rejected) == 29
    assert b.state == "closed"


def test_failure_rate_mode_trips_on_rate_not_streak() -> None:
    policy = BreakerPolicy(
        failure_threshold=None, failure_rate=0.5, window_size=10, minimum_calls=10
    )
    b = CircuitBreaker(policy, name="t")
    for i in range(9):  # alternating: never 2 consecutive failures, rate 50%
        if i % 2:
            trip(b, 1)
        else:
            b.call(lambda: None)
    assert b.state == "closed"  # minimum_calls not reached
    trip(b, 1)  # 10 calls, 5 failures
    assert b.state == "open"


def test_failure_rate_window_slides() -> None:
    policy = BreakerPolicy(failure_threshold=None, failure_rate=0.6, window_size=5, minimum_calls=5)
    b = CircuitBreaker(policy, name="t")
    trip(b, 2)
    for _ in range(8):
        b.call(lambda: None)
    info = b.info()
    assert (info.window_calls, info.window_failures) == (5, 0)
    assert b.state == "closed"


def test_classifier_decides_what_counts() -> None:
    policy = BreakerPolicy(failure_threshold=1, is_failure=lambda e: isinstance(e, TimeoutError))
    b = CircuitBreaker(policy, name="t")
    with pytest.raises(KeyError):
        b.call(lambda: {}["x"])
    assert b.state == "closed"
    with pytest.raises(TimeoutError):
        b.call(lambda: (_ for _ in ()).throw(TimeoutError()))
    assert b.state == "open"


def test_usage_errors_never_count_by_default() -> None:
    b = CircuitBreaker(BreakerPolicy(failure_threshold=1), name="t")

    def bad() -> None:
        raise UsageError("bug")

    with pytest.raises(UsageError):
        b.call(bad)
    assert b.state == "closed"


def test_listeners_see_every_transition_in_order() -> None:
    clock = Clock()
    b = CircuitBreaker(
        BreakerPolicy(failure_threshold=1, recovery_timeout_s=1), name="svc", clock=clock
    )
    seen: list[tuple[str, str, str]] = []
    b.add_listener(lambda *args: seen.append(args))
    b.add_listener(lambda *args: 1 / 0)  # a broken listener never breaks calls
    trip(b, 1)
    clock.now += 1
    b.call(lambda: None)
    assert seen == [
        ("svc", "closed", "open"),
        ("svc", "open", "half_open"),
        ("svc", "half_open", "closed"),
    ]


def test_stale_outcome_from_previous_period_is_ignored() -> None:
    clock = Clock()
    b = CircuitBreaker(
        BreakerPolicy(failure_threshold=1, recovery_timeout_s=1), name="t", clock=clock
    )
    slow = b.acquire()  # admitted while closed
    trip(b, 1)  # opens
    clock.now += 1
    probe = b.acquire()
    assert probe.probe
    b.release(slow, ConnectionError("late"))  # belongs to the closed period: ignored
    assert b.state == "half_open"
    b.release(probe)
    assert b.state == "closed"


def test_decorator_and_context_manager_share_one_breaker_and_check_open() -> None:
    b = CircuitBreaker(BreakerPolicy(failure_threshold=2), name="t")

    class Api:
        @b
        def get(self) -> None:
            raise ConnectionError("x")

    for api in (Api(), Api()):  # two instances, one breaker
        with pytest.raises(ConnectionError):
            api.get()
    assert b.state == "open"
    with pytest.raises(CircuitOpenError):
        Api().get()
    with pytest.raises(CircuitOpenError), b:
        pass  # circuitbreaker's own `with` skips this check


def test_keyboard_interrupt_is_neutral_and_releases_probe() -> None:
    clock = Clock()
    b = CircuitBreaker(
        BreakerPolicy(failure_threshold=1, recovery_timeout_s=1), name="t", clock=clock
    )
    trip(b, 1)
    clock.now += 1

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        b.call(interrupted)
    assert b.state == "half_open"
    assert b.info().half_open_in_flight == 0
    b.call(lambda: None)
    assert b.state == "closed"


def test_reset_and_decorating_coroutines_is_refused() -> None:
    b = CircuitBreaker(BreakerPolicy(failure_threshold=1), name="t")
    trip(b, 1)
    b.reset()
    assert b.state == "closed"

    async def coro() -> None:
        pass

    with pytest.raises(UsageError):
        b.decorate(coro)
