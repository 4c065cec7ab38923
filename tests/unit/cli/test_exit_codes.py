"""Every exit code ``syncclients --help`` documents, against what really happens; and the
servers a command starts are only the ones it needs."""

from __future__ import annotations

import http.server
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syncclients.cli import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    build_parser,
)

from .conftest import DEMO_ENTRY, DEMO_STDIO, ROOT, Run

#: Bound on every subprocess run here, in seconds.
WAIT_S = 60.0


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _tripwire(marker: Path) -> dict[str, Any]:
    """A stdio "server" that only records that it was started, then exits."""
    code = f"open({str(marker)!r}, 'w').close()"
    return {"command": sys.executable, "args": ["-c", code]}


@pytest.fixture
def demo_and_tripwire(tmp_path: Path) -> tuple[str, Path]:
    """A config with the demo server and a broken server that marks a file when started."""
    marker = tmp_path / "broken-was-started"
    path = tmp_path / "mcp.json"
    servers = {"broken": _tripwire(marker), "demo": DEMO_ENTRY}
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return str(path), marker


@pytest.fixture
def url_404() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers 404 to everything (a wrong MCP endpoint)."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not found")

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# -- only what a command needs -----------------------------------------------------------------


def test_call_by_qualified_name_starts_only_its_server(
    cli: Callable[..., Run], demo_and_tripwire: tuple[str, Path]
) -> None:
    config, marker = demo_and_tripwire
    run = cli("--config", config, "call", "demo__add", "a=2", "b=3")
    assert (run.code, run.out, run.err) == (EXIT_OK, "5\n", "")
    assert not marker.exists()
    run = cli("--config", config, "call", "demo", "echo", "text=hi")
    assert (run.code, run.out) == (EXIT_OK, "hi\n")
    assert not marker.exists()


def test_call_of_an_unknown_qualified_name_starts_nothing(
    cli: Callable[..., Run], demo_and_tripwire: tuple[str, Path]
) -> None:
    config, marker = demo_and_tripwire
    run = cli("--config", config, "call", "other__add", "a=2", "b=3")
    assert run.code == EXIT_USAGE
    assert "no tool 'other__add'" in run.err
    assert not marker.exists()


def test_batch_starts_only_the_servers_its_lines_name(
    cli: Callable[..., Run], demo_and_tripwire: tuple[str, Path], tmp_path: Path
) -> None:
    config, marker = demo_and_tripwire
    source = tmp_path / "in.jsonl"
    lines = [{"server": "demo", "tool": "add", "arguments": {"a": i, "b": 1}} for i in range(3)]
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    run = cli("--config", config, "batch", str(source), "--no-progress")
    assert run.code == EXIT_OK, run.err
    assert [json.loads(line)["result"] for line in run.out.splitlines()] == [
        {"result": 1},
        {"result": 2},
        {"result": 3},
    ]
    assert not marker.exists()


def test_calling_the_broken_server_is_a_connection_error(
    cli: Callable[..., Run], demo_and_tripwire: tuple[str, Path]
) -> None:
    config, marker = demo_and_tripwire
    run = cli("--config", config, "--connect-timeout", "20", "call", "broken__x")
    assert run.code == EXIT_USAGE
    assert marker.exists()
    (line,) = run.err.strip().splitlines()
    assert line.startswith("syncclients: error: server 'broken': "), line


# -- exit codes, as --help documents them ------------------------------------------------------


def test_help_documents_every_exit_code() -> None:
    epilog = build_parser().epilog or ""
    for code in (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE):
        assert f"{code} " in epilog
    assert "404" in epilog


def test_exit_0_ok_and_1_for_a_tool_error_and_a_read_timeout(cli: Callable[..., Run]) -> None:
    assert cli("--stdio", DEMO_STDIO, "call", "add", "a=1", "b=2").code == EXIT_OK
    assert cli("--stdio", DEMO_STDIO, "call", "divide", "a=1", "b=0").code == EXIT_FAILED
    # The server was reached, the call did not finish in time: a failed call, not exit 2.
    run = cli("--stdio", DEMO_STDIO, "--timeout", "0.5", "call", "slow", "ms=3000")
    assert run.code == EXIT_FAILED, run.err
    assert "ReadTimeout" in run.err


def test_exit_2_for_a_404_on_connect(cli: Callable[..., Run], url_404: str) -> None:
    run = cli("--url", url_404, "--connect-timeout", "5", "tools")
    assert run.code == EXIT_USAGE, run.err
    (line,) = run.err.strip().splitlines()
    assert "404" in line
    run = cli("--url", url_404, "--connect-timeout", "5", "call", "anything")
    assert run.code == EXIT_USAGE, run.err


def test_exit_2_for_a_handshake_that_never_completes(cli: Callable[..., Run]) -> None:
    silent = f"{sys.executable} -c 'import time; time.sleep(60)'"
    run = cli("--stdio", silent, "--connect-timeout", "1", "call", "t")
    assert run.code == EXIT_USAGE, run.err
    assert "handshake" in run.err


def test_exit_2_for_a_refused_connection(cli: Callable[..., Run]) -> None:
    # Port 9 (discard) on 127.0.0.1: nothing listens in the test environment.
    run = cli("--url", "http://127.0.0.1:9/mcp", "--connect-timeout", "5", "call", "t")
    assert run.code == EXIT_USAGE, run.err


def _syncclients(*argv: str, **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "syncclients", *argv],
        env=_env(),
        stdin=subprocess.DEVNULL,
        **popen,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("--json", "servers", "--stdio", DEMO_STDIO),
        ("--json", "tools", "--stdio", DEMO_STDIO),
    ],
)
def test_exit_141_quietly_when_the_reader_has_gone(argv: tuple[str, ...]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` that already exited: every write gets EPIPE
    try:
        proc = _syncclients(*argv, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == EXIT_BROKEN_PIPE
    assert err.decode() == ""  # no traceback, no "Exception ignored ... BrokenPipeError"


def test_exit_130_on_ctrl_c_during_a_call() -> None:
    proc = _syncclients(
        "--debug",
        "--stdio",
        DEMO_STDIO,
        "call",
        "slow",
        "ms=5000",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    with proc:
        assert proc.stderr is not None
        stderr = proc.stderr
        reader = threading.Thread(target=lambda: [lines.put(line) for line in stderr])
        reader.start()
        try:
            seen: list[str] = []
            while not any("tools/list attempt 1 succeeded" in line for line in seen):
                seen.append(lines.get(timeout=WAIT_S))  # the call is being sent: interrupt it
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=WAIT_S) == EXIT_INTERRUPTED
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(WAIT_S)
            reader.join(WAIT_S)
    rest = []
    while not lines.empty():
        rest.append(lines.get_nowait())
    assert "syncclients: interrupted\n" in rest
