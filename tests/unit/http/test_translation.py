"""Every exception requests and urllib3 can raise is translated into our tree."""

from __future__ import annotations

import inspect
import socket
import ssl

import pytest
import requests.exceptions as rex
import urllib3.exceptions as uex

from syncclients import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeout,
    PoolTimeout,
    ProtocolError,
    ReadTimeout,
    SyncClientsError,
    TLSError,
    UsageError,
)
from syncclients.config import Timeouts
from syncclients.transports.http import translate_exception, translating


def _foreign_exception_classes() -> list[type[BaseException]]:
    classes = []
    for module in (rex, uex):
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseException)
                and not issubclass(obj, Warning)
                and obj.__module__.split(".")[0] in ("requests", "urllib3")
            ):
                classes.append(obj)
    return sorted(set(classes), key=lambda c: f"{c.__module__}.{c.__qualname__}")


class _FakeResponse:
    length_remaining = 5

    def tell(self) -> int:
        return 3


def _instantiate(cls: type[BaseException]) -> BaseException:
    special = {
        rex.JSONDecodeError: ("Expecting value", "x", 0),
        uex.IncompleteRead: (1, 2),
        uex.InvalidChunkLength: (_FakeResponse(), b"zz"),
    }
    if cls in special:
        return cls(*special[cls])
    for args in (("boom",), (None, "boom"), (None, None, "boom"), (None, None, None, "boom"), ()):
        try:
            return cls(*args)
        except TypeError:
            continue
    raise AssertionError(f"cannot build {cls}")


FOREIGN = _foreign_exception_classes()


def test_the_enumeration_found_the_known_classes() -> None:
    names = {c.__name__ for c in FOREIGN}
    assert {
        "ConnectTimeout",
        "ReadTimeout",
        "ChunkedEncodingError",
        "EmptyPoolError",
        "SSLError",
    } <= names
    assert len(FOREIGN) > 40


@pytest.mark.parametrize("cls", FOREIGN, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_foreign_exception_is_translated(cls: type[BaseException]) -> None:
    exc = _instantiate(cls)
    translated = translate_exception(exc, target="http://x", timeouts=Timeouts())
    assert isinstance(translated, SyncClientsError | UsageError)


@pytest.mark.parametrize(
    ("foreign", "ours"),
    [
        (rex.ConnectTimeout("x"), ConnectTimeout),
        (rex.ReadTimeout("x"), ReadTimeout),
        (
            rex.ConnectionError(
                uex.MaxRetryError(None, "/", uex.NewConnectionError(None, "refused"))
            ),
            ConnectError,
        ),
        (
            rex.ConnectionError(
                uex.MaxRetryError(None, "/", uex.NameResolutionError("h", None, socket.gaierror()))
            ),
            ConnectError,
        ),
        (
            rex.ConnectionError(uex.ProtocolError("Connection aborted.", ConnectionResetError())),
            ConnectionLostError,
        ),
        (rex.ConnectionError(uex.ReadTimeoutError(None, "/", "read timed out")), ReadTimeout),
        (rex.ChunkedEncodingError("truncated"), ConnectionLostError),
        (rex.SSLError(ssl.SSLError("bad cert")), TLSError),
        (uex.EmptyPoolError(None, "empty"), PoolTimeout),
        (rex.ContentDecodingError("gzip"), ProtocolError),
        (rex.TooManyRedirects("loop"), ProtocolError),
        (rex.InvalidURL("bad"), UsageError),
        (rex.MissingSchema("bad"), UsageError),
        (rex.InvalidHeader("bad"), UsageError),
        (ConnectionResetError(104, "reset"), ConnectionLostError),
    ],
)
def test_specific_mappings(foreign: BaseException, ours: type[BaseException]) -> None:
    assert type(translate_exception(foreign, target="t")) is ours


def test_connect_failures_are_builtin_connection_errors_and_timeouts_builtin_timeouts() -> None:
    assert isinstance(translate_exception(rex.ConnectTimeout("x"), target="t"), ConnectionError)
    assert isinstance(translate_exception(rex.ConnectTimeout("x"), target="t"), TimeoutError)
    assert isinstance(translate_exception(rex.ReadTimeout("x"), target="t"), TimeoutError)
    assert isinstance(translate_exception(uex.EmptyPoolError(None, "x"), target="t"), TimeoutError)


def test_translating_chains_the_original_and_passes_ours_through() -> None:
    with pytest.raises(ReadTimeout) as info, translating(target="t"):
        raise rex.ReadTimeout("slow")
    assert isinstance(info.value.__cause__, rex.ReadTimeout)
    assert info.value.target == "t"
    with pytest.raises(ProtocolError), translating(target="t"):
        raise ProtocolError("ours")
