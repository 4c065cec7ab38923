"""The RFC 8252 loopback redirect for scripts and notebooks: a one-shot HTTP listener on
127.0.0.1 (ephemeral port) that receives the authorization response from the browser.
"""

from __future__ import annotations

import http.server
import sys
import threading
import time
import webbrowser
from typing import Any

from ..errors import AuthorizationError

__all__ = ["LoopbackAuthorizer"]

_PAGE = (
    b"<!doctype html><title>Authorized</title>"
    b"<p>Authorization finished. You can close this tab.</p>"
)


class LoopbackAuthorizer:
    """Shows the user the authorization URL and catches the redirect on 127.0.0.1.

    Pass it as ``OAuth(authorize=LoopbackAuthorizer())``; its :attr:`redirect_uri` is used
    for registration and authorization (RFC 8252 §7.3: the authorization server must accept
    any port on a loopback redirect URI).

    Args:
        port: the port to listen on; 0: an ephemeral one chosen by the OS.
        path: the callback path.
        open_browser: open the system browser; False: only print the URL (headless shells).
        timeout_s: the most seconds to wait for the browser to come back.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        path: str = "/callback",
        open_browser: bool = True,
        timeout_s: float = 300.0,
    ) -> None:
        self._port = port
        self.path = path if path.startswith("/") else "/" + path
        self.open_browser = open_browser
        self.timeout_s = timeout_s
        self._server: http.server.HTTPServer | None = None
        self._lock = threading.Lock()

    def _bind(self) -> http.server.HTTPServer:
        with self._lock:
            if self._server is None:
                self._server = http.server.HTTPServer(("127.0.0.1", self._port), _Handler)
                self._server.timeout = 0.5
            return self._server

    @property
    def redirect_uri(self) -> str:
        """``http://127.0.0.1:<port><path>`` (binds the listening socket on first use)."""
        return f"http://127.0.0.1:{self._bind().server_address[1]}{self.path}"

    def __call__(self, authorization_url: str) -> str:
        """Send the user to ``authorization_url`` and wait for the callback.

        Returns:
            The full callback URL (with ``code`` and ``state``, or ``error``).

        Raises:
            AuthorizationError: no callback within ``timeout_s``.
        """
        server = self._bind()
        server.callback = None  # type: ignore[attr-defined]
        server.expected_path = self.path  # type: ignore[attr-defined]
        print(f"Open this URL to authorize: {authorization_url}", file=sys.stderr)
        if self.open_browser:
            webbrowser.open(authorization_url)
        deadline = time.monotonic() + self.timeout_s
        while server.callback is None:  # type: ignore[attr-defined]
            if time.monotonic() >= deadline:
                raise AuthorizationError(f"no authorization callback within {self.timeout_s:g} s")
            server.handle_request()
        return f"{self.redirect_uri.split(self.path, 1)[0]}{server.callback}"  # type: ignore[attr-defined]

    def close(self) -> None:
        """Stop listening."""
        with self._lock:
            if self._server is not None:
                self._server.server_close()
                self._server = None

    def __repr__(self) -> str:
        return f"LoopbackAuthorizer(port={self._port}, path={self.path!r})"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: Any = self.server
        if self.path.split("?", 1)[0] != server.expected_path:
            self.send_error(404)
            return
        server.callback = self.path
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_PAGE)))
        self.end_headers()
        self.wfile.write(_PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        return
