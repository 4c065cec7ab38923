"""examples/flask_oauth.py under a threaded WSGI server on 127.0.0.1, against the local
authorization server and protected MCP server of tests/auth: two users (two cookie jars)
each authorize once through the real redirects, and get their own tokens."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from syncclients.testing.oauth_server import AuthServers

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_oauth.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flask_oauth_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


flask_oauth = _load_example()


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[tuple[str, AuthServers, Any, Path]]:
    import threading

    token_file = tmp_path / "tokens.json"
    with AuthServers() as servers:
        server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{server.server_port}"
        app = flask_oauth.create_app(
            {"MCP_URL": servers.mcp_url, "PUBLIC_URL": url, "TOKEN_FILE": str(token_file)}
        )
        server.app = app
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield url, servers, app, token_file
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)
            app.extensions["user_clients"].close()


def test_two_users_authorize_once_each(app_url: tuple[str, AuthServers, Any, Path]) -> None:
    url, servers, app, token_file = app_url
    alice, bob = requests.Session(), requests.Session()
    try:
        first = alice.get(url + "/tools", timeout=30)  # -> /connect -> AS -> callback -> /tools
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["tools"] == ["whoami"] and body["first_tool_says"].startswith("dyn-")
        assert [r.status_code for r in first.history] == [302, 302, 302, 302]
        again = alice.get(url + "/tools", timeout=30)
        assert again.status_code == 200 and not again.history  # token kept for alice
        other = bob.get(url + "/tools", timeout=30)
        assert other.status_code == 200 and other.json()["user"] != body["user"]
    finally:
        alice.close()
        bob.close()
    assert len(servers.authorize_requests) == 2  # one consent per user, not per request
    assert servers.token_grants() == ["authorization_code", "authorization_code"]
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert "at-" not in repr(app.extensions["user_clients"].storage)


def test_forged_callback_is_refused(app_url: tuple[str, AuthServers, Any, Path]) -> None:
    url, servers, _app, _file = app_url
    with requests.Session() as browser:
        start = browser.get(url + "/connect", allow_redirects=False, timeout=30)
        assert start.status_code == 302
        answer = browser.get(url + "/oauth/callback?code=x&state=forged", timeout=30)
    assert answer.status_code == 400
    assert "state" in answer.json()["detail"]
    assert servers.token_requests == []
