"""JSON-RPC batches for servers that negotiated MCP 2025-03-26, the one protocol version that
allows them (2025-06-18 removed them): concurrent requests are coalesced into arrays of at
most ``max_size`` requests, one POST each.

No timer and no added latency: a caller that finds no POST under way sends its request;
requests that arrive while a POST is in flight queue up and go together in the next one,
sent by the oldest of their callers.
Each request keeps its own id, future, timeout and cancellation in the dispatcher; only the
POST is shared, and a failed POST fails every request it carried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .messages import Request
from .transport import SendContext

__all__ = ["BATCH_VERSION", "JsonRpcBatcher"]

#: The only MCP protocol version that allows JSON-RPC batches.
BATCH_VERSION = "2025-03-26"


@dataclass
class _Slot:
    request: Request
    context: SendContext
    lead: bool = False  # this caller is to send the next round
    sent: bool = False
    error: BaseException | None = None


class JsonRpcBatcher:
    """Coalesces concurrent requests into JSON-RPC batches. Thread-safe.

    A caller that finds fewer than ``max_in_flight`` POSTs under way sends one round: the
    oldest waiting requests, up to ``max_size``. When its POST returns it hands the next
    round to the oldest caller still waiting (so no caller keeps sending for others while its
    own answer is ready) and returns.

    Args:
        send_one: sends one request (the transport's ``send``), used when a round has one.
        send_batch: sends several requests as one array (the transport's ``send_batch``).
        max_size: the most requests per batch (>= 2).
        max_in_flight: the most POSTs under way at once.
    """

    def __init__(
        self,
        send_one: Callable[[Request, SendContext], None],
        send_batch: Callable[[Sequence[Request], SendContext], None],
        max_size: int,
        max_in_flight: int = 2,
    ) -> None:
        self._send_one = send_one
        self._send_batch = send_batch
        self.max_size = max_size
        self.max_in_flight = max_in_flight
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._senders = 0
        #: POSTs made and requests they carried (for benchmarks and tests).
        self.posts = 0
        self.requests = 0

    def send(self, request: Request, context: SendContext) -> None:
        """Send ``request``, alone or in a batch with concurrent ones; return once sent.

        Raises:
            whatever the transport raised for the POST that carried it.
        """
        slot = _Slot(request, context)
        with self._cond:
            self._queue.append(slot)
            if self._senders < self.max_in_flight:
                self._senders += 1
                slot.lead = True
        while True:
            with self._cond:
                # every wait ends: a round always marks its requests sent, and hands on
                # (or gives up) its sender place, in a finally
                while not (slot.sent or slot.lead):
                    self._cond.wait()
                if slot.sent:
                    break
                slot.lead = False
            self._round()
        if slot.error is not None:
            raise slot.error

    def _round(self) -> None:
        with self._cond:
            chunk = self._queue[: self.max_size]
            del self._queue[: self.max_size]
            self.posts += 1
            self.requests += len(chunk)
        error: BaseException | None = None
        try:
            if len(chunk) == 1:
                self._send_one(chunk[0].request, chunk[0].context)
            elif chunk:
                self._send_batch([s.request for s in chunk], _merged(chunk))
        except BaseException as exc:  # handed to every caller of this POST
            error = exc
        finally:
            with self._cond:
                for s in chunk:
                    s.error = error
                    s.sent = True
                heir = next((s for s in self._queue if not s.lead), None)
                if heir is not None:
                    heir.lead = True  # the sender place passes on
                else:
                    self._senders -= 1
                self._cond.notify_all()


def _merged(chunk: Sequence[_Slot]) -> SendContext:
    """One context for the POST: the longest wait among its requests (None wins)."""
    waits = [s.context.timeout_s for s in chunk]
    timeout = None if any(w is None for w in waits) else max(w for w in waits if w is not None)
    return replace(chunk[0].context, request_id=None, name=None, timeout_s=timeout)
