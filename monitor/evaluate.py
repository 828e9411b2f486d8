"""Scoring alerts against what really happened (the simulator's ground truth or a bank's outcomes CSV).

Two figures banks ask for: how many defaults were flagged early enough to act
(at least ``lead_months`` before the default period, judged by the data
period at which the alert fired), and how many alerts fell on firms that did
not default, per 100 enterprise-years of monitoring.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from detectors.periods import months_between

__all__ = ["AlertRecord", "Scorecard", "score", "read_outcomes"]


@dataclass(frozen=True)
class AlertRecord:
    enterprise_id: str
    signal: str
    change_period: str
    raised_at_period: str  # the latest data period when the alert fired
    severity: str


@dataclass
class Scorecard:
    defaults: int = 0
    defaults_alerted_early: int = 0
    defaults_alerted_late: int = 0
    lead_months: list[int] = field(default_factory=list)
    healthy_enterprises: int = 0
    healthy_enterprise_years: float = 0.0
    false_alerts: int = 0
    healthy_enterprises_alerted: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def early_share(self) -> float:
        return self.defaults_alerted_early / self.defaults if self.defaults else float("nan")

    @property
    def false_per_100_years(self) -> float:
        return 100.0 * self.false_alerts / self.healthy_enterprise_years if self.healthy_enterprise_years else 0.0

    def to_dict(self) -> dict:
        leads = sorted(self.lead_months)
        return {
            "defaults": self.defaults, "alerted_at_least_lead_before": self.defaults_alerted_early,
            "alerted_later": self.defaults_alerted_late, "early_share": round(self.early_share, 4),
            "median_lead_months": leads[len(leads) // 2] if leads else None,
            "healthy_enterprises": self.healthy_enterprises,
            "healthy_enterprise_years": round(self.healthy_enterprise_years, 1),
            "false_alerts": self.false_alerts, "healthy_enterprises_alerted": self.healthy_enterprises_alerted,
            "false_alerts_per_100_enterprise_years": round(self.false_per_100_years, 3),
        }


def read_outcomes(path: str | Path) -> dict[str, str]:
    """``enterprise_id,default_period`` rows -> {enterprise_id: period}."""
    with open(path, encoding="utf-8", newline="") as fh:
        return {r["enterprise_id"]: r["default_period"] for r in csv.DictReader(fh)}


def score(alerts: Iterable[AlertRecord], outcomes: Mapping[str, str], monitored_months: Mapping[str, int],
          *, lead_months: int = 3) -> Scorecard:
    """``monitored_months`` is, per enterprise in scope, how many months of data it had."""
    first: dict[str, str] = {}
    distinct: dict[str, set[tuple[str, str]]] = {}
    for a in alerts:
        if a.enterprise_id not in monitored_months:
            continue
        if a.enterprise_id not in first or a.raised_at_period < first[a.enterprise_id]:
            first[a.enterprise_id] = a.raised_at_period
        distinct.setdefault(a.enterprise_id, set()).add((a.signal, a.change_period))
    card = Scorecard()
    for eid, months in monitored_months.items():
        default = outcomes.get(eid)
        if default is not None:
            card.defaults += 1
            raised = first.get(eid)
            if raised is None:
                card.missed.append(eid)
                continue
            lead = months_between(raised, default)
            card.lead_months.append(lead)
            if lead >= lead_months:
                card.defaults_alerted_early += 1
            else:
                card.defaults_alerted_late += 1
        else:
            card.healthy_enterprises += 1
            card.healthy_enterprise_years += months / 12.0
            n = len(distinct.get(eid, ()))
            card.false_alerts += n
            card.healthy_enterprises_alerted += n > 0
    return card
