"""run_batch: order, one outcome per input, bounded concurrency, deadline, fail_fast, Ctrl-C."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from syncclients import ConnectError, UsageError
from syncclients.batch import BatchCall, BatchInterrupted, BatchProgress, run_batch
from syncclients.errors import CallCancelledError, CallInterruptedError, DeadlineExceeded


def test_results_in_input_order_with_one_outcome_each() -> None:
    def fn(item: int, call: BatchCall) -> int:
        time.sleep(0.001 * (10 - item % 10))  # finish out of order
        if item % 7 == 3:
            raise ConnectError(f"item {item} failed")
        return item * 2

    outcomes = run_batch(fn, range(50), max_workers=8)
    assert [o.index for o in outcomes] == list(range(50))
    for i, o in enumerate(outcomes):
        if i % 7 == 3:
            assert not o.ok
            assert isinstance(o.error, ConnectError)
            assert o.result is None
            assert o.status == "error"
        else:
            assert o.ok
            assert o.result == i * 2
            assert o.error is None
            assert o.attempts == 1
            assert o.duration_s >= 0


def test_concurrency_is_bounded_on_own_pool_and_on_a_callers_executor() -> None:
    for executor in (None, ThreadPoolExecutor(32)):
        active = peak = 0
        lock = threading.Lock()

        def fn(item: int, call: BatchCall) -> None:
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.005)
            with lock:
                active -= 1

        outcomes = run_batch(fn, range(40), max_workers=4, executor=executor)
        assert all(o.ok for o in outcomes)
        assert peak <= 4
        if executor is not None:
            executor.submit(lambda: None).result(5)  # the caller's executor is left usable
            executor.shutdown()


def test_per_call_timeout_is_capped_by_deadline() -> None:
    seen: list[float | None] = []

    def fn(item: int, call: BatchCall) -> None:
        seen.append(call.timeout_s)

    run_batch(fn, range(3), timeout=50.0, deadline=2.0, max_workers=1)
    assert all(t is not None and t <= 2.0 for t in seen)
    seen.clear()
    run_batch(fn, range(2), timeout=0.5)
    assert seen == [0.5, 0.5]
    seen.clear()
    run_batch(fn, range(2))
    assert seen == [None, None]


def test_deadline_returns_promptly_and_marks_unfinished_calls() -> None:
    release = threading.Event()

    def fn(item: int, call: BatchCall) -> str:
        if item < 2:
            return "fast"
        release.wait(call.timeout_s + 5 if call.timeout_s else 5)  # ignores its timeout
        return "late"

    started = time.monotonic()
    outcomes = run_batch(fn, range(10), max_workers=4, deadline=0.3, cancel_grace_s=0.1)
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 2.0
    assert [o.status for o in outcomes[:2]] == ["ok", "ok"]
    assert {o.status for o in outcomes[2:]} == {"deadline"}
    assert all(isinstance(o.error, DeadlineExceeded) for o in outcomes[2:])
    assert all(o.attempts == 0 for o in outcomes[6:])  # never started
    assert len(outcomes) == 10


def test_fail_fast_starts_nothing_new_and_keeps_running_results() -> None:
    started: list[int] = []
    lock = threading.Lock()
    second_running = threading.Event()

    def fn(item: int, call: BatchCall) -> int:
        with lock:
            started.append(item)
        if item == 0:
            assert second_running.wait(5)
            raise ConnectError("first fails")
        second_running.set()
        time.sleep(0.05)
        return item

    outcomes = run_batch(fn, range(20), max_workers=2, fail_fast=True)
    assert len(outcomes) == 20
    assert outcomes[0].status == "error"
    assert outcomes[1].ok  # was running when the failure came: its result is kept
    cancelled = [o for o in outcomes if o.status == "cancelled"]
    assert cancelled
    assert all(isinstance(o.error, CallCancelledError) and o.attempts == 0 for o in cancelled)
    assert len(started) < 20


def test_progress_callback_sees_every_outcome_on_calling_thread() -> None:
    events: list[BatchProgress] = []
    threads: set[str] = set()

    def on_progress(p: BatchProgress) -> None:
        events.append(p)
        threads.add(threading.current_thread().name)

    def fn(item: int, call: BatchCall) -> int:
        if item == 3:
            raise ConnectError("x")
        return item

    run_batch(fn, range(10), on_progress=on_progress)
    assert [e.done for e in events] == list(range(1, 11))
    assert events[-1].succeeded == 9
    assert events[-1].failed == 1
    assert threads == {threading.current_thread().name}


def test_progress_bar_writes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    run_batch(lambda item, call: item, range(5), progress=True, description="demo")
    err = capsys.readouterr().err
    assert "demo" in err
    assert "5/5" in err


def test_keyboard_interrupt_raises_with_outcomes_so_far() -> None:
    """Running calls are interrupted (their abort callbacks run before Ctrl-C propagates),
    only calls never started are cancelled, finished ones keep their outcome."""
    release = threading.Event()
    running = threading.Barrier(3, timeout=5)
    aborted: list[int] = []

    def fn(item: int, call: BatchCall) -> int:
        if item == 0:
            running.wait()  # calls 1 and 2 are running
            return 0
        call.on_interrupt(lambda: aborted.append(item))
        running.wait()
        assert release.wait(5)  # still running when Ctrl-C comes
        return item

    def on_progress(p: BatchProgress) -> None:
        raise KeyboardInterrupt  # Ctrl-C arrives while the batch waits

    with pytest.raises(BatchInterrupted) as info:
        run_batch(fn, range(6), max_workers=3, on_progress=on_progress)
    release.set()
    outcomes = info.value.outcomes
    assert isinstance(info.value, KeyboardInterrupt)
    assert len(outcomes) == 6
    assert outcomes[0].ok
    assert sorted(aborted) == [1, 2]
    assert [o.status for o in outcomes[1:3]] == ["interrupted", "interrupted"]
    assert all(isinstance(o.error, CallInterruptedError) for o in outcomes[1:3])
    assert all(o.attempts == 1 and o.duration_s > 0 for o in outcomes[1:3])
    assert [o.status for o in outcomes[3:]] == ["cancelled"] * 3
    assert all(type(o.error) is CallCancelledError for o in outcomes[3:])
    assert "2 interrupted while running" in str(info.value)
    assert "3 not started" in str(info.value)


def test_abort_registered_after_the_interrupt_runs_at_once() -> None:
    call = BatchCall(0, None, threading.Event())
    call._interrupt()
    ran: list[str] = []
    call.on_interrupt(lambda: ran.append("abort"))
    assert ran == ["abort"] and call.interrupted


def test_result_reporting_a_failure_is_a_tool_error() -> None:
    seen: list[BatchProgress] = []
    outcomes = run_batch(
        lambda item, call: {"isError": item % 2 == 1, "n": item},
        range(4),
        on_progress=seen.append,
        result_failed=lambda result: bool(result["isError"]),
    )
    assert [o.status for o in outcomes] == ["ok", "tool_error", "ok", "tool_error"]
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert outcomes[1].result == {"isError": True, "n": 1} and outcomes[1].error is None
    assert (seen[-1].succeeded, seen[-1].failed) == (2, 2)


def test_progress_bar_counts_tool_errors_as_failed(capsys: pytest.CaptureFixture[str]) -> None:
    run_batch(
        lambda item, call: item,
        range(5),
        progress=True,
        result_failed=lambda result: result >= 3,
    )
    assert "failed=2, ok=3" in capsys.readouterr().err


def test_empty_batch_and_bad_arguments() -> None:
    assert run_batch(lambda item, call: item, []) == []
    with pytest.raises(UsageError):
        run_batch(lambda item, call: item, [1], max_workers=0)
    with pytest.raises(UsageError):
        run_batch(lambda item, call: item, [1], timeout=0)
    with pytest.raises(UsageError):
        run_batch(lambda item, call: item, [1], deadline=-1)


def test_attempts_reported_by_the_call() -> None:
    def fn(item: int, call: BatchCall) -> int:
        call.attempts = 3
        return item

    assert [o.attempts for o in run_batch(fn, range(3))] == [3, 3, 3]
