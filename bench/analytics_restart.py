"""The issue-14 measurement: N analytics events tracked from T threads while the reference
analytics service restarts twice; counts what arrived and how long track() took.

Run:  python bench/analytics_restart.py [events=100000] [threads=16] [down_s=1.0]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from syncclients.services import AnalyticsClient
from syncclients.testing import PlatformServer


def main(argv: list[str]) -> int:
    total = int(argv[1]) if len(argv) > 1 else 100_000
    threads_n = int(argv[2]) if len(argv) > 2 else 16
    down_s = float(argv[3]) if len(argv) > 3 else 1.0
    per = total // threads_n
    latencies: list[float] = []
    lock = threading.Lock()
    with PlatformServer() as server, tempfile.TemporaryDirectory() as tmp:
        client = AnalyticsClient(server.url, spool=Path(tmp) / "spool.db", flush_interval_s=0.2)

        def work(t: int) -> None:
            mine = []
            for j in range(per):
                started = time.perf_counter()
                client.track("page_view", {"thread": t, "n": j})
                mine.append(time.perf_counter() - started)
            with lock:
                latencies.extend(mine)

        started = time.monotonic()
        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
        for w in workers:
            w.start()
        time.sleep(0.3)
        server.restart(down_s=down_s)
        time.sleep(0.3)
        server.restart(down_s=down_s)
        for w in workers:
            w.join()
        tracking_s = time.monotonic() - started
        flushed = client.flush(300)
        total_s = time.monotonic() - started
        m = client.metrics()
        client.close()
        latencies.sort()

        def pct(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

        print(
            f"events={per * threads_n} threads={threads_n} restarts=2 (down {down_s} s each)\n"
            f"tracked={m.tracked} delivered={m.delivered} unique_on_server={len(server.events)} "
            f"duplicates={server.duplicate_events} dropped={m.dropped} spooled={m.spooled} "
            f"failed_sends={m.failed_sends} batches={m.batches} flushed={flushed}\n"
            f"tracking {tracking_s:.2f} s, all delivered after {total_s:.2f} s; "
            f"track() p50 {pct(0.5):.3f} ms, p99 {pct(0.99):.3f} ms, "
            f"p99.9 {pct(0.999):.1f} ms, max {latencies[-1] * 1000:.1f} ms"
        )
        lost = per * threads_n - len(server.events)
        return 0 if lost == 0 and m.dropped == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
