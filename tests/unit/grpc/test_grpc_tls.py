"""TLS and mutual TLS with certificates made in the test (trustme), against a real server."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
import trustme

from syncclients import TLSError
from syncclients.errors import GRPCTLSError, GRPCUnavailableError
from syncclients.grpc import GRPCClient, GRPCTLSConfig, HealthStatus
from syncclients.resilience import AttemptRecord

Factory = Callable[..., GRPCClient]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1")


def server_credentials(
    cert: trustme.LeafCert, *, client_ca: trustme.CA | None = None
) -> grpc.ServerCredentials:
    pair = (cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())
    if client_ca is None:
        return grpc.ssl_server_credentials([pair])
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca.cert_pem.bytes(), require_client_auth=True
    )


def test_tls_with_root_certificates(
    make_client: Factory,
    proto: SimpleNamespace,
    server_factory: Any,
    ca: trustme.CA,
    server_cert: Any,
) -> None:
    running = server_factory(credentials=server_credentials(server_cert))
    client = make_client(
        running.target, credentials=GRPCTLSConfig(root_certificates=ca.cert_pem.bytes())
    )
    assert client.call("Say", proto.pb2.SayRequest(text="secure")).text == "secure"
    assert client.health_check() is HealthStatus.SERVING


def test_tls_ca_from_files_and_name_override(
    make_client: Factory,
    proto: SimpleNamespace,
    server_factory: Any,
    ca: trustme.CA,
    tmp_path: Any,
) -> None:
    named = ca.issue_cert("echo.internal")  # no IP in the certificate
    running = server_factory(credentials=server_credentials(named))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    config = GRPCTLSConfig.from_files(
        ca_file=tmp_path / "ca.pem", server_name_override="echo.internal"
    )
    client = make_client(running.target, credentials=config)
    assert client.call("Say", proto.pb2.SayRequest(text="named")).text == "named"


def test_untrusted_server_is_a_tls_error_and_not_retried(
    make_client: Factory, proto: SimpleNamespace, server_factory: Any, server_cert: Any
) -> None:
    running = server_factory(credentials=server_credentials(server_cert))
    records: list[AttemptRecord] = []
    other_ca = trustme.CA()
    client = make_client(
        running.target,
        credentials=GRPCTLSConfig(root_certificates=other_ca.cert_pem.bytes()),
        hooks=[records.append],
    )
    with pytest.raises(GRPCTLSError) as info:
        client.call("Say", proto.pb2.SayRequest(text="x"))
    assert isinstance(info.value, TLSError)
    assert isinstance(info.value, GRPCUnavailableError)
    assert info.value.code is grpc.StatusCode.UNAVAILABLE
    assert len(records) == 1
    assert running.servicer.count("Say") == 0


def test_mutual_tls(
    make_client: Factory,
    proto: SimpleNamespace,
    server_factory: Any,
    ca: trustme.CA,
    server_cert: Any,
) -> None:
    client_ca = trustme.CA()
    client_cert = client_ca.issue_cert("client.example")
    running = server_factory(credentials=server_credentials(server_cert, client_ca=client_ca))
    config = GRPCTLSConfig(
        root_certificates=ca.cert_pem.bytes(),
        private_key=client_cert.private_key_pem.bytes(),
        certificate_chain=client_cert.cert_chain_pems[0].bytes(),
    )
    client = make_client(running.target, credentials=config)
    assert client.call("Say", proto.pb2.SayRequest(text="mutual")).text == "mutual"

    anonymous = make_client(
        running.target,
        credentials=GRPCTLSConfig(root_certificates=ca.cert_pem.bytes()),
    )
    with pytest.raises(GRPCUnavailableError):
        anonymous.call("Say", proto.pb2.SayRequest(text="who?"))
    assert running.servicer.count("Say") == 1


def test_raw_channel_credentials(
    make_client: Factory,
    proto: SimpleNamespace,
    server_factory: Any,
    ca: trustme.CA,
    server_cert: Any,
) -> None:
    running = server_factory(credentials=server_credentials(server_cert))
    creds = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())
    client = make_client(running.target, credentials=creds)
    assert client.call("Say", proto.pb2.SayRequest(text="raw")).text == "raw"


def test_plaintext_client_against_tls_server_is_unavailable(
    make_client: Factory, proto: SimpleNamespace, server_factory: Any, server_cert: Any
) -> None:
    running = server_factory(credentials=server_credentials(server_cert))
    client = make_client(running.target)
    with pytest.raises(GRPCUnavailableError):
        client.call("Say", proto.pb2.SayRequest(text="x"), timeout=5)
