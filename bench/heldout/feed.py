"""The platform's feed: when each record is published, what comes twice, what gets corrected.

Each upstream agency publishes a month's monthly records in a batch in the
following month (the grid first, around the 4th-8th; social insurance
around the 8th-12th; gas, water and the housing fund later, water often
after the 15th). Most records of a batch arrive within a few days of it,
some later that month, a few percent one to three months late, a few
never. A batch itself is sometimes late for everybody. Some records are
re-sent with the same event id (duplicates) and some are corrected later
with a new event id: social-insurance back-payments raise the headcount a
little; an estimated meter reading (last month's figure) is replaced by the
real one. Court, register and agency events are published days to weeks
after they happen. Every line carries ``"arrival": "YYYY-MM-DD"``, the day
the platform published it, and the file is in arrival order.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from bench.heldout.legal import Discrete
from bench.heldout.months import calendar_month, month_end
from bench.heldout.plans import Horizon, Plan
from bench.heldout.population import Firms
from bench.heldout.series import UNITS, Series

__all__ = ["FeedParams", "SOURCES", "build_feed"]


@dataclass(frozen=True)
class FeedParams:
    p_never: float = 0.004  # a monthly record that is never published
    p_late_months: float = 0.03  # published one to three months late
    late_months: tuple[float, float, float] = (0.6, 0.28, 0.12)
    p_late_in_month: float = 0.08  # published after the batch, later in the month
    p_duplicate: float = 0.012  # re-sent with the same event id
    p_correction: float = 0.015  # headcount and housing fund corrected later (back-payments)
    p_estimate: float = 0.012  # a meter reading first published as an estimate, corrected later
    p_discrete_duplicate: float = 0.005


# record kind -> (source, event-id prefix, usual batch days)
SOURCES: dict[str, tuple[str, str, tuple[int, int]]] = {
    "headcount": ("js-hrss", "SB", (8, 12)),
    "electricity": ("sgcc-js", "DL", (4, 8)),
    "water": ("sz-water", "SW", (11, 17)),
    "gas": ("sz-gas", "RQ", (9, 14)),
    "housing_fund": ("sz-hpf", "GJJ", (13, 19)),
    "lawsuit": ("sz-court", "FY", (0, 0)),
    "dishonest_debtor": ("sz-court", "SX", (0, 0)),
    "consumption_restriction": ("sz-court", "XG", (0, 0)),
    "penalty": ("js-credit", "XZCF", (0, 0)),
    "tax_arrears": ("js-tax", "QS", (0, 0)),
    "abnormal_operation": ("sz-amr", "JY", (0, 0)),
    "registration_change": ("sz-amr", "BG", (0, 0)),
}
_RANK = {k: r for r, k in enumerate(SOURCES)}


def _add_months(day: date, k: int, day_of_month: int) -> date:
    m = day.year * 12 + day.month - 1 + k
    return date(m // 12, m % 12 + 1, min(day_of_month, 28))


class _Writer:
    def __init__(self, rng: np.random.Generator, seed: int, params: FeedParams) -> None:
        self.rng, self.seed, self.params = rng, seed, params
        self.rows: list[tuple[int, int, float, str]] = []
        self.stats: Counter[str] = Counter()
        self.serial = 0

    def event_id(self, prefix: str, tag: str) -> str:
        self.serial += 1
        digest = hashlib.blake2b(f"{self.seed}:{self.serial}".encode(), digest_size=7).hexdigest().upper()
        return f"{prefix}{tag}{digest}"

    def put(self, arrival: date, kind: str, event: dict[str, Any]) -> None:
        event["arrival"] = arrival.isoformat()
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        self.rows.append((arrival.toordinal(), _RANK[kind], float(self.rng.random()), text))
        self.stats[event["type"]] += 1

    def publish(self, arrival: date, kind: str, event: dict[str, Any], p_dup: float) -> None:
        self.put(arrival, kind, event)
        if self.rng.random() < p_dup:
            self.put(arrival + timedelta(days=int(self.rng.integers(1, 21))), kind, dict(event))
            self.stats["duplicates"] += 1


def _monthly_arrivals(rng: np.random.Generator, params: FeedParams, m: int, batch: date, k: int) -> list[date | None]:
    """Arrival days of ``k`` records of month ``m`` whose batch is published on ``batch``."""
    u = rng.random(k)
    late_k = rng.choice(3, size=k, p=params.late_months) + 1
    out: list[date | None] = []
    for r, lk in zip(u, late_k):
        if r < params.p_never:
            out.append(None)
        elif r < params.p_never + params.p_late_months:
            out.append(_add_months(batch, int(lk), int(rng.integers(1, 29))))
        elif r < params.p_never + params.p_late_months + params.p_late_in_month:
            out.append(max(batch, date(batch.year, batch.month, int(rng.integers(16, 29)))))
        else:
            out.append(batch + timedelta(days=int(rng.integers(0, 4))))
    return out


def _batch_day(rng: np.random.Generator, kind: str, m: int, delays: dict[tuple[str, int], tuple[int, int]]) -> date:
    nxt = m + 1
    lo, hi = SOURCES[kind][2]
    months, day = delays.get((kind, m), (0, int(rng.integers(lo, hi + 1))))
    return _add_months(date(nxt // 12, nxt % 12 + 1, 1), months, day)


def build_feed(
    rng: np.random.Generator,
    seed: int,
    f: Firms,
    plan: Plan,
    s: Series,
    discrete: list[Discrete],
    hz: Horizon,
    history_months: int = 0,
    params: FeedParams = FeedParams(),
) -> tuple[list[str], dict[str, Any]]:
    """All published lines in arrival order, and counts of what the feed did."""
    w = _Writer(rng, seed, params)
    first_j = hz.burn_in - history_months
    span_first_day = month_end(hz.span_start - 1) + timedelta(days=1)
    span_last_day = month_end(hz.span_start + hz.months - 1)
    m0 = hz.span_start
    delays = {
        ("headcount", m0 + round(0.6 * hz.months)): (0, 26),
        ("headcount", m0 + round(0.8 * hz.months)): (1, 3),
        ("electricity", m0 + round(0.7 * hz.months)): (0, 20),
    }
    late = 0
    for j in range(first_j, hz.total):
        m = hz.first + j
        period = hz.period(j)
        occurred = f"{month_end(m).isoformat()}T23:59:59+08:00"
        tag = period.replace("-", "")
        alive = plan.reporting[:, j]
        masks = {
            "headcount": alive & ~plan.hc_gap[:, j],
            "housing_fund": alive & f.hf_member & ((s.hf_contributors[:, j] > 0) | (s.hf_contributors[:, max(0, j - 2)] > 0)),
        }
        for kind in UNITS:
            mask = alive & f.meters[kind] & ~plan.meter_gap[kind][:, j]
            if kind == "water":
                mask &= ~f.bimonthly_water | (calendar_month(m) % 2 == 1)
            masks[kind] = mask
        for kind, mask in masks.items():
            idx = np.flatnonzero(mask)
            if j < hz.burn_in:  # history handed over when the feed starts (the onboarding extract)
                arrivals = [span_first_day + timedelta(days=int(rng.integers(0, 3))) for _ in idx]
            else:
                arrivals = _monthly_arrivals(rng, params, m, _batch_day(rng, kind, m, delays), len(idx))
            source, prefix, _ = SOURCES[kind]
            for i, arrival in zip(idx, arrivals):
                if arrival is None:
                    w.stats["never_published"] += 1
                    continue
                if j >= hz.burn_in and (arrival.year * 12 + arrival.month - 1) > m + 1:
                    late += 1
                data, corrected = _record(rng, params, kind, s, f, i, j, period)
                event = {"event_id": w.event_id(prefix, tag), "enterprise_id": f.ids[i],
                         "type": "utility" if kind in UNITS else kind, "occurred_at": occurred,
                         "source": source, "data": data}
                w.publish(arrival, kind, event, params.p_duplicate)
                if corrected is not None and corrected != data:
                    fix = dict(event, event_id=w.event_id(prefix, tag), data=corrected)
                    w.put(arrival + timedelta(days=int(rng.integers(15, 76))), kind, fix)
                    w.stats["corrections"] += 1
    extract_day = span_first_day
    first_day = month_end(hz.first + first_j - 1) + timedelta(days=1)
    for d in discrete:
        day = d.when.date()
        if day < first_day or day > span_last_day:
            continue
        arrival = day + timedelta(days=_lag(rng, d))
        if day < span_first_day:
            arrival = max(arrival, extract_day)
        source, prefix, _ = SOURCES[d.type]
        event = {"event_id": w.event_id(prefix, ""), "enterprise_id": f.ids[d.firm], "type": d.type,
                 "occurred_at": d.when.isoformat(timespec="seconds") + "+08:00", "source": source, "data": d.data}
        w.publish(arrival, d.type, event, params.p_discrete_duplicate)
    w.rows.sort()
    w.stats["published_1_to_3_months_late"] = late
    return [r[3] for r in w.rows], dict(sorted(w.stats.items()))


def _record(rng: np.random.Generator, params: FeedParams, kind: str, s: Series, f: Firms, i: int, j: int,
            period: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The data of a monthly record as first published, and its correction if it gets one."""
    if kind == "headcount":
        true = {"period": period, "insured": int(s.insured[i, j]), "joined": int(s.joined[i, j]),
                "left": int(s.left[i, j])}
        if rng.random() >= params.p_correction or true["insured"] < 3:
            return true, None
        d = int(rng.integers(1, 4))  # contributions still being processed when the batch was cut
        first = dict(true, insured=true["insured"] - d)
        if true["joined"] >= d:
            first["joined"] = true["joined"] - d
        else:
            first["left"] = true["left"] + d
        return first, true
    if kind == "housing_fund":
        true = {"period": period, "contributors": int(s.hf_contributors[i, j]),
                "amount": round(float(s.hf_amount[i, j]), 2)}
        if rng.random() >= params.p_correction / 2 or true["contributors"] < 2:
            return true, None
        per_head = true["amount"] / true["contributors"]
        c = true["contributors"] - 1
        return dict(true, contributors=c, amount=round(per_head * c, 2)), true
    amount = float(s.usage[kind][i, j])
    if kind == "water" and f.bimonthly_water[i]:
        amount += float(s.usage[kind][i, j - 1])
    true = {"period": period, "kind": kind, "amount": int(round(amount)), "unit": UNITS[kind]}
    if rng.random() >= params.p_estimate or j == 0:
        return true, None
    estimate = int(round(float(s.usage[kind][i, j - 1]) if not (kind == "water" and f.bimonthly_water[i]) else amount * rng.uniform(0.8, 1.2)))
    return dict(true, amount=estimate), true


def _lag(rng: np.random.Generator, d: Discrete) -> int:
    """Days from the event to its publication on the platform."""
    if d.type == "lawsuit":
        stage = d.data["stage"]
        if stage == "filed":
            return int(np.clip(np.exp(np.log(14) + 0.6 * rng.standard_normal()), 3, 60))
        return int(rng.integers(10, 61) if stage == "judgment" else rng.integers(5, 31))
    low, high = {
        "dishonest_debtor": (1, 10), "consumption_restriction": (1, 10), "penalty": (5, 25),
        "tax_arrears": (2, 10), "abnormal_operation": (1, 7), "registration_change": (1, 5),
    }[d.type]
    return int(rng.integers(low, high + 1))
