"""The plugin interface: per client and process-wide, around calls and attempts, torn down
on close, never breaking a call, loaded by name from the entry-point group."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from syncclients import HTTPClient, HTTPStatusError, UsageError
from syncclients.observability import (
    AttemptScope,
    CallScope,
    ClientInfo,
    Plugin,
    disable,
    enable,
    enabled,
)
from syncclients.resilience import AttemptRecord

from .conftest import Scripted


class Recorder(Plugin):
    name = "recorder"

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def setup(self, client: ClientInfo) -> None:
        self.events.append(("setup", client.protocol))

    def call(self, scope: CallScope) -> Iterator[None]:  # type: ignore[override]
        return self._call(scope)

    @contextmanager
    def _call(self, scope: CallScope) -> Iterator[None]:
        self.events.append(("call", scope.operation))
        try:
            yield
        finally:
            self.events.append(("call-end", type(scope.error).__name__ if scope.error else "ok"))

    @contextmanager
    def _attempt(self, scope: AttemptScope) -> Iterator[None]:
        self.events.append(("attempt", scope.attempt))
        try:
            yield
        finally:
            status = getattr(scope.result, "status_code", None) or getattr(
                scope.error, "status_code", None
            )
            self.events.append(("attempt-end", scope.attempt, status))

    def attempt(self, scope: AttemptScope) -> Iterator[None]:  # type: ignore[override]
        return self._attempt(scope)

    def on_record(self, record: AttemptRecord) -> None:
        self.events.append(("record", record.attempt, record.outcome, record.will_retry))

    def teardown(self, client: ClientInfo) -> None:
        self.events.append(("teardown", client.protocol))


def test_per_client_plugin_sees_calls_attempts_records_and_teardown(
    http_server: Scripted,
) -> None:
    plugin = Recorder()
    http_server.statuses = [503]
    client = HTTPClient(http_server.url, hooks=[], plugins=[plugin])
    assert client.get("/x") == {"ok": True}
    client.close()
    assert plugin.events == [
        ("setup", "http"),
        ("call", "GET /x"),
        ("attempt", 1),
        ("attempt-end", 1, 503),
        ("record", 1, "failure", True),
        ("attempt", 2),
        ("attempt-end", 2, 200),
        ("record", 2, "success", False),
        ("call-end", "ok"),
        ("teardown", "http"),
    ]


def test_failed_call_is_seen_by_the_call_scope(http_server: Scripted) -> None:
    plugin = Recorder()
    http_server.statuses = [404]
    with HTTPClient(http_server.url, hooks=[plugin]) as client:  # a plugin is a hook too
        with pytest.raises(HTTPStatusError):
            client.get("/missing")
    assert ("call-end", "HTTPStatusError") in plugin.events
    assert ("attempt-end", 1, 404) in plugin.events
    assert plugin.events[-1] == ("teardown", "http")


class Broken(Plugin):
    name = "broken"

    def setup(self, client: ClientInfo) -> None:
        raise RuntimeError("setup")

    def call(self, scope: CallScope) -> Iterator[None]:  # type: ignore[override]
        raise RuntimeError("call")

    @contextmanager
    def _attempt(self, scope: AttemptScope) -> Iterator[None]:
        yield
        raise RuntimeError("attempt exit")

    def attempt(self, scope: AttemptScope) -> Iterator[None]:  # type: ignore[override]
        return self._attempt(scope)

    def on_record(self, record: AttemptRecord) -> None:
        raise RuntimeError("record")

    def teardown(self, client: ClientInfo) -> None:
        raise RuntimeError("teardown")


def test_a_raising_plugin_never_breaks_a_call_and_is_logged_once_per_method(
    http_server: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="syncclients.plugins")
    plugin = Broken()
    with HTTPClient(http_server.url, hooks=[], plugins=[plugin]) as client:
        for _ in range(3):
            assert client.get("/x") == {"ok": True}
    messages = [r.getMessage() for r in caplog.records if r.name == "syncclients.plugins"]
    assert sorted(m.split(" raised in ")[1].split(";")[0] for m in messages) == [
        "attempt",
        "call",
        "on_record",
        "setup",
        "teardown",
    ]


def test_process_wide_plugin_covers_clients_created_before(http_server: Scripted) -> None:
    from syncclients.observability import activate, deactivate

    plugin = Recorder()
    with HTTPClient(http_server.url, hooks=[]) as client:
        client.get("/before")
        activate(plugin)
        client.get("/during")
        assert deactivate(plugin) is True
        client.get("/after")
    assert [e for e in plugin.events if e[0] == "call"] == [("call", "GET /during")]
    assert ("record", 1, "success", False) in plugin.events
    assert deactivate(plugin) is False


def test_enable_unknown_name_raises_usage_error() -> None:
    with pytest.raises(UsageError, match="no syncclients plugin named 'nope'"):
        enable("nope")
    assert disable("nope") is False


def test_plugin_from_a_separately_installed_distribution(
    tmp_path: Path, http_server: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distribution on sys.path (its own dist-info) registering a plugin by entry point."""
    (tmp_path / "sc_testplugin.py").write_text(
        textwrap.dedent(
            """
            from syncclients.observability import Plugin

            class Counting(Plugin):
                name = "counting"

                def __init__(self, label="x"):
                    self.label = label
                    self.records = []
                    self.closed = False

                def on_record(self, record):
                    self.records.append((self.label, record.operation, record.outcome))

                def close(self):
                    self.closed = True
            """
        )
    )
    dist = tmp_path / "sc_testplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sc-testplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[syncclients.plugins]\ncounting = sc_testplugin:Counting\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sc_testplugin", raising=False)
    plugin = enable("counting", label="ep")
    assert enable("counting") is plugin  # idempotent
    assert enabled() == ["counting"]
    with HTTPClient(http_server.url, hooks=[]) as client:
        client.get("/y")
        assert disable("counting") is True
        client.get("/z")
    assert plugin.records == [("ep", "GET /y", "success")]  # type: ignore[attr-defined]
    assert plugin.closed  # type: ignore[attr-defined]
    assert enabled() == []
