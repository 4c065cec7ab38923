"""One OAuth object in front of the official SDK's servers (legacy HTTP+SSE and Streamable
HTTP) behind a bearer gate (serve_sdk.py ``sse-oauth``/``streamable-oauth``), authorized by
the local authorization server of tests/auth."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mcp_http_helpers import start_sdk_server

from syncclients import MCPClient, RetryPolicy
from syncclients.auth import OAuth

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from syncclients.testing.oauth_server import AuthServers


def headless(url: str) -> str:
    return requests.get(url, allow_redirects=False, timeout=10).headers["Location"]


@pytest.fixture
def auth_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthServers]:
    with AuthServers() as servers:
        servers.fixed_access_token = "sdk-" + secrets.token_hex(8)
        monkeypatch.setenv("OAUTH_ISSUER", servers.issuer)
        monkeypatch.setenv("OAUTH_TOKEN", servers.fixed_access_token)
        yield servers


@pytest.mark.parametrize(("mode", "path"), [("sse-oauth", "/sse"), ("streamable-oauth", "/mcp")])
def test_oauth_in_front_of_sdk_servers(
    auth_server: AuthServers, server_tmp: Path, mode: str, path: str
) -> None:
    server = start_sdk_server(mode, server_tmp)
    try:
        auth = OAuth(redirect_uri="http://127.0.0.1:9/callback", authorize=headless)
        make = MCPClient.sse if mode == "sse-oauth" else MCPClient.http
        with make(server.base + path, auth=auth, retry=RetryPolicy(max_attempts=1)) as client:
            assert client.call_tool("add", {"a": 2, "b": 3}).text == "5"
        assert auth.authorizations == 1
        assert auth_server.authorize_requests[0]["resource"] == server.base + path
    finally:
        server.stop()
