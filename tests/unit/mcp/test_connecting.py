"""The connect policy helpers: the per-caller connect bound, the shared handshake and the
crash-restart pacing (a fake clock: no sleeps)."""

from __future__ import annotations

import threading

import pytest

from syncclients.errors import ConnectTimeout, DeadlineExceeded
from syncclients.mcp.connecting import Handshake, RestartPacer, connect_bound


def test_connect_bound_is_the_smaller_of_timeout_and_deadline() -> None:
    assert connect_bound(30.0, None, target="t") == 30.0
    assert connect_bound(30.0, 2.5, target="t") == 2.5
    assert connect_bound(1.0, 2.5, target="t") == 1.0
    assert connect_bound(None, 2.5, target="t") == 2.5
    assert connect_bound(None, None, target="t") is None


@pytest.mark.parametrize("remaining", [0.0, -0.001])
def test_connect_bound_never_returns_a_spent_or_negative_time(remaining: float) -> None:
    with pytest.raises(DeadlineExceeded, match="before connecting"):
        connect_bound(30.0, remaining, target="t")


def test_a_waiter_gets_the_outcome_or_times_out_on_its_own_bound() -> None:
    handshake: Handshake[str] = Handshake()
    with pytest.raises(ConnectTimeout, match="has not finished") as info:
        handshake.wait(0.01, target="t")
    assert info.value.timeout_s == 0.01
    done = threading.Event()

    def waiter() -> None:
        handshake.wait(10.0, target="t")
        done.set()

    thread = threading.Thread(target=waiter, name="waiter")
    thread.start()
    handshake.finish("session", None)
    thread.join(10)
    assert done.is_set() and handshake.session == "session" and handshake.error is None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_restart_pacing_backs_off_and_resets_after_a_stable_run() -> None:
    clock = Clock()
    pacer = RestartPacer(initial_s=0.5, max_s=4.0, stable_uptime_s=30.0, clock=clock)
    assert pacer.wait_s(uptime_s=0.1) == 0.0  # the first restart is immediate
    pacer.restarted()
    assert pacer.wait_s(uptime_s=0.1) == pytest.approx(0.5)
    clock.now += 0.5
    assert pacer.wait_s(uptime_s=0.1) == 0.0
    pacer.restarted()
    assert pacer.wait_s(uptime_s=0.1) == pytest.approx(1.0)
    for _ in range(10):
        clock.now += 100
        pacer.restarted()
    assert pacer.wait_s(uptime_s=0.1) == pytest.approx(4.0)  # capped at max_s
    assert pacer.consecutive == 12
    assert pacer.wait_s(uptime_s=30.0) == 0.0  # it stayed up: the count starts over
    assert pacer.consecutive == 0
