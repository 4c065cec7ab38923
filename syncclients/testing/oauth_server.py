"""A local OAuth 2.1 authorization server and a protected MCP server, both on 127.0.0.1, for
tests and examples of MCP authorization (never use it for anything else: it authorizes
everyone).

``AuthServers`` starts two :class:`LocalHTTPServer`s: the authorization server (issuer = its
URL; RFC 8414 metadata, RFC 7591 registration, an ``/authorize`` that redirects at once with
a code, and a token endpoint for authorization_code + PKCE, refresh_token and
client_credentials) and a minimal Streamable HTTP MCP server at ``/mcp`` that answers 401
with a ``WWW-Authenticate`` challenge (RFC 9728 ``resource_metadata``) unless it gets a valid
bearer token. Knobs make it misbehave: wrong issuer, garbage or slow endpoints, failing
refreshes, step-up scopes.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from syncclients.testing import LocalHTTPServer, Reply
from syncclients.testing.http_server import RequestInfo


def _form(req: RequestInfo) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(req.body.decode()).items()}


class AuthServers:
    """Start with ``with AuthServers() as s:``; ``s.mcp_url`` is the protected endpoint."""

    def __init__(self) -> None:
        self.auth = LocalHTTPServer()
        self.mcp = LocalHTTPServer()
        self._lock = threading.Lock()
        # knobs
        self.issuer_override: str | None = None
        self.metadata_body: Any = None  # replaces the AS metadata answer when set
        self.metadata_extra: dict[str, Any] = {}
        self.prm_resource: str | None = None
        self.prm_scopes: list[str] | None = None
        self.challenge_scope: str | None = None
        self.required_scope: str | None = None  # tools/call needs it (403 insufficient_scope)
        self.token_delay_s = 0.0
        self.token_garbage = False
        self.token_delay_once = 0.0
        self.refresh_fails = False
        self.expires_in: int | None = 3600
        self.issue_refresh = True
        self.denied_scopes: set[str] = set()  # never granted, whatever is asked
        self.fixed_access_token: str | None = None  # issue this access token every time
        self.clients: dict[str, dict[str, Any]] = {}
        #: Checks a ``private_key_jwt`` client assertion: returns the client id, or None to
        #: refuse it; None: assertions are refused.
        self.verify_assertion: Callable[[str, str], str | None] | None = None
        # records
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.token_auth_headers: list[str | None] = []
        self.authorize_requests: list[dict[str, str]] = []
        self.registrations: list[dict[str, Any]] = []
        self.mcp_auth_headers: list[str | None] = []
        self.idp_requests: list[dict[str, str]] = []
        self.jags: dict[str, dict[str, str]] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> AuthServers:
        self.auth.start()
        self.mcp.start()
        a, m = self.auth.routes, self.mcp.routes
        a[("GET", "/.well-known/oauth-authorization-server")] = self._metadata
        a[("POST", "/register")] = self._register
        a[("GET", "/authorize")] = self._authorize
        a[("POST", "/token")] = self._token
        a[("POST", "/idp/token")] = self._idp_token
        m[("GET", "/.well-known/oauth-protected-resource/mcp")] = self._prm
        m[("POST", "/mcp")] = self._mcp
        m[("GET", "/mcp")] = self._mcp_get
        m[("DELETE", "/mcp")] = lambda _r: Reply(200, b"")
        return self

    def __exit__(self, *exc: object) -> None:
        self.mcp.stop()
        self.auth.stop()

    @property
    def issuer(self) -> str:
        return self.auth.url

    @property
    def mcp_url(self) -> str:
        return self.mcp.url + "/mcp"

    @property
    def prm_url(self) -> str:
        return self.mcp.url + "/.well-known/oauth-protected-resource/mcp"

    # -- resource server -------------------------------------------------------------------------

    def _challenge(self, error: str | None = None, scope: str | None = None) -> str:
        parts = [f'resource_metadata="{self.prm_url}"']
        if scope or self.challenge_scope:
            parts.append(f'scope="{scope or self.challenge_scope}"')
        if error:
            parts.append(f'error="{error}"')
        return "Bearer " + ", ".join(parts)

    def _prm(self, _req: RequestInfo) -> Reply:
        body: dict[str, Any] = {
            "resource": self.prm_resource or self.mcp_url,
            "authorization_servers": [self.issuer],
        }
        if self.prm_scopes is not None:
            body["scopes_supported"] = self.prm_scopes
        return Reply(200, body)

    def _token_of(self, req: RequestInfo) -> dict[str, Any] | None:
        header = req.headers.get("Authorization") or ""
        with self._lock:
            self.mcp_auth_headers.append(header or None)
            if not header.startswith("Bearer "):
                return None
            record = self.tokens.get(header[7:])
        if record is None or record["expires_at"] < time.time():
            return None
        return record

    def _mcp_get(self, req: RequestInfo) -> Reply:
        if self._token_of(req) is None:
            return Reply(401, b"", {"WWW-Authenticate": self._challenge()})
        return Reply(405, b"")

    def _mcp(self, req: RequestInfo) -> Reply:
        token = self._token_of(req)
        if token is None:
            return Reply(401, {"error": "unauthorized"}, {"WWW-Authenticate": self._challenge()})
        msg = req.json()
        method, rid = msg.get("method"), msg.get("id")
        if rid is None:
            return Reply(202, b"")
        if method == "initialize":
            result: Any = {
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "protected", "version": "1"},
            }
        elif method == "tools/list":
            result = {"tools": [{"name": "whoami", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call":
            granted = set((token.get("scope") or "").split())
            if self.required_scope and not set(self.required_scope.split()) <= granted:
                return Reply(
                    403,
                    {"error": "insufficient_scope"},
                    {
                        "WWW-Authenticate": self._challenge(
                            "insufficient_scope", self.required_scope
                        )
                    },
                )
            text = token.get("client_id") or "?"
            result = {"content": [{"type": "text", "text": text}]}
        else:
            result = {}
        return Reply(200, {"jsonrpc": "2.0", "id": rid, "result": result})

    # -- authorization server --------------------------------------------------------------------

    def _metadata(self, _req: RequestInfo) -> Reply:
        if self.metadata_body is not None:
            return Reply(200, self.metadata_body, {"Content-Type": "application/json"})
        base = self.issuer
        body = {
            "issuer": self.issuer_override or base,
            "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token",
            "registration_endpoint": base + "/register",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
                "private_key_jwt",
            ],
        }
        body.update(self.metadata_extra)
        return Reply(200, body)

    def _register(self, req: RequestInfo) -> Reply:
        body = req.json()
        client_id = "dyn-" + secrets.token_hex(4)
        client = {"client_id": client_id, "client_secret": "dyn-secret-" + secrets.token_hex(8)}
        client["token_endpoint_auth_method"] = "client_secret_basic"  # noqa: S105 - a method
        with self._lock:
            self.registrations.append(body)
            self.clients[client_id] = client
        return Reply(201, {**body, **client})

    def _authorize(self, req: RequestInfo) -> Reply:
        q = {k: v[0] for k, v in parse_qs(urlsplit(req.path).query).items()}
        code = "code-" + secrets.token_hex(8)
        with self._lock:
            self.authorize_requests.append(q)
            self.codes[code] = q
        location = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
        return Reply(302, b"", {"Location": location})

    def _client_of(self, req: RequestInfo, form: dict[str, str]) -> str | None:
        header = req.headers.get("Authorization")
        if header and header.startswith("Basic "):
            pair = base64.b64decode(header[6:]).decode()
            cid, _, secret = (unquote(p) for p in pair.partition(":"))
            client = self.clients.get(cid)
            return cid if client and client.get("client_secret") == secret else None
        if form.get("client_assertion"):
            check = self.verify_assertion
            return check(form["client_assertion"], self.issuer) if check else None
        posted = form.get("client_id") or ""
        known = self.clients.get(posted)
        if known is None:
            return None
        if known.get("client_secret") and known["client_secret"] != form.get("client_secret"):
            return None
        return posted

    def _issue(self, client_id: str, scope: str | None, resource: str | None) -> dict[str, Any]:
        if scope:
            scope = " ".join(s for s in scope.split() if s not in self.denied_scopes) or None
        access = self.fixed_access_token or "at-" + secrets.token_hex(12)
        expires = self.expires_in if self.expires_in is not None else 3600
        record = {
            "client_id": client_id,
            "scope": scope,
            "resource": resource,
            "expires_at": time.time() + expires,
        }
        answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer"}
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        if scope:
            answer["scope"] = scope
        with self._lock:
            self.tokens[access] = record
            if self.issue_refresh:
                refresh = "rt-" + secrets.token_hex(12)
                self.refresh_tokens[refresh] = dict(record)
                answer["refresh_token"] = refresh
        return answer

    def _token(self, req: RequestInfo) -> Reply:
        form = _form(req)
        with self._lock:
            self.token_requests.append(form)
            self.token_auth_headers.append(req.headers.get("Authorization"))
            delay, self.token_delay_once = self.token_delay_s or self.token_delay_once, 0.0
        if self.token_garbage:
            return Reply(200, b"<html>oops</html>", {"Content-Type": "text/html"})
        if delay:
            return Reply(503, {"error": "temporarily_unavailable"}, delay_s=delay)
        client_id = self._client_of(req, form)
        if client_id is None:
            return Reply(401, {"error": "invalid_client"})
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self._lock:
                q = self.codes.pop(form.get("code", ""), None)
            if q is None or q.get("redirect_uri") != form.get("redirect_uri"):
                return Reply(400, {"error": "invalid_grant"})
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != q.get("code_challenge") or q.get("code_challenge_method") != "S256":
                return Reply(400, {"error": "invalid_grant", "error_description": "PKCE"})
            if form.get("resource") != q.get("resource"):
                return Reply(400, {"error": "invalid_target"})
            return Reply(200, self._issue(client_id, q.get("scope"), form.get("resource")))
        if grant == "refresh_token":
            with self._lock:
                old = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if self.refresh_fails or old is None:
                return Reply(400, {"error": "invalid_grant"})
            return Reply(200, self._issue(client_id, old["scope"], form.get("resource")))
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            with self._lock:
                exchanged = self.jags.pop(form.get("assertion", ""), None)
            if exchanged is None:
                return Reply(400, {"error": "invalid_grant"})
            return Reply(200, self._issue(client_id, exchanged.get("scope"), exchanged["resource"]))
        if grant == "client_credentials":
            return Reply(200, self._issue(client_id, form.get("scope"), form.get("resource")))
        return Reply(400, {"error": "unsupported_grant_type"})

    def _idp_token(self, req: RequestInfo) -> Reply:
        """An enterprise IdP's RFC 8693 token exchange: ID token in, ID-JAG out."""
        form = _form(req)
        with self._lock:
            self.idp_requests.append(form)
        if form.get("subject_token") != "id-token-of-alice" or form.get("client_id") != "idp-app":
            return Reply(400, {"error": "invalid_grant"})
        jag = "jag-" + secrets.token_hex(8)
        with self._lock:
            self.jags[jag] = form
        return Reply(
            200,
            {
                "access_token": jag,
                "issued_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                "token_type": "N_A",
            },
        )

    def token_grants(self) -> list[str]:
        with self._lock:
            return [f.get("grant_type", "") for f in self.token_requests]
