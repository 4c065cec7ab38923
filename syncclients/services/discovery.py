"""Service discovery: where a named service runs, as an ordered list of base URLs.

:class:`ServiceDiscovery` is the protocol (``resolve``, ``register``, ``deregister``);
implementations here: :class:`StaticDiscovery` (a mapping), :class:`EnvDiscovery`
(environment variables) and :class:`ConsulDiscovery` (the Consul catalog over plain HTTP,
healthy instances only). DNS SRV is in :mod:`syncclients.services.discovery_dns` (extra
``dns``). :class:`EndpointSet` keeps one service's endpoints fresh (a refresh interval) and
orders them for failover.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable
from urllib.parse import quote, urlsplit

from ..config import RetryPolicy
from ..errors import HTTPStatusError, UsageError
from ..http.client import HTTPClient

__all__ = [
    "ConsulDiscovery",
    "EndpointSet",
    "EnvDiscovery",
    "ServiceDiscovery",
    "ServiceNotFoundError",
    "StaticDiscovery",
]


class ServiceNotFoundError(UsageError):
    """Discovery knows no endpoint for the service (the contract's ``Service <name> not
    found``). A configuration error, so a :class:`~syncclients.errors.UsageError`: never
    retried, never counted by a breaker."""


def _check_url(url: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"an endpoint must be an absolute http(s) URL, got {url!r}")
    return url.rstrip("/")


@runtime_checkable
class ServiceDiscovery(Protocol):
    """Where services run. Implementations are thread-safe."""

    def resolve(self, service: str) -> list[str]:
        """The base URLs of ``service``, best first; [] when unknown."""
        ...

    def register(self, service: str, endpoint: str) -> None:
        """Announce ``endpoint`` (a base URL) for ``service``."""
        ...

    def deregister(self, service: str, endpoint: str | None = None) -> None:
        """Withdraw ``endpoint`` of ``service`` (None: every endpoint of it)."""
        ...


class StaticDiscovery:
    """A fixed mapping ``{service: url or [urls]}``; ``register``/``deregister`` edit it.

    Raises:
        UsageError: an endpoint that is not an absolute http(s) URL.
    """

    def __init__(self, services: Mapping[str, str | Iterable[str]] | None = None) -> None:
        self._lock = threading.Lock()
        self._services: dict[str, list[str]] = {}
        for name, urls in (services or {}).items():
            for url in [urls] if isinstance(urls, str) else urls:
                self.register(name, url)

    def resolve(self, service: str) -> list[str]:
        with self._lock:
            return list(self._services.get(service, ()))

    def register(self, service: str, endpoint: str) -> None:
        url = _check_url(endpoint)
        with self._lock:
            known = self._services.setdefault(service, [])
            if url not in known:
                known.append(url)

    def deregister(self, service: str, endpoint: str | None = None) -> None:
        with self._lock:
            if endpoint is None:
                self._services.pop(service, None)
            elif service in self._services:
                url = endpoint.rstrip("/")
                self._services[service] = [u for u in self._services[service] if u != url]


class EnvDiscovery(StaticDiscovery):
    """Endpoints from environment variables: ``<PREFIX><SERVICE>_URL`` holds one URL or
    several separated by commas (``SERVICE_MEMORY_URL=http://a:9000,http://b:9000``).

    The variables are read at each :meth:`resolve` (so a changed environment is seen);
    ``register`` adds endpoints in this object only (the environment is not modified).

    Args:
        prefix: the variable prefix.
        environ: the mapping to read; None: ``os.environ``.
    """

    def __init__(self, prefix: str = "SERVICE_", environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.prefix = prefix
        self._environ = environ

    def resolve(self, service: str) -> list[str]:
        env = os.environ if self._environ is None else self._environ
        raw = env.get(f"{self.prefix}{service.upper().replace('-', '_')}_URL", "")
        urls = [_check_url(u.strip()) for u in raw.split(",") if u.strip()]
        return urls + [u for u in super().resolve(service) if u not in urls]


class ConsulDiscovery:
    """The Consul catalog over plain HTTP (``/v1/health/service/<name>?passing=true``:
    healthy instances only), through an :class:`~syncclients.HTTPClient`.

    Args:
        consul_url: the agent's base URL, e.g. ``http://127.0.0.1:8500``.
        scheme: the scheme of the services' URLs (Consul stores host and port only).
        token: an ACL token sent as ``X-Consul-Token`` (never shown in ``repr``), or None.
        timeout_s: the whole-call limit of each catalog request, seconds.
        datacenter: the ``dc`` query parameter, or None.
    """

    def __init__(
        self,
        consul_url: str,
        *,
        scheme: str = "http",
        token: str | None = None,
        timeout_s: float = 5.0,
        datacenter: str | None = None,
    ) -> None:
        headers = {"X-Consul-Token": token} if token else None
        self.scheme = scheme
        self.timeout_s = timeout_s
        self.datacenter = datacenter
        self.http = HTTPClient(
            consul_url,
            headers=headers,
            retry=RetryPolicy(max_attempts=2, initial_delay_s=0.1, deadline_s=timeout_s),
            name="consul",
        )

    def resolve(self, service: str) -> list[str]:
        params: dict[str, str] = {"passing": "true"}
        if self.datacenter:
            params["dc"] = self.datacenter
        try:
            entries = self.http.get(
                f"v1/health/service/{quote(service, safe='')}",
                params=params,
                deadline_s=self.timeout_s,
            )
        except HTTPStatusError as exc:
            if exc.status_code == 404:
                return []
            raise
        urls = []
        for entry in entries if isinstance(entries, list) else []:
            svc = entry.get("Service") or {}
            host = svc.get("Address") or (entry.get("Node") or {}).get("Address")
            port = svc.get("Port")
            if host and isinstance(port, int):
                urls.append(f"{self.scheme}://{host}:{port}")
        return urls

    def register(self, service: str, endpoint: str) -> None:
        """PUT ``/v1/agent/service/register`` with the endpoint's host and port; the
        instance id is ``<service>-<host>-<port>``."""
        parts = urlsplit(_check_url(endpoint))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self.http.put(
            "v1/agent/service/register",
            json={
                "ID": f"{service}-{parts.hostname}-{port}",
                "Name": service,
                "Address": parts.hostname,
                "Port": port,
            },
            deadline_s=self.timeout_s,
        )

    def deregister(self, service: str, endpoint: str | None = None) -> None:
        """PUT ``/v1/agent/service/deregister/<id>`` for the endpoint (None: every instance
        the catalog lists for the service, as registered by :meth:`register`)."""
        endpoints = [endpoint] if endpoint is not None else self.resolve(service)
        for url in endpoints:
            parts = urlsplit(_check_url(url))
            port = parts.port or (443 if parts.scheme == "https" else 80)
            ident = quote(f"{service}-{parts.hostname}-{port}", safe="")
            self.http.put(f"v1/agent/service/deregister/{ident}", deadline_s=self.timeout_s)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()


class EndpointSet:
    """One service's endpoints: resolved on first use, re-resolved every ``refresh_s``, and
    ordered for failover (an endpoint that failed goes last for ``cooldown_s``).

    Args:
        discovery: where to resolve.
        service: the service name.
        refresh_s: re-resolve after this many seconds (contract: 60); None: never.
        cooldown_s: how long a failed endpoint is tried last, seconds.
        clock: a monotonic clock (for tests).
    """

    def __init__(
        self,
        discovery: ServiceDiscovery,
        service: str,
        *,
        refresh_s: float | None = 60.0,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.discovery = discovery
        self.service = service
        self.refresh_s = refresh_s
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._urls: list[str] = []
        self._resolved_at: float | None = None
        self._failed: dict[str, float] = {}

    def endpoints(self) -> list[str]:
        """The endpoints, healthy ones first (each group in discovery order).

        Raises:
            ServiceNotFoundError: discovery knows none.
            SyncClientsError: discovery itself failed and nothing was resolved before (a
                failed refresh keeps the last known endpoints).
        """
        now = self._clock()
        with self._lock:
            stale = self._resolved_at is None or (
                self.refresh_s is not None and now - self._resolved_at >= self.refresh_s
            )
            urls = list(self._urls)
        if stale:
            try:
                urls = [u.rstrip("/") for u in self.discovery.resolve(self.service)]
            except Exception:
                if not urls:
                    raise
            with self._lock:
                self._urls, self._resolved_at = urls, now
        if not urls:
            raise ServiceNotFoundError(f"Service {self.service} not found")
        with self._lock:
            cooling = {u for u, t in self._failed.items() if now - t < self.cooldown_s}
        return [u for u in urls if u not in cooling] + [u for u in urls if u in cooling]

    def mark_failed(self, url: str) -> None:
        """Send ``url`` to the back of the order for ``cooldown_s``."""
        with self._lock:
            self._failed[url] = self._clock()

    def mark_ok(self, url: str) -> None:
        """Forget a failure of ``url``."""
        with self._lock:
            self._failed.pop(url, None)

    def invalidate(self) -> None:
        """Re-resolve on next use."""
        with self._lock:
            self._resolved_at = None
