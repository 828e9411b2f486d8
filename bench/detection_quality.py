"""Detection quality on a simulated portfolio: early warnings of default, false alerts.

Runs a seeded synthetic portfolio (``monitor.simulate``) through the real
pipeline in arrival order, with one evaluation bank that watches every
enterprise at a chosen minimum severity, and scores the alerts against the
simulator's ground truth:

* share of defaulting firms alerted at least 3 months before default (by the
  data period at which the first alert fired);
* alerts on firms that did not default, per 100 enterprise-years of data.

Usage: python bench/detection_quality.py [--enterprises 2000] [--seed 11] [--min-severity medium]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from alerts.fanout import AlertChange  # noqa: E402
from alerts.watchlist import LoanRow  # noqa: E402
from detectors.periods import months_between  # noqa: E402
from monitor.app import Loanwatch  # noqa: E402
from monitor.config import parse_config  # noqa: E402
from monitor.evaluate import AlertRecord, score  # noqa: E402
from monitor.simulate import iter_lines, simulate  # noqa: E402


def evaluate(n: int, seed: int, min_severity: str, detectors: dict | None = None, verbose: bool = True,
             detect_every: int | None = None, pipeline_cadence: bool = False) -> dict:
    """``detect_every``: events between detection passes (default about half a month of the portfolio's
    events). A bank hears of a change when detection runs; at city scale the daemon's 20000-event
    cadence examines every month's records in the month they arrive, and a small portfolio needs a
    proportionally small cadence to be judged the same way (see ``replay_detectors.half_month_of_events``)."""
    detect_every = detect_every or max(500, round(1.75 * n))
    pf = simulate(n_enterprises=n, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config({"global": {"store": f"sqlite:///{tmp}/eval.db", "batch_size": detect_every,
                                       "detect_every_events": detect_every},
                            "detectors": detectors or {},
                            "banks": [{"id": "eval", "name": "eval", "min_severity": min_severity}]})
        raised: list[AlertRecord] = []
        kinds: Counter = Counter()
        app: Loanwatch

        def on_alert(c: AlertChange) -> None:
            kinds[c.kind] += 1
            if c.kind in ("new", "escalated"):
                raised.append(AlertRecord(c.view.enterprise_id, c.view.signal, c.view.change_period,
                                          app.pipeline.watermark or "", c.view.severity.label))

        app = Loanwatch(cfg, on_alert=on_alert)
        app.bank("eval").watch(LoanRow(e.enterprise_id, f"L{i}", 1e6, None, None, e.name)
                               for i, e in enumerate(pf.enterprises))
        detectors = app.pipeline.detectors
        run_calls, run_seconds = 0, 0.0
        inner_run = detectors.run

        def timed_run(history):
            nonlocal run_calls, run_seconds
            t = time.perf_counter()
            try:
                return inner_run(history)
            finally:
                run_seconds += time.perf_counter() - t
                run_calls += 1

        detectors.run = timed_run  # instance attribute: times every DetectorSet.run the pipeline makes
        t0 = time.perf_counter()
        if pipeline_cadence:
            stats = app.ingest((None, line) for line in iter_lines(pf))
            accepted = stats.accepted
        else:
            # One full detection pass per ``detect_every`` events: every enterprise touched since the
            # last pass is examined (Pipeline.detect_pending runs until none is pending). The daemon's
            # per-batch pass examines at most DETECT_CHUNK enterprises, lowest ids first, which starves
            # the rest of a large portfolio until the end of the ingest.
            accepted = 0
            lines = iter_lines(pf)
            while chunk := list(itertools.islice(lines, detect_every)):
                accepted += app.ingest([(None, line) for line in chunk], detect_every=0).accepted
        elapsed = time.perf_counter() - t0
        with app.engine.connect() as c:
            raw_detections = c.execute(text("select count(*) from detections where status != 'historical'")).scalar()
        app.close()
    outcomes = {o.enterprise_id: o.default_period for o in pf.outcomes}
    months = {e.enterprise_id: len(pf.periods) for e in pf.enterprises}
    card = score(raised, outcomes, months)
    truth = {e.enterprise_id: e for e in pf.enterprises}
    first: dict[str, AlertRecord] = {}
    for a in sorted(raised, key=lambda a: a.raised_at_period):
        first.setdefault(a.enterprise_id, a)
    false_by_signal = Counter(a.signal for a in {(a.enterprise_id, a.signal, a.change_period): a
                                                 for a in raised if a.enterprise_id not in outcomes}.values())
    false_by_profile = Counter(truth[a.enterprise_id].profile for a in raised if a.enterprise_id not in outcomes)
    late_or_missed = Counter()
    for eid in outcomes:
        a = first.get(eid)
        arch = truth[eid].archetype
        if a is None:
            late_or_missed[f"missed:{arch}"] += 1
        elif card and months_between(a.raised_at_period, outcomes[eid]) < 3:
            late_or_missed[f"late:{arch}"] += 1
    first_signal = Counter(first[e].signal for e in outcomes if e in first)
    result = {
        "enterprises": n, "seed": seed, "min_severity": min_severity, "detect_every_events": detect_every,
        "events": accepted, "pipeline_cadence": pipeline_cadence,
        "seconds": round(elapsed, 1), "events_per_second": round(accepted / elapsed),
        "detector_runs": run_calls, "us_per_detector_run": round(1e6 * run_seconds / max(run_calls, 1), 1),
        "score": card.to_dict(), "alerts": dict(kinds), "raw_detections": raw_detections,
        "false_by_signal": dict(false_by_signal.most_common()), "false_by_profile": dict(false_by_profile),
        "late_or_missed_by_archetype": dict(late_or_missed.most_common()),
        "first_alert_signal_on_defaults": dict(first_signal.most_common()),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if verbose:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enterprises", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--min-severity", default="medium")
    ap.add_argument("--pipeline-cadence", action="store_true",
                    help="detect as Pipeline.process does (at most DETECT_CHUNK enterprises per pass)")
    ap.add_argument("--detect-every", type=int, default=None,
                    help="events between detection passes (default: about half a month of the portfolio's events)")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB", flush=True)
    evaluate(args.enterprises, args.seed, args.min_severity, detect_every=args.detect_every,
             pipeline_cadence=args.pipeline_cadence)


if __name__ == "__main__":
    main()
