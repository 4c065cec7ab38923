from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncclients.testing import LocalHTTPServer


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    """A threaded HTTP/1.1 server on 127.0.0.1 (ephemeral port), stopped after the test."""
    srv = LocalHTTPServer().start()
    try:
        yield srv
    finally:
        srv.stop()
