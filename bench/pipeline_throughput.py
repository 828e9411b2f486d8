"""Events per second through the embedded pipeline, detection on, and memory over time.

Writes a simulated portfolio (default 10,000 enterprises x 36 months, about
1.3 million events in arrival order, late arrivals, corrections and duplicates
included) to a JSONL file, then times ``Loanwatch.ingest_files`` on it against
a fresh SQLite store, with every enterprise on one bank's watchlist so that
fan-out runs too. Prints the rate, the peak RSS, and RSS every 10% of the
events so flat memory can be seen.

Usage: python bench/pipeline_throughput.py [--enterprises 10000] [--months 36] [--batch-size 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.watchlist import LoanRow  # noqa: E402
from monitor.app import Loanwatch  # noqa: E402
from monitor.config import parse_config  # noqa: E402
from monitor.simulate import simulate, write_events  # noqa: E402
from streams.sources import iter_lines  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enterprises", type=int, default=10_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--batch-size", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--store", default=None, help="store URL (default: a fresh SQLite file)")
    ap.add_argument("--detect-every", type=int, default=None,
                    help="events between detection passes (default: config default, every batch; "
                         "0 = once at the end, as `loanwatch ingest --backfill`)")
    args = ap.parse_args()
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {os.cpu_count()} cores, {mem_gib:.0f} GiB; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        pf = simulate(n_enterprises=args.enterprises, months=args.months, seed=args.seed)
        path = Path(tmp) / "events.jsonl"
        t0 = time.perf_counter()
        stats = write_events(pf, path)
        print(f"wrote {stats.lines:,} lines in {time.perf_counter() - t0:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)")
        cfg = parse_config({"global": {"store": args.store or f"sqlite:///{tmp}/bench.db",
                                       "batch_size": args.batch_size},
                            "banks": [{"id": "bench", "name": "bench", "min_severity": "medium"}]})
        base_rss = rss_mib()
        app = Loanwatch(cfg)
        app.bank("bench").watch(LoanRow(e.enterprise_id, f"L{i}", 1e6, None, None, e.name)
                                for i, e in enumerate(pf.enterprises))
        del pf
        samples = []
        step = max(1, stats.lines // 10)
        done = 0

        def lines():
            nonlocal done
            for item in iter_lines(str(path)):
                done += 1
                if done % step == 0:
                    samples.append((done, round(rss_mib())))
                yield item

        t0 = time.perf_counter()
        result = app.ingest(lines(), detect_every=args.detect_every)
        elapsed = time.perf_counter() - t0
        app.close()
    total = result.accepted + result.duplicates + sum(result.rejected.values())
    out = {
        "enterprises": args.enterprises, "months": args.months, "batch_size": args.batch_size,
        "detect_every_events": cfg.detect_every_events if args.detect_every is None else args.detect_every,
        "events_in": total, "accepted": result.accepted, "duplicates": result.duplicates,
        "rejected": sum(result.rejected.values()), "alerts": dict(result.alerts),
        "seconds": round(elapsed, 1), "events_per_second": round(total / elapsed),
        "rss_before_pipeline_mib": round(base_rss), "peak_rss_mib": round(resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_by_events": samples,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
