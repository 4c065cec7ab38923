"""Fault-injection fixtures: a leak check around every test, and the fault tools.

Every test here asserts, after it ran, that it left nothing behind: no thread (bounded wait
for pool threads to finish), no file descriptor, no child process.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator

import pytest

from syncclients.mcp import clear_era_cache

LEAK_WAIT_S = 5.0


def open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def live_children() -> set[int]:
    """Pids of our child processes that have not been reaped (zombies included)."""
    children: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                children.update(int(pid) for pid in f.read().split())
        except OSError:
            continue
    return children


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()}


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread, a file descriptor or a child process behind."""
    clear_era_cache()
    gc.collect()
    threads_before = _threads()
    fds_before = open_fds()
    children_before = live_children()
    yield
    clear_era_cache()
    deadline = time.monotonic() + LEAK_WAIT_S
    while True:
        gc.collect()
        new_threads = _threads() - threads_before
        new_fds = open_fds() - fds_before
        new_children = live_children() - children_before
        if not (new_threads or new_fds or new_children) or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # polling a bounded wait: threads and pools wind down on their own
    leaks = {
        "threads": sorted(t.name for t in new_threads),
        "fds": {fd: _fd_target(fd) for fd in new_fds},
        "children": sorted(new_children),
    }
    assert not (new_threads or new_fds or new_children), f"left behind: {leaks}"


def _fd_target(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"
