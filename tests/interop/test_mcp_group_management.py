"""MCPGroup server management against real stdio servers (official-SDK MCPServer in
servers/managed_server.py): hot reload, stop/start/restart, permissions from the config,
the health monitor, tools/list_changed and the isolation of stdio servers."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from syncclients import MCPGroup, UsageError
from syncclients.errors import ConnectionLostError, ToolNotAllowedError
from syncclients.mcp.audit import AuditRecord
from syncclients.mcp.monitor import StatusChange

SERVER = str(Path(__file__).parent / "servers" / "managed_server.py")


def entry(label: str, **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [SERVER, label], **extra}


def write(path: Path, servers: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def whoami(group: MCPGroup, server: str) -> dict[str, Any]:
    result = group.call_tool(server, "whoami", {})
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def in_flight(group: MCPGroup, server: str, pool: ThreadPoolExecutor) -> Future[Any]:
    """A 1 s ``hold`` call on ``server``, holding its lease when this returns (the lease is
    taken before the request is sent, so the request may go out just after)."""
    future = pool.submit(group.call_tool, server, "hold", {"seconds": 1.0})
    deadline = time.monotonic() + 10
    while group._registry.get(server).inflight == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert group._registry.get(server).inflight == 1
    return future


def test_reload_applies_the_difference_without_failing_calls_in_flight(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    config = write(tmp_path / "mcp.json", {"a": entry("a1"), "b": entry("b1"), "k": entry("k")})
    with MCPGroup.from_config(config, era="legacy", hooks=(), audit_hooks=()) as group:
        old_a, old_b, kept = whoami(group, "a"), whoami(group, "b"), whoami(group, "k")
        running = in_flight(group, "a", pool)
        write(config, {"c": entry("c1"), "k": entry("k"), "a": entry("a2")})
        result = group.reload()
        assert (result.added, result.removed, result.changed, result.unchanged) == (
            ("c",),
            ("b",),
            ("a",),
            ("k",),
        )
        assert group.servers == ["c", "k", "a"]
        assert whoami(group, "a")["label"] == "a2"  # new calls go to the new process
        assert running.result(timeout=30).text == "held a1"  # the old one finished its call
        assert whoami(group, "c")["label"] == "c1"
        assert whoami(group, "k")["pid"] == kept["pid"]  # untouched
        with pytest.raises(UsageError, match="unknown MCP server 'b'"):
            group.call_tool("b", "echo", {"text": "x"})
        assert wait_gone(old_a["pid"]) and wait_gone(old_b["pid"])
        assert [t.name for t in group.list_tools() if t.tool.name == "echo"] == [
            "c__echo", "k__echo", "a__echo"
        ]  # fmt: skip
        unchanged = group.reload()
        assert unchanged.unchanged == ("c", "k", "a") and not unchanged.changed
        write(config, {"a": {"command": ""}})
        with pytest.raises(UsageError):
            group.reload()  # an invalid file changes nothing
        assert group.servers == ["c", "k", "a"]


def test_add_stop_start_restart_and_remove(tmp_path: Path, pool: ThreadPoolExecutor) -> None:
    with MCPGroup.from_dict({"a": entry("a")}, era="legacy", hooks=(), audit_hooks=()) as group:
        group.add_server("n", entry("n"))
        assert whoami(group, "n")["label"] == "n"
        first = whoami(group, "a")["pid"]
        group.stop_server("a", wait=True)
        assert not alive(first) or wait_gone(first)
        assert group.is_stopped("a")
        with pytest.raises(UsageError, match="stopped"):
            group.call_tool("a", "echo", {"text": "x"})
        assert {t.server for t in group.list_tools()} == {"n"}
        assert [(h.server, h.ok, h.error) for h in group.health(timeout_s=10)] == [
            ("a", False, "stopped"), ("n", True, None)
        ]  # fmt: skip
        group.start_server("a")
        second = whoami(group, "a")["pid"]
        assert second != first
        running = in_flight(group, "a", pool)
        group.restart_server("a")
        third = whoami(group, "a")["pid"]
        assert third != second
        assert running.result(timeout=30).text == "held a"
        assert wait_gone(second)
        group.remove_server("n", wait=True)
        assert group.servers == ["a"]


def test_permissions_from_the_config_entry_and_audit(sdk_cmd: list[str]) -> None:
    records: list[AuditRecord] = []
    config = {
        "m": entry("m", includeTools=["echo", "who*", "secret_*"], excludeTools=["whoami"]),
        "open": entry("open"),
    }
    with MCPGroup.from_dict(config, era="legacy", hooks=(), audit_hooks=[records.append]) as g:
        names = {t.name for t in g.list_tools()}
        assert {n for n in names if n.startswith("m__")} == {"m__echo", "m__secret_login"}
        assert "open__whoami" in names and "open__grow" in names
        sent_before = g.metrics()["m"].calls
        with pytest.raises(ToolNotAllowedError, match="deny pattern 'whoami'"):
            g.call_tool("m", "whoami", {})
        with pytest.raises(ToolNotAllowedError, match="not in the allow list"):
            g.call_qualified("m__grow", {"name": "x"})
        assert g.metrics()["m"].calls == sent_before  # nothing was sent
        result = g.call_tool(
            "m", "secret_login", {"user": "ann", "password": "pw-123"}, caller="ann"
        )
        assert result.text == "hello ann"
    outcomes = [(r.server, r.tool, r.outcome, r.caller) for r in records]
    assert outcomes == [
        ("m", "whoami", "denied", None),
        ("m", "grow", "denied", None),
        ("m", "secret_login", "success", "ann"),
    ]
    assert records[-1].arguments == {"user": "ann", "password": "***"}


def test_monitor_tracks_status_changes_and_health_reads_it(tmp_path: Path) -> None:
    changes: list[StatusChange] = []
    changed = threading.Condition()

    def on_change(change: StatusChange) -> None:
        with changed:
            changes.append(change)
            changed.notify_all()

    def seen(*pairs: tuple[str, str]) -> bool:
        return set(pairs) <= {(c.server, c.status) for c in changes}

    broken = {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"]}
    config = {"a": entry("a"), "broken": broken}
    with MCPGroup.from_dict(
        config, era="legacy", hooks=(), audit_hooks=(), restart_on_exit=False, breaker=None
    ) as group:
        monitor = group.start_monitor(interval_s=0.1, timeout_s=10, history=3, on_change=on_change)
        with changed:
            assert changed.wait_for(lambda: seen(("a", "up"), ("broken", "down")), 30)
        assert monitor.wait_rounds(4, 30)
        assert monitor.status() == {"a": "up", "broken": "down"}
        assert len(monitor.history("a")) == 3  # bounded
        # health() reads the monitor: no probe while it runs
        probes: list[str] = []
        real = group._probe
        group._probe = lambda s, t: probes.append(s) or real(s, t)  # type: ignore[method-assign]
        report = {h.server: h for h in group.health()}
        assert report["a"].ok and not report["broken"].ok and probes == []
        group._probe = real  # type: ignore[method-assign]
        pid = whoami(group, "a")["pid"]
        os.kill(pid, 9)  # the server dies: the next probes fail (no restart on exit)
        with changed:
            assert changed.wait_for(lambda: seen(("a", "down")), 30)
        group.restart_server("a")
        with changed:
            assert changed.wait_for(lambda: [c.status for c in changes if c.server == "a"][-1]
                                    == "up", 30)  # fmt: skip
        group.stop_server("a")
        with changed:
            assert changed.wait_for(lambda: seen(("a", "stopped")), 30)
        a_states = [(c.previous, c.status) for c in changes if c.server == "a"]
        assert a_states == [("unknown", "up"), ("up", "down"), ("down", "up"), ("up", "stopped")]
        group.stop_monitor()
        assert group.monitor is None


def test_new_tools_appear_after_list_changed() -> None:
    notified = threading.Event()
    servers: list[str] = []

    def on_tools_changed(server: str) -> None:
        servers.append(server)
        notified.set()

    with MCPGroup.from_dict(
        {"m": entry("m")}, era="legacy", hooks=(), audit_hooks=(), on_tools_changed=on_tools_changed
    ) as group:
        before = {t.name for t in group.list_tools()}
        assert "m__late_tool" not in before
        assert group.call_qualified("m__grow", {"name": "late_tool"}).text == "added late_tool"
        assert notified.wait(15)
        assert servers == ["m"] and group.tools_version("m") == 1
        assert {t.name for t in group.list_tools()} == before | {"m__late_tool"}
        assert group.call_qualified("m__late_tool", {}).text == "late_tool"


def test_stdio_isolation_env_cwd_and_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARENT_SECRET_TOKEN", "s3cr3t")
    monkeypatch.setenv("PARENT_SETTING", "x")
    limits = {"memoryMB": 4096, "cpuSeconds": 120, "openFiles": 128}
    config = {
        "iso": entry("iso", env={"NAMED": "1"}, cwd=str(tmp_path), limits=limits),
        "plain": entry("plain"),
    }
    with MCPGroup.from_dict(config, era="legacy", hooks=(), audit_hooks=()) as group:
        iso, plain = whoami(group, "iso"), whoami(group, "plain")
    assert "PARENT_SECRET_TOKEN" not in iso["env"] and "PARENT_SETTING" not in iso["env"]
    assert "NAMED" in iso["env"] and "PATH" in iso["env"]
    # LC_CTYPE: set by the child's own Python (PEP 538 C-locale coercion), not inherited
    allowed = {"HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "NAMED", "LC_CTYPE"}
    assert set(iso["env"]) <= allowed
    assert os.path.realpath(iso["cwd"]) == os.path.realpath(tmp_path)
    assert iso["limits"] == {"as": 4096 * 1024 * 1024, "cpu": 120, "nofile": 128}
    assert plain["limits"]["nofile"] != 128


def test_a_server_over_its_memory_limit_fails_to_start_with_a_clear_error() -> None:
    config = {"tiny": entry("tiny", limits={"memoryMB": 16})}
    with MCPGroup.from_dict(
        config, era="legacy", hooks=(), audit_hooks=(), restart_on_exit=False, breaker=None,
        timeouts=(20, 20),
    ) as group:  # fmt: skip
        report = group.health(timeout_s=20)
    assert not report[0].ok
    assert report[0].error is not None and "ServerExitedError" in report[0].error, report


def test_a_call_longer_than_the_drain_timeout_fails_when_its_server_is_replaced(
    pool: ThreadPoolExecutor,
) -> None:
    with MCPGroup.from_dict(
        {"a": entry("a")}, era="legacy", hooks=(), audit_hooks=(), drain_timeout_s=0.3
    ) as group:
        future = pool.submit(group.call_tool, "a", "hold", {"seconds": 30})
        deadline = time.monotonic() + 10
        while group._registry.get("a").inflight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.monotonic()
        group.restart_server("a")
        with pytest.raises(ConnectionLostError):
            future.result(timeout=20)
        assert time.monotonic() - started < 15  # closed after the drain timeout, not 30 s
        assert group.call_tool("a", "echo", {"text": "still here"}).text == "still here"
