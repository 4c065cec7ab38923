"""Auth objects for :class:`~syncclients.HTTPClient` (any ``requests`` auth object also works).

Every class here keeps its secret out of ``repr()``, ``str()``, logs and error messages.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
import requests.auth

from ..config import PoolLimits, Timeouts
from ..errors import (
    DeadlineExceeded,
    HTTPStatusError,
    ProtocolError,
    Timeout,
    UsageError,
    excerpt,
)
from ..transports.http import build_session, call_deadline, send
from .headers import check_header

__all__ = ["APIKeyAuth", "BasicAuth", "BearerAuth", "OAuth2ClientCredentials"]

_REDACTED = "<redacted>"


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` (RFC 6750 section 2.1).

    Args:
        token: the token, or a callable returning the current token (called per request,
            for tokens that rotate).

    Raises:
        UsageError: the token is empty or holds CR/LF (at construction, or per request for a
            callable).
    """

    def __init__(self, token: str | Callable[[], str]) -> None:
        if not callable(token):
            check_header("Authorization", f"Bearer {token}")
            if not token:
                raise UsageError("BearerAuth token must not be empty")
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._token() if callable(self._token) else self._token
        value = f"Bearer {token}"
        check_header("Authorization", value)
        r.headers["Authorization"] = value
        return r

    def __repr__(self) -> str:
        return f"BearerAuth(token={_REDACTED})"


class APIKeyAuth(requests.auth.AuthBase):
    """An API key in a header (``X-API-Key`` by default).

    Args:
        key: the key.
        header: the header name.

    Raises:
        UsageError: an empty key, or CR/LF in the name or key.
    """

    def __init__(self, key: str, *, header: str = "X-API-Key") -> None:
        if not key:
            raise UsageError("APIKeyAuth key must not be empty")
        check_header(header, key)
        self._key = key
        self.header = header

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers[self.header] = self._key
        return r

    def __repr__(self) -> str:
        return f"APIKeyAuth(header={self.header!r}, key={_REDACTED})"


class BasicAuth(requests.auth.HTTPBasicAuth):
    """HTTP Basic auth (RFC 7617) with the password kept out of ``repr()``.

    Args:
        username: the user name.
        password: the password.
    """

    def __init__(self, username: str, password: str) -> None:
        super().__init__(username, password)

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password={_REDACTED})"


class _Flight:
    """One token fetch in progress, which other threads wait for."""

    __slots__ = ("budget_s", "done", "error", "token")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.token: str | None = None
        self.error: BaseException | None = None
        self.budget_s = 0.0  # the time the fetch was given, in seconds


class OAuth2ClientCredentials(requests.auth.AuthBase):
    """OAuth 2.0 client credentials grant (RFC 6749 section 4.4), as a requests auth object.

    The token is fetched on first use and refreshed ``refresh_margin_s`` seconds before it
    expires. When many threads need a token at the same moment, exactly one request is made
    to the token endpoint; the others wait for it (single flight). :meth:`invalidate` drops
    the token (HTTPClient calls it on a 401 and retries the request once).

    Time bounds: a fetch ends by the deadline of the call that started it (an
    :class:`~syncclients.HTTPClient` call's ``deadline_s``) or ``fetch_timeout_s``, whichever
    comes first, as a total time (a token endpoint that trickles its answer one byte per read
    timeout is cut off, :class:`~syncclients.errors.DeadlineExceeded`). A thread waiting for
    another thread's fetch waits at most until its own deadline, never behind a lock; when
    that fetch ran out of time and the waiter has at least half that time left, the waiter
    fetches anew (otherwise it gets :class:`~syncclients.errors.DeadlineExceeded`).

    Args:
        token_url: the token endpoint (https in production).
        client_id: the client identifier.
        client_secret: the client secret (never logged, never in a repr or an error).
        scope: space-separated scopes, or None.
        audience: an ``audience`` parameter (several providers want one), or None.
        extra_params: more form parameters for the token request.
        client_auth: ``"basic"`` (client_secret_basic, RFC 6749 section 2.3.1, the default)
            or ``"body"`` (client_secret_post).
        refresh_margin_s: refresh this many seconds before expiry.
        default_expires_in_s: the lifetime assumed when the server sends no ``expires_in``.
        timeout: connect/read limits for the token request, in seconds (per read; capped by
            the time left).
        fetch_timeout_s: the most seconds one fetch may take in total, whatever the
            caller's deadline (also when the caller has none).
        max_response_bytes: the largest token response accepted, in bytes (then
            :class:`~syncclients.errors.ResponseTooLargeError`).
        session: a session to use for token requests (not closed by us), or None for an
            own pooled session (closed by :meth:`close`).

    Raises:
        UsageError: empty identifiers, an unknown ``client_auth``.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        audience: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        client_auth: str = "basic",
        refresh_margin_s: float = 30.0,
        default_expires_in_s: float = 300.0,
        timeout: Timeouts = Timeouts(5.0, 10.0),
        fetch_timeout_s: float = 30.0,
        max_response_bytes: int = 64 * 1024,
        session: requests.Session | None = None,
    ) -> None:
        if not token_url or not client_id or not client_secret:
            raise UsageError("OAuth2ClientCredentials needs token_url, client_id, client_secret")
        if client_auth not in ("basic", "body"):
            raise UsageError(f"client_auth must be 'basic' or 'body', got {client_auth!r}")
        if fetch_timeout_s <= 0 or max_response_bytes <= 0:
            raise UsageError("fetch_timeout_s and max_response_bytes must be > 0")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.audience = audience
        self.extra_params = dict(extra_params or {})
        self.client_auth = client_auth
        self.refresh_margin_s = refresh_margin_s
        self.default_expires_in_s = default_expires_in_s
        self.timeout = timeout
        self.fetch_timeout_s = fetch_timeout_s
        self.max_response_bytes = max_response_bytes
        self._own_session = session is None
        self._session = session or build_session(PoolLimits(pool_maxsize=2))
        self._lock = threading.Lock()  # guards the fields below; never held during a fetch
        self._token: str | None = None
        self._expires_at = 0.0
        self._flight: _Flight | None = None
        self.fetch_count = 0

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._current(call_deadline())}"
        return r

    def token(self, *, timeout_s: float | None = None) -> str:
        """The current access token, fetching or refreshing it when needed.

        Args:
            timeout_s: the most seconds to spend (waiting for another thread's fetch, or
                fetching); None: ``fetch_timeout_s``.

        Raises:
            DeadlineExceeded: no token within the time allowed.
            HTTPStatusError: the token endpoint refused (the body excerpt never holds our
                secret: it is the server's answer).
            ProtocolError: the token response is not JSON with an ``access_token``.
            ResponseTooLargeError: the answer exceeded ``max_response_bytes``.
            TransportError: the token endpoint could not be reached.
        """
        return self._current(None if timeout_s is None else time.monotonic() + timeout_s)

    def _fresh(self) -> str | None:
        token = self._token
        if token is not None and time.monotonic() < self._expires_at - self.refresh_margin_s:
            return token
        return None

    def _current(self, deadline: float | None) -> str:
        """The token, within ``deadline`` (a monotonic instant; None: fetch_timeout_s)."""
        while True:
            token = self._fresh()
            if token is not None:
                return token
            with self._lock:  # single flight: one fetch, the other threads wait for it
                token = self._fresh()
                if token is not None:
                    return token
                flight = self._flight
                leader = flight is None
                if flight is None:
                    flight = self._flight = _Flight()
            if leader:
                return self._lead(flight, deadline)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is None:
                remaining = self.fetch_timeout_s
            if not flight.done.wait(max(0.0, remaining)):
                raise DeadlineExceeded(
                    f"no access token within {max(0.0, remaining):.3f} s: the token endpoint "
                    "is still answering another thread's request",
                    target=self.token_url,
                )
            if flight.token is not None:
                return flight.token
            error = flight.error
            if isinstance(error, Timeout):
                left = self.fetch_timeout_s if deadline is None else deadline - time.monotonic()
                if left >= flight.budget_s / 2:
                    continue  # that fetch ran out of its caller's time; this caller has more
                raise DeadlineExceeded(
                    f"no access token: the token endpoint did not answer within "
                    f"{flight.budget_s:.3f} s, and {max(0.0, left):.3f} s left is too little to "
                    "try again",
                    target=self.token_url,
                ) from error
            if error is None:
                raise DeadlineExceeded("the token fetch this call waited for failed")
            raise _copy(error)

    def _lead(self, flight: _Flight, deadline: float | None) -> str:
        now = time.monotonic()
        bound = now + self.fetch_timeout_s
        if deadline is not None:
            bound = min(deadline, bound)
        flight.budget_s = bound - now
        try:
            flight.token = self._fetch(bound)
            return flight.token
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flight = None
            flight.done.set()

    def invalidate(self) -> None:
        """Drop the cached token; the next request fetches a new one."""
        with self._lock:
            self._token = None
            self._expires_at = 0.0

    def close(self) -> None:
        """Close the token session if this object created it. Idempotent."""
        if self._own_session:
            self._session.close()

    def _fetch(self, deadline: float) -> str:
        form: dict[str, str] = {"grant_type": "client_credentials", **self.extra_params}
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        auth: Any = None
        if self.client_auth == "basic":
            auth = requests.auth.HTTPBasicAuth(self.client_id, self._client_secret)
        else:
            form["client_id"] = self.client_id
            form["client_secret"] = self._client_secret
        started = time.monotonic()
        if started >= deadline:
            raise DeadlineExceeded("no time left to fetch an access token", target=self.token_url)
        response = send(
            self._session,
            "POST",
            self.token_url,
            headers={"Accept": "application/json"},
            data=form,
            auth=auth,
            timeouts=self.timeout.capped(deadline - started),
            max_body_bytes=self.max_response_bytes,
            deadline=deadline,
            hard_deadline=True,
            allow_redirects=False,  # a 307/308 would re-send the client secret elsewhere
            target=self.token_url,
        )
        self.fetch_count += 1
        body = response.content
        if not 200 <= response.status_code < 300:
            raise HTTPStatusError(
                f"token endpoint answered {response.status_code}",
                status_code=response.status_code,
                response=response,
                body_excerpt=excerpt(body),
                target=self.token_url,
            )
        try:
            payload = response.json()
            token = payload["access_token"]
            if not isinstance(token, str) or not token:
                raise TypeError("access_token is not a non-empty string")
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(
                f"token endpoint answered without a valid access_token: {type(exc).__name__}",
                target=self.token_url,
            ) from None
        expires_in = payload.get("expires_in")
        lifetime = (
            float(expires_in)
            if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
            else self.default_expires_in_s
        )
        with self._lock:
            self._token = token
            self._expires_at = started + lifetime
        return token

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials(token_url={self.token_url!r}, "
            f"client_id={self.client_id!r}, client_secret={_REDACTED})"
        )


def _copy(error: BaseException) -> BaseException:
    """A fresh instance of another thread's error (one exception object raised in several
    threads would share and grow one traceback); the original is its cause."""
    try:
        clone = copy.copy(error)
    except Exception:  # an exception type that cannot be copied: raise the original
        return error
    clone.__traceback__ = None
    clone.__cause__ = error
    return clone
