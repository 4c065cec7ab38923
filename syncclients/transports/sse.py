"""An incremental Server-Sent Events parser that works on raw bytes.

Implements WHATWG HTML, "Server-sent events", section "Parsing an event stream" (and
"Interpreting an event stream"): lines end in CR, LF or CRLF, a CR that ends one chunk and
an LF that starts the next are ONE line end; a leading UTF-8 BOM is skipped; lines starting
with ``:`` are comments; the fields are ``event``, ``data``, ``id`` and ``retry``; a blank
line dispatches the event. An event whose data is empty is not dispatched, but its ``id`` is
still recorded (the "priming event" server-everything opens each MCP stream with). One
deliberate deviation: WHATWG would dispatch an event made of a single empty ``data:`` line
(data ""); it carries no JSON-RPC message, so it is treated like the priming event.

Each line is decoded as UTF-8 on its own (invalid sequences become U+FFFD, as the standard's
"UTF-8 decode" does). ``requests``' ``iter_lines()`` and ``Response.encoding`` must not be
used for event streams: the former also splits on U+0085, which occurs inside the UTF-8
bytes of "✅" (E2 9C 85) once the body is decoded as ISO-8859-1 (mcp-protocol.md section 2).

The parser never raises anything but :class:`~syncclients.errors.ProtocolError`, and that
only when a line or an event exceeds the configured size bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ProtocolError, UsageError, excerpt

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEEvent", "SSEParser"]

#: The default bound on one line and on one event's data, in bytes.
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"[\r\n]")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event.

    Attributes:
        event: the event type (``"message"`` when the stream named none).
        data: the data lines joined with ``"\\n"`` (never empty: empty events are not
            dispatched).
        id: the stream's last event ID when the event was dispatched ("" when none was
            ever set), i.e. what a reconnecting client sends as ``Last-Event-ID``.
    """

    event: str
    data: str
    id: str


class SSEParser:
    """Turns chunks of an ``text/event-stream`` body into :class:`SSEEvent` objects.

    Feed it bytes in pieces of any size; the events are the same as for the whole body at
    once. Not thread-safe: one parser per stream, used by one thread.

    Args:
        max_event_bytes: the most bytes of one line (without its line end) and of one
            event's data (all its ``data`` values plus a newline each), in bytes; beyond
            it :meth:`feed` raises :class:`~syncclients.errors.ProtocolError`. None: no
            bound (only for trusted peers).

    Attributes:
        last_event_id: the last event ID string (WHATWG): set from ``id`` fields at
            dispatch, "" until then. Send it as ``Last-Event-ID`` to resume.
        retry_ms: the reconnection time the server asked for with ``retry``, in
            milliseconds, or None when it sent none.
        has_event_id: True once any event carried an ``id`` field (even an empty one).

    Raises:
        UsageError: ``max_event_bytes`` is not a positive int or None.
    """

    def __init__(self, *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> None:
        if max_event_bytes is not None and (
            isinstance(max_event_bytes, bool)
            or not isinstance(max_event_bytes, int)
            or max_event_bytes < 1
        ):
            raise UsageError(f"max_event_bytes must be a positive int or None: {max_event_bytes!r}")
        self.max_event_bytes = max_event_bytes
        self.last_event_id = ""
        self.retry_ms: int | None = None
        self.has_event_id = False
        self._bom = b""  # the start of a possible BOM split across chunks
        self._parts: list[bytes] = []  # the pieces of an incomplete line
        self._parts_bytes = 0
        self._at_start = True  # the BOM check is still pending
        self._skip_lf = False  # the previous chunk ended in CR
        self._data: list[str] = []
        self._data_bytes = 0
        self._event_type = ""
        self._id_buffer = ""
        self._id_seen = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Parse the next piece of the stream.

        Args:
            chunk: the next bytes of the body (any length, may be empty).

        Returns:
            The events completed by this chunk, in order (often empty).

        Raises:
            ProtocolError: a line or an event's data exceeds ``max_event_bytes``.
        """
        if not chunk:
            return []
        buf = bytes(chunk)
        if self._at_start:
            buf = self._bom + buf
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                self._bom = buf  # maybe a BOM split across chunks: wait for more
                return []
            self._at_start = False
            self._bom = b""
            if buf.startswith(_BOM):
                buf = buf[len(_BOM) :]
        pos = 0
        if self._skip_lf and buf:
            self._skip_lf = False
            if buf[0] == 0x0A:
                pos = 1
        events: list[SSEEvent] = []
        end = len(buf)
        # Only the new bytes are searched for a line end, and an incomplete line is kept as
        # a list of pieces joined once it ends: a long line arriving in many small chunks
        # costs linear time, not quadratic (16 MB in 64 KiB chunks took 10 s before).
        while pos < end:
            match = _LINE_END.search(buf, pos)
            if match is None:
                break
            i = match.start()
            if self._parts:
                self._parts.append(buf[pos:i])
                line = b"".join(self._parts)
                self._parts = []
                self._parts_bytes = 0
            else:
                line = buf[pos:i]
            if buf[i] == 0x0D:
                if i + 1 < end:
                    nxt = i + 2 if buf[i + 1] == 0x0A else i + 1
                else:
                    nxt = i + 1
                    self._skip_lf = True
            else:
                nxt = i + 1
            self._line(line, events)
            pos = nxt
        if pos < end:
            rest = buf[pos:]
            self._parts.append(rest)
            self._parts_bytes += len(rest)
            limit = self.max_event_bytes
            if limit is not None and self._parts_bytes > limit:
                raise ProtocolError(
                    f"an event-stream line exceeds the limit of {limit} bytes",
                    excerpt=excerpt(self._parts[0][:200]),
                )
        return events

    def close(self) -> None:
        """End of stream: discard an incomplete line and an undispatched event (WHATWG).

        The parser is then ready for the next stream of a reconnection (which may start with
        a BOM again); :attr:`last_event_id` and :attr:`retry_ms` are kept.
        """
        self._bom = b""
        self._parts = []
        self._parts_bytes = 0
        self._skip_lf = False
        self._at_start = True
        self._id_buffer = self.last_event_id
        self._reset_event()

    @property
    def pending(self) -> bool:
        """True when an incomplete line or event is buffered (a cut stream loses it)."""
        return bool(self._parts) or bool(self._data) or bool(self._event_type)

    # -- internals ----------------------------------------------------------------------------

    def _reset_event(self) -> None:
        self._data = []
        self._data_bytes = 0
        self._event_type = ""

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        limit = self.max_event_bytes
        if limit is not None and len(raw) > limit:
            raise ProtocolError(
                f"an event-stream line exceeds the limit of {limit} bytes",
                excerpt=excerpt(raw[:200]),
            )
        if not raw:
            self._dispatch(events)
            return
        if raw[0] == 0x3A:  # ":" comment (keepalive)
            return
        colon = raw.find(b":")
        if colon < 0:
            name, value = raw, b""
        else:
            name, value = raw[:colon], raw[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        if name == b"data":
            self._data_bytes += len(value) + 1
            if limit is not None and self._data_bytes > limit:
                raise ProtocolError(
                    f"an event's data exceeds the limit of {limit} bytes",
                    excerpt=excerpt(value[:200]),
                )
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event_type = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\x00" not in value:
                self._id_buffer = value.decode("utf-8", "replace")
                self._id_seen = True
        elif name == b"retry":
            text = value.decode("ascii", "replace")
            if _DIGITS.fullmatch(text):
                self.retry_ms = int(text)
        # any other field name is ignored (WHATWG)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        self.last_event_id = self._id_buffer
        if self._id_seen:
            self.has_event_id = True
        data = "\n".join(self._data)
        if not data:  # no data field, or one empty ``data:`` line: a priming event
            self._reset_event()
            return
        events.append(SSEEvent(self._event_type or "message", data, self.last_event_id))
        self._reset_event()
