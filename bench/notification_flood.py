"""Memory of an MCPClient under a notification flood while the log callback is stuck.

Run in its own process (max RSS is per process)::

    python bench/notification_flood.py --count 500000 --size 150    # 75 MB on the wire

A stdio server (``tests/faults/servers/recording_stdio.py``) writes ``count``
``notifications/message`` of ``size`` bytes of data, then answers the call; the client's
``on_log`` callback blocks until the call returned. Prints the wire volume, how long the call
took, the notifications dropped and the process's max RSS. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from syncclients import MCPClient
from syncclients.mcp.types import LogMessage

SERVER = (
    Path(__file__).resolve().parent.parent / "tests" / "faults" / "servers" / "recording_stdio.py"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500_000, help="notifications")
    parser.add_argument("--size", type=int, default=150, help="data bytes per notification")
    args = parser.parse_args()
    release = threading.Event()

    def on_log(message: LogMessage) -> None:
        release.wait(120)  # the slow user callback

    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, str(SERVER), str(Path(tmp) / "server.log")]
        with MCPClient.stdio(command, era="legacy", on_log=on_log) as client:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.monotonic()
            client.call_tool("flood", {"count": args.count, "size": args.size}, timeout=300)
            elapsed = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            dropped = client.metrics().dropped_notifications
            release.set()
    print(
        f"{args.count * args.size / 1e6:.0f} MB on the wire in {args.count} notifications: "
        f"call {elapsed:.2f} s, {dropped} dropped, max RSS {before:.0f} MB before, "
        f"{after:.0f} MB after"
    )


if __name__ == "__main__":
    main()
