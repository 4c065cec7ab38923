"""DNS SRV discovery (RFC 2782), on dnspython: install the extra ``syncclients[dns]``.

This is the only module of syncclients that imports dnspython.
"""

from __future__ import annotations

import random
from typing import Any

from ..errors import ConnectError, Timeout, UsageError

try:
    import dns.exception
    import dns.resolver
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError("DNS SRV discovery needs dnspython: pip install 'syncclients[dns]'") from exc

__all__ = ["DNSSRVDiscovery"]


class DNSSRVDiscovery:
    """Resolve ``_<service>._<proto>.<domain>`` SRV records into base URLs.

    Records are ordered by priority (lowest first) and, within a priority, by a weighted
    random draw (RFC 2782); a target of ``.`` means "not available here". DNS is read-only
    here: :meth:`register` and :meth:`deregister` raise UsageError.

    Args:
        domain: the domain the records live under, e.g. ``"svc.cluster.local"``.
        scheme: the scheme of the URLs.
        proto: the SRV protocol label.
        nameservers: ``[(ip, port)]`` to ask instead of the system's resolver.
        timeout_s: the whole lookup's limit, seconds.
    """

    def __init__(
        self,
        domain: str,
        *,
        scheme: str = "http",
        proto: str = "tcp",
        nameservers: list[tuple[str, int]] | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        self.domain = domain.strip(".")
        self.scheme = scheme
        self.proto = proto
        self.timeout_s = timeout_s
        self._resolver = dns.resolver.Resolver(configure=nameservers is None)
        if nameservers:
            self._resolver.nameservers = [ip for ip, _ in nameservers]
            self._resolver.port = nameservers[0][1]
        self._resolver.lifetime = timeout_s

    def resolve(self, service: str) -> list[str]:
        """The service's base URLs, best first; [] when the name has no SRV records.

        Raises:
            Timeout: no DNS answer within ``timeout_s``.
            ConnectError: no name server could be asked.
        """
        name = f"_{service}._{self.proto}.{self.domain}."
        try:
            answer: Any = self._resolver.resolve(name, "SRV", tcp=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.Timeout as exc:
            raise Timeout(f"DNS SRV {name}: {exc}", timeout_s=self.timeout_s) from exc
        except dns.resolver.NoNameservers as exc:
            raise ConnectError(f"DNS SRV {name}: {exc}") from exc
        by_priority: dict[int, list[Any]] = {}
        for record in answer:
            if str(record.target) != ".":
                by_priority.setdefault(int(record.priority), []).append(record)
        urls: list[str] = []
        for priority in sorted(by_priority):
            group = by_priority[priority]
            while group:  # RFC 2782 weighted selection
                total = sum(int(r.weight) for r in group)
                pick = random.uniform(0, total) if total else 0  # noqa: S311 - load spreading
                acc = 0
                chosen = group[0]
                for r in group:
                    acc += int(r.weight)
                    if total and acc >= pick:
                        chosen = r
                        break
                group.remove(chosen)
                host = str(chosen.target).rstrip(".")
                urls.append(f"{self.scheme}://{host}:{int(chosen.port)}")
        return urls

    def register(self, service: str, endpoint: str) -> None:
        """Not supported: DNS records are managed outside this client.

        Raises:
            UsageError: always.
        """
        raise UsageError("DNS SRV discovery is read-only: publish records in your DNS")

    def deregister(self, service: str, endpoint: str | None = None) -> None:
        """Not supported (see :meth:`register`).

        Raises:
            UsageError: always.
        """
        raise UsageError("DNS SRV discovery is read-only: withdraw records in your DNS")
