"""A file-backed queue of JSON events (SQLite, from the standard library) for the analytics
client: events that do not fit the in-memory buffer, or that are still undelivered at
close, survive there until a client using the same file delivers them.

Events are stored in chunks (one row per chunk, at most ``chunk_size`` events), so a spill
of a whole batch costs one JSON encoding and one insert."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError

__all__ = ["FileSpool"]


class FileSpool:
    """A durable FIFO of JSON objects in one SQLite file. Thread-safe.

    Args:
        path: the file (created with its table if absent; events left by an earlier
            process are delivered first).
        max_events: the most events kept; past it :meth:`put` refuses the rest. None: no cap.
        chunk_size: the most events per stored row (and per :meth:`peek`).

    Raises:
        UsageError: a ``max_events`` or ``chunk_size`` below 1.
    """

    def __init__(
        self, path: str | Path, *, max_events: int | None = None, chunk_size: int = 500
    ) -> None:
        if max_events is not None and max_events < 1:
            raise UsageError(f"max_events must be >= 1 or None, got {max_events!r}")
        if chunk_size < 1:
            raise UsageError(f"chunk_size must be >= 1, got {chunk_size!r}")
        self.path = Path(path)
        self.max_events = max_events
        self.chunk_size = chunk_size
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool"
            " (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, items TEXT)"
        )
        row = self._db.execute("SELECT COALESCE(SUM(n), 0) FROM spool").fetchone()
        self._count = int(row[0])

    def __len__(self) -> int:
        """Events stored now."""
        return self._count

    def put(self, items: Sequence[dict[str, Any]]) -> int:
        """Append items; return how many were stored (fewer when ``max_events`` is reached).

        Raises:
            TypeError: an item is not JSON-serialisable.
        """
        with self._lock:
            room = len(items)
            if self.max_events is not None:
                room = min(room, max(0, self.max_events - self._count))
            kept = items[:room]
            rows = [
                (
                    len(kept[i : i + self.chunk_size]),
                    json.dumps(list(kept[i : i + self.chunk_size])),
                )
                for i in range(0, len(kept), self.chunk_size)
            ]
            if rows:
                with self._db:
                    self._db.executemany("INSERT INTO spool (n, items) VALUES (?, ?)", rows)
                self._count += len(kept)
        return len(kept)

    def peek(self) -> tuple[int, list[dict[str, Any]]] | None:
        """The oldest chunk as ``(id, events)``, left in place until :meth:`ack`; None
        when empty."""
        with self._lock:
            row = self._db.execute("SELECT id, items FROM spool ORDER BY id LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def ack(self, chunk_id: int) -> None:
        """Remove a delivered chunk."""
        with self._lock:
            row = self._db.execute("SELECT n FROM spool WHERE id = ?", (chunk_id,)).fetchone()
            if row is not None:
                with self._db:
                    self._db.execute("DELETE FROM spool WHERE id = ?", (chunk_id,))
                self._count -= int(row[0])

    def close(self) -> None:
        """Close the file. Idempotent."""
        with self._lock:
            self._db.close()
