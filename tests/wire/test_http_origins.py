"""Credentials stay with their origin: redirects and request paths (issue 10, "Secrets and
origins"). Two servers on two ports of 127.0.0.1 are two origins (RFC 6454)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from syncclients import HTTPClient, RetryPolicy
from syncclients.errors import UsageError
from syncclients.http.auth import APIKeyAuth, BearerAuth
from syncclients.testing import LocalHTTPServer, Reply, RequestInfo

KEY = "key-0123456789"
CREDENTIAL_NAMES = ("x-api-key", "authorization", "cookie", "x-custom-secret", "x-tenant-pass")


@pytest.fixture
def other() -> Iterator[LocalHTTPServer]:
    """A second server: another origin (another port of 127.0.0.1)."""
    srv = LocalHTTPServer().start()
    try:
        yield srv
    finally:
        srv.stop()


def _client(base: str, **kw: Any) -> HTTPClient:
    return HTTPClient(base, retry=RetryPolicy.never(), breaker=None, budget=None, hooks=[], **kw)


def _lower(info: RequestInfo) -> dict[str, str]:
    return {k.lower(): v for k, v in info.headers.items()}


def _redirect_to(location: str, status: int = 302) -> Any:
    return lambda _info: Reply(status, b"", headers={"Location": location})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(
    "auth", [APIKeyAuth(KEY), BearerAuth(KEY), APIKeyAuth(KEY, header="X-Tenant-Pass")]
)
def test_cross_origin_redirect_drops_every_credential_header(
    server: LocalHTTPServer, other: LocalHTTPServer, status: int, auth: Any
) -> None:
    server.routes[("*", "/api/go")] = _redirect_to(f"{other.url}/landing", status)
    other.routes[("*", "/landing")] = lambda _info: Reply(200, {"ok": True})
    headers = {"X-API-Key": KEY, "Cookie": f"sid={KEY}", "X-Custom-Secret": KEY, "X-Trace": "t1"}
    with _client(f"{server.url}/api/", auth=auth, sensitive_headers=["X-Custom-Secret"]) as c:
        assert c.get("go", headers=headers) == {"ok": True}
    (landed,) = other.requests
    sent = _lower(landed)
    for name in CREDENTIAL_NAMES:
        assert name not in sent, f"{name} crossed origins"
    assert KEY not in str(landed.headers)
    assert sent["x-trace"] == "t1"  # ordinary headers still go
    first = _lower(server.requests[0])  # the first origin did get the credentials
    assert KEY in str(first.values())


def test_same_origin_redirect_keeps_credentials(server: LocalHTTPServer) -> None:
    server.routes[("GET", "/api/old")] = _redirect_to("/api/new", 301)
    server.routes[("GET", "/api/new")] = lambda info: Reply(
        200, {"key": _lower(info).get("x-api-key")}
    )
    with _client(f"{server.url}/api/", auth=APIKeyAuth(KEY)) as c:
        assert c.get("old") == {"key": KEY}
        assert c.request("GET", "old").history[0].status_code == 301


def test_redirect_back_to_first_origin_stays_stripped(
    server: LocalHTTPServer, other: LocalHTTPServer
) -> None:
    """A -> B -> A: what left the origin once is not put back on the way home."""
    server.routes[("GET", "/api/start")] = _redirect_to(f"{other.url}/bounce")
    other.routes[("GET", "/bounce")] = _redirect_to(f"{server.url}/api/end")
    server.routes[("GET", "/api/end")] = lambda info: Reply(200, {"h": sorted(_lower(info))})
    with _client(f"{server.url}/api/", headers={"X-API-Key": KEY}) as c:
        body = c.get("start")
    assert "x-api-key" not in body["h"]
    assert "x-api-key" not in _lower(other.requests[0])


def test_too_many_redirects_is_a_protocol_error(server: LocalHTTPServer) -> None:
    from syncclients.errors import ProtocolError

    server.routes[("GET", "/api/loop")] = _redirect_to("/api/loop")
    with _client(f"{server.url}/api/") as c, pytest.raises(ProtocolError, match="redirects"):
        c.get("loop")
    assert server.count("GET", "/api/loop") == 31


# -- request paths that leave base_url ---------------------------------------------------------


def test_colon_in_first_segment_is_a_path_not_a_scheme(server: LocalHTTPServer) -> None:
    server.routes[("POST", "/api/v1/items:search")] = lambda _i: Reply(200, {"found": 1})
    server.routes[("GET", "/api/v1/v1:batchGet")] = lambda _i: Reply(200, {"batch": 1})
    with _client(f"{server.url}/api/v1") as c:
        assert c.post("items:search", json={}) == {"found": 1}
        assert c.get("/v1:batchGet") == {"batch": 1}


@pytest.mark.parametrize(
    "path",
    ["{other}/steal", "//{other_host}/steal", "../steal", "%2e%2e/%2E%2E/steal", "a/../../steal"],
)
def test_paths_leaving_base_url_are_refused(
    server: LocalHTTPServer, other: LocalHTTPServer, path: str
) -> None:
    path = path.format(other=other.url, other_host=other.url.split("://", 1)[1])
    with _client(f"{server.url}/api/", auth=APIKeyAuth(KEY)) as c:
        with pytest.raises(UsageError, match="leaves the base URL"):
            c.get(path)
        with pytest.raises(UsageError, match="leaves the base URL"):
            c.health_check(path)
    assert server.requests == [] and other.requests == []


def test_absolute_urls_allowed_per_call_or_per_client(
    server: LocalHTTPServer, other: LocalHTTPServer
) -> None:
    other.routes[("GET", "/elsewhere")] = lambda _i: Reply(200, {"there": True})
    server.routes[("GET", "/api/here")] = lambda _i: Reply(200, {"here": True})
    with _client(f"{server.url}/api/") as c:
        assert c.request("GET", f"{other.url}/elsewhere", allow_absolute_url=True).json() == {
            "there": True
        }
        assert c.get(f"{server.url}/api/here") == {"here": True}  # inside base_url: fine
    with _client(f"{server.url}/api/", allow_absolute_urls=True) as c:
        assert c.get(f"{other.url}/elsewhere") == {"there": True}
        with pytest.raises(UsageError):
            c.request("GET", f"{other.url}/elsewhere", allow_absolute_url=False)


# -- MCP HTTP transports do not follow redirects at all ----------------------------------------


@pytest.mark.parametrize("kind", ["http", "sse"])
def test_mcp_http_transports_never_carry_headers_across_a_redirect(
    server: LocalHTTPServer, other: LocalHTTPServer, kind: str
) -> None:
    from syncclients import MCPClient
    from syncclients.errors import SyncClientsError

    server.routes[("*", "/mcp")] = _redirect_to(f"{other.url}/mcp", 307)
    make = MCPClient.http if kind == "http" else MCPClient.sse
    client = make(
        f"{server.url}/mcp",
        headers={"X-API-Key": KEY},
        auth=BearerAuth(KEY),
        retry=RetryPolicy.never(),
        breaker=None,
        timeouts=(2, 2),
    )
    with pytest.raises(SyncClientsError):
        client.connect()
    client.close()
    assert server.requests and other.requests == []
