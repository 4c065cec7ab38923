"""Token storage for MCP authorization: a small protocol, an in-memory and a file store.

A store keeps JSON-able records (token sets, registered client credentials) under string
keys chosen by :class:`~syncclients.auth.OAuth` (tokens are keyed by resource and issuer, as
the MCP authorization spec's "Token Audience Binding" asks; clients by issuer). Stores never
log or ``repr`` what they hold.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from typing import Any, Protocol, runtime_checkable

from ..errors import UsageError

__all__ = ["FileTokenStorage", "MemoryTokenStorage", "TokenStorage"]


@runtime_checkable
class TokenStorage(Protocol):
    """Where :class:`~syncclients.auth.OAuth` keeps tokens and registered clients.

    Implementations must be safe to call from several threads at once.
    """

    def load(self, key: str) -> dict[str, Any] | None:
        """Return the record stored under ``key``, or None when there is none."""
        ...

    def save(self, key: str, record: dict[str, Any]) -> None:
        """Store ``record`` (JSON-able) under ``key``, replacing any previous one."""
        ...

    def delete(self, key: str) -> None:
        """Forget ``key``; no error when it is absent."""
        ...


class MemoryTokenStorage:
    """Records kept in this process only (lost at exit). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {}

    def load(self, key: str) -> dict[str, Any] | None:
        """Return a copy of the record under ``key``, or None."""
        with self._lock:
            record = self._records.get(key)
            return dict(record) if record is not None else None

    def save(self, key: str, record: dict[str, Any]) -> None:
        """Store a copy of ``record`` under ``key``."""
        with self._lock:
            self._records[key] = dict(record)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            self._records.pop(key, None)

    def __repr__(self) -> str:
        with self._lock:
            return f"MemoryTokenStorage(<{len(self._records)} records>)"


class FileTokenStorage:
    """Records in one JSON file, readable and writable by its owner only (mode 0600).

    Every write goes to a temporary file in the same directory that is then renamed over the
    old one (``os.replace``), so a crash never leaves a half-written file. Thread-safe within a
    process; processes sharing a file see each other's last complete write.

    Args:
        path: the file; its directory is created (mode 0700) when missing.

    Raises:
        UsageError: the file exists but is not a JSON object.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.expanduser(os.fspath(path))
        self._lock = threading.Lock()
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self._read()  # fail early on a corrupt file

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise UsageError(
                f"token file {self.path} is not readable JSON: {type(exc).__name__}"
            ) from None
        if not isinstance(data, dict):
            raise UsageError(f"token file {self.path} does not hold a JSON object")
        return data

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def load(self, key: str) -> dict[str, Any] | None:
        """Return the record under ``key``, or None."""
        with self._lock:
            record = self._read().get(key)
            return dict(record) if isinstance(record, dict) else None

    def save(self, key: str, record: dict[str, Any]) -> None:
        """Store ``record`` under ``key`` (atomic rewrite of the file)."""
        with self._lock:
            data = self._read()
            data[key] = dict(record)
            self._write(data)

    def delete(self, key: str) -> None:
        """Forget ``key`` (atomic rewrite of the file)."""
        with self._lock:
            data = self._read()
            if data.pop(key, None) is not None:
                self._write(data)

    def __repr__(self) -> str:
        return f"FileTokenStorage({self.path!r})"
