"""MCP authorization (OAuth 2.1) as a ``requests`` auth object.

:class:`OAuth` is what every HTTP transport of syncclients already accepts as ``auth=``
(:meth:`MCPClient.http <syncclients.MCPClient.http>`, :meth:`MCPClient.sse
<syncclients.MCPClient.sse>`, :class:`~syncclients.HTTPClient`): it adds ``Authorization:
Bearer`` to requests for the origin it holds a token for, and on a ``401`` (or a ``403``
with ``insufficient_scope``) runs the MCP authorization flow and re-sends the request once.
That ``requests`` auth interface (``__call__`` on the prepared request + a response hook) is
the small interface the transports define; they need no OAuth knowledge.

The flow (MCP specification 2025-11-25, "Authorization"; see ``docs/mcp-authorization.md``):
challenge (RFC 6750 / RFC 9728 §5.1) -> Protected Resource Metadata (RFC 9728) -> Authorization
Server metadata (RFC 8414 / OpenID Connect Discovery), or the 2025-03-26 fallbacks -> client
(pre-registered, Client ID Metadata Document, or Dynamic Client Registration RFC 7591) ->
a grant: authorization code with PKCE S256, ``state`` and ``resource`` (RFC 7636, RFC 8707),
client credentials, or cross-app access (RFC 8693 token exchange + RFC 7523 JWT bearer) ->
tokens in a :class:`~syncclients.auth.TokenStorage`, refreshed before expiry and after a 401,
one refresh however many threads need it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import requests
import requests.auth

from ..errors import AuthorizationError, TransportError, UsageError, excerpt
from ..redact import redact_url
from ..transports.http import translating
from .discovery import (
    Challenge,
    as_metadata_urls,
    canonical_resource,
    is_loopback,
    origin_of,
    parse_challenge,
    prm_urls,
    resource_matches,
    same_issuer,
    str_list,
)
from .storage import MemoryTokenStorage, TokenStorage

__all__ = ["ClientCredentials", "IdentityAssertion", "OAuth", "PendingAuthorization"]

logger = logging.getLogger("syncclients.auth")

Grant = Literal["authorization_code", "client_credentials", "jwt_bearer"]
#: ``authorize(url) -> callback URL``: shows the user the authorization URL and returns the
#: full redirect URL the authorization server sent the browser to (with ``code``, ``state``).
Authorize = Callable[[str], str]

_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"
_ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105 - a URN
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_LEGACY_VERSION = "2025-03-26"
_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt")


@dataclass(frozen=True)
class ClientCredentials:
    """A client registered with the authorization server ahead of time.

    Attributes:
        client_id: the OAuth client id.
        client_secret: its secret (``client_secret_basic``/``_post``), or None.
        private_key_pem: a PEM private key for ``private_key_jwt`` (RFC 7523), or None; needs
            the ``oauth`` extra.
        signing_algorithm: the JWS algorithm for the key, e.g. ``"ES256"``, ``"RS256"``.
        token_endpoint_auth_method: force one of ``client_secret_basic``,
            ``client_secret_post``, ``none``, ``private_key_jwt``; None: chosen from what the
            server supports (a key: ``private_key_jwt``; a secret: Basic unless only POST is
            supported; else ``none``).
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    private_key_pem: str | None = field(default=None, repr=False)
    signing_algorithm: str = "RS256"
    token_endpoint_auth_method: str | None = None

    def __post_init__(self) -> None:
        if not self.client_id:
            raise UsageError("ClientCredentials needs a client_id")
        method = self.token_endpoint_auth_method
        if method is not None and method not in _AUTH_METHODS:
            raise UsageError(f"token_endpoint_auth_method must be one of {_AUTH_METHODS}")


@dataclass(frozen=True)
class IdentityAssertion:
    """What cross-app access (enterprise-managed authorization, SEP-990) starts from: the
    user's ID token from the enterprise identity provider and the IdP client to exchange it.

    Attributes:
        id_token: the OpenID Connect ID token from single sign-on (never logged).
        idp_token_endpoint: the IdP's token endpoint (RFC 8693 token exchange).
        idp_client_id: this application's client id at the IdP.
        idp_client_secret: its secret at the IdP (``client_secret_post``), or None.
    """

    id_token: str = field(repr=False)
    idp_token_endpoint: str
    idp_client_id: str
    idp_client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PendingAuthorization:
    """An authorization request waiting for the user (web split flow, :meth:`OAuth.begin`).

    Attributes:
        authorization_url: where to redirect the user's browser.
        state: the ``state`` value the callback must carry back.
    """

    authorization_url: str
    state: str


@dataclass
class _Attempt:
    verifier: str = field(repr=False)
    state: str
    redirect_uri: str
    scope: str | None
    server: _Server


@dataclass
class _Server:
    """What one auth object knows about one protected resource (one origin)."""

    server_url: str
    resource: str = ""
    issuer: str | None = None
    metadata: dict[str, Any] | None = None
    prm: dict[str, Any] | None = None
    legacy: bool = False
    client: dict[str, Any] | None = field(default=None, repr=False)  # holds the secret
    scope: str | None = None
    step_ups: int = 0


def _now() -> float:
    return time.time()


def _pkce_pair() -> tuple[str, str]:
    """A PKCE verifier (86 unreserved chars, RFC 7636 §4.1) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _check_endpoint(url: Any, what: str) -> str:
    """An authorization endpoint must be HTTPS, or HTTP on loopback (OAuth 2.1 §1.5)."""
    if not isinstance(url, str) or not url:
        raise AuthorizationError(f"authorization server metadata has no valid {what}")
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and is_loopback(url)):
        return url
    raise AuthorizationError(f"{what} {url} is not HTTPS (only loopback may use plain HTTP)")


@contextlib.contextmanager
def _authorization_errors(target: str) -> Iterator[None]:
    """A transport failure of an authorization request (timeout, refused, TLS) becomes an
    :class:`AuthorizationError` (cause kept), so the MCP layer never mistakes it for the MCP
    server's own failure."""
    try:
        yield
    except TransportError as exc:
        raise AuthorizationError(
            f"authorization request failed: {exc}", target=exc.target or target
        ) from exc


def _scopes(value: str | None) -> list[str]:
    return value.split() if value else []


class OAuth(requests.auth.AuthBase):
    """MCP authorization for syncclients' HTTP clients, as a ``requests`` auth object.

    Pass it as ``auth=`` to :meth:`MCPClient.http`, :meth:`MCPClient.sse`, or an
    ``MCPGroup``/``HTTPClient``. One object may serve several servers (state is kept per
    origin); a token is only ever sent to the origin whose resource it was issued for
    (MCP "Token Audience Binding"). Safe to share between threads.

    Args:
        grant: ``"authorization_code"`` (a user consents in a browser), ``"client_credentials"``
            (machine to machine; needs ``client``), or ``"jwt_bearer"`` (cross-app access;
            needs ``client`` and ``identity_assertion``).
        client: pre-registered client credentials; None: a Client ID Metadata Document
            (``client_metadata_url``) when the server supports it, else Dynamic Client
            Registration (RFC 7591).
        client_metadata_url: the HTTPS URL of this client's metadata document (CIMD), used as
            ``client_id`` when the authorization server advertises
            ``client_id_metadata_document_supported``; None: not used.
        client_name: the ``client_name`` sent with Dynamic Client Registration.
        redirect_uri: the redirect URI (loopback ``http://127.0.0.1:<port>/...`` or HTTPS);
            None: ``authorize.redirect_uri`` (e.g. :class:`LoopbackAuthorizer`).
        authorize: how the user completes authorization in a script: called with the
            authorization URL, returns the full callback URL the browser reached; None: the
            flow cannot run inline (use :meth:`begin`/:meth:`complete` in a web app).
        scope: scopes to request when the server's challenge names none (space-separated);
            None: the resource's ``scopes_supported``, else no ``scope``.
        identity_assertion: for ``grant="jwt_bearer"``.
        storage: where tokens and registered clients live; None: in memory.
        storage_prefix: prepended to every storage key (e.g. a user id for per-user tokens).
        timeout_s: the (connect, read) timeout of each authorization request, in seconds.
        verify: TLS verification for authorization requests: True, False or a CA bundle path.
        max_step_ups: re-authorizations after ``403 insufficient_scope`` per server (the
            retry limit the spec asks for); 0: never step up.
        refresh_margin_s: refresh this many seconds before a token expires.

    Raises:
        UsageError: an inconsistent combination (e.g. client credentials without a client,
            a redirect URI that is neither loopback nor HTTPS).
    """

    def __init__(
        self,
        *,
        grant: Grant = "authorization_code",
        client: ClientCredentials | None = None,
        client_metadata_url: str | None = None,
        client_name: str = "syncclients",
        redirect_uri: str | None = None,
        authorize: Authorize | None = None,
        scope: str | None = None,
        identity_assertion: IdentityAssertion | None = None,
        storage: TokenStorage | None = None,
        storage_prefix: str = "",
        timeout_s: float = 10.0,
        verify: bool | str = True,
        max_step_ups: int = 2,
        refresh_margin_s: float = 30.0,
    ) -> None:
        if grant not in ("authorization_code", "client_credentials", "jwt_bearer"):
            raise UsageError(f"unknown grant {grant!r}")
        if grant != "authorization_code" and client is None:
            raise UsageError(f"grant {grant!r} needs pre-registered client credentials")
        if grant == "jwt_bearer" and identity_assertion is None:
            raise UsageError("grant 'jwt_bearer' needs an identity_assertion")
        if redirect_uri is None and authorize is not None:
            redirect_uri = getattr(authorize, "redirect_uri", None)
        if redirect_uri is not None:
            scheme = urlsplit(redirect_uri).scheme.lower()
            if not (scheme == "https" or (scheme == "http" and is_loopback(redirect_uri))):
                raise UsageError("redirect_uri must be HTTPS or http on a loopback host")
        if client_metadata_url is not None:
            parts = urlsplit(client_metadata_url)
            if parts.scheme != "https" or parts.path in ("", "/"):
                raise UsageError("client_metadata_url must be an https URL with a path")
        self.grant: Grant = grant
        self.client = client
        self.client_metadata_url = client_metadata_url
        self.client_name = client_name
        self._redirect_uri = redirect_uri
        self.authorize = authorize
        self.scope = scope
        self.identity_assertion = identity_assertion
        self.storage: TokenStorage = storage if storage is not None else MemoryTokenStorage()
        self.storage_prefix = storage_prefix
        self.timeout_s = timeout_s
        self.verify = verify
        self.max_step_ups = max_step_ups
        self.refresh_margin_s = refresh_margin_s
        self._lock = threading.RLock()
        self._servers: dict[str, _Server] = {}
        self._pending: dict[str, _Attempt] = {}
        self._http = requests.Session()
        self._http.trust_env = False
        #: How many times the full authorization flow ran (a grant without a refresh token).
        self.authorizations = 0
        #: How many refresh-token grants were made.
        self.refreshes = 0

    def __repr__(self) -> str:
        client = f", client_id={self.client.client_id!r}" if self.client else ""
        return f"OAuth(grant={self.grant!r}{client})"

    @property
    def redirect_uri(self) -> str | None:
        """The redirect URI used in authorization requests (None: none configured)."""
        if self._redirect_uri is None and self.authorize is not None:
            return getattr(self.authorize, "redirect_uri", None)
        return self._redirect_uri

    # -- requests auth interface --------------------------------------------------------------

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = r.url or ""
        server = self._servers.get(origin_of(url))
        if server is not None:
            token = self._usable_token(server)
            if token is not None:
                r.headers["Authorization"] = f"Bearer {token}"
        r.register_hook("response", self._on_response)  # type: ignore[no-untyped-call]
        return r

    def _on_response(self, r: requests.Response, **kwargs: Any) -> requests.Response:
        status = r.status_code
        if status not in (401, 403):
            server = self._servers.get(origin_of(r.request.url or ""))
            if server is not None and server.step_ups and 200 <= status < 300:
                server.step_ups = 0  # the step-up limit counts failed escalations in a row
            return r
        challenge = parse_challenge(r.headers.get("WWW-Authenticate"))
        if status == 403 and challenge.error != "insufficient_scope":
            return r
        url = r.request.url or ""
        sent = r.request.headers.get("Authorization")
        try:
            with self._lock, _authorization_errors(url):
                server = self._server_for(url)
                current = self._stored_token(server)
                if status == 401:
                    if current is not None and sent != f"Bearer {current['access_token']}":
                        pass  # another thread got a newer token meanwhile: just re-send
                    else:
                        self._on_unauthorized(server, challenge, current, sent)
                elif not self._step_up(server, challenge):
                    return r
                token = self._stored_token(server)
        except BaseException:
            r.close()  # the refused answer is never handed on: release its connection
            raise
        if token is None:
            return r
        r.content  # noqa: B018 - drain the refused answer so its connection is reused
        r.close()
        prepared = r.request.copy()
        prepared.headers["Authorization"] = f"Bearer {token['access_token']}"
        retried: requests.Response = r.connection.send(prepared, **kwargs)
        retried.history.append(r)
        retried.request = prepared
        if 200 <= retried.status_code < 300:
            server.step_ups = 0
        return retried

    # -- web split flow ------------------------------------------------------------------------

    def begin(self, server_url: str) -> PendingAuthorization:
        """Start an authorization code flow for ``server_url`` without waiting for the user
        (web apps: redirect the user's browser to the URL, then call :meth:`complete` from
        the callback view).

        Discovery and client registration happen here (bounded by ``timeout_s`` each).

        Args:
            server_url: the MCP endpoint the tokens are for.

        Returns:
            The authorization URL and its ``state``.

        Raises:
            AuthorizationError: discovery or registration failed.
            UsageError: no redirect URI is configured.
        """
        with self._lock, _authorization_errors(server_url):
            server = self._server_for(server_url)
            if server.metadata is None:
                probe = self._probe(server_url)
                self._discover(server, probe)
            attempt, url = self._authorization_request(server, self._choose_scope(server, None))
            self._pending[attempt.state] = attempt
        return PendingAuthorization(authorization_url=url, state=attempt.state)

    def complete(self, callback_url: str) -> None:
        """Finish a flow started by :meth:`begin` with the URL of the callback request.

        Args:
            callback_url: the full URL the authorization server redirected to (it carries
                ``code`` and ``state``, or ``error``).

        Raises:
            AuthorizationError: unknown or missing ``state``, an error answer, a wrong
                ``iss``, or a failed token request.
        """
        state = (parse_qs(urlsplit(callback_url).query).get("state") or [""])[0]
        with self._lock:
            attempt = self._pending.pop(state, None)
            if attempt is None:
                raise AuthorizationError("authorization callback with an unknown or missing state")
            with _authorization_errors(attempt.server.server_url):
                self._finish_authorization(attempt, callback_url)

    def tokens_for(self, server_url: str) -> bool:
        """Whether a token for ``server_url`` is stored (it may still need a refresh)."""
        server = self._servers.get(origin_of(server_url))
        return server is not None and self._stored_token(server) is not None

    def close(self) -> None:
        """Close the connection pool used for authorization requests."""
        self._http.close()

    # -- state ---------------------------------------------------------------------------------

    def _server_for(self, url: str) -> _Server:
        origin = origin_of(url)
        with self._lock:
            server = self._servers.get(origin)
            if server is None:
                server = _Server(server_url=canonical_resource(url))
                server.resource = server.server_url
                self._servers[origin] = server
            return server

    def _token_key(self, server: _Server) -> str:
        return f"{self.storage_prefix}token|{server.resource}|{server.issuer or ''}"

    def _client_key(self, server: _Server) -> str:
        return f"{self.storage_prefix}client|{server.issuer or server.resource}"

    def _stored_token(self, server: _Server) -> dict[str, Any] | None:
        if server.issuer is None:
            return None
        record = self.storage.load(self._token_key(server))
        if record is None or not isinstance(record.get("access_token"), str):
            return None
        return record

    def _usable_token(self, server: _Server) -> str | None:
        """The stored access token, refreshed first when it is about to expire."""
        token = self._stored_token(server)
        if token is None:
            return None
        expires_at = token.get("expires_at")
        if isinstance(expires_at, int | float) and expires_at - self.refresh_margin_s <= _now():
            with self._lock:
                current = self._stored_token(server)
                if current is not None and current.get("access_token") != token["access_token"]:
                    return str(current["access_token"])  # someone refreshed meanwhile
                if current is not None and current.get("refresh_token"):
                    try:
                        self._refresh(server, current)
                    except (AuthorizationError, TransportError) as exc:
                        logger.info(
                            "%s: token refresh failed: %s", redact_url(server.server_url), exc
                        )
                        self.storage.delete(self._token_key(server))
                        return None
                    current = self._stored_token(server)
                    return str(current["access_token"]) if current else None
                return str(token["access_token"])  # let the server decide (a 401 re-runs)
        return str(token["access_token"])

    # -- the flow ------------------------------------------------------------------------------

    def _on_unauthorized(
        self,
        server: _Server,
        challenge: Challenge,
        current: dict[str, Any] | None,
        sent: str | None,
    ) -> None:
        """A 401: refresh when we have a refresh token, else run the whole flow."""
        if current is not None and current.get("refresh_token") and server.metadata is not None:
            try:
                self._refresh(server, current)
                return
            except AuthorizationError as exc:
                logger.info(
                    "%s: token refresh failed, authorizing again: %s", server.server_url, exc
                )
        if current is not None:
            self.storage.delete(self._token_key(server))
        if server.metadata is None or (
            challenge.resource_metadata is not None
            and server.prm is not None
            and challenge.resource_metadata != server.prm.get("_url")
        ):
            self._discover(server, challenge)
            stored = self._stored_token(server)
            if stored is not None and sent != f"Bearer {stored['access_token']}":
                return  # a token kept from an earlier run (file storage): try it first
        self._obtain(server, self._choose_scope(server, challenge.scope))

    def _step_up(self, server: _Server, challenge: Challenge) -> bool:
        """A 403 ``insufficient_scope``: re-authorize with the union of the scopes
        (MCP "Scope Challenge Handling"), at most ``max_step_ups`` times per server.

        Returns:
            True when a new token was obtained (re-send), False to hand the 403 back.
        """
        current = self._stored_token(server)
        granted = set(_scopes((current or {}).get("scope") or server.scope))
        wanted = _scopes(challenge.scope)
        if wanted and set(wanted) <= granted:
            return False  # re-authorizing for scopes we hold cannot help
        if server.step_ups >= self.max_step_ups:
            logger.info(
                "%s: step-up limit (%d) reached", redact_url(server.server_url), self.max_step_ups
            )
            return False
        if self.grant != "authorization_code" and not wanted:
            return False
        server.step_ups += 1
        if server.metadata is None:
            self._discover(server, challenge)
        union = list(dict.fromkeys([*_scopes(server.scope), *wanted]))
        self._obtain(server, " ".join(union) or None)
        return True

    def _choose_scope(self, server: _Server, challenged: str | None) -> str | None:
        """MCP "Scope Selection Strategy": the challenge's scope, else the configured one,
        else the resource's ``scopes_supported``, else none; ``offline_access`` is added when
        the authorization server offers it and a user grant is asked for."""
        scope = challenged or self.scope
        if scope is None and server.prm is not None:
            supported = str_list(server.prm, "scopes_supported")
            scope = " ".join(supported) if supported else None
        if (
            scope
            and self.grant == "authorization_code"
            and server.metadata is not None
            and "offline_access" in (str_list(server.metadata, "scopes_supported") or [])
            and "offline_access" not in scope.split()
        ):
            scope = f"{scope} offline_access"
        return scope

    def _probe(self, server_url: str) -> Challenge:
        """An unauthenticated POST-free probe: GET the server for its challenge."""
        with translating(target=server_url):
            response = self._http.get(
                server_url, timeout=self.timeout_s, verify=self.verify, allow_redirects=False
            )
        response.close()
        return parse_challenge(response.headers.get("WWW-Authenticate"))

    def _get_json(
        self, url: str, what: str, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any] | None]:
        """GET ``url``; (status, JSON object or None when the body is not one)."""
        with translating(target=url):
            response = self._http.get(
                url,
                headers=dict(headers or {}),
                timeout=self.timeout_s,
                verify=self.verify,
                allow_redirects=False,
            )
            body = response.content[: 1024 * 1024]
        if response.status_code != 200:
            return response.status_code, None
        try:
            data = response.json() if len(body) < 1024 * 1024 else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise AuthorizationError(
                f"{what} at {url} is not a JSON object: {excerpt(body, 120)!r}",
                target=url,
                status_code=200,
            )
        return 200, data

    def _discover(self, server: _Server, challenge: Challenge) -> None:
        """PRM (RFC 9728), then AS metadata (RFC 8414 / OIDC), or the 2025-03-26 rules."""
        prm: dict[str, Any] | None = None
        for url in prm_urls(server.server_url, challenge):
            status, data = self._get_json(url, "protected resource metadata")
            if data is not None:
                prm = data
                prm["_url"] = url
                break
            logger.debug(
                "%s: no protected resource metadata at %s (%s)", server.server_url, url, status
            )
        if prm is None:
            self._discover_legacy(server)
            return
        resource = prm.get("resource")
        if isinstance(resource, str) and resource:
            if not resource_matches(resource, server.server_url):
                raise AuthorizationError(
                    f"protected resource metadata names resource {resource}, which is not "
                    f"{server.server_url}: refusing to authorize",
                    target=server.server_url,
                )
            server.resource = resource
        servers = str_list(prm, "authorization_servers")
        if not servers:
            raise AuthorizationError(
                "protected resource metadata lists no authorization_servers",
                target=server.server_url,
            )
        issuer = _check_endpoint(servers[0], "authorization server")
        metadata: dict[str, Any] | None = None
        for url in as_metadata_urls(issuer):
            status, data = self._get_json(url, "authorization server metadata")
            if data is not None:
                got = data.get("issuer")
                if not isinstance(got, str) or not same_issuer(got, issuer):
                    raise AuthorizationError(
                        f"authorization server metadata at {url} names issuer {got!r}, "
                        f"not {issuer} (RFC 8414 §3.3)",
                        target=url,
                    )
                metadata = data
                break
            if status >= 500:
                raise AuthorizationError(
                    f"authorization server metadata at {url} answered HTTP {status}",
                    target=url,
                    status_code=status,
                )
        if metadata is None:
            raise AuthorizationError(
                f"no authorization server metadata for {issuer}", target=issuer
            )
        self._adopt_metadata(server, prm, issuer, metadata, legacy=False)

    def _discover_legacy(self, server: _Server) -> None:
        """MCP 2025-03-26: metadata at the server's origin, else default endpoints."""
        base = origin_of(server.server_url)
        url = f"{base}/.well-known/oauth-authorization-server"
        status, data = self._get_json(
            url, "authorization server metadata", {"MCP-Protocol-Version": _LEGACY_VERSION}
        )
        if data is None and status != 404:
            raise AuthorizationError(
                f"no protected resource metadata, and {url} answered HTTP {status}",
                target=url,
                status_code=status,
            )
        metadata = data or {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "registration_endpoint": f"{base}/register",
            "code_challenge_methods_supported": ["S256"],
        }
        issuer = metadata.get("issuer") if isinstance(metadata.get("issuer"), str) else base
        self._adopt_metadata(server, None, str(issuer), metadata, legacy=True)

    def _adopt_metadata(
        self,
        server: _Server,
        prm: dict[str, Any] | None,
        issuer: str,
        metadata: dict[str, Any],
        *,
        legacy: bool,
    ) -> None:
        _check_endpoint(metadata.get("token_endpoint"), "token_endpoint")
        if self.grant == "authorization_code":
            _check_endpoint(metadata.get("authorization_endpoint"), "authorization_endpoint")
            methods = str_list(metadata, "code_challenge_methods_supported") or []
            if "S256" not in methods:
                raise AuthorizationError(
                    f"authorization server {issuer} does not support PKCE S256 "
                    "(code_challenge_methods_supported); refusing to authorize",
                    target=issuer,
                )
        if server.issuer is not None and not same_issuer(server.issuer, issuer):
            server.client = None  # credentials are bound to the issuer that issued them
        server.prm, server.issuer, server.metadata, server.legacy = prm, issuer, metadata, legacy
        logger.debug(
            "%s: authorization server %s", redact_url(server.server_url), redact_url(issuer)
        )

    # -- clients -------------------------------------------------------------------------------

    def _client_for(self, server: _Server) -> dict[str, Any]:
        """Pre-registered, else stored, else CIMD, else Dynamic Client Registration."""
        if server.client is not None:
            return server.client
        assert server.metadata is not None
        if self.client is not None:
            client: dict[str, Any] = {
                "client_id": self.client.client_id,
                "client_secret": self.client.client_secret,
                "method": self.client.token_endpoint_auth_method,
            }
        else:
            stored = self.storage.load(self._client_key(server))
            if stored is not None and isinstance(stored.get("client_id"), str):
                client = stored
            elif self.client_metadata_url and server.metadata.get(
                "client_id_metadata_document_supported"
            ):
                client = {"client_id": self.client_metadata_url, "method": "none"}
            else:
                client = self._register(server)
                self.storage.save(self._client_key(server), client)
        server.client = client
        return client

    def _register(self, server: _Server) -> dict[str, Any]:
        """Dynamic Client Registration (RFC 7591 §3)."""
        assert server.metadata is not None
        endpoint = server.metadata.get("registration_endpoint")
        if not endpoint:
            raise AuthorizationError(
                f"authorization server {server.issuer} supports no dynamic client "
                "registration: pass client=ClientCredentials(...) or client_metadata_url",
                target=server.issuer,
            )
        _check_endpoint(endpoint, "registration_endpoint")
        redirect = self.redirect_uri
        body: dict[str, Any] = {
            "client_name": self.client_name,
            "redirect_uris": [redirect] if redirect else [],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "application_type": "native" if redirect and is_loopback(redirect) else "web",
        }
        scope = self._choose_scope(server, None)
        if scope:
            body["scope"] = scope
        with translating(target=endpoint):
            response = self._http.post(
                endpoint, json=body, timeout=self.timeout_s, verify=self.verify,
                allow_redirects=False,
            )  # fmt: skip
        data = self._json_answer(response, "client registration", endpoint)
        client_id = data.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise AuthorizationError("client registration answered no client_id", target=endpoint)
        method = data.get("token_endpoint_auth_method")
        return {
            "client_id": client_id,
            "client_secret": data.get("client_secret")
            if isinstance(data.get("client_secret"), str)
            else None,
            "method": method if method in _AUTH_METHODS else None,
        }

    def _auth_method(self, server: _Server, client: dict[str, Any]) -> str:
        """Token endpoint client authentication (OAuth 2.1 §2.4, RFC 7523 §2.2)."""
        if client.get("method"):
            return str(client["method"])
        assert server.metadata is not None
        supported = str_list(server.metadata, "token_endpoint_auth_methods_supported") or [
            "client_secret_basic"
        ]
        if self.client is not None and self.client.private_key_pem:
            return "private_key_jwt"
        if client.get("client_secret"):
            if "client_secret_basic" not in supported and "client_secret_post" in supported:
                return "client_secret_post"
            return "client_secret_basic"
        return "none"

    def _authenticate(
        self,
        server: _Server,
        client: dict[str, Any],
        data: dict[str, str],
        headers: dict[str, str],
    ) -> None:
        method = self._auth_method(server, client)
        client_id = str(client["client_id"])
        secret = client.get("client_secret")
        if method == "client_secret_basic" and secret:
            pair = f"{quote(client_id, safe='')}:{quote(str(secret), safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        elif method == "client_secret_post" and secret:
            data["client_id"] = client_id
            data["client_secret"] = str(secret)
        elif method == "private_key_jwt":
            if self.client is None or not self.client.private_key_pem:
                raise UsageError("private_key_jwt needs ClientCredentials(private_key_pem=...)")
            from .jwt import client_assertion

            data["client_id"] = client_id
            data["client_assertion_type"] = _ASSERTION_TYPE
            data["client_assertion"] = client_assertion(
                client_id=client_id,
                audience=str(server.issuer),
                private_key_pem=self.client.private_key_pem,
                algorithm=self.client.signing_algorithm,
            )
        else:
            data["client_id"] = client_id

    # -- grants --------------------------------------------------------------------------------

    def _obtain(self, server: _Server, scope: str | None) -> None:
        """Run this object's grant for ``server`` and store the tokens."""
        if self.grant == "client_credentials":
            data = {"grant_type": "client_credentials", "resource": server.resource}
            if scope:
                data["scope"] = scope
            self._token_request(server, data, scope)
        elif self.grant == "jwt_bearer":
            self._cross_app(server, scope)
        else:
            if self.authorize is None:
                raise AuthorizationError(
                    f"{server.server_url} needs the user to authorize access; pass authorize= "
                    "(e.g. LoopbackAuthorizer()) or use begin()/complete()",
                    target=server.server_url,
                )
            attempt, url = self._authorization_request(server, scope)
            callback = self.authorize(url)
            self._finish_authorization(attempt, callback)
        server.scope = scope
        self.authorizations += 1

    def _authorization_request(self, server: _Server, scope: str | None) -> tuple[_Attempt, str]:
        redirect = self.redirect_uri
        if not redirect:
            raise UsageError("the authorization code grant needs a redirect_uri")
        assert server.metadata is not None
        client = self._client_for(server)
        verifier, challenge = _pkce_pair()
        state = secrets.token_urlsafe(32)
        params = {
            "response_type": "code",
            "client_id": str(client["client_id"]),
            "redirect_uri": redirect,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": server.resource,
        }
        if scope:
            params["scope"] = scope
        endpoint = urlsplit(str(server.metadata["authorization_endpoint"]))
        query = "&".join(q for q in (endpoint.query, urlencode(params)) if q)
        url = urlunsplit((endpoint.scheme, endpoint.netloc, endpoint.path, query, ""))
        return _Attempt(verifier, state, redirect, scope, server), url

    def _finish_authorization(self, attempt: _Attempt, callback_url: str) -> None:
        """Check the authorization response (RFC 6749 §4.1.2, RFC 9207) and redeem the code."""
        server = attempt.server
        assert server.metadata is not None
        query = {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query).items()}
        if query.get("state") != attempt.state:
            raise AuthorizationError("authorization response state does not match the request")
        if "error" in query:
            raise AuthorizationError(
                f"authorization denied: {query['error']}", error=query["error"]
            )
        iss = query.get("iss")
        if iss is not None and not same_issuer(iss, str(server.issuer)):
            raise AuthorizationError("authorization response iss is not the issuer (RFC 9207)")
        if iss is None and server.metadata.get("authorization_response_iss_parameter_supported"):
            raise AuthorizationError("authorization response lacks iss (RFC 9207)")
        code = query.get("code")
        if not code:
            raise AuthorizationError("authorization response carries no code")
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": attempt.redirect_uri,
            "code_verifier": attempt.verifier,
            "resource": server.resource,
        }
        self._token_request(server, data, attempt.scope)
        server.scope = attempt.scope

    def _refresh(self, server: _Server, current: dict[str, Any]) -> None:
        """The refresh token grant (OAuth 2.1 §4.3) with ``resource`` (RFC 8707)."""
        data = {
            "grant_type": "refresh_token",
            "refresh_token": str(current["refresh_token"]),
            "resource": server.resource,
        }
        self._token_request(server, data, current.get("scope"), previous=current)
        self.refreshes += 1

    def _cross_app(self, server: _Server, scope: str | None) -> None:
        """Enterprise-managed authorization: RFC 8693 at the IdP, then RFC 7523 at the AS."""
        assertion = self.identity_assertion
        assert assertion is not None
        endpoint = _check_endpoint(assertion.idp_token_endpoint, "idp_token_endpoint")
        data = {
            "grant_type": _TOKEN_EXCHANGE,
            "requested_token_type": _ID_JAG,
            "audience": str(server.issuer),
            "resource": server.resource,
            "subject_token": assertion.id_token,
            "subject_token_type": _ID_TOKEN,
            "client_id": assertion.idp_client_id,
        }
        if assertion.idp_client_secret:
            data["client_secret"] = assertion.idp_client_secret
        if scope:
            data["scope"] = scope
        with translating(target=endpoint):
            response = self._http.post(
                endpoint, data=data, timeout=self.timeout_s, verify=self.verify,
                allow_redirects=False,
            )  # fmt: skip
        answer = self._json_answer(response, "identity assertion exchange", endpoint)
        jag = answer.get("access_token")
        if not isinstance(jag, str) or not jag:
            raise AuthorizationError(
                "the IdP token exchange returned no assertion", target=endpoint
            )
        self._token_request(server, {"grant_type": _JWT_BEARER, "assertion": jag}, scope)

    def _token_request(
        self,
        server: _Server,
        data: dict[str, str],
        scope: str | None,
        previous: dict[str, Any] | None = None,
    ) -> None:
        assert server.metadata is not None
        endpoint = str(server.metadata["token_endpoint"])
        client = self._client_for(server)
        headers = {"Accept": "application/json"}
        self._authenticate(server, client, data, headers)
        with translating(target=endpoint):
            response = self._http.post(
                endpoint, data=data, headers=headers, timeout=self.timeout_s,
                verify=self.verify, allow_redirects=False,
            )  # fmt: skip
        answer = self._json_answer(response, f"token request ({data['grant_type']})", endpoint)
        access = answer.get("access_token")
        token_type = answer.get("token_type")
        if not isinstance(access, str) or not access:
            raise AuthorizationError("token endpoint answered no access_token", target=endpoint)
        if isinstance(token_type, str) and token_type.lower() != "bearer":
            raise AuthorizationError(f"unsupported token_type {token_type!r}", target=endpoint)
        record: dict[str, Any] = {"access_token": access, "scope": answer.get("scope") or scope}
        expires_in = answer.get("expires_in")
        if isinstance(expires_in, int | float) and expires_in > 0:
            record["expires_at"] = _now() + float(expires_in)
        refresh = answer.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            record["refresh_token"] = refresh
        elif previous is not None and previous.get("refresh_token"):
            record["refresh_token"] = previous["refresh_token"]  # not rotated: keep it
        self.storage.save(self._token_key(server), record)

    def _json_answer(self, response: requests.Response, what: str, url: str) -> dict[str, Any]:
        body = response.content[: 1024 * 1024]
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 and response.status_code != 201:
            error = data.get("error") if isinstance(data, dict) else None
            raise AuthorizationError(
                f"{what} at {url} answered HTTP {response.status_code}"
                + (f" ({error})" if isinstance(error, str) else ""),
                target=url,
                status_code=response.status_code,
                error=error if isinstance(error, str) else None,
            )
        if not isinstance(data, dict):
            raise AuthorizationError(
                f"{what} at {url} did not answer a JSON object: {excerpt(body, 80)!r}",
                target=url,
                status_code=response.status_code,
            )
        return data
