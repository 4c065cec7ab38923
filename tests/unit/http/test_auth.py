"""Shipped auth objects: headers, single-flight OAuth2 token, refresh, 401, redaction."""

from __future__ import annotations

import threading
import time

import pytest
import responses
from responses import matchers

from syncclients import (
    APIKeyAuth,
    BasicAuth,
    BearerAuth,
    HTTPClient,
    HTTPStatusError,
    InvalidHeaderError,
    OAuth2ClientCredentials,
    ProtocolError,
    UsageError,
)

BASE = "http://svc.test"
TOKEN_URL = "http://auth.test/token"
SECRET = "s3cr3t-value"


@responses.activate
def test_bearer_api_key_and_basic_headers() -> None:
    responses.get(f"{BASE}/b", match=[matchers.header_matcher({"Authorization": "Bearer tok"})])
    responses.get(f"{BASE}/k", match=[matchers.header_matcher({"X-Key": "k1"})])
    responses.get(f"{BASE}/u", match=[matchers.header_matcher({"Authorization": "Basic dTpw"})])
    rotating = iter(["r1", "r2"])
    responses.get(f"{BASE}/r", match=[matchers.header_matcher({"Authorization": "Bearer r1"})])
    for path, auth in [
        ("b", BearerAuth("tok")),
        ("k", APIKeyAuth("k1", header="X-Key")),
        ("u", BasicAuth("u", "p")),
        ("r", BearerAuth(lambda: next(rotating))),
    ]:
        with HTTPClient(BASE, auth=auth, hooks=[]) as c:
            c.get(path)


def test_auth_reprs_hide_secrets() -> None:
    objs = [
        BearerAuth(SECRET),
        APIKeyAuth(SECRET),
        BasicAuth("user", SECRET),
        OAuth2ClientCredentials(TOKEN_URL, "cid", SECRET),
    ]
    for obj in objs:
        assert SECRET not in repr(obj) and SECRET not in str(obj)
    with HTTPClient(BASE, auth=objs[0], hooks=[]) as c:
        assert SECRET not in repr(c)


def test_bad_auth_values_rejected() -> None:
    with pytest.raises(InvalidHeaderError):
        BearerAuth("a\r\nX: y")
    with pytest.raises(UsageError):
        APIKeyAuth("")
    with pytest.raises(UsageError):
        OAuth2ClientCredentials(TOKEN_URL, "cid", SECRET, client_auth="magic")


@responses.activate
def test_oauth2_token_fetched_once_for_many_threads() -> None:
    fetches = []

    def token_callback(request):
        fetches.append(request)
        time.sleep(0.05)  # hold the fetch open so the other threads pile up behind it
        return (200, {}, '{"access_token": "at-1", "expires_in": 3600, "token_type": "Bearer"}')

    responses.add_callback(responses.POST, TOKEN_URL, callback=token_callback)
    responses.get(
        f"{BASE}/data",
        json={"ok": 1},
        match=[matchers.header_matcher({"Authorization": "Bearer at-1"})],
    )
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", SECRET, scope="read")
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []
    with HTTPClient(BASE, auth=auth, hooks=[], pool_maxsize=16) as c:

        def work() -> None:
            try:
                barrier.wait(10)
                assert c.get("data") == {"ok": 1}
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    auth.close()
    assert errors == []
    assert len(fetches) == 1
    body = fetches[0].body
    assert "grant_type=client_credentials" in body and "scope=read" in body
    assert SECRET not in body  # client_secret_basic: the secret travels in Authorization
    assert fetches[0].headers["Authorization"].startswith("Basic ")


@responses.activate
def test_oauth2_refreshes_before_expiry_and_on_401() -> None:
    responses.post(TOKEN_URL, json={"access_token": "t1", "expires_in": 10})
    responses.post(TOKEN_URL, json={"access_token": "t2", "expires_in": 3600})
    responses.post(TOKEN_URL, json={"access_token": "t3", "expires_in": 3600})
    auth = OAuth2ClientCredentials(
        TOKEN_URL, "cid", SECRET, refresh_margin_s=30, client_auth="body"
    )
    assert auth.token() == "t1"
    assert auth.token() == "t2"  # t1 expires within the margin: refreshed
    assert auth.token() == "t2"
    responses.get(
        f"{BASE}/x", status=401, match=[matchers.header_matcher({"Authorization": "Bearer t2"})]
    )
    responses.get(
        f"{BASE}/x", json={"ok": 1}, match=[matchers.header_matcher({"Authorization": "Bearer t3"})]
    )
    with HTTPClient(BASE, auth=auth, hooks=[]) as c:
        assert c.get("x") == {"ok": 1}
    assert auth.fetch_count == 3
    assert f"client_secret={SECRET}" in responses.calls[0].request.body  # client_secret_post


@responses.activate
def test_oauth2_errors_are_typed_and_never_leak_the_secret() -> None:
    responses.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", SECRET)
    with pytest.raises(HTTPStatusError) as info:
        auth.token()
    assert SECRET not in str(info.value) and SECRET not in info.value.body_excerpt
    responses.replace(responses.POST, TOKEN_URL, json={"no_token": True})
    with pytest.raises(ProtocolError) as perr:
        auth.token()
    assert SECRET not in str(perr.value)
