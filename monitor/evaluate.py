"""Scoring alerts against what really happened (the simulator's ground truth or a bank's outcomes CSV).

The figure a bank acts on is how many defaults were flagged early enough to
act, judged by **when the alert was raised** (the data month the feed had
reached), not by the change period the alert reports: a change found in
hindsight to have started eight months before default helps nobody if it was
raised one month before. Both are reported, the hindsight figure labelled as
such. The other side of the trade is the false alerts: distinct alerts on
firms that did not default, per 100 healthy enterprise-years, in total and by
year of raising (the budget must hold every year, not only on average).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from detectors.periods import months_between

__all__ = ["AlertRecord", "Scorecard", "score", "read_outcomes", "SIZE_BAND_LABELS", "OutcomesError"]

SIZE_BAND_LABELS = ("<20", "20-49", "50-149", "150+")


class OutcomesError(ValueError):
    """The outcomes CSV is not ``enterprise_id,default_period`` with YYYY-MM periods."""


@dataclass(frozen=True)
class AlertRecord:
    enterprise_id: str
    signal: str
    change_period: str
    raised_at_period: str  # the latest data period when the alert was raised
    severity: str


def _quartiles(values: list[int]) -> tuple[float, float, float] | None:
    if not values:
        return None
    v = sorted(values)

    def q(p: float) -> float:
        pos = p * (len(v) - 1)
        lo, hi = int(pos), min(int(pos) + 1, len(v) - 1)
        return float(v[lo] + (v[hi] - v[lo]) * (pos - lo))

    return q(0.25), q(0.5), q(0.75)


def _band(size: float | None) -> str | None:
    if size is None:
        return None
    for label, top in zip(SIZE_BAND_LABELS, (20, 50, 150)):
        if size < top:
            return label
    return SIZE_BAND_LABELS[-1]


@dataclass
class Scorecard:
    lead_required: int = 3
    defaults: int = 0
    defaults_alerted_early: int = 0
    defaults_alerted_late: int = 0
    lead_months: list[int] = field(default_factory=list)  # at raise time, one per alerted defaulter
    hindsight_lead_months: list[int] = field(default_factory=list)  # from the change period reported
    healthy_enterprises: int = 0
    healthy_enterprise_years: float = 0.0
    false_alerts: int = 0
    healthy_enterprises_alerted: int = 0
    false_by_year: Counter = field(default_factory=Counter)  # year of raising -> false alerts
    years_observed: Counter = field(default_factory=Counter)  # year -> healthy enterprise-years in it
    missed: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    by_band: dict[str, list[int]] = field(default_factory=dict)  # band -> [defaults, early]
    by_signal: Counter = field(default_factory=Counter)  # signal of the first early warning

    @property
    def early_share(self) -> float:
        return self.defaults_alerted_early / self.defaults if self.defaults else float("nan")

    @property
    def hindsight_early_share(self) -> float:
        early = sum(1 for v in self.hindsight_lead_months if v >= self.lead_required)
        return early / self.defaults if self.defaults else float("nan")

    @property
    def false_per_100_years(self) -> float:
        return 100.0 * self.false_alerts / self.healthy_enterprise_years if self.healthy_enterprise_years else 0.0

    @property
    def precision(self) -> float:
        """Share of alerted enterprises that went on to default (within the data)."""
        alerted = self.defaults_alerted_early + self.defaults_alerted_late + self.healthy_enterprises_alerted
        return (self.defaults_alerted_early + self.defaults_alerted_late) / alerted if alerted else float("nan")

    def histogram(self) -> dict[str, int]:
        """Alerted defaulters by lead at raise time (months), the unalerted as ``none``."""
        out: Counter = Counter()
        for v in self.lead_months:
            out[str(min(v, 12)) if v < 12 else "12+"] += 1
        out["none"] = len(self.missed)
        return dict(sorted(out.items(), key=lambda kv: (kv[0] == "none", kv[0] != "12+", len(kv[0]), kv[0])))

    def to_dict(self) -> dict:
        quart = _quartiles(self.lead_months)
        hq = _quartiles(self.hindsight_lead_months)
        return {
            "defaults": self.defaults, "lead_required_months": self.lead_required,
            "alerted_at_least_lead_before": self.defaults_alerted_early,
            "alerted_later": self.defaults_alerted_late, "never_alerted": len(self.missed),
            "early_share": round(self.early_share, 4),
            "median_lead_months": quart[1] if quart else None,
            "lead_quartiles_months": list(quart) if quart else None,
            "lead_histogram": self.histogram(),
            "hindsight": {"note": "lead measured from the change period the alert reports, not from when it was "
                                  "raised: what the alerts knew in hindsight, not what the bank was told in time",
                          "early_share": round(self.hindsight_early_share, 4),
                          "median_lead_months": hq[1] if hq else None},
            "healthy_enterprises": self.healthy_enterprises,
            "healthy_enterprise_years": round(self.healthy_enterprise_years, 1),
            "false_alerts": self.false_alerts, "healthy_enterprises_alerted": self.healthy_enterprises_alerted,
            "false_alerts_per_100_enterprise_years": round(self.false_per_100_years, 3),
            "false_alerts_per_100_enterprise_years_by_year": {
                y: round(100.0 * self.false_by_year[y] / yrs, 3) for y, yrs in sorted(self.years_observed.items())
                if yrs > 0},
            "precision": round(self.precision, 4) if self.precision == self.precision else None,
            "recall_by_size": {b: f"{e}/{d}" for b, (d, e) in sorted(self.by_band.items(),
                                                                        key=lambda kv: SIZE_BAND_LABELS.index(kv[0]))},
            "first_early_warning_by_signal": dict(self.by_signal.most_common()),
        }


def read_outcomes(path: str | Path) -> dict[str, str]:
    """``enterprise_id,default_period`` rows -> {enterprise_id: period}; a bad file names its line."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise OutcomesError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise OutcomesError(f"{path}: not UTF-8 text") from None
    out: dict[str, str] = {}
    for n, r in enumerate(rows, start=2):
        eid, period = (r.get("enterprise_id") or "").strip(), (r.get("default_period") or "").strip()
        if not eid or len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit() \
                or not 1 <= int(period[5:]) <= 12:
            raise OutcomesError(f"{path}:{n}: expected enterprise_id,default_period (YYYY-MM), got {dict(r)}")
        out[eid] = period
    return out


def score(alerts: Iterable[AlertRecord], outcomes: Mapping[str, str], monitored: Mapping[str, tuple[str, str] | int],
          *, lead_months: int = 3, sizes: Mapping[str, float] | None = None) -> Scorecard:
    """Score ``alerts`` raised on the enterprises in ``monitored``.

    ``monitored`` gives, per enterprise in scope, the first and last data
    month observed (or, for compatibility, how many months of data it had).
    An alert raised in or after the default month is no warning. Healthy
    firm-years are counted per calendar year, so false alerts can be read
    per year of raising.
    """
    first: dict[str, AlertRecord] = {}
    distinct: dict[str, set[tuple[str, str]]] = {}
    for a in sorted(alerts, key=lambda a: a.raised_at_period):
        if a.enterprise_id not in monitored:
            continue
        default = outcomes.get(a.enterprise_id)
        if default is not None:
            if a.raised_at_period >= default:
                continue
            first.setdefault(a.enterprise_id, a)
        else:
            key = (a.signal, a.change_period)
            seen = distinct.setdefault(a.enterprise_id, set())
            if key not in seen:
                seen.add(key)
    card = Scorecard(lead_required=lead_months)
    raised_year: dict[tuple[str, tuple[str, str]], str] = {}
    for a in alerts:
        if a.enterprise_id in monitored and a.enterprise_id not in outcomes:
            raised_year.setdefault((a.enterprise_id, (a.signal, a.change_period)), a.raised_at_period[:4])
    for eid, span in monitored.items():
        default = outcomes.get(eid)
        band = _band(sizes.get(eid)) if sizes else None
        if default is not None:
            card.defaults += 1
            if band:
                card.by_band.setdefault(band, [0, 0])[0] += 1
            a = first.get(eid)
            if a is None:
                card.missed.append(eid)
                continue
            lead = months_between(a.raised_at_period, default)
            card.lead_months.append(lead)
            card.hindsight_lead_months.append(months_between(a.change_period, default))
            if lead >= lead_months:
                card.defaults_alerted_early += 1
                card.by_signal[a.signal] += 1
                if band:
                    card.by_band[band][1] += 1
            else:
                card.defaults_alerted_late += 1
                card.late.append(eid)
        else:
            card.healthy_enterprises += 1
            if isinstance(span, int):
                card.healthy_enterprise_years += span / 12.0
            else:
                lo, hi = span
                months = months_between(lo, hi) + 1
                card.healthy_enterprise_years += months / 12.0
                for y in range(int(lo[:4]), int(hi[:4]) + 1):
                    a0 = max(lo, f"{y}-01")
                    a1 = min(hi, f"{y}-12")
                    card.years_observed[str(y)] += (months_between(a0, a1) + 1) / 12.0
            found = distinct.get(eid, set())
            card.false_alerts += len(found)
            card.healthy_enterprises_alerted += bool(found)
            for key in found:
                card.false_by_year[raised_year[(eid, key)]] += 1
    return card
