"""What the feed had shown by default minus N months: each sign among defaulters against healthy firm-months.

For every defaulter the replay stops at the end of arrival month
``default - N`` (only what had been published by then) and notes which
plain signs are visible. For healthy firms the same signs are noted at the
end of every arrival month from the 13th of the span on (a year of history
is needed for the year-earlier comparisons), so the base rate covers every
season. The likelihood ratio (share among defaulters / share among healthy
firm-months) says how much a sign alone is worth; the last rows say how
many defaulters show none of them, by size band: that is where plain
evidence runs out, whatever a detector does with it.

Usage: python bench/heldout/evidence.py --data DIR [--lead 3] [--json]
Exit codes: 0 done, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.heldout.cli import run  # noqa: E402
from bench.heldout.months import month_text, parse_month  # noqa: E402
from bench.heldout.replay import FeedState, arrival_months  # noqa: E402
from bench.heldout.score import SIZE_BANDS, load_outcomes, load_portfolio  # noqa: E402

__all__ = ["SIGNS", "signs_at", "evidence"]

# Causes that say the firm is short of cash: staff, suppliers, landlords, lenders.
CASH_CAUSES = ("劳动", "劳动报酬", "经济补偿", "买卖合同", "承揽合同", "租赁合同", "借款合同", "民间借贷", "融资租赁")


def _yoy(series: dict[str, dict], field: str, months: int) -> tuple[float, float] | None:
    """Sum of ``field`` over the last ``months`` published months and over the same months a year earlier."""
    if not series:
        return None
    last = parse_month(max(series))
    try:
        now = sum(float(series[month_text(last - k)][field]) for k in range(months))
        before = sum(float(series[month_text(last - 12 - k)][field]) for k in range(months))
    except KeyError:  # a month is missing: no comparison
        return None
    return now, before


def _recent(state: FeedState, eid: str, month: int, within: int, test: Callable[[dict], bool]) -> int:
    return sum(1 for arrived, e in state.events.get(eid, []) if parse_month(arrived) > month - within and test(e))


def _cash_suit(e: dict) -> bool:
    d = e["data"]
    return (e["type"] == "lawsuit" and d["role"] == "defendant" and d["stage"] == "filed"
            and any(c in d["cause"] for c in CASH_CAUSES))


def _admin(e: dict) -> bool:
    d = e["data"]
    return (e["type"] in ("tax_arrears", "dishonest_debtor", "consumption_restriction")
            or (e["type"] == "abnormal_operation" and d["status"] == "listed" and "无法联系" in d["reason"])
            or (e["type"] == "registration_change" and d["field"] == "legal_representative"))


def signs_at(state: FeedState, eid: str, month: int) -> dict[str, bool]:
    """The plain signs visible for ``eid`` at the end of arrival month ``month``."""
    staff = state.series(eid, "headcount")
    out: dict[str, bool] = {}
    insured = _yoy(staff, "insured", 1)
    out["staff down >= 15 % on a year earlier"] = insured is not None and insured[0] <= 0.85 * insured[1]
    left = _yoy(staff, "left", 3)
    out["leavers (3 months) >= 1.8 x a year earlier"] = left is not None and left[0] >= max(2.0, 1.8 * left[1])
    joined = _yoy(staff, "joined", 3)
    out["joiners (3 months) <= 0.3 x a year earlier"] = joined is not None and joined[1] >= 2 and joined[0] <= 0.3 * joined[1]
    fund = _yoy(state.series(eid, "housing_fund"), "contributors", 1)
    out["housing-fund contributors down >= 50 %"] = fund is not None and fund[0] <= 0.5 * fund[1]
    power = _yoy(state.series(eid, "utility", "electricity"), "amount", 2)
    out["electricity (2 months) <= 70 % of a year earlier"] = power is not None and power[0] <= 0.7 * power[1]
    suits = _recent(state, eid, month, 6, _cash_suit)
    out["a cash-shortage suit as defendant (6 months)"] = suits >= 1
    out["two or more such suits (6 months)"] = suits >= 2
    out["tax arrears, court listing, unreachable, new legal rep (6 months)"] = _recent(state, eid, month, 6, _admin) >= 1
    return out


SIGNS = tuple(signs_at(FeedState(), "", 0))


def _band(size: int) -> str:
    return next(label for limit, label in SIZE_BANDS if size < limit)


def evidence(data: Path, lead: int = 3) -> dict[str, Any]:
    span, firms = load_portfolio(data)
    outcomes = load_outcomes(data / "outcomes.csv")
    due: dict[int, list[str]] = {}
    for eid, period in outcomes.items():
        due.setdefault(parse_month(period) - lead, []).append(eid)
    healthy = [eid for eid in firms if eid not in outcomes]
    state = FeedState({"headcount", "utility", "housing_fund", "lawsuit", "tax_arrears", "dishonest_debtor",
                       "consumption_restriction", "abnormal_operation", "registration_change"})
    d_hits, h_hits, none_by_band, n_by_band = Counter(), Counter(), Counter(), Counter()
    d_n = h_n = 0
    for text, lines in arrival_months(data / "events.jsonl"):
        for line in lines:
            state.apply(line, text)
        month = parse_month(text)
        for eid in due.get(month, []):
            signs = signs_at(state, eid, month)
            d_n += 1
            d_hits.update(k for k, v in signs.items() if v)
            band = _band(firms[eid].size)
            n_by_band[band] += 1
            none_by_band[band] += not any(signs.values())
        if span.first + 12 <= month <= span.last:
            for eid in healthy:
                if eid in state.monthly:
                    h_n += 1
                    h_hits.update(k for k, v in signs_at(state, eid, month).items() if v)
    rows = []
    for sign in SIGNS:
        d_share, h_share = d_hits[sign] / max(d_n, 1), h_hits[sign] / max(h_n, 1)
        rows.append({"sign": sign, "defaulters": round(d_share, 4), "healthy": round(h_share, 4),
                     "likelihood_ratio": round(d_share / h_share, 2) if h_share else None})
    return {"lead": lead, "defaulters": d_n, "healthy_firm_months": h_n, "signs": rows,
            "no_sign_by_band": {b: [none_by_band[b], n_by_band[b]] for _, b in SIZE_BANDS}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="directory written by generate.py")
    ap.add_argument("--lead", type=int, default=3, help="months before default")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    return run("evidence.py", lambda: _report(evidence(args.data, args.lead), args.json))


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print(f"signs visible at default - {result['lead']} months: {result['defaulters']} defaulters, "
          f"{result['healthy_firm_months']:,} healthy firm-months")
    print(f"{'sign':<66} {'defaulters':>10} {'healthy':>8} {'LR':>6}")
    for r in result["signs"]:
        lr = f"{r['likelihood_ratio']:.1f}" if r["likelihood_ratio"] is not None else "-"
        print(f"{r['sign']:<66} {100 * r['defaulters']:>9.1f}% {100 * r['healthy']:>7.1f}% {lr:>6}")
    print("defaulters with none of these signs, by size band: " + ", ".join(
        f"{b} {x[0]}/{x[1]}" for b, x in result["no_sign_by_band"].items()))

if __name__ == "__main__":
    sys.exit(main())
