"""The gRPC transport boundary: translation of every grpc failure, metadata rules, options."""

from __future__ import annotations

import pickle
from typing import Any

import grpc
import pytest

from syncclients.errors import (
    GRPCStatusError,
    GRPCTimeoutError,
    GRPCTLSError,
    GRPCUnavailableError,
    InvalidHeaderError,
    ProtocolError,
    SyncClientsError,
    Timeout,
    TLSError,
    TransportError,
    UsageError,
)
from syncclients.grpc import grpc_breaker_failure, grpc_retryable
from syncclients.transports.grpc_channel import (
    GRPCTLSConfig,
    channel_options,
    create_channel,
    is_message_size_error,
    normalize_metadata,
    parse_retry_pushback,
    translate_rpc_error,
    translating,
)


class FakeRpcError(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """What grpc raises: an RpcError that is also a Call."""

    def __init__(self, code: grpc.StatusCode, details: str = "", trailing: Any = None) -> None:
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailing

    def initial_metadata(self) -> Any:
        return None

    # grpc.Call / RpcContext abstract methods, unused here
    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


def translate(code: grpc.StatusCode, details: str = "", trailing: Any = None) -> Exception:
    return translate_rpc_error(
        FakeRpcError(code, details, trailing),
        target="127.0.0.1:1",
        method="Say",
        request_id="rid",
        timeout_s=1.5,
    )


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
def test_every_status_code_is_translated_into_the_tree(code: grpc.StatusCode) -> None:
    exc = translate(code, "why")
    assert isinstance(exc, GRPCStatusError)
    assert isinstance(exc, SyncClientsError)
    assert exc.code is code
    assert exc.details == "why"
    assert exc.method == "Say"
    assert exc.request_id == "rid"
    assert exc.target == "127.0.0.1:1"
    assert code.name in str(exc)
    assert isinstance(exc, TransportError) == (
        code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    )


def test_unavailable_is_a_transport_error() -> None:
    exc = translate(grpc.StatusCode.UNAVAILABLE, "connection refused")
    assert type(exc) is GRPCUnavailableError
    assert isinstance(exc, TransportError)


def test_deadline_exceeded_is_a_builtin_timeout_error() -> None:
    exc = translate(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    assert type(exc) is GRPCTimeoutError
    assert isinstance(exc, Timeout)
    assert isinstance(exc, TimeoutError)
    assert exc.timeout_s == 1.5


def test_failed_tls_handshake_is_a_tls_error() -> None:
    details = (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Tls "
        "handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: CERTIFICATE_VERIFY_FAILED"
    )
    exc = translate(grpc.StatusCode.UNAVAILABLE, details)
    assert isinstance(exc, GRPCTLSError)
    assert isinstance(exc, TLSError)
    assert isinstance(exc, GRPCUnavailableError)
    assert not grpc_retryable(exc, idempotent=True)


def test_serialization_failures_map_to_usage_and_protocol_errors() -> None:
    assert isinstance(
        translate(grpc.StatusCode.INTERNAL, "Exception serializing request!"), UsageError
    )
    assert isinstance(
        translate(grpc.StatusCode.INTERNAL, "Exception deserializing response!"), ProtocolError
    )


def test_trailing_metadata_and_pushback_are_carried() -> None:
    trailing = (("grpc-retry-pushback-ms", "250"), ("x-a", "b"))
    exc = translate(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", trailing)
    assert isinstance(exc, GRPCStatusError)
    assert exc.trailing_metadata == trailing
    assert exc.retry_after == 0.25
    assert exc.retry_pushback == "250"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", ("0", 0.0)), ("1500", ("1500", 1.5)), ("-1", ("-1", None)), ("soon", ("soon", None))],
)
def test_parse_retry_pushback(value: str, expected: tuple[str, float | None]) -> None:
    assert parse_retry_pushback((("grpc-retry-pushback-ms", value),)) == expected


def test_parse_retry_pushback_absent() -> None:
    assert parse_retry_pushback((("x", "1"),)) == (None, None)


def test_negative_pushback_forbids_retry() -> None:
    exc = translate(grpc.StatusCode.UNAVAILABLE, "", (("grpc-retry-pushback-ms", "-1"),))
    assert not grpc_retryable(exc, idempotent=True)


@pytest.mark.parametrize(
    ("code", "idempotent", "retryable", "breaker"),
    [
        (grpc.StatusCode.UNAVAILABLE, False, True, True),
        (grpc.StatusCode.ABORTED, False, True, False),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, False, True, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, False, False, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, True, True, True),
        (grpc.StatusCode.INTERNAL, True, False, True),
        (grpc.StatusCode.NOT_FOUND, True, False, False),
        (grpc.StatusCode.INVALID_ARGUMENT, True, False, False),
        (grpc.StatusCode.PERMISSION_DENIED, True, False, False),
        (grpc.StatusCode.UNAUTHENTICATED, True, False, False),
        (grpc.StatusCode.UNKNOWN, True, False, False),
    ],
)
def test_classification(
    code: grpc.StatusCode, idempotent: bool, retryable: bool, breaker: bool
) -> None:
    exc = translate(code, "x")
    assert grpc_retryable(exc, idempotent=idempotent) is retryable
    assert grpc_breaker_failure(exc) is breaker


def test_oversized_message_is_neither_retried_nor_a_breaker_failure() -> None:
    exc = translate(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "Stream removed (CLIENT: Received message larger than max (8 vs. 5))",
    )
    assert is_message_size_error(exc)
    assert not grpc_retryable(exc, idempotent=True)
    assert not grpc_breaker_failure(exc)


def test_translated_errors_pickle() -> None:
    exc = translate(grpc.StatusCode.DEADLINE_EXCEEDED, "late", (("x-a", b"\x01"),))
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is GRPCTimeoutError
    assert copy.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert copy.trailing_metadata == (("x-a", b"\x01"),)
    assert str(copy) == str(exc)


def test_translating_maps_a_closed_channel_to_usage_error() -> None:
    channel = grpc.insecure_channel("127.0.0.1:1")
    method = channel.unary_unary("/x.Y/Z")
    channel.close()
    with pytest.raises(UsageError, match="closed"), translating(target="t"):
        method(b"", timeout=1)


def test_translating_leaves_other_errors_alone() -> None:
    with pytest.raises(KeyError), translating(target="t"):
        raise KeyError("x")
    with pytest.raises(ValueError, match="unrelated"), translating(target="t"):
        raise ValueError("unrelated")


# -- metadata ----------------------------------------------------------------------------------


def test_metadata_from_dict_and_pairs() -> None:
    assert normalize_metadata({"X-Tenant": "a", "trace-bin": b"\x00"}) == [
        ("x-tenant", "a"),
        ("trace-bin", b"\x00"),
    ]
    assert normalize_metadata([("k", "1"), ("k", "2")]) == [("k", "1"), ("k", "2")]
    assert normalize_metadata(None) == []


@pytest.mark.parametrize(
    "metadata",
    [
        {"bad key": "v"},
        {"grpc-timeout": "1"},
        {"k": "line\nbreak"},
        {"k": b"bytes"},
        {"k-bin": "text"},
        {"k": 1},
        [("only-key",)],
        "k=v",
        {1: "v"},
    ],
)
def test_invalid_metadata_is_refused(metadata: Any) -> None:
    with pytest.raises(InvalidHeaderError):
        normalize_metadata(metadata)


# -- channel options ---------------------------------------------------------------------------


def test_channel_options_turn_grpc_retries_off() -> None:
    options = dict(
        channel_options(
            keepalive_time_s=30,
            keepalive_timeout_s=5,
            keepalive_permit_without_calls=True,
            max_send_message_bytes=1024,
            max_receive_message_bytes=2048,
            options=[("grpc.primary_user_agent", "test")],
        )
    )
    assert options == {
        "grpc.enable_retries": 0,
        "grpc.keepalive_time_ms": 30000,
        "grpc.keepalive_timeout_ms": 5000,
        "grpc.keepalive_permit_without_calls": 1,
        "grpc.max_send_message_length": 1024,
        "grpc.max_receive_message_length": 2048,
        "grpc.primary_user_agent": "test",
    }


@pytest.mark.parametrize(
    "options",
    [
        [("grpc.enable_retries", 1)],
        [("grpc.service_config", '{"methodConfig": [{"retryPolicy": {}}]}')],
        [("grpc.max_receive_message_length", 5)],
        [("no-value",)],
    ],
)
def test_conflicting_options_are_refused(options: Any) -> None:
    with pytest.raises(UsageError):
        channel_options(options=options, max_receive_message_bytes=10)


@pytest.mark.parametrize(
    "kwargs",
    [{"keepalive_time_s": 0}, {"max_send_message_bytes": 0}, {"max_receive_message_bytes": 1.5}],
)
def test_invalid_channel_values_are_refused(kwargs: Any) -> None:
    with pytest.raises(UsageError):
        channel_options(**kwargs)


def test_create_channel_rejects_bad_arguments() -> None:
    with pytest.raises(UsageError):
        create_channel("")
    with pytest.raises(UsageError):
        create_channel("127.0.0.1:1", compression="gzip")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        create_channel("127.0.0.1:1", credentials="tls")  # type: ignore[arg-type]


def test_tls_config_validation(tmp_path: Any) -> None:
    with pytest.raises(UsageError):
        GRPCTLSConfig(private_key=b"k")
    with pytest.raises(UsageError):
        GRPCTLSConfig(root_certificates="pem")  # type: ignore[arg-type]
    (tmp_path / "ca.pem").write_bytes(b"CA")
    config = GRPCTLSConfig.from_files(ca_file=tmp_path / "ca.pem")
    assert config.root_certificates == b"CA"
    assert config.private_key is None
