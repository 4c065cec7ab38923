"""MCP authorization against a local authorization server and protected MCP server on
127.0.0.1 (syncclients/testing/oauth_server.py): the flow, its security checks, its faults, and
concurrency (one authorization / one refresh for 20 threads)."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from syncclients import MCPClient, RetryPolicy
from syncclients.auth import (
    ClientCredentials,
    FileTokenStorage,
    LoopbackAuthorizer,
    MemoryTokenStorage,
    OAuth,
)
from syncclients.errors import AuthorizationError, HTTPStatusError, Timeout, UsageError
from syncclients.testing.oauth_server import AuthServers

REDIRECT = "http://127.0.0.1:9/callback"
NO_RETRY = RetryPolicy(max_attempts=1)


def headless(url: str) -> str:
    """The authorization server redirects at once: take the Location without following."""
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    return response.headers["Location"]


@pytest.fixture
def servers() -> Iterator[AuthServers]:
    with AuthServers() as s:
        yield s


def user_oauth(**kwargs: object) -> OAuth:
    options: dict[str, object] = {"redirect_uri": REDIRECT, "authorize": headless}
    options.update(kwargs)
    return OAuth(**options)  # type: ignore[arg-type]


def test_authorization_code_flow_end_to_end(servers: AuthServers) -> None:
    auth = user_oauth()
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        assert [t.name for t in client.list_tools()] == ["whoami"]
        who = client.call_tool("whoami", {})
    assert len(servers.registrations) == 1
    reg = servers.registrations[0]
    assert reg["redirect_uris"] == [REDIRECT]
    assert "refresh_token" in reg["grant_types"]
    (authz,) = servers.authorize_requests
    assert authz["code_challenge_method"] == "S256"
    assert authz["resource"] == servers.mcp_url
    assert len(authz["state"]) >= 32
    assert "scope" not in authz  # no challenge scope, no scopes_supported: omitted
    assert servers.token_grants() == ["authorization_code"]
    # the token went to the resource on every request after the first 401
    headers = servers.mcp_auth_headers
    assert headers[0] is None and all(h and h.startswith("Bearer at-") for h in headers[1:])
    assert who.text.startswith("dyn-")
    assert auth.authorizations == 1


def test_scope_from_challenge_then_scopes_supported(servers: AuthServers) -> None:
    servers.prm_scopes = ["mcp:read", "mcp:write"]
    with MCPClient.http(servers.mcp_url, auth=user_oauth(), retry=NO_RETRY) as client:
        client.list_tools()
    assert servers.authorize_requests[-1]["scope"] == "mcp:read mcp:write"
    servers.challenge_scope = "mcp:basic"
    with MCPClient.http(servers.mcp_url, auth=user_oauth(), retry=NO_RETRY) as client:
        client.list_tools()
    assert servers.authorize_requests[-1]["scope"] == "mcp:basic"


def test_step_up_on_insufficient_scope_with_limit(servers: AuthServers) -> None:
    servers.challenge_scope = "mcp:basic"
    servers.required_scope = "mcp:basic mcp:write"
    auth = user_oauth(max_step_ups=1)
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        client.list_tools()
        assert client.call_tool("whoami", {}).text.startswith("dyn-")
        assert servers.authorize_requests[-1]["scope"] == "mcp:basic mcp:write"
        assert auth.authorizations == 2
        servers.required_scope = "mcp:admin"
        servers.denied_scopes = {"mcp:admin"}  # asked for, never granted
        for _ in range(3):
            with pytest.raises(HTTPStatusError) as info:
                client.call_tool("whoami", {})
            assert info.value.status_code == 403
    # one more escalation (the success before reset the count), then no more
    assert auth.authorizations == 3


def test_wrong_issuer_is_refused(servers: AuthServers) -> None:
    servers.issuer_override = "http://127.0.0.1:1/other"
    with pytest.raises(AuthorizationError, match="issuer"):
        user_oauth()._discover(  # the same path a 401 takes, without the MCP client around it
            user_oauth()._server_for(servers.mcp_url), _challenge(servers)
        )
    with (
        pytest.raises(AuthorizationError, match="issuer"),
        MCPClient.http(servers.mcp_url, auth=user_oauth(), retry=NO_RETRY) as client,
    ):
        client.list_tools()
    assert servers.authorize_requests == [] and servers.token_requests == []


def _challenge(servers: AuthServers):  # type: ignore[no-untyped-def]
    from syncclients.auth import parse_challenge

    return parse_challenge(f'Bearer resource_metadata="{servers.prm_url}"')


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>not json</html>", "not a JSON object"),
        ([1, 2, 3], "not a JSON object"),
        ({"issuer": "X", "token_endpoint": "ftp://x/token"}, "issuer"),
    ],
)
def test_bad_metadata_is_refused(servers: AuthServers, body: object, match: str) -> None:
    servers.metadata_body = body
    with (
        pytest.raises(AuthorizationError, match=match),
        MCPClient.http(servers.mcp_url, auth=user_oauth(), retry=NO_RETRY) as client,
    ):
        client.list_tools()


def test_metadata_without_s256_is_refused(servers: AuthServers) -> None:
    servers.metadata_extra = {"code_challenge_methods_supported": ["plain"]}
    with (
        pytest.raises(AuthorizationError, match="S256"),
        MCPClient.http(servers.mcp_url, auth=user_oauth(), retry=NO_RETRY) as client,
    ):
        client.list_tools()
    assert servers.authorize_requests == []


def test_http_endpoint_off_loopback_is_refused(servers: AuthServers) -> None:
    servers.metadata_extra = {"token_endpoint": "http://auth.example.com/token"}
    with (
        pytest.raises(AuthorizationError, match="not HTTPS"),
        MCPClient.http(servers.mcp_url, auth=user_oauth(), retry=NO_RETRY) as client,
    ):
        client.list_tools()


def test_resource_mismatch_never_authorizes(servers: AuthServers) -> None:
    servers.prm_resource = "https://evil.example.com/mcp"
    with (
        pytest.raises(AuthorizationError, match="refusing"),
        MCPClient.http(servers.mcp_url, auth=user_oauth(), retry=NO_RETRY) as client,
    ):
        client.list_tools()
    assert servers.authorize_requests == [] and servers.registrations == []


def test_garbage_token_endpoint(servers: AuthServers) -> None:
    servers.token_garbage = True
    with (
        pytest.raises(AuthorizationError, match="JSON object") as info,
        MCPClient.http(servers.mcp_url, auth=user_oauth(), retry=NO_RETRY) as client,
    ):
        client.list_tools()
    assert "code-" not in str(info.value)


def test_slow_token_endpoint_is_bounded(servers: AuthServers) -> None:
    servers.token_delay_s = 3.0
    started = time.monotonic()
    with (
        pytest.raises(AuthorizationError, match="authorization request failed") as info,
        MCPClient.http(servers.mcp_url, auth=user_oauth(timeout_s=0.3), retry=NO_RETRY) as client,
    ):
        client.list_tools()
    assert isinstance(info.value.__cause__, Timeout)
    assert time.monotonic() - started < 2.5


def test_refresh_before_expiry(servers: AuthServers) -> None:
    auth = user_oauth(refresh_margin_s=7200)  # every stored token counts as about to expire
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        client.list_tools()
        client.call_tool("whoami", {})
    assert auth.authorizations == 1
    assert auth.refreshes >= 1
    assert servers.token_grants().count("refresh_token") == auth.refreshes
    refresh = [f for f in servers.token_requests if f["grant_type"] == "refresh_token"]
    assert all(f["resource"] == servers.mcp_url for f in refresh)


def test_failing_refresh_falls_back_to_authorization(servers: AuthServers) -> None:
    auth = user_oauth()
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        client.list_tools()
        servers.tokens.clear()  # the server forgets every access token: next call 401s
        servers.refresh_fails = True
        client.call_tool("whoami", {})
    assert servers.token_grants() == ["authorization_code", "refresh_token", "authorization_code"]
    assert auth.authorizations == 2


def test_twenty_threads_on_a_cold_token_authorize_once(servers: AuthServers) -> None:
    auth = user_oauth()
    barrier = threading.Barrier(20, timeout=10)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        with requests.Session() as s:
            barrier.wait()
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            status = s.post(servers.mcp_url, json=body, auth=auth, timeout=10).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert statuses == [200] * 20
    assert servers.token_grants() == ["authorization_code"]
    assert len(servers.registrations) == 1 and auth.authorizations == 1


def test_twenty_threads_on_an_expiring_token_refresh_once(servers: AuthServers) -> None:
    servers.expires_in = 60
    auth = user_oauth(refresh_margin_s=30)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    assert requests.post(servers.mcp_url, json=body, auth=auth, timeout=10).status_code == 200
    auth.refresh_margin_s = 120  # now the token is inside the margin: refresh once, for all
    servers.expires_in = 3600  # the refreshed token is outside it
    barrier = threading.Barrier(20, timeout=10)
    statuses: list[int] = []

    def worker() -> None:
        barrier.wait()
        statuses.append(
            requests.post(servers.mcp_url, json=body, auth=auth, timeout=10).status_code
        )

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert statuses == [200] * 20
    assert servers.token_grants() == ["authorization_code", "refresh_token"]
    assert auth.refreshes == 1


def test_client_credentials_with_secret_basic(servers: AuthServers) -> None:
    servers.clients["svc"] = {"client_id": "svc", "client_secret": "s3cr3t:/?"}
    creds = ClientCredentials(client_id="svc", client_secret="s3cr3t:/?")
    auth = OAuth(grant="client_credentials", client=creds, scope="mcp:read")
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        assert client.call_tool("whoami", {}).text == "svc"
    (form,) = servers.token_requests
    assert form == {
        "grant_type": "client_credentials",
        "resource": servers.mcp_url,
        "scope": "mcp:read",
    }
    assert servers.token_auth_headers[0].startswith("Basic ")  # type: ignore[union-attr]
    assert servers.registrations == [] and servers.authorize_requests == []
    assert "s3cr3t" not in repr(auth) + repr(creds)


def test_client_credentials_with_private_key_jwt(servers: AuthServers) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    import jwt

    def verify(assertion: str, audience: str) -> str | None:
        try:
            claims = jwt.decode(
                assertion, key.public_key(), algorithms=["ES256"], audience=audience
            )
        except jwt.PyJWTError:
            return None
        return str(claims["sub"]) if claims["sub"] == claims["iss"] else None

    servers.verify_assertion = verify
    servers.clients["jwt-client"] = {"client_id": "jwt-client"}
    creds = ClientCredentials(
        client_id="jwt-client", private_key_pem=pem, signing_algorithm="ES256"
    )
    auth = OAuth(grant="client_credentials", client=creds)
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        assert client.call_tool("whoami", {}).text == "jwt-client"
    (form,) = servers.token_requests
    assert form["client_assertion_type"].endswith("client-assertion-type:jwt-bearer")
    assert servers.token_auth_headers == [None]
    assert "PRIVATE" not in repr(creds)


def test_preregistered_client_skips_registration(servers: AuthServers) -> None:
    servers.clients["pre"] = {"client_id": "pre", "client_secret": "pw"}
    auth = user_oauth(client=ClientCredentials(client_id="pre", client_secret="pw"))
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        assert client.call_tool("whoami", {}).text == "pre"
    assert servers.registrations == []


def test_legacy_2025_03_26_default_endpoints(servers: AuthServers) -> None:
    """No PRM anywhere: metadata at the MCP origin (404 here), then /authorize, /token and
    /register on that origin (MCP 2025-03-26 "Fallbacks")."""
    legacy = AuthServers()
    with legacy:
        del legacy.mcp.routes[("GET", "/.well-known/oauth-protected-resource/mcp")]
        legacy.mcp.routes[("POST", "/register")] = legacy._register
        legacy.mcp.routes[("GET", "/authorize")] = legacy._authorize
        legacy.mcp.routes[("POST", "/token")] = legacy._token
        auth = user_oauth()
        with MCPClient.http(legacy.mcp_url, auth=auth, retry=NO_RETRY) as client:
            client.list_tools()
        assert legacy.mcp.count("GET", "/.well-known/oauth-authorization-server") == 1
        assert legacy.token_grants() == ["authorization_code"]
        assert legacy.auth.count() == 0


def test_token_never_sent_to_another_origin(servers: AuthServers) -> None:
    auth = user_oauth()
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        client.list_tools()
    other = AuthServers()
    with other:
        other.mcp.routes[("GET", "/x")] = lambda r: __import__("syncclients").testing.Reply(
            200, b""
        )
        requests.get(other.mcp.url + "/x", auth=auth, timeout=5)
        assert "Authorization" not in other.mcp.requests[-1].headers


def test_loopback_authorizer_catches_the_redirect(servers: AuthServers) -> None:
    loop = LoopbackAuthorizer(open_browser=False, timeout_s=10)

    def browser_then_loopback(url: str) -> str:
        # a "browser": follows the authorization server's 302 to the loopback listener
        t = threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10})
        t.start()
        try:
            return loop(url)
        finally:
            t.join(10)

    try:
        auth = OAuth(authorize=browser_then_loopback, redirect_uri=loop.redirect_uri)
        with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
            client.list_tools()
        assert servers.registrations[0]["redirect_uris"] == [loop.redirect_uri]
        assert servers.registrations[0]["application_type"] == "native"
    finally:
        loop.close()


def test_loopback_authorizer_wait_is_bounded() -> None:
    loop = LoopbackAuthorizer(open_browser=False, timeout_s=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(AuthorizationError, match="no authorization callback"):
            loop("http://127.0.0.1:9/authorize")
        assert time.monotonic() - started < 3
    finally:
        loop.close()


def test_web_split_flow_begin_complete_per_user(servers: AuthServers) -> None:
    storage = MemoryTokenStorage()
    alice = OAuth(redirect_uri=REDIRECT, storage=storage, storage_prefix="alice|")
    pending = alice.begin(servers.mcp_url)
    assert parse_qs(urlsplit(pending.authorization_url).query)["state"] == [pending.state]
    callback = headless(pending.authorization_url)
    with pytest.raises(AuthorizationError, match="state"):
        alice.complete(callback.replace(pending.state, "forged"))
    alice.complete(callback)
    assert alice.tokens_for(servers.mcp_url)
    with MCPClient.http(servers.mcp_url, auth=alice, retry=NO_RETRY) as client:
        client.list_tools()
    bob = OAuth(redirect_uri=REDIRECT, storage=storage, storage_prefix="bob|")
    bob.begin(servers.mcp_url)
    assert not bob.tokens_for(servers.mcp_url)  # alice's token is not bob's
    with pytest.raises(AuthorizationError, match="unknown or missing state"):
        bob.complete(callback)


def test_file_storage_is_owner_only_and_atomic(tmp_path: object, servers: AuthServers) -> None:
    path = os.path.join(str(tmp_path), "tokens", "mcp.json")
    store = FileTokenStorage(path)
    auth = user_oauth(storage=store)
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        client.list_tools()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(os.path.dirname(path)) == ["mcp.json"]  # no temporary files left
    # a new process (a new OAuth on the same file) reuses the stored client and token
    again = user_oauth(storage=FileTokenStorage(path))
    with MCPClient.http(servers.mcp_url, auth=again, retry=NO_RETRY) as client:
        client.list_tools()
    assert again.authorizations == 0 and len(servers.registrations) == 1
    assert "at-" not in repr(store)


def test_usage_errors() -> None:
    with pytest.raises(UsageError):
        OAuth(grant="client_credentials")
    with pytest.raises(UsageError):
        OAuth(redirect_uri="http://example.com/callback")
    with pytest.raises(UsageError):
        OAuth(client_metadata_url="http://example.com/client.json")
    with pytest.raises(UsageError):
        ClientCredentials(client_id="x", token_endpoint_auth_method="magic")


def test_no_authorize_callable_says_what_to_do(servers: AuthServers) -> None:
    with (
        pytest.raises(AuthorizationError, match="authorize="),
        MCPClient.http(servers.mcp_url, auth=OAuth(redirect_uri=REDIRECT), retry=NO_RETRY) as c,
    ):
        c.list_tools()


def test_group_entry_names_its_auth(servers: AuthServers) -> None:
    from syncclients import MCPGroup

    config = {"mcpServers": {"corp": {"url": servers.mcp_url, "auth": "corp-sso"}}}
    auth = user_oauth()
    with MCPGroup.from_dict(config, auths={"corp-sso": auth}, retry=NO_RETRY) as group:
        assert group.call_tool("corp", "whoami", {}).text.startswith("dyn-")
    assert auth.authorizations == 1
    with pytest.raises(UsageError, match="names auth 'corp-sso'"):
        MCPGroup.from_dict(config, auths={})


def test_http_client_uses_the_same_auth_object(servers: AuthServers) -> None:
    from syncclients import HTTPClient

    auth = user_oauth()
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    with HTTPClient(servers.mcp.url, auth=auth, retry=NO_RETRY) as http:
        answer = http.post("/mcp", json=body)
    assert answer["result"]["tools"][0]["name"] == "whoami"
    assert auth.authorizations == 1


def test_no_secret_in_logs_or_reprs(servers: AuthServers, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    servers.clients["pre"] = {"client_id": "pre", "client_secret": "pw-SECRET-1"}
    auth = user_oauth(client=ClientCredentials(client_id="pre", client_secret="pw-SECRET-1"))
    with caplog.at_level(logging.DEBUG):
        with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
            client.list_tools()
            servers.tokens.clear()
            servers.refresh_fails = True  # a refresh that fails, logged, then a new grant
            client.call_tool("whoami", {})
    secrets_seen = [*servers.tokens, *servers.refresh_tokens, "pw-SECRET-1"]
    secrets_seen += [f["code"] for f in servers.token_requests if "code" in f]
    secrets_seen += [f["code_verifier"] for f in servers.token_requests if "code_verifier" in f]
    text = caplog.text + repr(auth) + repr(auth._servers) + repr(auth.storage)
    assert len(secrets_seen) >= 6
    assert "refresh failed" in caplog.text  # the failure itself is logged, without values
    assert not [s for s in secrets_seen if s in text]


def test_step_up_limit_resets_after_a_success(servers: AuthServers) -> None:
    servers.challenge_scope = "mcp:basic"
    auth = user_oauth(max_step_ups=1)
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        client.list_tools()
        for extra in ("mcp:a", "mcp:b"):  # two escalations, each followed by a success
            servers.required_scope = f"mcp:basic {extra}"
            assert client.call_tool("whoami", {}).text.startswith("dyn-")
    assert auth.authorizations == 3


def test_cross_app_access_exchanges_the_id_token(servers: AuthServers) -> None:
    from syncclients.auth import IdentityAssertion

    servers.clients["mcp-app"] = {"client_id": "mcp-app", "client_secret": "app-pw"}
    auth = OAuth(
        grant="jwt_bearer",
        client=ClientCredentials(client_id="mcp-app", client_secret="app-pw"),
        identity_assertion=IdentityAssertion(
            id_token="id-token-of-alice",
            idp_token_endpoint=servers.issuer + "/idp/token",
            idp_client_id="idp-app",
        ),
    )
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        assert client.call_tool("whoami", {}).text == "mcp-app"
    (exchange,) = servers.idp_requests
    assert exchange["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert exchange["requested_token_type"] == "urn:ietf:params:oauth:token-type:id-jag"
    assert exchange["audience"] == servers.issuer and exchange["resource"] == servers.mcp_url
    (grant,) = servers.token_requests
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert servers.token_auth_headers[0].startswith("Basic ")  # type: ignore[union-attr]
    assert servers.authorize_requests == [] and servers.registrations == []


def test_client_id_metadata_document_instead_of_registration(servers: AuthServers) -> None:
    cimd = "https://app.example.com/oauth/client.json"
    servers.metadata_extra = {"client_id_metadata_document_supported": True}
    servers.clients[cimd] = {"client_id": cimd}
    auth = user_oauth(client_metadata_url=cimd)
    with MCPClient.http(servers.mcp_url, auth=auth, retry=NO_RETRY) as client:
        client.list_tools()
    assert servers.registrations == []
    assert servers.authorize_requests[0]["client_id"] == cimd
    assert servers.token_requests[0]["client_id"] == cimd  # auth method none: id in the body
    # without the server's support, the same OAuth registers dynamically
    servers.metadata_extra = {}
    other = user_oauth(client_metadata_url=cimd)
    with AuthServers() as fresh, MCPClient.http(fresh.mcp_url, auth=other, retry=NO_RETRY) as c:
        c.list_tools()
        assert len(fresh.registrations) == 1
