from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncclients import RetryPolicy
from syncclients.testing import PlatformServer

#: The contract's retry shape with short delays, so fault tests run in well under a second.
FAST_RETRY = RetryPolicy(max_attempts=4, initial_delay_s=0.01, max_delay_s=0.05, deadline_s=30)


@pytest.fixture
def platform() -> Iterator[PlatformServer]:
    """The reference server for all five services on 127.0.0.1 (ephemeral port)."""
    srv = PlatformServer().start()
    try:
        yield srv
    finally:
        srv.stop()
