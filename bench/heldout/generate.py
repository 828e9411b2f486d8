"""A held-out portfolio, written without looking at Loanwatch's simulator or detectors.

Usage: python bench/heldout/generate.py --out DIR [--firms 3000] [--months 36] [--seed 7]
       [--start 2023-01] [--default-rate 0.07] [--history-months 0]

Writes to DIR:
  events.jsonl   every event under the README's contract, in arrival order, each with an extra top-level
                 "arrival": "YYYY-MM-DD" (the day the platform published it; the contract ignores it)
  outcomes.csv   enterprise_id,default_period for the firms that defaulted
  truth.json     per firm: sector, size, archetype, decline start, channels, episodes; the parameters
  watchlist.csv  one bank's loans, every firm (the README's watchlist format)
  profiles.jsonl per firm: industry (GB/T 4754 section), region code, registered capital, established, name

The model, and why it is built so (modelling choices, not measurements):

City and firms. A Yangtze-delta manufacturing city (Suzhou: ten districts, their courts, 苏05xx case
numbers). Eight sectors (manufacturing, construction, retail, logistics, catering, software, business
services, resident services; ``sectors.py``) differ in size, churn, festival habits, seasonal staff,
meters and litigation. Sizes are lognormal per sector with a Pareto tail of large employers: about two thirds
of firms have under 20 insured staff, a few exceed 500; individual businesses have 1-6. 6 % of firms are
founded during the span and start small and growing. Each firm's constants are its sector's times a
firm-level draw. 24 months are simulated before the span and not published (``--history-months`` hands
some of them over as an onboarding extract on the span's first day), so trends and declines can predate
the feed.

Staff. Insured staff follow a target (the firm's plan plus an AR(1) wander). Leavers are binomial with a
gamma-noisy monthly rate; staff above need are let go slowly; hires close part of the gap (Poisson, over-
dispersed). Joiners and leavers are what the social-insurance record reports, so small firms' counts are
genuinely Poisson-small. The festival (dated from the lunar calendar, so it moves from late January to mid
February) makes migrant staff leave before it and, mostly, not come back, which peaks departures in the
months after it (more in manufacturing, construction, logistics); hiring stops over the holiday and booms
after it; software and service staff change jobs a month or two later, after year-end bonuses. Seasonal
firms staff up for their season (logistics for November's shopping festival, retail before the festival,
exporters in autumn, construction outside the plum-rain season); construction crews jump with projects.

Meters. Electricity, water and gas (only firms metered in their own name; shared offices have none) follow
staff with a firm-specific elasticity, the sector's production season, festival shutdown days (per firm,
counted in days from the festival, so the dip moves between January and February), summer cooling and
winter heating (each summer its own heat), noise (AR(1), larger for small firms). Some water meters are
read every two months. Housing-fund contributors are a fixed share of staff; the amount steps each July.

Healthy life. Growth phases, planned downsizing (half of it automation: fewer people, same usage), a lost
contract (staff and usage dip and recover over months), temporary shutdowns (often after an environmental
or safety penalty), meters replaced (a near-zero month, then a catch-up) or recalibrated (a lasting step),
rooftop solar (grid electricity falls, most in summer), relocations, months of missing records, and rare
alarming exits of sound firms (staff moved to a group company, an orderly wind-down). Courts: every firm
is sued and sues at base rates by size and sector (``legal.py``); penalties by sector; small tax slips;
annual-report abnormal-operation listings each July, mostly removed; consumption-restriction orders over
small disputes, lifted once paid; register changes (legal representative, shareholders, address, scope,
capital) at base rates, and from July 2024 a wave of capital cuts by sound firms (the 2024 Company Law's
five-year paid-in rule).

The economy. A property-chain slump (construction, building-materials makers and traders: staff and usage
down, hiring frozen, suits up, more defaults), a district lockdown of about two weeks (昆山: sites shut,
usage of all its firms down), and summer power rationing for heavy industrial users.

Default. 7 % of firms default within the span (propensity by sector, a little higher for small and young
firms, doubled in the property chain, whose defaults cluster after the slump), after a decline of 2 to 18
months of one archetype (``plans.ARCHETYPES``): attrition, hiring freeze, layoffs, utility-led,
litigation-led (suppliers 买卖合同纠纷, lenders 借款合同纠纷 / 金融借款合同纠纷 / 民间借贷纠纷), wage
arrears (劳动争议, 追索劳动报酬纠纷, quitting, social insurance and housing fund stopped), admin decay (tax
arrears, abnormal-operation listing, a new legal representative, capital cut), or quiet (nothing much until
the last months). Each adds secondary signs at random, and each firm has its own loudness, so some slides
are faint. Court listings (限制高消费令, 失信被执行人) come near the default month; afterwards the lending
bank sues, and the firm either closes (staff and usage collapse, records stop) or goes on degraded.

The feed (``feed.py``): a month's records arrive in the next month in agency batches (most by the 15th,
water often later), some later that month, 3 % one to three months late, 0.4 % never; one social-insurance
batch comes on the 26th and one a month late, one grid batch on the 20th; 1.2 % are re-sent with the same
event id; 1.5 % of headcount records are corrected later (back-payments), 1.2 % of meter readings are
first published as estimates (last month's figure) and corrected; court cases are published days to weeks
after filing, register changes within days.

Everything is drawn from ``numpy.random.SeedSequence(seed)``: the same arguments give the same files.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.heldout.cli import EXIT_BAD_INPUT, run  # noqa: E402
from bench.heldout.feed import FeedParams, build_feed  # noqa: E402
from bench.heldout.identity import DISTRICTS, person_name  # noqa: E402
from bench.heldout.legal import discrete_events  # noqa: E402
from bench.heldout.months import month_text, parse_month  # noqa: E402
from bench.heldout.plans import ARCHETYPES, DEFAULT_RATE, Horizon, Plan, build_plan  # noqa: E402
from bench.heldout.population import Firms, draw_firms  # noqa: E402
from bench.heldout.sectors import SECTORS  # noqa: E402
from bench.heldout.series import Series, simulate_series  # noqa: E402

__all__ = ["Portfolio", "generate", "write", "size_band", "BURN_IN", "EXIT_BAD_INPUT"]

BURN_IN = 24
# Records of the span's last month are published up to this many months later (late, then corrected).
FEED_TAIL_MONTHS = 8
SIZE_BANDS = ((20, "<20"), (50, "20-49"), (150, "50-149"), (10**9, "150+"))


def size_band(staff: int) -> str:
    return next(label for limit, label in SIZE_BANDS if staff < limit)


class Portfolio:
    """Everything one run produced, before it is written."""

    def __init__(self, seed: int, hz: Horizon, firms: Firms, plan: Plan, series: Series,
                 lines: list[str], feed_stats: dict[str, Any], args: dict[str, Any]) -> None:
        self.seed, self.hz, self.firms, self.plan, self.series = seed, hz, firms, plan, series
        self.lines, self.feed_stats, self.args = lines, feed_stats, args


def generate(firms: int = 3000, months: int = 36, seed: int = 7, start: str = "2023-01",
             default_rate: float = DEFAULT_RATE, history_months: int = 0) -> Portfolio:
    """Build a portfolio in memory. ValueError says which argument is wrong."""
    if firms < 20:
        raise ValueError(f"--firms must be at least 20, got {firms}")
    if not 12 <= months <= 120:
        raise ValueError(f"--months must be 12-120, got {months}")
    if not 0.0 <= default_rate <= 0.5:
        raise ValueError(f"--default-rate must be 0-0.5, got {default_rate}")
    if not 0 <= history_months <= BURN_IN:
        raise ValueError(f"--history-months must be 0-{BURN_IN}, got {history_months}")
    span_start = parse_month(start)
    today = date.today()
    latest_end = today.year * 12 + today.month - 1 - FEED_TAIL_MONTHS
    if span_start + months - 1 > latest_end:
        raise ValueError(
            f"a span ending in {month_text(span_start + months - 1)} would still be published after today; "
            f"choose --start {month_text(latest_end - months + 1)} or earlier"
        )
    hz = Horizon(first=span_start - BURN_IN, burn_in=BURN_IN, months=months)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    f = draw_firms(streams[0], firms, hz.first, hz.span_start, months)
    plan = build_plan(streams[1], f, hz, default_rate)
    series = simulate_series(streams[2], f, plan, hz)
    discrete = discrete_events(streams[3], f, plan, hz, hz.burn_in - history_months)
    lines, stats = build_feed(streams[4], seed, f, plan, series, discrete, hz, history_months)
    args = {"firms": firms, "months": months, "seed": seed, "start": start, "default_rate": default_rate,
            "history_months": history_months}
    return Portfolio(seed, hz, f, plan, series, lines, stats, args)


def _truth(p: Portfolio) -> dict[str, Any]:
    f, plan, hz, s = p.firms, p.plan, p.hz, p.series
    b = hz.burn_in
    firms = {}
    for i in range(f.n):
        seen = np.flatnonzero(plan.reporting[i, b:])
        first, last = (int(seen[0]), int(seen[-1])) if len(seen) else (0, -1)
        ts = int(plan.decline_start[i])
        at = ts - 1 if ts >= 0 else b + first
        size = int(s.insured[i, max(at, int(f.entry[i]))])
        row = {
            "name": f.names[i],
            "sector": SECTORS[f.sector[i]].key,
            "industry": SECTORS[f.sector[i]].section,
            "region": DISTRICTS[f.district[i]].code,
            "property_chain": bool(f.property_chain[i]),
            "individual_business": bool(f.individual[i]),
            "size": size,
            "size_band": size_band(size),
            "size_at": hz.period(max(at, int(f.entry[i]))),
            "first_period": hz.period(b + first),
            "last_period": hz.period(b + last),
            "observed_months": last - first + 1,
            "meters": [k for k, v in f.meters.items() if v[i]],
            "housing_fund": bool(f.hf_member[i]),
            "defaulted": bool(plan.default_month[i] >= 0),
            **plan.truth[i],
        }
        firms[f.ids[i]] = row
    params = {
        "burn_in_months": BURN_IN,
        "sectors": [asdict(x) for x in SECTORS],
        "archetypes": {k: {"share": v[0], "decline_months": list(v[1]), "what": v[2]} for k, v in ARCHETYPES.items()},
        "feed": asdict(FeedParams()),
    }
    return {
        "generator": "bench/heldout/generate.py",
        "args": p.args,
        "span": {"start": month_text(hz.span_start), "end": month_text(hz.span_start + hz.months - 1),
                 "months": hz.months},
        "shocks": plan.shocks,
        "feed": p.feed_stats,
        "params": params,
        "firms": firms,
    }


def write(p: Portfolio, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    f, plan, hz = p.firms, p.plan, p.hz
    with open(out / "events.jsonl", "w", encoding="utf-8") as fh:
        fh.write("\n".join(p.lines) + "\n")
    defaulters = sorted((f.ids[i], hz.period(int(plan.default_month[i]))) for i in np.flatnonzero(plan.default_month >= 0))
    with open(out / "outcomes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["enterprise_id", "default_period"])
        w.writerows(defaulters)
    (out / "truth.json").write_text(json.dumps(_truth(p), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    rng = np.random.default_rng(np.random.SeedSequence(p.seed).spawn(6)[5])
    span_first = date(hz.span_start // 12, hz.span_start % 12 + 1, 1)
    managers = [person_name(rng) for _ in range(12)]
    with open(out / "watchlist.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["enterprise_id", "loan_id", "exposure", "due_date", "relationship_manager", "name"])
        serial = 0
        for i in range(f.n):
            for _ in range(1 + int(rng.random() < 0.15)):
                serial += 1
                scale = 200_000 if f.individual[i] else 300_000 * float(f.size[i]) ** 0.75
                exposure = round(float(scale * np.exp(0.6 * rng.standard_normal())), -4) or 10_000.0
                due = span_first + timedelta(days=int(rng.integers(90, 365 * 4)))
                w.writerow([f.ids[i], f"SZL{span_first.year}{serial:06d}", f"{exposure:.0f}", due.isoformat(),
                            managers[int(rng.integers(0, len(managers)))], f.names[i]])
    with open(out / "profiles.jsonl", "w", encoding="utf-8") as fh:
        for i in range(f.n):
            fh.write(json.dumps({
                "enterprise_id": f.ids[i],
                "industry": SECTORS[f.sector[i]].section,
                "region": DISTRICTS[f.district[i]].code,
                "registered_capital": float(f.capital[i]),
                "established": f.established[i].isoformat(),
                "name": f.names[i],
            }, ensure_ascii=False) + "\n")
    return {"events": len(p.lines), "firms": f.n, "defaulters": len(defaulters)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--firms", type=int, default=3000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default="2023-01", help="first month of the span, YYYY-MM")
    ap.add_argument("--default-rate", type=float, default=DEFAULT_RATE)
    ap.add_argument("--history-months", type=int, default=0,
                    help="months before the span handed over on its first day, as an onboarding extract")
    args = ap.parse_args(argv)

    def work() -> None:
        t0 = time.process_time()
        portfolio = generate(args.firms, args.months, args.seed, args.start, args.default_rate, args.history_months)
        counts = write(portfolio, args.out)
        print(f"{counts['events']:,} events for {counts['firms']:,} firms ({counts['defaulters']} defaulters) "
              f"in {args.out}, {time.process_time() - t0:.1f} s CPU")

    return run("generate.py", work)


if __name__ == "__main__":
    sys.exit(main())
