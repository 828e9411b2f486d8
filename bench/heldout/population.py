"""Draw the portfolio's firms: who they are and how each one behaves when nothing goes wrong.

Sizes are heavy-tailed: a lognormal body per sector (most firms under 20
insured staff) and a Pareto tail of large employers (a few over 500).
Individual businesses (个体工商户) are tiny. Every behavioural constant of a
firm (churn, festival habits, meters, litigiousness) is its sector's figure
times a firm-level draw, so two firms of one sector are never the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from bench.heldout.identity import DISTRICTS, company_name, new_code, person_name
from bench.heldout.months import month_end
from bench.heldout.sectors import SECTORS

__all__ = ["Firms", "draw_firms", "ENTRANT_SHARE", "LARGE_SHARE"]

ENTRANT_SHARE = 0.06  # firms founded during the span, whose records start then
LARGE_SHARE = 0.015  # large employers (Pareto tail from 200 staff)
INDIVIDUAL_SHARE = 0.08  # of retail, catering and resident-services firms
BUILDING_MATERIALS_SHARE = {"manufacturing": 0.25, "retail": 0.15}  # exposed to the property chain


@dataclass
class Firms:
    """Per-firm arrays (index = firm) plus the strings of the register."""

    n: int
    sector: np.ndarray  # index into SECTORS
    trade: list[str]  # name trade key; "building_materials" marks the property chain
    property_chain: np.ndarray  # bool
    district: np.ndarray  # index into DISTRICTS
    individual: np.ndarray  # bool: 个体工商户 (code 92...)
    size: np.ndarray  # staff the firm is built for at the first simulated month
    entry: np.ndarray  # simulated month the firm's records start (0 for incumbents)
    established: list[date]
    capital: np.ndarray  # registered capital, CNY
    ids: list[str]
    names: list[str]
    legal_rep: list[str]
    # staff behaviour
    leave_rate: np.ndarray
    hire_speed: np.ndarray  # share of a staffing gap filled per month
    fire_speed: np.ndarray
    festival_leave: np.ndarray
    job_hop: np.ndarray
    seasonal: np.ndarray  # bool: staffs up for its sector's season
    # meters
    shut_start: np.ndarray
    shut_end: np.ndarray
    shut_depth: np.ndarray
    meters: dict[str, np.ndarray]  # kind -> bool
    base_usage: dict[str, np.ndarray]  # kind -> usage at full staff in an average month
    usage_noise: dict[str, np.ndarray]
    elasticity: np.ndarray  # usage ~ staff ** elasticity
    cooling: np.ndarray
    heating: np.ndarray
    bimonthly_water: np.ndarray  # bool: the water utility reads the meter every other month
    # housing fund
    hf_member: np.ndarray  # bool
    hf_share: np.ndarray  # share of staff enrolled
    hf_per_head: np.ndarray  # CNY per contributor per month
    # courts and agencies
    defendant_rate: np.ndarray  # suits per year as defendant
    plaintiff_rate: np.ndarray
    penalty_rate: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def _sizes(rng: np.random.Generator, sector: np.ndarray, individual: np.ndarray) -> np.ndarray:
    med = np.array([s.size_median for s in SECTORS])[sector]
    sig = np.array([s.size_sigma for s in SECTORS])[sector]
    size = np.exp(np.log(med) + sig * rng.standard_normal(len(sector)))
    large = rng.random(len(sector)) < LARGE_SHARE * np.isin(sector, [0, 1, 3, 5])
    size = np.where(large, 200 * (1 - rng.random(len(sector))) ** (-1 / 1.2), size)
    size = np.where(individual, rng.integers(1, 7, len(sector)), size)
    return np.clip(np.rint(size), 1, 6000).astype(np.int64)


def _capital(rng: np.random.Generator, size: np.ndarray, individual: np.ndarray) -> np.ndarray:
    """Round subscribed capital, loosely tied to size: small firms often subscribe far more than they pay in."""
    steps = np.array([1e5, 3e5, 5e5, 1e6, 2e6, 3e6, 5e6, 1e7, 2e7, 3e7, 5e7, 1e8])
    centre = np.clip(np.log(size) / np.log(6000) * 9 + 2.5, 0, 11)
    pick = np.clip(np.rint(centre + 1.6 * rng.standard_normal(len(size))), 0, 11).astype(int)
    cap = steps[pick]
    return np.where(individual, steps[rng.integers(0, 3, len(size))] / 10, cap)


def draw_firms(rng: np.random.Generator, n: int, first_month: int, span_start: int, span_months: int) -> Firms:
    """``first_month`` is the first simulated month (burn-in included); entrants join inside the span."""
    shares = np.array([s.share for s in SECTORS])
    sector = rng.choice(len(SECTORS), size=n, p=shares)
    keys = [SECTORS[s].key for s in sector]
    dist_w = np.array([d.weight for d in DISTRICTS])
    industrial = np.array([d.industrial for d in DISTRICTS])
    is_site = np.isin(sector, [0, 1, 3])
    district = np.empty(n, dtype=np.int64)
    for flag in (True, False):
        w = dist_w * (industrial if flag else 1.5 - industrial / 2)
        idx = np.flatnonzero(is_site == flag)
        district[idx] = rng.choice(len(DISTRICTS), size=len(idx), p=w / w.sum())
    individual = (rng.random(n) < INDIVIDUAL_SHARE) & np.isin(sector, [2, 4, 7])
    property_chain = (sector == 1) | np.array(
        [rng.random() < BUILDING_MATERIALS_SHARE.get(k, 0.0) for k in keys]
    )
    trade = [
        "building_materials" if pc and k != "construction" else k for pc, k in zip(property_chain, keys)
    ]
    entrant = rng.random(n) < ENTRANT_SHARE
    entry_span = rng.integers(2, max(3, span_months - 6), size=n)
    entry = np.where(entrant, span_start - first_month + entry_span, 0)
    size = _sizes(rng, sector, individual)
    size = np.where(entrant, np.maximum(1, np.rint(size * rng.uniform(0.15, 0.5, n))).astype(np.int64), size)

    age_years = np.clip(np.exp(np.log(7.0) + 0.7 * rng.standard_normal(n)), 1.0, 25.0) + rng.random(n) / 2
    first_day = month_end(span_start - 1) + timedelta(days=1)
    established = []
    for i in range(n):
        if entrant[i]:
            day = month_end(first_month + int(entry[i]) - 1) - timedelta(days=int(rng.integers(0, 80)))
        else:
            day = first_day - timedelta(days=int(age_years[i] * 365.25))
        established.append(day)
    capital = _capital(rng, size, individual)

    taken: set[str] = set()
    ids, names, reps = [], [], []
    for i in range(n):
        d = DISTRICTS[district[i]]
        kind = "92" if individual[i] else "91"
        ids.append(new_code(rng, kind, d.code, established[i].year, taken))
        names.append(company_name(rng, d, trade[i], bool(individual[i])))
        reps.append(person_name(rng))

    sec = SECTORS

    def col(attr: str) -> np.ndarray:
        return np.array([getattr(s, attr) for s in sec])[sector]

    micro = size <= 5
    leave = col("leave_rate") * np.exp(0.35 * rng.standard_normal(n)) * np.where(micro, 0.4, 1.0)
    fest = col("festival_leave") * np.exp(0.5 * rng.standard_normal(n)) * np.where(micro, 0.3, 1.0)
    hop = col("job_hop") * np.exp(0.4 * rng.standard_normal(n))
    seasonal = rng.random(n) < col("seasonal_staff")
    shutdown = np.array([s.shutdown for s in sec])[sector]
    shut_start = shutdown[:, 0] + np.rint(3 * rng.standard_normal(n)).astype(int)
    shut_end = np.maximum(shut_start + 2, shutdown[:, 1] + np.rint(4 * rng.standard_normal(n)).astype(int))
    continuous = (sector == 0) & (rng.random(n) < 0.1)  # plants that run through the festival
    depth = np.clip(col("shutdown_depth") * rng.uniform(0.7, 1.15, n), 0.0, 0.95)
    depth = np.where(continuous, 0.1, depth)

    own_premises = np.clip(0.75 + 0.08 * np.log(size + 1), 0.0, 1.25)
    meters = {
        "electricity": rng.random(n) < np.clip(col("p_elec") * own_premises, 0, 0.98),
        "water": rng.random(n) < np.clip(col("p_water") * own_premises, 0, 0.95),
        "gas": rng.random(n) < np.clip(col("p_gas") * own_premises, 0, 0.95),
    }
    scale = size.astype(float) ** 0.85 + 2.0
    cold_chain = (sector == 3) & (rng.random(n) < 0.12)
    base = {
        "electricity": col("elec_per_staff") * scale * np.exp(0.8 * rng.standard_normal(n))
        * np.where(cold_chain, 5.0, 1.0),
        "water": col("water_per_staff") * scale * np.exp(0.8 * rng.standard_normal(n)),
        "gas": np.maximum(col("gas_per_staff"), 1.0) * scale * np.exp(0.9 * rng.standard_normal(n)),
    }
    noise = {
        "electricity": rng.uniform(0.04, 0.12, n) + 0.12 / np.sqrt(size),
        "water": rng.uniform(0.08, 0.2, n) + 0.1 / np.sqrt(size),
        "gas": rng.uniform(0.06, 0.15, n),
    }
    cool_lo, cool_hi = np.array([s.cooling for s in sec])[sector].T
    cooling = rng.uniform(cool_lo, cool_hi) * np.where(cold_chain, 2.5, 1.0)
    heating = cooling * rng.uniform(0.2, 0.6, n) * np.isin(sector, [2, 4, 5, 6, 7])
    elasticity = np.where(micro, rng.uniform(0.1, 0.3, n), rng.uniform(0.4, 0.9, n))

    hf_member = rng.random(n) < np.clip(col("housing_fund") * (0.6 + 0.12 * np.log(size + 1)), 0, 0.97)
    base_suits = 0.03 + 0.018 * size.astype(float) ** 0.75
    litigious = np.exp(0.6 * rng.standard_normal(n))
    return Firms(
        n=n, sector=sector, trade=trade, property_chain=property_chain, district=district,
        individual=individual, size=size, entry=entry, established=established, capital=capital,
        ids=ids, names=names, legal_rep=reps,
        leave_rate=leave, hire_speed=rng.uniform(0.4, 0.8, n), fire_speed=col("fire_speed") * rng.uniform(0.6, 1.4, n),
        festival_leave=fest, job_hop=hop, seasonal=seasonal,
        shut_start=shut_start, shut_end=shut_end, shut_depth=depth,
        meters=meters, base_usage=base, usage_noise=noise, elasticity=elasticity,
        cooling=cooling, heating=heating,
        bimonthly_water=(rng.random(n) < 0.1) & (size < 30),
        hf_member=hf_member, hf_share=rng.uniform(0.4, 1.0, n), hf_per_head=rng.uniform(600, 3000, n),
        defendant_rate=base_suits * col("defendant_rate") * litigious,
        plaintiff_rate=0.8 * base_suits * col("plaintiff_rate") * litigious,
        penalty_rate=col("penalty_rate") * np.exp(0.5 * rng.standard_normal(n)),
        extra={"cold_chain": cold_chain, "continuous_process": continuous},
    )
