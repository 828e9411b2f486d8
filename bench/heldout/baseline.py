"""The naive baseline: "headcount fell in each of the last 3 months", swept on the size of the fall.

Causal: the feed is replayed one arrival month at a time (``replay.py``),
duplicates (a repeated event id) change nothing and corrections replace the
month they correct, exactly as the contract says. After each month's
arrivals, every firm that received headcount records is looked at: if its
latest four published months p-3 .. p exist and insured staff fell in each of
the last three (strictly), and the total fall from p-3 to p is at least the
setting, it alerts, with the change period at the first month of that run
of falling months and raised in this arrival month. A firm that keeps
falling is one alert; a new run after a month without a fall is a new one.

Usage: python bench/heldout/baseline.py --data DIR [--falls 0,2,5,10,15,20,30,40,50] [--min-lead 3]
       [--json-out FILE]
Prints a table (setting, early share at raise time, false alerts per 100 healthy firm-years)
and, as its last line, the curve as JSON: {"name": ..., "min_lead": 3, "points": [...]}.
Exit codes: 0 done, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.heldout.cli import run  # noqa: E402
from bench.heldout.months import month_text, parse_month  # noqa: E402
from bench.heldout.replay import FeedState, arrival_months  # noqa: E402
from bench.heldout.score import Alert, load_outcomes, load_portfolio, score  # noqa: E402

__all__ = ["SIGNAL", "DEFAULT_FALLS", "naive_alerts", "curve", "falling_run"]

SIGNAL = "headcount_fell_3_months"
DEFAULT_FALLS = (0.0, 0.02, 0.05, 0.10, 0.15, 0.20, 0.30, 0.40, 0.50)


def falling_run(series: dict[int, int]) -> tuple[int, float] | None:
    """(first month of the falling run, fall over the last three months) if the last three months fell.

    >>> falling_run({0: 10, 1: 9, 2: 8, 3: 7})
    (1, 0.3)
    >>> falling_run({0: 10, 1: 9, 2: 9, 3: 7}) is None
    True
    """
    p = max(series)
    values = [series.get(p - k) for k in range(4)]  # p, p-1, p-2, p-3
    if any(v is None for v in values) or not values[0] < values[1] < values[2] < values[3]:
        return None
    start = p - 2
    while start - 2 in series and series[start - 1] < series[start - 2]:
        start -= 1
    return start, round((values[3] - values[0]) / values[3], 12)


def naive_alerts(events_path: Path, falls: Sequence[float] = DEFAULT_FALLS) -> dict[float, list[Alert]]:
    """The alerts each setting raises over a replay of the feed, in the order they are raised."""
    state = FeedState({"headcount"})
    alerted: dict[float, set[tuple[str, int]]] = {x: set() for x in falls}
    out: dict[float, list[Alert]] = {x: [] for x in falls}
    for month, lines in arrival_months(events_path):
        touched = {eid for eid in (state.apply(line, month) for line in lines) if eid is not None}
        for eid in sorted(touched):
            series = state.series(eid, "headcount")
            run = falling_run({parse_month(p): int(d["insured"]) for p, d in series.items()})
            if run is None:
                continue
            start, fall = run
            for x in falls:
                if fall >= x and (eid, start) not in alerted[x]:
                    alerted[x].add((eid, start))
                    out[x].append(Alert(eid, SIGNAL, month_text(start), month))
    return out


def curve(data: Path, falls: Sequence[float] = DEFAULT_FALLS, min_lead: int = 3) -> dict[str, Any]:
    """The baseline's trade-off on a generated portfolio, one point per setting."""
    span, firms = load_portfolio(data)
    outcomes = load_outcomes(data / "outcomes.csv")
    points = []
    for x, alerts in naive_alerts(data / "events.jsonl", falls).items():
        card = score(alerts, outcomes, span, firms, min_lead)
        points.append({
            "setting": f"fell 3 months, >= {100 * x:g} %",
            "min_fall": x,
            "early_share": round(card.early_share, 4),
            "early": card.early,
            "defaulters": card.defaulters,
            "median_lead": card.lead_raise[1] if card.lead_raise else None,
            "false_per_100": round(card.false_per_100, 3),
            "false_alerts": card.false_alerts,
            "false_by_year": {str(y.year): round(y.per_100, 3) for y in card.false_by_year},
            "recall_by_band": {b.band: [b.early, b.defaulters] for b in card.recall_by_band},
        })
    return {"name": "naive_headcount_fell_3_months", "data": str(data), "min_lead": min_lead, "points": points}


def _table(result: dict[str, Any]) -> str:
    k = result["min_lead"]
    rows = [f"{'setting':<26} {'early >= ' + str(k) + ' months':>20} {'false / 100 firm-yrs':>21}  by year raised"]
    for p in result["points"]:
        years = ", ".join(f"{y} {v:.2f}" for y, v in p["false_by_year"].items())
        early = f"{100 * p['early_share']:.1f} % ({p['early']}/{p['defaulters']})"
        rows.append(f"{p['setting']:<26} {early:>20} {p['false_per_100']:>21.2f}  {years}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="directory written by generate.py")
    ap.add_argument("--falls", default=",".join(f"{100 * x:g}" for x in DEFAULT_FALLS),
                    help="total falls over the three months, in percent, comma-separated")
    ap.add_argument("--min-lead", type=int, default=3)
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)

    def work() -> None:
        try:
            falls = tuple(sorted({float(x) / 100 for x in args.falls.split(",") if x.strip()}))
        except ValueError:
            raise ValueError(f"--falls {args.falls!r} is not a comma-separated list of percentages") from None
        result = curve(args.data, falls, args.min_lead)
        if args.json_out:
            args.json_out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(_table(result))
        print(json.dumps(result, ensure_ascii=False))

    return run("baseline.py", work)


if __name__ == "__main__":
    sys.exit(main())
