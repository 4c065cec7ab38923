"""Run many calls on a thread pool: ordered, one outcome per input, nothing lost.

:func:`run_batch` is the engine behind ``MCPClient.call_tool_batch`` and the group batch; it
works with any callable, so it also batches ``HTTPClient`` or ``GRPCClient`` calls.

Guarantees:

- the result is a list in input order with exactly one :class:`BatchOutcome` per input,
  whatever happens (exceptions, the deadline, ``fail_fast``, Ctrl-C);
- at most ``max_workers`` calls run at once, on our pool or on the caller's executor;
- each call gets ``timeout_s = min(timeout, what remains of the deadline)`` in its
  :class:`BatchCall`, so calls end by the deadline on their own (and a client cancels the
  request on the server when its timeout fires); the batch itself returns at most
  ``cancel_grace_s`` after the deadline, marking what is still running as
  :class:`~syncclients.errors.DeadlineExceeded`;
- ``fail_fast`` starts nothing new after the first failure and lets running calls finish
  (their results are kept); the rest become :class:`~syncclients.errors.CallCancelledError`;
- Ctrl-C (KeyboardInterrupt in the calling thread) starts nothing new, aborts running calls
  (each call's :meth:`BatchCall.on_interrupt` callbacks run on the calling thread before
  Ctrl-C propagates: an MCP call sends ``notifications/cancelled`` for its request), and
  raises :class:`BatchInterrupted` carrying every outcome: calls that finished keep their
  outcome, calls that were running are :class:`~syncclients.errors.CallInterruptedError`
  (status ``"interrupted"``: they may have run on the server, the outcome is unknown), and
  only calls never started are :class:`~syncclients.errors.CallCancelledError`;
- a result that reports a failure (``result_failed``, e.g. an MCP tool's ``isError``) is a
  failed outcome with status ``"tool_error"``: ``ok`` False, ``error`` None, ``result`` kept;
  it counts as failed in :class:`BatchProgress` and the progress bar.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from .errors import CallCancelledError, CallInterruptedError, DeadlineExceeded, UsageError

__all__ = ["BatchCall", "BatchInterrupted", "BatchOutcome", "BatchProgress", "run_batch"]

ItemT = TypeVar("ItemT")
T = TypeVar("T")

Status = Literal["ok", "error", "deadline", "cancelled", "interrupted", "tool_error"]

_log = logging.getLogger("syncclients.batch")


@dataclass(frozen=True, slots=True)
class BatchOutcome(Generic[T]):
    """The outcome of one input of a batch.

    Attributes:
        index: the input's position (the list is in input order; this repeats it).
        ok: True when the call returned a result that does not report a failure.
        result: what the call returned (also for status ``"tool_error"``), or None when it
            raised or never finished.
        error: the exception (from our tree: a failed call's error,
            :class:`~syncclients.errors.DeadlineExceeded`,
            :class:`~syncclients.errors.CallInterruptedError`, or
            :class:`~syncclients.errors.CallCancelledError`), or None when ``ok`` or when
            the call returned a result that reports a failure (status ``"tool_error"``).
        attempts: attempts the call made (0 when it never started).
        duration_s: how long the call ran, in seconds (0.0 when it never started).
    """

    index: int
    ok: bool
    result: T | None
    error: BaseException | None
    attempts: int
    duration_s: float

    @property
    def status(self) -> Status:
        """What happened to the call.

        ``"ok"``; ``"tool_error"`` (it returned a result that reports a failure, e.g. an MCP
        ``isError``); ``"error"`` (it raised); ``"deadline"`` (the batch deadline passed);
        ``"interrupted"`` (Ctrl-C while it ran: it may have run on the server, outcome
        unknown); ``"cancelled"`` (never started: nothing was sent).
        """
        if self.ok:
            return "ok"
        if self.error is None:
            return "tool_error"
        if isinstance(self.error, DeadlineExceeded):
            return "deadline"
        if isinstance(self.error, CallInterruptedError):
            return "interrupted"
        if isinstance(self.error, CallCancelledError):
            return "cancelled"
        return "error"


@dataclass(slots=True)
class BatchCall:
    """What one call of a batch is told, and may report back.

    Attributes:
        index: the input's position.
        timeout_s: the time this call may take, in seconds: the batch's per-call ``timeout``
            capped by what remains of its deadline; None: no limit.
        cancelled: set when the batch stops early (deadline, fail_fast, Ctrl-C); a call that
            can abort its request should watch it.
        attempts: the call may set how many attempts it made (default 1).
    """

    index: int
    timeout_s: float | None
    cancelled: threading.Event
    attempts: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _aborts: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)
    _interrupted: bool = field(default=False, init=False, repr=False)

    @property
    def interrupted(self) -> bool:
        """True once Ctrl-C interrupted the batch while this call ran: make no new attempt."""
        return self._interrupted

    def on_interrupt(self, abort: Callable[[], None]) -> None:
        """Register ``abort``, run once if Ctrl-C interrupts the batch while this call runs.

        It runs on the batch caller's thread before :class:`BatchInterrupted` is raised, so
        it should be quick and must not block (e.g. send a protocol cancellation). If the
        batch was already interrupted, ``abort`` runs at once on this thread. An ``abort``
        that raises is logged and ignored. Registering for a request that already finished
        is harmless when ``abort`` is then a no-op.
        """
        with self._lock:
            if not self._interrupted:
                self._aborts.append(abort)
                return
        _run_abort(abort)

    def _interrupt(self) -> None:
        with self._lock:
            if self._interrupted:
                return
            self._interrupted = True
            aborts, self._aborts = self._aborts, []
        for abort in aborts:
            _run_abort(abort)


def _run_abort(abort: Callable[[], None]) -> None:
    try:
        abort()
    except Exception:  # an abort must not hide the interrupt
        _log.exception("batch: an interrupt callback failed")


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """Progress after each finished call (passed to ``on_progress``).

    Attributes:
        done: calls finished so far (any status).
        total: calls in the batch.
        succeeded: calls with status ``"ok"``.
        failed: every other finished call (``"tool_error"`` included).
        last: the outcome that just finished.
    """

    done: int
    total: int
    succeeded: int
    failed: int
    last: BatchOutcome[Any]


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a batch. Still a KeyboardInterrupt, so a script stops as usual.

    Attributes:
        outcomes: one outcome per input, in input order: finished calls keep their outcome,
            calls that were running are CallInterruptedError (status ``"interrupted"``,
            outcome unknown), calls never started are CallCancelledError.
    """

    def __init__(self, outcomes: list[BatchOutcome[Any]]) -> None:
        counts = {"ok": 0, "interrupted": 0, "cancelled": 0}
        for outcome in outcomes:
            if outcome.status in counts:
                counts[outcome.status] += 1
        failed = len(outcomes) - sum(counts.values())
        super().__init__(
            f"batch interrupted: of {len(outcomes)} calls {counts['ok']} succeeded, "
            f"{failed} failed, {counts['interrupted']} interrupted while running (outcome "
            f"unknown), {counts['cancelled']} not started"
        )
        self.outcomes = outcomes


@dataclass(slots=True)
class _Run(Generic[ItemT, T]):
    items: list[ItemT]
    end: float | None
    timeout: float | None
    result_failed: Callable[[T], bool] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    #: guards the start of a call against Ctrl-C: a call either starts before the
    #: interrupt (and is in ``calls`` for good) or sees ``cancel`` set and never starts
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: dict[int, tuple[BatchCall, float]] = field(default_factory=dict)


def _check_seconds(name: str, value: float | None) -> None:
    if value is not None and (isinstance(value, bool) or not value > 0):
        raise UsageError(f"{name} must be seconds > 0 or None, got {value!r}")


def run_batch(
    fn: Callable[[ItemT, BatchCall], T],
    items: Iterable[ItemT],
    *,
    max_workers: int = 8,
    timeout: float | None = None,
    deadline: float | None = None,
    fail_fast: bool = False,
    on_progress: Callable[[BatchProgress], None] | None = None,
    progress: bool = False,
    executor: Executor | None = None,
    description: str = "calls",
    cancel_grace_s: float = 0.25,
    result_failed: Callable[[T], bool] | None = None,
) -> list[BatchOutcome[T]]:
    """Call ``fn(item, call)`` for every item, concurrently, and return one outcome each.

    Args:
        fn: the call; receives the item and its :class:`BatchCall` (``call.timeout_s`` is
            the time it may take). Its exceptions become failed outcomes.
        items: the inputs (consumed into a list first).
        max_workers: the most calls running at once (>= 1).
        timeout: seconds each call may take; None: no per-call limit.
        deadline: seconds the whole batch may take, from now; None: no overall limit.
        fail_fast: after the first failure start nothing new (running calls finish).
        on_progress: called on the calling thread after each finished call.
        progress: show a tqdm progress bar on stderr (needs the ``progress`` extra).
        executor: run on this executor instead of a new thread pool (not shut down here;
            concurrency is still limited to ``max_workers``).
        description: the progress bar's label.
        cancel_grace_s: after the deadline, how long to wait for running calls to report
            their own timeout before marking them DeadlineExceeded, in seconds.
        result_failed: tells whether a returned result reports a failure (an MCP tool's
            ``isError``): such an outcome has status ``"tool_error"``, ``ok`` False and its
            result. None: every returned result is a success.

    Returns:
        A list with exactly one :class:`BatchOutcome` per item, in input order.

    Raises:
        BatchInterrupted: Ctrl-C; carries the outcomes so far.
        UsageError: invalid arguments, or ``progress=True`` without tqdm installed.
    """
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise UsageError(f"max_workers must be an int >= 1, got {max_workers!r}")
    _check_seconds("timeout", timeout)
    _check_seconds("deadline", deadline)
    todo = list(items)
    total = len(todo)
    bar = _progress_bar(total, description) if progress else None
    outcomes: list[BatchOutcome[T] | None] = [None] * total
    started_at = time.monotonic()
    run: _Run[ItemT, T] = _Run(
        todo, None if deadline is None else started_at + deadline, timeout, result_failed
    )
    pool = executor or ThreadPoolExecutor(
        max_workers=min(max_workers, max(total, 1)), thread_name_prefix="syncclients-batch"
    )
    running: dict[Future[BatchOutcome[T]], int] = {}
    # Finished futures, in the order they finished. concurrent.futures.wait() would install
    # and remove a waiter on every running future each time: O(running) per completion,
    # quadratic for a wide batch (measurable at max_workers=200).
    finished: queue.SimpleQueue[Future[BatchOutcome[T]]] = queue.SimpleQueue()
    next_index = 0
    counts = {"ok": 0, "failed": 0}
    interrupted = False

    def record(outcome: BatchOutcome[T]) -> None:
        if outcomes[outcome.index] is not None:
            return
        outcomes[outcome.index] = outcome
        counts["ok" if outcome.ok else "failed"] += 1  # a "tool_error" is failed
        if bar is not None:
            bar.update(1)
            bar.set_postfix(ok=counts["ok"], failed=counts["failed"], refresh=False)
        if on_progress is not None and not interrupted:
            on_progress(
                BatchProgress(sum(counts.values()), total, counts["ok"], counts["failed"], outcome)
            )

    def fill(make_error: Callable[[int], BaseException]) -> None:
        for i in range(total):
            if outcomes[i] is None:
                record(BatchOutcome(i, False, None, make_error(i), 0, 0.0))

    try:
        while True:
            while (
                not run.cancel.is_set()
                and next_index < total
                and len(running) < max_workers
                and (run.end is None or time.monotonic() < run.end)
            ):
                # each call runs in a copy of the caller's context (contextvars: the
                # current OpenTelemetry span is the parent of the call's spans)
                ctx = contextvars.copy_context()
                future = pool.submit(ctx.run, _call_one, fn, run, next_index)
                running[future] = next_index
                future.add_done_callback(finished.put)
                next_index += 1
            if not running:
                break
            wait_s = None if run.end is None else max(0.0, run.end - time.monotonic())
            if run.cancel.is_set() and run.end is not None:
                wait_s = max(0.0, run.end + cancel_grace_s - time.monotonic())
            done = _next_finished(finished, wait_s)
            for future in done:
                index = running.pop(future)
                record(_outcome_of(future, index))
                last = outcomes[index]
                if fail_fast and last is not None and not last.ok:
                    run.cancel.set()
            if not done:  # the deadline passed
                if run.cancel.is_set():
                    break  # grace over: what still runs is marked below
                run.cancel.set()  # start nothing new; give running calls the grace
        deadline_s = deadline

        def deadline_error(i: int) -> BaseException:
            return DeadlineExceeded(
                f"batch deadline of {deadline_s} s passed before call {i} finished",
                timeout_s=deadline_s,
            )

        if run.end is not None and time.monotonic() >= run.end:
            fill(deadline_error)
        fill(lambda i: CallCancelledError(f"call {i} cancelled: the batch stopped early"))
    except KeyboardInterrupt:
        interrupted = True  # no more callbacks: the user asked to stop
        with run.lock:  # from here no call starts: each one is either in run.calls or not
            run.cancel.set()
            started = dict(run.calls)
        for future in running:
            future.cancel()  # queued in the pool, not started: never sent
        for index, (call, _) in started.items():
            if outcomes[index] is None:
                call._interrupt()  # e.g. notifications/cancelled for its request
        while True:  # calls that finished meanwhile keep their real outcome
            try:
                future = finished.get_nowait()
            except queue.Empty:
                break
            index = running.pop(future, -1)
            if index >= 0 and not future.cancelled():
                record(_outcome_of(future, index))
        now = time.monotonic()
        for index, (call, call_started) in sorted(started.items()):
            if outcomes[index] is None:
                error = CallInterruptedError(
                    f"call {index} interrupted by Ctrl-C while running: it may have run "
                    "(an MCP request is cancelled on the server); outcome unknown"
                )
                record(BatchOutcome(index, False, None, error, call.attempts, now - call_started))
        fill(lambda i: CallCancelledError(f"call {i} not started: cancelled by Ctrl-C"))
        raise BatchInterrupted([o for o in outcomes if o is not None]) from None
    finally:
        if executor is None:
            pool.shutdown(wait=False, cancel_futures=True)
        if bar is not None:
            bar.close()
    return [o for o in outcomes if o is not None]


def _next_finished(
    finished: queue.SimpleQueue[Future[BatchOutcome[T]]], timeout_s: float | None
) -> list[Future[BatchOutcome[T]]]:
    """The futures that finished: wait up to ``timeout_s`` (None: without limit) for one,
    then take every other one already there. An empty list means the time ran out."""
    try:
        done = [finished.get(timeout=timeout_s)]
    except queue.Empty:
        return []
    while True:
        try:
            done.append(finished.get_nowait())
        except queue.Empty:
            return done


def _call_one(
    fn: Callable[[ItemT, BatchCall], T], run: _Run[ItemT, T], index: int
) -> BatchOutcome[T]:
    remaining = None if run.end is None else run.end - time.monotonic()
    if remaining is not None and remaining <= 0:  # the deadline wins over a cancellation
        raise DeadlineExceeded(f"batch deadline passed before call {index} started")
    limits = [t for t in (run.timeout, remaining) if t is not None]
    call = BatchCall(index, min(limits) if limits else None, run.cancel)
    started = time.monotonic()
    with run.lock:
        if run.cancel.is_set():
            raise CallCancelledError(f"call {index} cancelled: the batch stopped early")
        run.calls[index] = (call, started)
    try:
        result = fn(run.items[index], call)
        failed = run.result_failed is not None and run.result_failed(result)
    except Exception as exc:
        return BatchOutcome(index, False, None, exc, call.attempts, time.monotonic() - started)
    return BatchOutcome(index, not failed, result, None, call.attempts, time.monotonic() - started)


def _outcome_of(future: Future[BatchOutcome[T]], index: int) -> BatchOutcome[T]:
    try:
        return future.result(timeout=0)
    except (CallCancelledError, DeadlineExceeded) as exc:  # raised before the call started
        return BatchOutcome(index, False, None, exc, 0, 0.0)
    except BaseException as exc:  # a BaseException escaping fn (SystemExit in a worker)
        return BatchOutcome(index, False, None, exc, 1, 0.0)


def _progress_bar(total: int, description: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        raise UsageError("progress=True needs tqdm: pip install 'syncclients[progress]'") from None
    return tqdm(total=total, desc=description, unit="call", file=sys.stderr, leave=True)
