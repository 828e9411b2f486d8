"""How early Loanwatch warns of default, and at what cost in false alerts, measured at raise time.

A portfolio's feed is replayed through the real daemon (``Loanwatch.ingest``)
one month of arrivals at a time, detection running after each month as the
live daemon would, with one evaluation bank watching every enterprise at
minimum severity medium. An alert counts from the month in which it was
first raised, not from the change period it reports (that hindsight figure is
printed beside it, labelled). Next to it, on the same feed: the naive rule
"headcount fell in each of the last 3 months", swept on the size of the fall
(``bench/heldout/baseline.py``), so every figure stands next to a baseline at
an equal false-alert rate.

Feeds:

* ``--simulator --enterprises N --seed S``: Loanwatch's own simulator
  (``monitor.simulate``; tuning seeds 11 and 12, held-out seeds 23 and 24).
  A month's records arrive in their own month (the arrival month is the
  latest period the stream has reached).
* ``--data DIR``: a held-out portfolio from ``bench/heldout/generate.py``
  (events.jsonl with arrival dates, outcomes.csv, truth.json), written
  independently of Loanwatch; tuning seeds 1 and 2, held-out seeds 7 and 8.

``--budget B`` (repeatable) sets the evidence score's false-alert budget
(per 100 healthy firm-years, from which the daemon calibrates its threshold
on the portfolio itself), one replay each: that draws the trade-off curve.
``--previous`` runs the detectors as they were before the score, for
comparison. ``--json FILE`` writes every figure.

Usage: python bench/detection_quality.py --data /tmp/ho7 [--budget 1 --budget 2 --budget 4]
       python bench/detection_quality.py --simulator --enterprises 2000 --seed 23
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.fanout import AlertChange  # noqa: E402
from alerts.watchlist import LoanRow  # noqa: E402
from bench.heldout import baseline as naive  # noqa: E402
from bench.heldout.replay import arrival_months  # noqa: E402
from monitor.app import Loanwatch  # noqa: E402
from monitor.config import parse_config  # noqa: E402
from monitor.evaluate import AlertRecord, read_outcomes, score  # noqa: E402
from monitor.simulate import simulate, write_portfolio  # noqa: E402

# The detector set before the evidence score (December 2026): the single-signal detectors on, the score off.
# (Abnormal-operation listings and capital cuts were medium then; they are low now, so this is a lower bound
# on the previous set's false alerts.)
PREVIOUS_ON = ("headcount_drop", "departure_rate_rise", "workforce_attrition", "electricity_drop", "water_drop",
               "gas_drop", "housing_fund_drop", "lawsuit_surge", "penalty_surge")
PREVIOUS_OFF = ("distress_score",)


def _simulator_dir(n: int, seed: int, out: Path) -> Path:
    """Write the simulator's portfolio in the held-out layout: every line gets the month it arrived in."""
    pf = simulate(n_enterprises=n, seed=seed)
    paths = write_portfolio(pf, out)
    reached = ""
    with open(paths["events"], encoding="utf-8") as src, open(out / "feed.jsonl", "w", encoding="utf-8") as dst:
        for line in src:
            try:
                ev = json.loads(line)
                d = ev.get("data", {})
                period = d.get("period") or ev.get("occurred_at", "")[:7]
            except (ValueError, AttributeError):
                period = ""
            reached = max(reached, period) if len(period) == 7 else reached
            if isinstance(ev, dict) and reached:
                ev["arrival"] = f"{reached}-28"
                dst.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
    os.replace(out / "feed.jsonl", out / "events.jsonl")
    # the held-out layout's truth.json, so the same scorer and baseline read both feeds
    truth = {"generator": "monitor.simulate", "span": {"start": pf.start_period, "months": len(pf.periods)},
             "firms": {e.enterprise_id: {"name": e.name, "size": e.size, "first_period": e.first_period,
                                         "last_period": e.last_reported_period or pf.end_period}
                       for e in pf.enterprises}}
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
    return out


def _months(data: Path, profiles: bool) -> Iterator[tuple[str, list[str]]]:
    """The feed by arrival month; with ``profiles``, the registered profiles (profiles.jsonl) arrive first."""
    first = True
    for month, lines in arrival_months(data / "events.jsonl"):
        if first and profiles and (data / "profiles.jsonl").exists():
            lines = [*_profile_events(data / "profiles.jsonl", month), *lines]
        first = False
        yield month, lines


def _profile_events(path: Path, month: str) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            p = json.loads(line)
            data = {k: p[k] for k in ("industry", "region", "registered_capital", "established", "name") if k in p}
            out.append(json.dumps({"event_id": f"profile-{n}", "enterprise_id": p["enterprise_id"],
                                   "type": "enterprise_profile", "occurred_at": f"{month}-01T00:00:00+08:00",
                                   "source": "register", "data": data}, ensure_ascii=False))
    return out


def _portfolio(data: Path) -> tuple[dict[str, tuple[str, str]], dict[str, float], list[tuple[str, str | None]]]:
    """(first and last observed month per firm, size per firm, watchlist rows (id, name))."""
    truth = json.loads((data / "truth.json").read_text(encoding="utf-8"))
    firms = truth["firms"]
    rows = firms.items() if isinstance(firms, dict) else ((f["enterprise_id"], f) for f in firms)
    span, size, watch = {}, {}, []
    for eid, f in rows:
        span[eid] = (f["first_period"], f["last_period"])
        size[eid] = f["size"]
        watch.append((eid, f.get("name")))
    return span, size, watch


def _replay(months: list[tuple[str, list[str]]], watch: list[tuple[str, str | None]], budget: float | None,
            min_severity: str, disabled: tuple[str, ...] = (),
            enabled: tuple[str, ...] = ()) -> tuple[list[AlertRecord], Counter, int, float, float, tuple[float, str] | None]:
    """One replay through a fresh daemon: the alerts raised, with the arrival month they were raised in."""
    detectors: dict = {"distress_score": {"false_alert_budget": budget}} if budget is not None else {}
    for name in disabled:
        detectors.setdefault(name, {})["enabled"] = False
    for name in enabled:
        detectors.setdefault(name, {})["enabled"] = True
    raised: list[AlertRecord] = []
    kinds: Counter = Counter()
    now_month = [""]

    def on_alert(c: AlertChange) -> None:
        kinds[c.kind] += 1
        if c.kind in ("new", "escalated"):
            raised.append(AlertRecord(c.view.enterprise_id, c.view.signal, c.view.change_period, now_month[0],
                                      c.view.severity.label))

    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config({"global": {"store": f"sqlite:///{tmp}/eval.db", "batch_size": 20000,
                                       "detect_every_events": 0},
                            "detectors": detectors,
                            "banks": [{"id": "eval", "name": "eval", "min_severity": min_severity}]})
        app = Loanwatch(cfg, on_alert=on_alert)
        app.bank("eval").watch(LoanRow(eid, f"L{i}", 1e6, None, None, name) for i, (eid, name) in enumerate(watch))
        t0, cpu0 = time.perf_counter(), time.process_time()
        accepted = 0
        for month, lines in months:
            now_month[0] = month
            accepted += app.ingest([(None, ln) for ln in lines], detect_every=0).accepted
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        score_detector = app.pipeline.detectors.detectors.get("distress_score")
        threshold = (score_detector.effective_threshold(app.pipeline.peers.baseline())
                     if score_detector is not None else None)
        app.close()
    return raised, kinds, accepted, elapsed, cpu, threshold


def evaluate(data: Path, *, budgets: list[float | None], min_severity: str = "medium",
             lead: int = 3, disabled: tuple[str, ...] = (), enabled: tuple[str, ...] = (),
             profiles: bool = True) -> dict:
    outcomes = read_outcomes(data / "outcomes.csv")
    span, sizes, watch = _portfolio(data)
    months = list(_months(data, profiles))
    runs = []
    for h in budgets:
        raised, kinds, accepted, elapsed, cpu, threshold = _replay(months, watch, h, min_severity, disabled, enabled)
        card = score(raised, outcomes, span, lead_months=lead, sizes=sizes)
        false_by_signal = Counter(a.signal for a in {(a.enterprise_id, a.signal, a.change_period): a
                                                     for a in raised if a.enterprise_id not in outcomes}.values())
        runs.append({"budget": h, "final_threshold": threshold, "disabled": list(disabled), "enabled": list(enabled), "events": accepted, "seconds": round(elapsed, 1),
                     "cpu_seconds": round(cpu, 1), "score": card.to_dict(), "alert_changes": dict(kinds),
                     "false_by_signal": dict(false_by_signal.most_common())})
    return {"data": str(data), "runs": runs, "naive_baseline": naive.curve(data, min_lead=lead),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _line(run: dict) -> str:
    s = run["score"]
    label = "previous detectors" if "distress_score" in run["disabled"] else (
        f"budget {run['budget'] if run['budget'] is not None else 'default (2)'}")
    return (f"{label}: "
            f"{s['alerted_at_least_lead_before']}/{s['defaults']} = {100 * s['early_share']:.1f} % warned >= "
            f"{s['lead_required_months']} months ahead at raise time (median lead {s['median_lead_months']}; "
            f"hindsight {100 * s['hindsight']['early_share']:.1f} %), "
            f"{s['false_alerts_per_100_enterprise_years']:.2f} false alerts per 100 healthy firm-years "
            f"(by year {s['false_alerts_per_100_enterprise_years_by_year']}), recall by size {s['recall_by_size']}; "
            f"threshold at the end {run['final_threshold']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="a held-out portfolio directory (bench/heldout/generate.py)")
    ap.add_argument("--simulator", action="store_true", help="use Loanwatch's own simulator instead")
    ap.add_argument("--enterprises", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--budget", type=float, action="append",
                    help="false alerts per 100 healthy firm-years the score is calibrated for (repeatable)")
    ap.add_argument("--min-severity", default="medium")
    ap.add_argument("--lead", type=int, default=3)
    ap.add_argument("--no-profiles", action="store_true", help="do not feed profiles.jsonl as enterprise_profile events")
    ap.add_argument("--disable", action="append", default=[], help="switch a signal off (repeatable)")
    ap.add_argument("--enable", action="append", default=[], help="switch a signal on (repeatable)")
    ap.add_argument("--previous", action="store_true",
                    help="the detectors as they were before the evidence score (for comparison)")
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    args = ap.parse_args()
    if not args.simulator and args.data is None:
        ap.error("give --data DIR or --simulator")
    print(f"machine: {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or _simulator_dir(args.enterprises, args.seed, Path(tmp))
        result = evaluate(data, budgets=args.budget or [None], min_severity=args.min_severity, lead=args.lead,
                          disabled=tuple(args.disable) + (PREVIOUS_OFF if args.previous else ()),
                          enabled=tuple(args.enable) + (PREVIOUS_ON if args.previous else ()),
                          profiles=not args.no_profiles)
    if args.simulator:
        result["data"] = f"simulator seed {args.seed}, {args.enterprises} firms"
    for run in result["runs"]:
        print(_line(run), flush=True)
    print("naive baseline (headcount fell 3 months running), by minimum fall:")
    for row in result["naive_baseline"]["points"]:
        print(f"  fall >= {row['min_fall']:.0%}: {100 * row['early_share']:.1f} % warned, "
              f"{row['false_per_100']:.2f} false per 100 firm-years")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
