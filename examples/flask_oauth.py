"""Flask + MCP authorization: each signed-in user authorizes the app once, and the app calls
the OAuth-protected MCP server with that user's tokens (the web "split flow").

- ``GET /connect``: :meth:`OAuth.begin` does discovery and client registration, then the
  view redirects the browser to the authorization server.
- ``GET /oauth/callback``: the authorization server sends the browser back here;
  :meth:`OAuth.complete` checks ``state`` and redeems the code (PKCE) for tokens.
- ``GET /tools``: lists the MCP server's tools as this user (a 401 on the way refreshes the
  user's token; without one the user is sent to ``/connect``).

Tokens are kept per user: one :class:`OAuth` per user, all on one token store, each with
its own ``storage_prefix``; a :class:`FileTokenStorage` keeps them across restarts (owner-only
file, atomic writes). One ``MCPClient`` per user, created on first use and shared by that
user's request threads. Users are identified by a Flask session cookie here; use your own
login instead. Keep the callback's query string (a single-use code) out of access logs.

Run it with no arguments to watch it work (``python examples/flask_oauth.py``): it starts a
local authorization server and a protected MCP server on 127.0.0.1
(:class:`syncclients.testing.AuthServers`, which authorizes everyone at once, no login page),
serves this app, and walks two users' browsers through the redirects.

Configuration (``create_app(config)``): ``MCP_URL`` (the protected MCP endpoint),
``PUBLIC_URL`` (this app's base URL, for the redirect URI), ``TOKEN_FILE`` (None: in memory),
``SECRET_KEY`` (Flask's session key).
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading
from typing import Any

import requests
from flask import Flask, jsonify, redirect, request, session
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from syncclients import AuthorizationError, MCPClient
from syncclients.auth import FileTokenStorage, MemoryTokenStorage, OAuth, TokenStorage
from syncclients.testing import AuthServers


class UserClients:
    """One OAuth object and one MCPClient per user, created on first use. Thread-safe."""

    def __init__(self, mcp_url: str, redirect_uri: str, storage: TokenStorage) -> None:
        self.mcp_url = mcp_url
        self.redirect_uri = redirect_uri
        self.storage = storage
        self._lock = threading.Lock()
        self._auth: dict[str, OAuth] = {}
        self._clients: dict[str, MCPClient] = {}

    def auth(self, user: str) -> OAuth:
        with self._lock:
            if user not in self._auth:
                self._auth[user] = OAuth(
                    redirect_uri=self.redirect_uri,
                    storage=self.storage,
                    storage_prefix=f"user:{user}|",
                    client_name="syncclients flask example",
                )
            return self._auth[user]

    def mcp(self, user: str) -> MCPClient:
        auth = self.auth(user)
        with self._lock:
            if user not in self._clients:
                self._clients[user] = MCPClient.http(self.mcp_url, auth=auth)
            return self._clients[user]

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            for auth in self._auth.values():
                auth.close()


def create_app(config: dict[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(16))
    app.config.update(config)
    token_file = app.config.get("TOKEN_FILE")
    storage: TokenStorage = FileTokenStorage(token_file) if token_file else MemoryTokenStorage()
    users = UserClients(
        app.config["MCP_URL"], app.config["PUBLIC_URL"].rstrip("/") + "/oauth/callback", storage
    )
    app.extensions["user_clients"] = users

    def current_user() -> str:
        if "user" not in session:
            session["user"] = secrets.token_hex(8)
        return str(session["user"])

    @app.get("/connect")
    def connect() -> Response:
        pending = users.auth(current_user()).begin(users.mcp_url)
        return redirect(pending.authorization_url)

    @app.get("/oauth/callback")
    def callback() -> Response | tuple[Response, int]:
        try:
            users.auth(current_user()).complete(request.url)
        except AuthorizationError as exc:
            return jsonify(error="authorization failed", detail=str(exc)), 400
        return redirect("/tools")

    @app.get("/tools")
    def tools() -> Response:
        user = current_user()
        if not users.auth(user).tokens_for(users.mcp_url):
            return redirect("/connect")
        client = users.mcp(user)
        names = [tool.name for tool in client.list_tools()]
        who = client.call_tool(names[0], {}).text if names else None
        return jsonify(user=user, tools=names, first_tool_says=who)

    return app


def main() -> int:
    # An access log would record /oauth/callback?code=...: keep codes out of logs
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with AuthServers() as servers:
        server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        app = create_app({"MCP_URL": servers.mcp_url, "PUBLIC_URL": url})
        server.app = app
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            for name in ("alice", "bob"):
                with requests.Session() as browser:  # one cookie jar per user
                    first = browser.get(url + "/tools", timeout=30)
                    hops = " -> ".join(r.url.split("?")[0] for r in first.history)
                    print(f"{name}: {hops} -> {first.url}")
                    print(f"{name}: {first.json()}")
                    again = browser.get(url + "/tools", timeout=30)
                    print(f"{name} again: {len(again.history)} redirects (token kept)")
            print(f"authorization requests: {len(servers.authorize_requests)}")
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)
            app.extensions["user_clients"].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
