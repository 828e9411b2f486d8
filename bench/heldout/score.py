"""Score alerts against a held-out portfolio at raise time: how early a bank would really have been warned.

An alert is (enterprise_id, signal, change_period, raised_at_month), where
``raised_at_month`` is the arrival month in which it was first raised. For a
defaulter, the warning is its first alert raised before the default month
(one raised in or after it warns of nothing); lead at raise time is default
month minus raise month. Hindsight lead, default month minus the earliest
change period those same warnings report, is printed beside it and labelled
as such: it is what a backtest that ignores arrival would claim.

A false alert is a distinct (signal, change_period) on a firm that did not
default, counted once at the month it was first raised; the rate is per 100
healthy firm-years, a firm-year counting the months the firm was observed
(its first to last published headcount month within the span). By year of
raising, alerts raised after the span (from late arrivals) count in its
last year.

Usage: python bench/heldout/score.py --data DIR --alerts ALERTS.csv [--min-lead 3] [--json]
       DIR holds outcomes.csv and truth.json (or events.jsonl) from generate.py;
       ALERTS.csv has the header enterprise_id,signal,change_period,raised_at_month.
Exit codes: 0 scored, 2 bad input (the message says what and where).

>>> span = Span("2024-01", 24)
>>> firms = {"A": FirmInfo("A", 12, "2024-01", "2025-12"), "B": FirmInfo("B", 60, "2024-01", "2025-12")}
>>> card = score([Alert("A", "x", "2024-05", "2024-07"), Alert("B", "x", "2024-03", "2024-04"),
...               Alert("B", "x", "2024-03", "2024-06")], {"A": "2024-11"}, span, firms)
>>> card.early, card.defaulters, card.lead_raise, card.false_alerts, card.healthy_firm_years
(1, 1, (4.0, 4.0, 4.0), 1, 2.0)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.heldout.cli import EXIT_BAD_INPUT, run  # noqa: E402
from bench.heldout.months import month_text, parse_month  # noqa: E402

__all__ = [
    "Alert",
    "Span",
    "FirmInfo",
    "Scorecard",
    "ScoreInputError",
    "score",
    "render",
    "load_alerts",
    "load_outcomes",
    "load_portfolio",
    "SIZE_BANDS",
    "ALERT_HEADER",
    "EXIT_BAD_INPUT",
]

SIZE_BANDS = ((20, "<20"), (50, "20-49"), (150, "50-149"), (10**9, "150+"))
ALERT_HEADER = ("enterprise_id", "signal", "change_period", "raised_at_month")


class ScoreInputError(ValueError):
    """An input file is wrong; the message names the file and line."""


@dataclass(frozen=True)
class Alert:
    enterprise_id: str
    signal: str
    change_period: str  # YYYY-MM
    raised_at_month: str  # YYYY-MM, the arrival month it was first raised in


@dataclass(frozen=True)
class Span:
    start: str
    months: int

    @property
    def first(self) -> int:
        return parse_month(self.start)

    @property
    def last(self) -> int:
        return self.first + self.months - 1


@dataclass(frozen=True)
class FirmInfo:
    enterprise_id: str
    size: int  # insured staff the firm is banded by (for a defaulter: before its decline)
    first_period: str  # first and last month it was observed
    last_period: str
    decline_start: str | None = None


@dataclass(frozen=True)
class YearRate:
    year: int
    alerts: int
    firm_years: float
    per_100: float


@dataclass(frozen=True)
class BandRecall:
    band: str
    early: int
    warned: int
    defaulters: int


@dataclass(frozen=True)
class Scorecard:
    min_lead: int
    defaulters: int
    warned: int  # some alert raised before the default month
    early: int  # warned at least min_lead months ahead, at raise time
    early_share: float
    lead_raise: tuple[float, float, float] | None  # quartiles over warned defaulters, months
    hindsight_early: int
    hindsight_share: float
    lead_hindsight: tuple[float, float, float] | None
    warned_before_decline: int  # first warning raised before the decline began (truth known)
    healthy_firms: int
    healthy_firm_years: float
    false_alerts: int
    false_per_100: float
    false_by_year: tuple[YearRate, ...]
    recall_by_band: tuple[BandRecall, ...]
    unknown_firms: int  # alerts on ids outside the portfolio (ignored)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _band(size: int) -> str:
    return next(label for limit, label in SIZE_BANDS if size < limit)


def _quartiles(values: list[int]) -> tuple[float, float, float] | None:
    if not values:
        return None
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(q2), float(q3)


def _months_by_year(first: int, last: int, span: Span) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for m in range(max(first, span.first), min(last, span.last) + 1):
        out[m // 12] += 1
    return out


def score(
    alerts: Iterable[Alert],
    outcomes: Mapping[str, str],
    span: Span,
    firms: Mapping[str, FirmInfo],
    min_lead: int = 3,
) -> Scorecard:
    """Score ``alerts``; ``outcomes`` maps defaulters to their default period, ``firms`` is the portfolio."""
    first_raise: dict[tuple[str, str, str], int] = {}
    unknown = set()
    for a in alerts:
        if a.enterprise_id not in firms:
            unknown.add(a.enterprise_id)
            continue
        key = (a.enterprise_id, a.signal, a.change_period)
        raised = parse_month(a.raised_at_month)
        if key not in first_raise or raised < first_raise[key]:
            first_raise[key] = raised
    by_firm: dict[str, list[tuple[int, int]]] = defaultdict(list)  # firm -> [(raised, change)]
    for (eid, _signal, change), raised in first_raise.items():
        by_firm[eid].append((raised, parse_month(change)))

    leads, hind, band_rows = [], [], defaultdict(lambda: [0, 0, 0])
    early = hind_early = before_decline = 0
    for eid, period in outcomes.items():
        if eid not in firms:
            continue
        default = parse_month(period)
        info = firms[eid]
        band = band_rows[_band(info.size)]
        band[2] += 1
        warnings = [(r, c) for r, c in by_firm.get(eid, []) if r < default]
        if not warnings:
            continue
        raised = min(r for r, _ in warnings)
        lead, back = default - raised, default - min(c for _, c in warnings)
        leads.append(lead)
        hind.append(back)
        band[1] += 1
        if lead >= min_lead:
            early += 1
            band[0] += 1
        hind_early += back >= min_lead
        if info.decline_start is not None and raised < parse_month(info.decline_start):
            before_decline += 1

    defaulters = sum(1 for eid in outcomes if eid in firms)
    healthy = [f for eid, f in firms.items() if eid not in outcomes]
    months_by_year: dict[int, int] = defaultdict(int)
    for f in healthy:
        for year, k in _months_by_year(parse_month(f.first_period), parse_month(f.last_period), span).items():
            months_by_year[year] += k
    false_by_year: dict[int, int] = defaultdict(int)
    for (eid, _s, _c), raised in first_raise.items():
        if eid not in outcomes:
            false_by_year[min(max(raised, span.first), span.last) // 12] += 1
    firm_years = sum(months_by_year.values()) / 12
    false_alerts = sum(false_by_year.values())
    years = tuple(
        YearRate(y, false_by_year[y], months_by_year[y] / 12,
                 100 * false_by_year[y] / (months_by_year[y] / 12) if months_by_year[y] else 0.0)
        for y in sorted(months_by_year)
    )
    bands = tuple(BandRecall(label, *band_rows[label]) for _, label in SIZE_BANDS)
    return Scorecard(
        min_lead=min_lead, defaulters=defaulters, warned=len(leads), early=early,
        early_share=early / defaulters if defaulters else 0.0, lead_raise=_quartiles(leads),
        hindsight_early=hind_early, hindsight_share=hind_early / defaulters if defaulters else 0.0,
        lead_hindsight=_quartiles(hind), warned_before_decline=before_decline,
        healthy_firms=len(healthy), healthy_firm_years=firm_years, false_alerts=false_alerts,
        false_per_100=100 * false_alerts / firm_years if firm_years else 0.0,
        false_by_year=years, recall_by_band=bands, unknown_firms=len(unknown),
    )


def _q(q: tuple[float, float, float] | None) -> str:
    if q is None:
        return "n/a"
    return f"median {q[1]:g}, quartiles {q[0]:g}-{q[2]:g}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render(card: Scorecard) -> str:
    n, k = card.defaulters, card.min_lead
    lines = [
        f"defaulters: {n}",
        f"  alerted >= {k} months before default, at raise time: {card.early} ({_pct(card.early_share)})",
        f"  alerted at all before the default month: {card.warned}",
        f"  lead at raise time (months): {_q(card.lead_raise)}",
        f"  hindsight, from the change period the same alerts report: >= {k} months {card.hindsight_early} "
        f"({_pct(card.hindsight_share)}), {_q(card.lead_hindsight)}",
        f"  first warning raised before the firm's decline began: {card.warned_before_decline}",
        f"healthy firms: {card.healthy_firms}, {card.healthy_firm_years:,.1f} firm-years observed",
        f"  false alerts: {card.false_alerts} = {card.false_per_100:.2f} per 100 healthy firm-years",
        "  by year raised: " + ", ".join(
            f"{y.year} {y.per_100:.2f} ({y.alerts} / {y.firm_years:,.0f})" for y in card.false_by_year),
        f"recall >= {k} months at raise time, by size band: " + ", ".join(
            f"{b.band} {b.early}/{b.defaulters}" for b in card.recall_by_band),
    ]
    if card.unknown_firms:
        lines.append(f"alerts on {card.unknown_firms} enterprise ids outside the portfolio were ignored")
    return "\n".join(lines)


# -- files --------------------------------------------------------------------------------------------

def _read_csv(path: Path, header: tuple[str, ...]) -> Iterable[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScoreInputError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ScoreInputError(f"{path}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [h for h in header if h not in (reader.fieldnames or [])]
    if missing:
        raise ScoreInputError(f"{path}:1: header must have {','.join(header)}; missing {', '.join(missing)}")
    for row in reader:
        yield reader.line_num, row


def _month(value: str | None, path: Path, line: int, name: str) -> str:
    try:
        return month_text(parse_month((value or "").strip()))
    except ValueError:
        raise ScoreInputError(f"{path}:{line}: {name} {value!r} is not YYYY-MM") from None


def load_alerts(path: Path) -> list[Alert]:
    out = []
    for line, row in _read_csv(path, ALERT_HEADER):
        eid, signal = (row["enterprise_id"] or "").strip(), (row["signal"] or "").strip()
        if not eid or not signal:
            raise ScoreInputError(f"{path}:{line}: enterprise_id and signal must not be empty")
        out.append(Alert(eid, signal, _month(row["change_period"], path, line, "change_period"),
                         _month(row["raised_at_month"], path, line, "raised_at_month")))
    return out


def load_outcomes(path: Path) -> dict[str, str]:
    return {
        (row["enterprise_id"] or "").strip(): _month(row["default_period"], path, line, "default_period")
        for line, row in _read_csv(path, ("enterprise_id", "default_period"))
    }


def load_portfolio(data: Path) -> tuple[Span, dict[str, FirmInfo]]:
    """The span and the firms of a generated portfolio, from its truth.json."""
    path = data / "truth.json"
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
        span = Span(truth["span"]["start"], int(truth["span"]["months"]))
        firms = {
            eid: FirmInfo(eid, int(v["size"]), v["first_period"], v["last_period"], v.get("decline_start"))
            for eid, v in truth["firms"].items()
        }
    except OSError as exc:
        raise ScoreInputError(f"{path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ScoreInputError(f"{path}: not a held-out truth file ({exc})") from None
    return span, firms


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="directory written by generate.py")
    ap.add_argument("--alerts", type=Path, required=True)
    ap.add_argument("--min-lead", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    def work() -> None:
        span, firms = load_portfolio(args.data)
        card = score(load_alerts(args.alerts), load_outcomes(args.data / "outcomes.csv"), span, firms,
                     args.min_lead)
        print(json.dumps(card.to_dict(), ensure_ascii=False) if args.json else render(card))

    return run("score.py", work)


if __name__ == "__main__":
    sys.exit(main())
