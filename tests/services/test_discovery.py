"""Service discovery: static, environment, DNS SRV against a local DNS server (served with
dnspython), and a fake Consul catalog; EndpointSet refresh and failover order."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from syncclients import UsageError
from syncclients.services import (
    ConsulDiscovery,
    EndpointSet,
    EnvDiscovery,
    ServiceDiscovery,
    ServiceNotFoundError,
    StaticDiscovery,
)
from syncclients.services.discovery_dns import DNSSRVDiscovery
from syncclients.testing import LocalHTTPServer, Reply


class LocalDNS:
    """A UDP DNS server on 127.0.0.1 answering SRV queries from ``records``."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                wire, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(wire)
            reply = dns.message.make_response(query)
            question = query.question[0]
            answers = self.records.get(question.name.to_text())
            if answers is None:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            else:
                reply.answer.append(
                    dns.rrset.from_text_list(question.name, 30, "IN", "SRV", answers)
                )
            self.sock.sendto(reply.to_wire(), addr)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def local_dns() -> Iterator[LocalDNS]:
    server = LocalDNS()
    try:
        yield server
    finally:
        server.stop()


def test_static_discovery_protocol_and_failover_order() -> None:
    d = StaticDiscovery({"memory": ["http://a:9000/", "http://b:9000"]})
    assert isinstance(d, ServiceDiscovery)
    assert d.resolve("memory") == ["http://a:9000", "http://b:9000"]
    d.register("memory", "http://c:9000")
    d.deregister("memory", "http://a:9000")
    assert d.resolve("memory") == ["http://b:9000", "http://c:9000"]
    d.deregister("memory")
    assert d.resolve("memory") == []
    with pytest.raises(UsageError):
        d.register("x", "memory-service:9000")


def test_env_discovery_reads_the_environment_each_time() -> None:
    env = {"SERVICE_MEMORY_URL": "http://a:1, http://b:2"}
    d = EnvDiscovery(environ=env)
    assert d.resolve("memory") == ["http://a:1", "http://b:2"]
    env["SERVICE_MEMORY_URL"] = "http://c:3"
    d.register("memory", "http://d:4")
    assert d.resolve("memory") == ["http://c:3", "http://d:4"]
    assert d.resolve("other") == []


def test_endpoint_set_refreshes_and_puts_failed_endpoints_last() -> None:
    now = [0.0]
    d = StaticDiscovery({"svc": ["http://a:1", "http://b:1"]})
    eps = EndpointSet(d, "svc", refresh_s=60, cooldown_s=30, clock=lambda: now[0])
    assert eps.endpoints() == ["http://a:1", "http://b:1"]
    eps.mark_failed("http://a:1")
    assert eps.endpoints() == ["http://b:1", "http://a:1"]
    d.register("svc", "http://c:1")
    assert len(eps.endpoints()) == 2  # not refreshed yet
    now[0] = 61.0
    assert eps.endpoints() == ["http://a:1", "http://b:1", "http://c:1"]  # cooled down too
    d.deregister("svc")
    now[0] = 200.0
    with pytest.raises(ServiceNotFoundError, match="Service svc not found"):
        eps.endpoints()


def test_dns_srv_orders_by_priority_and_skips_dot_targets(local_dns: LocalDNS) -> None:
    local_dns.records["_memory._tcp.svc.test."] = [
        "20 1 9002 backup.svc.test.",
        "10 5 9000 m1.svc.test.",
        "10 5 9001 m2.svc.test.",
        "30 0 0 .",
    ]
    d = DNSSRVDiscovery("svc.test", nameservers=[("127.0.0.1", local_dns.port)], timeout_s=2)
    urls = d.resolve("memory")
    assert sorted(urls[:2]) == ["http://m1.svc.test:9000", "http://m2.svc.test:9001"]
    assert urls[2:] == ["http://backup.svc.test:9002"]
    assert d.resolve("absent") == []
    with pytest.raises(UsageError):
        d.register("memory", "http://x:1")


def test_consul_catalog_healthy_instances_and_registration() -> None:
    with LocalHTTPServer() as consul:
        consul.routes[("GET", "/v1/health/service/memory")] = lambda r: Reply(
            200,
            [
                {"Node": {"Address": "10.0.0.1"}, "Service": {"Address": "", "Port": 9000}},
                {"Node": {"Address": "10.0.0.9"}, "Service": {"Address": "m2", "Port": 9001}},
            ],
        )
        consul.routes[("PUT", "/v1/agent/service/register")] = lambda r: Reply(200, b"")
        consul.routes[("PUT", "/v1/agent/service/deregister/memory-m3-9002")] = lambda r: Reply(
            200, b""
        )
        d = ConsulDiscovery(consul.url, token="acl-secret")
        try:
            assert d.resolve("memory") == ["http://10.0.0.1:9000", "http://m2:9001"]
            assert d.resolve("unknown") == []  # the fake answers 404
            d.register("memory", "http://m3:9002")
            d.deregister("memory", "http://m3:9002")
        finally:
            d.close()
        first = consul.requests[0]
        assert first.path == "/v1/health/service/memory?passing=true"
        assert first.headers["X-Consul-Token"] == "acl-secret"
        reg = next(r for r in consul.requests if r.path == "/v1/agent/service/register")
        assert reg.json() == {
            "ID": "memory-m3-9002",
            "Name": "memory",
            "Address": "m3",
            "Port": 9002,
        }
        assert "acl-secret" not in repr(d.http)
