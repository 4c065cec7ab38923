"""``subscriptions/listen``: change notifications in the 2026-07-28 era.

The modern era has no ``resources/subscribe`` and no GET stream: a client opts in to change
notifications with one long-lived ``subscriptions/listen`` request whose answer stream carries
them (MCP 2026-07-28, basic/utilities/subscriptions). The server's first message is
``notifications/subscriptions/acknowledged``; every notification carries
``_meta["io.modelcontextprotocol/subscriptionId"]`` = the listen request's id. Changing the
filter means a new listen request (the old one is cancelled).

:class:`Listener` runs one such request on a background thread; the notifications it brings
reach the client's normal notification path (cache eviction, ``on_notification``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from ..errors import ReadTimeout, SyncClientsError
from .messages import Notification, RequestId
from .session import Session
from .transport import SendContext

__all__ = ["SUBSCRIPTION_ID", "Listener"]

logger = logging.getLogger("syncclients.mcp")

SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
ACKNOWLEDGED = "notifications/subscriptions/acknowledged"


class Listener:
    """One ``subscriptions/listen`` request, kept open on a daemon thread until stopped.

    Args:
        session: the modern-era session to listen on.
        notifications: the filter (``toolsListChanged``, ``promptsListChanged``,
            ``resourcesListChanged``, ``resourceSubscriptions``).
    """

    def __init__(self, session: Session, notifications: Mapping[str, Any]) -> None:
        self.session = session
        self.notifications = dict(notifications)
        self.request_id: RequestId | None = None
        self.acknowledged = threading.Event()
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self._stopping = False
        self._sent = threading.Event()
        self._settled = threading.Event()  # acknowledged, or ended early
        self._thread = threading.Thread(target=self._run, name="mcp-listen", daemon=True)

    def start(self, timeout_s: float | None) -> None:
        """Send the request and wait for the server's acknowledgement.

        Args:
            timeout_s: the most seconds to wait for the acknowledgement; None: no limit.

        Raises:
            ReadTimeout: no acknowledgement in time (the request is cancelled).
            SyncClientsError: the server refused the request (e.g. MCPError) or the
                connection failed.
        """
        self._thread.start()
        self._settled.wait(timeout_s)
        acked = self.acknowledged.is_set()
        if self.error is not None:
            raise self.error
        if not acked:
            self.stop()
            raise ReadTimeout(
                f"{self.session.target} subscriptions/listen: no acknowledgement within "
                f"{timeout_s} s",
                timeout_s=timeout_s,
                target=self.session.target,
            )

    def on_notification(self, message: Notification) -> None:
        """Recognise this request's acknowledgement (called for every notification)."""
        if message.method != ACKNOWLEDGED:
            return
        meta = (message.params or {}).get("_meta") or {}
        if self.request_id is not None and meta.get(SUBSCRIPTION_ID) == self.request_id:
            self.acknowledged.set()
            self._settled.set()

    def stop(self) -> None:
        """Cancel the request (notifications/cancelled, or closing its HTTP stream) and wait
        briefly for the thread. Idempotent."""
        self._stopping = True
        if self._sent.wait(5) and self.request_id is not None:
            self.session.dispatcher.cancel(
                self.request_id,
                "subscription changed",
                SendContext(protocol_version=self.session.protocol_version, modern=True),
            )
        self._thread.join(5)

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called (an end after that is expected)."""
        return self._stopping

    def _set_id(self, request_id: RequestId) -> None:
        self.request_id = request_id
        self._sent.set()

    def _run(self) -> None:
        session = self.session
        try:
            session.dispatcher.request(
                "subscriptions/listen",
                session._envelope({"notifications": self.notifications}, {}),
                timeout_s=None,  # long-lived by design; ended by stop() or the server
                context=SendContext(protocol_version=session.protocol_version, modern=True),
                on_sent=self._set_id,
            )
        except SyncClientsError as exc:
            if not self._stopping:
                self.error = exc
                logger.warning("%s: subscriptions/listen ended: %s", session.target, exc)
        except Exception as exc:  # never let a daemon thread die silently
            self.error = exc
            logger.exception("%s: subscriptions/listen failed", session.target)
        finally:
            self._sent.set()
            self.ended.set()
            self._settled.set()
