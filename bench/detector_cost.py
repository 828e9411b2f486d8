"""Cost of ``DetectorSet.run`` per call on full simulated histories, and per detector.

The default set (the evidence score and the rules) is timed against the set
before the score (the single-signal detectors, score off) in turns, A/B/A/B,
and the peer contribution the pipeline computes for every touched firm at
ingest (``detectors.peers.firm_sums``) on its own.

Builds every firm's history from a seeded portfolio (``monitor.simulate``,
``--months`` of data, 48 by default: the daemon's ``history_months``), then
times ``DetectorSet.run`` on each history, as the pipeline calls it once per
touched enterprise per detection pass. CPU time of this process (not wall
time), best of ``--repeat`` passes, so other work on the machine does not
inflate the figure.

Usage: python bench/detector_cost.py [--enterprises 400] [--months 48] [--seed 11]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.peers import PeerBaseline, add_sums, firm_sums  # noqa: E402
from detectors.records import History  # noqa: E402
from detectors.registry import build_detectors  # noqa: E402
from detectors.signals import CATALOGUE  # noqa: E402
from monitor.simulate import iter_events, simulate  # noqa: E402
from store.history import apply_event  # noqa: E402
from streams.contract import validate  # noqa: E402
from streams.records import Event  # noqa: E402


def histories(n: int, months: int, seed: int) -> list[History]:
    pf = simulate(n_enterprises=n, months=months, seed=seed)
    out: dict[str, History] = {}
    for raw in iter_events(pf):
        e = validate(raw)
        if not isinstance(e, Event):
            continue
        apply_event(out.setdefault(e.enterprise_id, History(e.enterprise_id)), e)
    return list(out.values())


def cpu_us(fn, items, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for h in items:
            fn(h)
        best = min(best, time.process_time() - t0)
    return 1e6 * best / len(items)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enterprises", type=int, default=400)
    ap.add_argument("--months", type=int, default=48)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    hs = histories(args.enterprises, args.months, args.seed)
    sums: dict = {}
    for h in hs:
        add_sums(sums, firm_sums(h))
    peers = PeerBaseline.from_sums(sums)
    sets = {"default (evidence score and rules)": build_detectors(),
            "before the score (single-signal detectors)": build_detectors(
                only=[s for s in CATALOGUE if s != "distress_score"])}
    print(f"{len(hs)} histories of up to {args.months} months, CPU time, best of {args.repeat}:")
    for _ in range(2):  # A/B/A/B
        for name, ds in sets.items():
            ds.run(hs[0], peers=peers)  # warm caches (festival months, window indices)

            def cold(h: History, ds=ds) -> None:
                h.memo.clear()  # every detector runs, as after an enterprise's whole month changed
                ds.run(h, peers=peers)

            print(f"  {name:45s} DetectorSet.run {cpu_us(cold, hs, args.repeat):6.0f} us per call")
    ds = sets["default (evidence score and rules)"]
    ds.run(hs[0], peers=peers)
    same = cpu_us(lambda h: ds.run(h, peers=peers), hs, args.repeat)
    print(f"  default again on unchanged tables (rule findings reused): {same:.0f} us per call")
    for name, det in ds.detectors.items():
        print(f"  {name:30s} {cpu_us(lambda h, d=det: d.detect(h, peers=peers), hs, args.repeat):7.1f} us alone")
    print(f"  peer contribution at ingest (firm_sums) {cpu_us(firm_sums, hs, args.repeat):7.1f} us per firm")


if __name__ == "__main__":
    main()
