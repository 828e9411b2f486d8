"""Seeded synthetic monthly histories for detector tests."""

from __future__ import annotations

import numpy as np

from detectors.festival import cny_weights
from detectors.periods import period_range
from detectors.records import History

EID = "91440300MA5F00000X"


def headcount_history(*, first="2022-01", last="2024-12", size=200, rate=0.02, seed=0, cny_spike=3.0,
                      decline_from: str | None = None, decline_rate=0.06, shrink=0.04) -> History:
    """Healthy firm with post-festival departure spikes refilled by joiners;
    optionally a deterioration (more leavers, fewer joiners) from ``decline_from``."""
    rng = np.random.default_rng(seed)
    records = {}
    insured = size
    bad = False
    for p in period_range(first, last):
        if decline_from and p >= decline_from:
            bad = True
        _, back = cny_weights(p)
        r = rate * (1 + (cny_spike - 1) * min(1.0, back * 1.5)) if not bad else decline_rate
        start = insured
        left = int(rng.poisson(start * r))
        if bad:
            joined = int(rng.poisson(max(0.0, start * (r - shrink))))
        else:
            joined = int(rng.poisson(max(0.0, size - start + left)))
        insured = max(1, start - left + joined)
        records[p] = {"insured": insured, "joined": joined, "left": left}
    return History.from_records(EID, {"headcount": records})


def usage_history(*, first="2022-01", last="2024-12", level=100_000.0, noise=0.06, seed=0, dip=0.5,
                  drop_from: str | None = None, drop=0.45, shock_at: str | None = None) -> History:
    rng = np.random.default_rng(seed)
    records = {}
    for p in period_range(first, last):
        shut, _ = cny_weights(p)
        v = level * (1 - dip * shut) * (1 + rng.normal(0, noise))
        if drop_from and p >= drop_from:
            v *= 1 - drop
        if shock_at and p == shock_at:
            v *= 0.3
        records[p] = {"amount": max(0.0, v), "unit": "kWh"}
    return History.from_records(EID, {"utility.electricity": records})


def workforce_history(*, first="2022-01", last="2024-12", size=150, rate=0.025, seed=0, cny_spike=3.0,
                      slide_from: str | None = None, leave_mult=2.0, hire_mult=0.4, coverage=0.9,
                      coverage_after=0.9, wave_at: str | None = None, wave_share=0.2) -> History:
    """Headcount and housing fund of one firm: binomial departures (festival spike), hires that refill
    to ``size``; from ``slide_from`` departures rise, hiring dries up and coverage may fall.
    ``wave_at``: a one-off departure wave (a contract ending) that is refilled."""
    rng = np.random.default_rng(seed)
    heads, fund = {}, {}
    insured = size
    for p in period_range(first, last):
        bad = slide_from is not None and p >= slide_from
        _, back = cny_weights(p)
        r = rate * (1 + (cny_spike - 1) * min(1.0, back * 1.5)) * (leave_mult if bad else 1.0)
        start = insured
        left = int(rng.binomial(start, min(r, 0.9)))
        if wave_at == p:
            left += int(start * wave_share)
        # a healthy firm refills towards its size; a sliding one stops refilling and hires less
        refill = rate * start * hire_mult if bad else max(0.0, 0.5 * (size - start) + rate * start)
        joined = int(rng.poisson(refill))
        insured = max(1, start - left + joined)
        share = coverage_after if bad else coverage
        heads[p] = {"insured": insured, "joined": joined, "left": left}
        covered = int(rng.binomial(insured, share))
        fund[p] = {"contributors": covered, "amount": covered * 800.0}
    return History.from_records(EID, {"headcount": heads, "housing_fund": fund})
