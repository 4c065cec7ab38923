"""AnalyticsClient: fire-and-forget event tracking that never blocks a request thread and
never loses an accepted event silently (contract section 5, PROPOSED ``analytics_engine``).

How an event travels::

    track() ──> bounded in-memory buffer ──> sender thread ──> POST /api/v2/analytics/events
                    │ full                     (batches of <= 500, by size or interval;
                    v                           one Idempotency-Key per batch, retried
               FileSpool (optional) <────────   until the service answers)
                    │ none, or full: the drop is counted and logged

Delivery is at least once: a batch whose reply was lost is sent again under the same
``Idempotency-Key`` with the same ``event_id`` values, and the service removes duplicates.
Undelivered events at :meth:`AnalyticsClient.close` (and at interpreter exit) go to the
spool, else they are counted as dropped and logged.
"""

from __future__ import annotations

import atexit
import json
import logging
import random
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import USE_CLIENT_DEFAULT, BreakerPolicy, RetryPolicy
from ..errors import CircuitOpenError, HTTPStatusError, SyncClientsError, UsageError
from .base import FallbackArg, ServiceClient
from .spool import FileSpool

__all__ = ["AnalyticsClient", "AnalyticsEvent", "AnalyticsMetrics", "IngestResult"]

log = logging.getLogger("syncclients.services.analytics")

_EVENTS = "api/v2/analytics/events"
_METRICS = "api/v2/analytics/metrics"
MAX_BATCH = 500  # the contract's per-request limit

#: The sender backs off by itself, so the breaker only has to stop hammering a dead service
#: briefly: 5 failed batch calls open it for 5 s (not the 60 s of interactive clients, which
#: would hold back delivery a minute after a short restart).
ANALYTICS_BREAKER = BreakerPolicy(failure_threshold=5, recovery_timeout_s=5.0)
#: Each batch call: 2 attempts within 5 s; the sender retries the batch after that.
ANALYTICS_RETRY = RetryPolicy(max_attempts=2, initial_delay_s=0.2, max_delay_s=1.0, deadline_s=5)

_live: weakref.WeakSet[AnalyticsClient] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for client in list(_live):
        client.close(timeout_s=client.exit_timeout_s)


atexit.register(_close_all_at_exit)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AnalyticsEvent:
    """One event (the contract's event object).

    Attributes:
        type: the event type (non-empty).
        properties: JSON-serialisable properties.
        tenant_id: the tenant, or None for the client's.
        session_id: the session, or None.
        event_id: a unique id (default a new UUID4); the service removes duplicates by it.
        timestamp: UTC ISO-8601 (default now).
    """

    type: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    tenant_id: str | None = None
    session_id: str | None = None
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: str = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The reply to one ``ingest_events`` call.

    Attributes:
        accepted: events stored now.
        duplicates: events the service already had (an earlier delivery).
        rejected: ``({"event_id", "reason"}, ...)`` the service refused.
        fallback: True when the call failed and the fallback ("drop and count") applied.
        error: the failure when ``fallback``.
        raw: the reply's ``data``.
    """

    accepted: int
    duplicates: int
    rejected: tuple[dict[str, Any], ...] = ()
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class AnalyticsMetrics:
    """Counters of an :class:`AnalyticsClient` since it was created.

    Attributes:
        tracked: events accepted by :meth:`~AnalyticsClient.track` (into buffer or spool).
        delivered: events the service confirmed (accepted or duplicate).
        duplicates: of those, events the service already had.
        rejected: events the service refused as invalid (logged).
        dropped: events lost: buffer full and no spool (or spool full), or undelivered at
            close without a spool (logged).
        spooled: events written to the spool.
        buffered: events in the memory buffer now.
        in_flight: events in the batch being sent now.
        spool_pending: events in the spool now.
        batches: batch requests answered by the service.
        failed_sends: batch sends that failed and will be retried.
    """

    tracked: int
    delivered: int
    duplicates: int
    rejected: int
    dropped: int
    spooled: int
    buffered: int
    in_flight: int
    spool_pending: int
    batches: int
    failed_sends: int


class AnalyticsClient(ServiceClient):
    """The Analytics Engine (service ``analytics_engine``) with a background sender.

    Args:
        base_url: ``external_services.analytics_engine_url``.
        buffer_size: events held in memory (>= 1); past it events go to the spool.
        batch_size: events per request (1-500); a full batch is sent at once.
        flush_interval_s: the longest an event waits in the buffer before it is sent.
        spool: a :class:`FileSpool`, a path for one, or None (drops are counted and logged).
        max_backoff_s: the longest wait between retries of a failing batch, seconds.
        exit_timeout_s: how long :meth:`close` at interpreter exit tries to deliver.
        **kwargs: see :class:`~syncclients.services.ServiceClient` (the defaults here are
            :data:`ANALYTICS_RETRY` and :data:`ANALYTICS_BREAKER`).

    Raises:
        UsageError: invalid sizes or intervals.
    """

    service = "analytics_engine"

    def __init__(
        self,
        base_url: str,
        *,
        buffer_size: int = 10_000,
        batch_size: int = MAX_BATCH,
        flush_interval_s: float = 1.0,
        spool: FileSpool | str | Path | None = None,
        max_backoff_s: float = 2.0,
        exit_timeout_s: float = 5.0,
        **kwargs: Any,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise UsageError(f"batch_size must be 1..{MAX_BATCH}, got {batch_size!r}")
        if buffer_size < 1:
            raise UsageError(f"buffer_size must be >= 1, got {buffer_size!r}")
        if not flush_interval_s > 0:
            raise UsageError(f"flush_interval_s must be > 0, got {flush_interval_s!r}")
        kwargs.setdefault("retry", ANALYTICS_RETRY)
        kwargs.setdefault("breaker", ANALYTICS_BREAKER)
        super().__init__(base_url, **kwargs)
        self.buffer_size = buffer_size
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_backoff_s = max_backoff_s
        self.exit_timeout_s = exit_timeout_s
        if isinstance(spool, FileSpool) and spool.chunk_size > MAX_BATCH:
            raise UsageError(f"the spool's chunk_size must be <= {MAX_BATCH}")
        self._own_spool = spool is not None and not isinstance(spool, FileSpool)
        self.spool = (
            FileSpool(spool, chunk_size=batch_size) if isinstance(spool, str | Path) else spool
        )
        self._buffer: deque[dict[str, Any]] = deque()
        self._overflow: deque[dict[str, Any]] = deque()  # bound for the spool, <= buffer_size
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._closed = False
        self._in_flight = 0
        self._flush_waiters = 0
        self._unlogged_drops = 0
        self._spilling = 0
        self._last_drop_log = -1e9
        self._counts = dict.fromkeys(
            (
                "tracked",
                "delivered",
                "duplicates",
                "rejected",
                "dropped",
                "spooled",
                "batches",
                "failed_sends",
            ),
            0,
        )
        self._sender = threading.Thread(
            target=self._run, name=f"syncclients-analytics-{id(self):x}", daemon=True
        )
        self._sender.start()
        self._spool_writer: threading.Thread | None = None
        if self.spool is not None:
            self._spool_writer = threading.Thread(
                target=self._write_spool, name=f"syncclients-spool-{id(self):x}", daemon=True
            )
            self._spool_writer.start()
        _live.add(self)

    # -- request threads ------------------------------------------------------------------

    def track(
        self,
        event: AnalyticsEvent | str,
        properties: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        session_id: str | None = None,
    ) -> bool:
        """Accept one event for delivery; never waits for the network.

        Args:
            event: an :class:`AnalyticsEvent`, or its ``type`` (then ``properties``,
                ``tenant_id`` and ``session_id`` build it).
            properties: JSON-serialisable properties (with a type string only).
            tenant_id: the event's tenant; None: the event's, else the client's.
            session_id: the session id (with a type string only).

        Returns:
            True when the event was accepted (buffer or spool); False when it was dropped
            (counted in :meth:`metrics` and logged).

        Raises:
            UsageError: the client is closed, the type is empty, or the properties are not
                JSON-serialisable.
        """
        if self._closed:
            raise UsageError("this AnalyticsClient is closed")
        if isinstance(event, str):
            event = AnalyticsEvent(event, dict(properties or {}), tenant_id, session_id)
        if not event.type:
            raise UsageError("an analytics event needs a type")
        item = {
            "event_id": event.event_id,
            "type": event.type,
            "timestamp": event.timestamp,
            "tenant_id": tenant_id or event.tenant_id or self.tenant_id,
            "session_id": event.session_id,
            "properties": dict(event.properties),
        }
        try:
            json.dumps(item["properties"])
        except (TypeError, ValueError) as exc:
            raise UsageError(f"event properties are not JSON-serialisable: {exc}") from None
        with self._cond:
            if len(self._buffer) < self.buffer_size:
                self._buffer.append(item)
                self._counts["tracked"] += 1
                if len(self._buffer) >= self.batch_size:
                    self._cond.notify_all()
                return True
            if self.spool is None:
                self._counts["dropped"] += 1
                spill = None
            elif len(self._overflow) < self.buffer_size:
                self._overflow.append(item)  # the spool writer thread puts it on disk
                self._counts["tracked"] += 1
                self._cond.notify_all()
                return True
            else:  # memory is full and the writer lags: write one chunk here (backpressure)
                n = min(self.batch_size, len(self._overflow))
                spill = [self._overflow.popleft() for _ in range(n)]
                self._overflow.append(item)
                self._counts["tracked"] += 1
                self._spilling += len(spill)
        if spill is None:
            self._log_drop(1, "the buffer is full and no spool is set")
            return False
        try:
            self._to_spool(spill, "the buffer is full")
        finally:
            with self._cond:
                self._spilling -= len(spill)
        return True

    def flush(self, timeout_s: float | None = 10.0) -> bool:
        """Send what is buffered (and spooled) now and wait until it is delivered.

        Args:
            timeout_s: the most seconds to wait; None: without limit.

        Returns:
            True when nothing is left undelivered (buffer, overflow, in-flight batch and
            spool all empty); False on timeout (nothing is lost: the sender keeps trying).
        """
        end = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while (
                    self._buffer
                    or self._in_flight
                    or self._overflow
                    or self._spilling
                    or (self.spool is not None and len(self.spool))
                ):
                    if not self._sender.is_alive():
                        return False
                    left = None if end is None else end - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(0.05 if left is None else min(left, 0.05))
                return True
            finally:
                self._flush_waiters -= 1

    def metrics(self) -> AnalyticsMetrics:  # type: ignore[override]
        """A snapshot of the delivery counters (see :class:`AnalyticsMetrics`)."""
        with self._cond:
            c = dict(self._counts)
            buffered, in_flight = len(self._buffer), self._in_flight
        return AnalyticsMetrics(
            tracked=c["tracked"],
            delivered=c["delivered"],
            duplicates=c["duplicates"],
            rejected=c["rejected"],
            dropped=c["dropped"],
            spooled=c["spooled"],
            buffered=buffered,
            in_flight=in_flight,
            spool_pending=len(self.spool) if self.spool is not None else 0,
            batches=c["batches"],
            failed_sends=c["failed_sends"],
        )

    def http_metrics(self) -> Any:
        """The underlying HTTPClient's counters (calls, attempts, latency)."""
        return self.http.metrics()

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is pending (at most ``timeout_s`` seconds), then stop the sender.

        Whatever is still undelivered goes to the spool, else it is counted as dropped and
        logged. Idempotent; later :meth:`track` calls raise UsageError.
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
        _live.discard(self)
        self.flush(timeout_s)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._sender.join(max(timeout_s, 1.0) + 6.0)  # a send in progress ends within 5 s
        if self._spool_writer is not None:
            self._spool_writer.join(timeout_s + 5.0)
        with self._cond:
            left = list(self._overflow) + list(self._buffer)
            self._buffer.clear()
            self._overflow.clear()
        if left:
            self._to_spool(left, "the client closed before they were delivered", force_log=True)
        if self.spool is not None and self._own_spool:
            self.spool.close()
        super().close()

    # -- synchronous operations -----------------------------------------------------------

    def ingest_events(
        self,
        events: Sequence[AnalyticsEvent],
        *,
        idempotency_key: str | None = None,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> IngestResult:
        """POST up to 500 events now (5 s; retried: the Idempotency-Key makes it safe).

        Raises:
            SyncClientsError: the call failed and no fallback ("drop and count") was asked for.
            UsageError: more than 500 events.
        """
        if len(events) > MAX_BATCH:
            raise UsageError(f"at most {MAX_BATCH} events per request, got {len(events)}")
        items = [
            {
                "event_id": e.event_id,
                "type": e.type,
                "timestamp": e.timestamp,
                "tenant_id": e.tenant_id or tenant_id or self.tenant_id,
                "session_id": e.session_id,
                "properties": dict(e.properties),
            }
            for e in events
        ]

        def dropped(exc: SyncClientsError) -> IngestResult:
            self._count("dropped", len(items))
            return IngestResult(0, 0, fallback=True, error=exc)

        return self._guard(
            fallback,
            lambda: self._send(items, idempotency_key or str(uuid.uuid4()), tenant_id),
            dropped,
            "ingest_events",
        )

    def record_metrics(
        self,
        metrics: Sequence[Mapping[str, Any]],
        *,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> int:
        """POST ``{"metrics": [{name, value, timestamp, labels}]}`` (5 s).

        Each metric needs ``name`` and ``value``; ``timestamp`` defaults to now and
        ``labels`` to {}. Not retried after sending (a metric has no id to de-duplicate).

        Returns:
            How many the service accepted (0 with the fallback: dropped and counted).

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """
        items = [
            {
                "name": m["name"],
                "value": m["value"],
                "timestamp": m.get("timestamp") or _now(),
                "labels": dict(m.get("labels") or {}),
            }
            for m in metrics
        ]

        def call() -> int:
            reply, _ = self._call(
                "POST", _METRICS, json={"metrics": items}, timeout_s=5.0, tenant_id=tenant_id
            )
            return int(self._data(reply).get("accepted") or 0)

        def dropped(_exc: SyncClientsError) -> int:
            self._count("dropped", len(items))
            return 0

        return self._guard(fallback, call, dropped, "record_metrics")

    # -- the sender -----------------------------------------------------------------------

    def _count(self, name: str, n: int) -> None:
        with self._cond:
            self._counts[name] += n

    def _to_spool(self, items: list[dict[str, Any]], why: str, *, force_log: bool = False) -> int:
        """Write tracked events to the spool; count and log those that do not fit.

        Returns:
            How many were stored.
        """
        stored = self.spool.put(items) if self.spool is not None else 0
        with self._cond:
            self._counts["spooled"] += stored
            self._counts["dropped"] += len(items) - stored
        if stored < len(items):
            suffix = " and the spool is full" if self.spool is not None else " and no spool is set"
            self._log_drop(len(items) - stored, why + suffix, force=force_log)
        return stored

    def _log_drop(self, n: int, why: str, *, force: bool = False) -> None:
        """Log dropped events: at most one line a second (the counts add up), or now."""
        now = time.monotonic()
        with self._cond:
            self._unlogged_drops += n
            if not force and now - self._last_drop_log < 1.0:
                return
            n, self._unlogged_drops, self._last_drop_log = self._unlogged_drops, 0, now
        log.error(
            "analytics: %d event(s) dropped: %s",
            n,
            why,
            extra={"syncclients.service": self.service, "syncclients.dropped": n},
        )

    def _send(self, items: list[dict[str, Any]], key: str, tenant_id: str | None) -> IngestResult:
        reply, _ = self._call(
            "POST",
            _EVENTS,
            json={"events": items},
            headers={"Idempotency-Key": key},
            timeout_s=5.0,
            tenant_id=tenant_id,
        )
        data = self._data(reply)
        rejected = data.get("rejected")
        result = IngestResult(
            accepted=int(data.get("accepted") or 0),
            duplicates=int(data.get("duplicates") or 0),
            rejected=tuple(rejected) if isinstance(rejected, list) else (),
            raw=data,
        )
        return result

    def _write_spool(self) -> None:
        """The spool writer thread: moves overflowed events to disk, many per transaction."""
        while True:
            with self._cond:
                while not self._overflow and not self._stop.is_set():
                    self._cond.wait(0.5)
                if not self._overflow:
                    return
                n = min(4 * self.batch_size, len(self._overflow))
                chunk = [self._overflow.popleft() for _ in range(n)]
                self._spilling += len(chunk)
            try:
                self._to_spool(chunk, "the buffer is full")
            finally:
                with self._cond:
                    self._spilling -= len(chunk)
                    self._cond.notify_all()

    def _next_batch(self) -> tuple[list[dict[str, Any]], list[int]]:
        """Wait for a batch worth sending; return (events, spool ids). Empty when stopping."""
        with self._cond:
            last = time.monotonic()
            while not self._stop.is_set():
                due = time.monotonic() - last >= self.flush_interval_s
                if len(self._buffer) >= self.batch_size or (
                    self._buffer and (due or self._flush_waiters)
                ):
                    n = min(self.batch_size, len(self._buffer))
                    batch = [self._buffer.popleft() for _ in range(n)]
                    self._in_flight = n
                    return batch, []
                if self.spool is not None and len(self.spool) and (due or self._flush_waiters):
                    break
                if due:
                    last = time.monotonic()
                self._cond.wait(max(0.0, self.flush_interval_s - (time.monotonic() - last)))
            else:
                return [], []
        chunk = self.spool.peek() if self.spool is not None else None
        if chunk is None:
            return [], []
        with self._cond:
            self._in_flight = len(chunk[1])
        return chunk[1], [chunk[0]]

    def _run(self) -> None:
        while not self._stop.is_set():
            batch, spool_ids = self._next_batch()
            if not batch:
                continue
            delivered = self._deliver(batch)
            if spool_ids and delivered and self.spool is not None:
                self.spool.ack(spool_ids[0])
            with self._cond:
                if not delivered and not spool_ids:  # stopping: back to the front for close()
                    self._buffer.extendleft(reversed(batch))
                self._in_flight = 0
                self._cond.notify_all()

    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        """Send one batch until the service answers; False only when stopping."""
        key = str(uuid.uuid4())  # one key per batch, kept across its retries
        failures = 0
        while True:
            try:
                result = self._send(batch, key, None)
            except HTTPStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in (408, 429):
                    self._count("rejected", len(batch))
                    log.error(
                        "analytics: the service refused a batch of %d event(s): %s",
                        len(batch),
                        exc,
                        extra={"syncclients.service": self.service},
                    )
                    return True
                wait = exc.retry_after
            except CircuitOpenError as exc:
                wait = exc.remaining_s
            except SyncClientsError:
                wait = None
            else:
                with self._cond:
                    self._counts["batches"] += 1
                    self._counts["delivered"] += result.accepted + result.duplicates
                    self._counts["duplicates"] += result.duplicates
                    self._counts["rejected"] += len(result.rejected)
                if result.rejected:
                    log.error(
                        "analytics: %d event(s) rejected: %s",
                        len(result.rejected),
                        result.rejected[:3],
                        extra={"syncclients.service": self.service},
                    )
                return True
            failures += 1
            self._count("failed_sends", 1)
            if wait is None:
                wait = random.uniform(0, min(self.max_backoff_s, 0.1 * 2**failures))  # noqa: S311
            if self._stop.wait(min(wait, self.max_backoff_s)):
                return False
