"""Month-by-month staff, meters and housing fund of every firm, all firms at once.

Staff follow a target that drifts (an AR(1) around the firm's plan, by 2-4 %
for a large firm and more for a small one: growth,
projects, seasons, trouble). Each month some leave (binomial on the staff,
with gamma noise on the rate so months differ more than a fixed rate would
allow), some are let go when staff exceed need (slowly: severance makes
Chinese employers reluctant), and hires close part of the gap to target
(Poisson, over-dispersed). Around the festival, migrant staff leave in the
weeks before it and, mostly, fail to return after it, while hiring stops
during the holiday and booms after the Lantern Festival; software and
service staff change jobs a month or two later, once the year-end bonus is
paid. Metered usage follows staff with a firm-specific elasticity, the
sector's production season, festival shutdown days (counted per firm from
the lunar date), summer cooling and winter heating (each summer its own
heat), temporary shutdowns, meter faults and autocorrelated noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.heldout.months import (
    calendar_month,
    days_in,
    month_fraction,
    month_year,
    window_fraction,
    window_share,
)
from bench.heldout.plans import Horizon, Plan
from bench.heldout.population import Firms
from bench.heldout.sectors import COOLING, HEATING, SECTORS, SUMMER_HEAT

__all__ = ["Series", "simulate_series", "UNITS"]

UNITS = {"electricity": "kWh", "water": "m³", "gas": "m³"}
# Festival windows, days from the festival: who leaves before it, who does not come back after it,
# who changes jobs once the bonus is paid; when hiring stops and when it booms.
LEAVE_BEFORE, LEAVE_AFTER, BONUS_HOP = (-25, -1), (7, 45), (25, 85)
HIRING_STOPS, HIRING_BOOMS = (-15, 7), (8, 50)


@dataclass
class Series:
    insured: np.ndarray  # (firms, months) int
    joined: np.ndarray
    left: np.ndarray
    usage: dict[str, np.ndarray]  # kind -> (firms, months) float
    hf_contributors: np.ndarray
    hf_amount: np.ndarray


def simulate_series(rng: np.random.Generator, f: Firms, plan: Plan, hz: Horizon) -> Series:
    n, t = f.n, hz.total
    insured = np.zeros((n, t), np.int64)
    joined = np.zeros((n, t), np.int64)
    left = np.zeros((n, t), np.int64)
    usage = {k: np.zeros((n, t)) for k in UNITS}
    hf_c = np.zeros((n, t), np.int64)
    hf_a = np.zeros((n, t))

    sector_prod = np.array([s.production for s in SECTORS])
    prod_weight = np.where(np.isin(f.sector, [0, 1, 2, 3, 4]), 1.0, 0.5)
    log_size = np.log(f.size.astype(float))
    cum_step = np.cumsum(plan.trend_step, axis=1)
    # a plan drifts by a few percent a year; a small firm's by more, since one hire is a large share
    wander_sd = rng.uniform(0.008, 0.02, n) * (1 + 2 / np.sqrt(f.size))
    wander = np.zeros(n)
    eps = {k: np.zeros(n) for k in UNITS}
    staff = f.size.astype(np.int64).copy()
    wage_index = 1.0
    for j in range(t):
        m = hz.first + j
        cal, year = calendar_month(m), month_year(m)
        if cal == 6 and j > 0:
            wage_index *= 1.05  # contribution bases are reset every July
        alive = j >= f.entry
        wander = 0.85 * wander + wander_sd * rng.standard_normal(n)
        target = np.exp(log_size + cum_step[:, j] + plan.trend_offset[:, j] + wander)

        rate = f.leave_rate * rng.gamma(6.0, 1 / 6.0, n) * plan.leave_mult[:, j]
        rate = rate + f.festival_leave * (0.35 * window_share(m, *LEAVE_BEFORE) + 0.65 * window_share(m, *LEAVE_AFTER))
        rate = rate + f.job_hop * window_share(m, *BONUS_HOP)
        gone = rng.binomial(staff, np.clip(rate, 0.0, 0.9))
        excess = (staff - 1.05 * target) / np.maximum(staff, 1)
        fire = np.maximum(np.clip(excess * f.fire_speed, 0.0, 0.5) * (excess > 0), plan.let_go[:, j])
        fired = rng.binomial(staff - gone, np.clip(fire, 0.0, 1.0))
        after = staff - gone - fired
        stops, booms = month_fraction(m, *HIRING_STOPS), month_fraction(m, *HIRING_BOOMS)
        season = (1 - 0.8 * stops) * (1 + 0.8 * booms) * days_in(m) / 30.44
        want = np.maximum(0.0, target - after) * f.hire_speed * season * plan.hire_mult[:, j]
        hired = rng.poisson(want * rng.gamma(3.0, 1 / 3.0, n))
        new_staff = np.where(alive, after + hired, staff)
        insured[:, j] = new_staff
        joined[:, j] = np.where(alive, hired, 0)
        left[:, j] = np.where(alive, gone + fired, 0)

        shut = np.clip(
            f.shut_depth * window_fraction(m, f.shut_start, f.shut_end) + 0.9 * plan.shut[:, j], 0.0, 0.97
        )
        heat = SUMMER_HEAT.get(year, 1.0)
        ratio = (np.maximum(new_staff, 0.5) / f.size) ** f.elasticity
        common = (
            ratio * sector_prod[f.sector, cal] ** prod_weight * plan.activity[:, j] * days_in(m) / 30.44
        )
        climate = {
            "electricity": 1 + f.cooling * COOLING[cal] * heat + f.heating * HEATING[cal],
            "water": 1 + 0.3 * f.cooling * COOLING[cal] * heat,
            "gas": 1 + 0.3 * HEATING[cal] * (f.sector == 4),
        }
        closed = {"electricity": shut, "water": 0.8 * shut, "gas": shut}
        for kind in UNITS:
            eps[kind] = 0.5 * eps[kind] + f.usage_noise[kind] * rng.standard_normal(n)
            usage[kind][:, j] = (
                f.base_usage[kind] * common * climate[kind] * (1 - closed[kind])
                * plan.meter[kind][:, j] * np.exp(eps[kind])
            )
        contributors = np.rint(f.hf_share * new_staff * plan.hf_mult[:, j]).astype(np.int64)
        hf_c[:, j] = contributors
        hf_a[:, j] = contributors * f.hf_per_head * wage_index * (1 + 0.01 * rng.standard_normal(n))
        staff = new_staff
    return Series(insured, joined, left, usage, hf_c, np.maximum(hf_a, 0.0))
