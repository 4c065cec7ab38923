"""Secrets never reach what we print: errors, logs, reprs, ``syncclients servers`` (issue 10)."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from pathlib import Path

import pytest

from syncclients import HTTPClient, MCPClient, RetryPolicy
from syncclients.cli import main
from syncclients.errors import ConnectError
from syncclients.mcp.config import load_server
from syncclients.redact import (
    is_secret_name,
    redact_command,
    redact_text,
    redact_url,
)

SECRET = "s3cr3t-VALUE-42"
MISSING_PROGRAM = "/nonexistent/syncclients-test-server"


def _free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the redaction functions -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["api_key", "token", "key", "secret", "password", "sig", "access_token", "client_secret",
     "signature", "X-Amz-Signature", "--api-key", "--auth-token", "GITHUB_TOKEN", "apikey",
     "X-API-Key", "refresh_token", "passwd"],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["page", "q", "keyword", "port", "--verbose", "monkey", "", "Idempotency-Key"]
)
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_url_hides_userinfo_and_secret_query_values_only() -> None:
    url = f"https://bob:{SECRET}@api.example.com:8443/v1/items?page=2&api_key={SECRET}&sig={SECRET}"
    shown = redact_url(url)
    assert SECRET not in shown and "bob" not in shown
    assert shown == "https://***@api.example.com:8443/v1/items?page=2&api_key=***&sig=***"


def test_redact_text_hides_query_pairs_userinfo_and_authorization() -> None:
    text = f"url: /x?token={SECRET}&q=1 (from http://u:{SECRET}@h/), Authorization: Bearer {SECRET}"
    shown = redact_text(text)
    assert SECRET not in shown
    assert "q=1" in shown and "token=***" in shown


@pytest.mark.parametrize(
    "argv",
    [
        ["srv", "--token", SECRET],
        ["srv", f"--token={SECRET}"],
        ["srv", "--api-key", SECRET, "--port", "1"],
        ["srv", "--password", SECRET],
        ["srv", "--secret", SECRET],
        ["docker", "run", "-e", f"GITHUB_TOKEN={SECRET}", "img"],
        ["srv", "--header", f"Authorization: Bearer {SECRET}"],
        ["srv", f"https://api.example.com/mcp?key={SECRET}"],
    ],
)
def test_redact_command_hides_flag_values(argv: list[str]) -> None:
    shown = redact_command(argv)
    assert SECRET not in shown
    assert shown.startswith(argv[0])


def test_redact_command_keeps_ordinary_words_and_shows_expanded_vars() -> None:
    shown = redact_command(["srv", "--port", "8000", SECRET, "-v"], known={"MY_TOKEN": SECRET})
    assert shown == "srv --port 8000 '${MY_TOKEN}' -v"
    assert redact_command(["srv", "--token", "--verbose"]) == "srv --token --verbose"


# -- ConnectError messages and our logs (wire: a refused port on 127.0.0.1) -------------------


def test_connect_error_and_warning_log_hide_query_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _free_port()
    client = HTTPClient(
        f"http://user:{SECRET}@127.0.0.1:{port}/api/",
        retry=RetryPolicy.never(),
        breaker=None,
        budget=None,
    )
    with client, caplog.at_level(logging.DEBUG, logger="syncclients"):
        with pytest.raises(ConnectError) as info:
            client.get("items", params={"api_key": SECRET, "page": "2"})
        with pytest.raises(ConnectError) as info2:
            client.get(f"items?access_token={SECRET}")
    for exc in (info.value, info2.value):
        assert SECRET not in str(exc) and SECRET not in repr(exc)
        assert "127.0.0.1" in str(exc)
        assert SECRET not in (exc.target or "")
    assert "api_key=***" in str(info.value)
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert any(r.levelno >= logging.WARNING for r in caplog.records)
    assert SECRET not in logged
    assert SECRET not in repr(client)


# -- stdio command lines: ConnectError, repr(MCPClient) ----------------------------------------


def test_stdio_command_line_secrets_hidden_in_connect_error_and_repr() -> None:
    client = MCPClient.stdio([MISSING_PROGRAM, "--token", SECRET, f"--api-key={SECRET}"])
    assert SECRET not in repr(client)
    assert MISSING_PROGRAM in repr(client)


def test_stdio_connect_error_hides_flag_values() -> None:
    client = MCPClient.stdio(
        [MISSING_PROGRAM, "--password", SECRET], retry=RetryPolicy.never(), breaker=None
    )
    with pytest.raises(ConnectError) as info:
        client.connect()
    client.close()
    assert SECRET not in str(info.value)
    assert "--password" in str(info.value)


# -- ${ENV} expansion in a config file: entry repr, connect errors, `syncclients servers` ------


@pytest.fixture
def secret_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNC_TEST_TOKEN", SECRET)
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "local": {
                        "command": MISSING_PROGRAM,
                        "args": ["serve", "${SYNC_TEST_TOKEN}", "--api-key", "literal-key"],
                        "env": {"TOKEN": "${SYNC_TEST_TOKEN}", "TZ": "UTC"},
                    },
                    "remote": {
                        "type": "http",
                        "url": "https://mcp.example.com/mcp?key=${SYNC_TEST_TOKEN}&v=1",
                        "headers": {"Authorization": "Bearer ${SYNC_TEST_TOKEN}"},
                    },
                }
            }
        ),
        encoding="utf-8",
    )
    return path


def test_config_entry_remembers_expansions_and_hides_them(secret_config: Path) -> None:
    local = load_server("local", secret_config)
    assert local.args[1] == SECRET  # expanded for the server ...
    assert local.expanded == {"SYNC_TEST_TOKEN": SECRET}
    assert SECRET not in repr(local) and "literal-key" not in repr(local)  # ... never printed
    assert (
        local.display_target() == f"{MISSING_PROGRAM} serve '${{SYNC_TEST_TOKEN}}' --api-key '***'"
    )
    remote = load_server("remote", secret_config)
    assert SECRET not in repr(remote)
    assert remote.display_target() == "https://mcp.example.com/mcp?key=${SYNC_TEST_TOKEN}&v=1"


def test_config_client_connect_error_and_repr_hide_expanded_values(secret_config: Path) -> None:
    client = MCPClient.from_config("local", secret_config, retry=RetryPolicy.never(), breaker=None)
    assert SECRET not in repr(client)
    with pytest.raises(ConnectError) as info:
        client.connect()
    client.close()
    assert SECRET not in str(info.value)
    assert "${SYNC_TEST_TOKEN}" in str(info.value)


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_servers_output_hides_secrets(secret_config: Path, as_json: bool) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--config", str(secret_config), "servers"] + (["--json"] if as_json else [])
    assert main(argv, stdout=out, stderr=err) == 0
    text = out.getvalue()
    assert SECRET not in text and "literal-key" not in text
    assert "${SYNC_TEST_TOKEN}" in text
    assert MISSING_PROGRAM in text and "mcp.example.com" in text


def test_cli_servers_inline_hides_flag_values() -> None:
    out, err = io.StringIO(), io.StringIO()
    stdio = f"{sys.executable} -m server --token {SECRET}"
    url = f"http://u:{SECRET}@h/mcp?api_key={SECRET}"
    assert main(["servers", "--stdio", stdio, "--url", url], stdout=out, stderr=err) == 0
    assert SECRET not in out.getvalue()
