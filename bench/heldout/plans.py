"""What happens to each firm, month by month: healthy episodes, shocks, and the slide into default.

The plan is a set of (firm x month) arrays that the series simulation and the
court/register generator read: multipliers on hiring, leaving and metered
activity, a staffing target, one-month let-go shares, suit rates by cause
group, and a list of scheduled register/court/tax events. Nothing here draws
headcounts; it only says what pressure each firm is under, so one can read a
firm's story in ``truth.json`` without re-running the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.heldout.identity import DISTRICTS
from bench.heldout.months import calendar_month, month_text, month_year
from bench.heldout.population import Firms
from bench.heldout.sectors import SECTORS

__all__ = ["Plan", "Horizon", "build_plan", "ARCHETYPES", "SUIT_GROUPS", "DEFAULT_RATE"]

DEFAULT_RATE = 0.07
SUIT_GROUPS = ("supplier", "lending", "labour")
SOLAR = np.array([0.6, 0.7, 0.85, 0.95, 1.05, 1.0, 1.1, 1.15, 1.0, 0.9, 0.75, 0.6])


@dataclass(frozen=True)
class Horizon:
    """Simulated months: ``burn_in`` months of unseen history, then the published span."""

    first: int  # month number of simulated month 0
    burn_in: int
    months: int  # the span

    @property
    def total(self) -> int:
        return self.burn_in + self.months

    @property
    def span_start(self) -> int:
        return self.first + self.burn_in

    def period(self, j: int) -> str:
        return month_text(self.first + j)


# archetype: (share of defaulters, decline months low-high, what it does)
ARCHETYPES: dict[str, tuple[float, tuple[int, int], str]] = {
    "attrition": (0.19, (8, 18), "leavers rise and hiring thins; staff bleed away, usage follows late"),
    "hiring_freeze": (0.15, (6, 15), "leavers are no longer replaced; staff drift down at the churn rate"),
    "layoffs": (0.10, (5, 12), "hiring stops, then one or two layoffs; labour disputes follow"),
    "utility_led": (0.12, (6, 14), "orders go first: metered usage falls while staff are kept, then they go"),
    "litigation_led": (0.14, (6, 15), "suppliers and lenders sue; enforcement and listings near default"),
    "wage_arrears": (0.10, (5, 12), "wages and contributions go unpaid: labour suits, quitting, insurance stopped"),
    "quiet": (0.12, (2, 4), "nothing much shows until the last months (guarantee chains, a sudden loss)"),
    "admin_decay": (0.08, (6, 14), "taxes unpaid, owner changes, unreachable at the registered address"),
}


@dataclass
class Plan:
    trend_step: np.ndarray  # monthly increments of log target staff (cumulative)
    trend_offset: np.ndarray  # non-cumulative offsets of log target staff
    leave_mult: np.ndarray
    hire_mult: np.ndarray
    let_go: np.ndarray  # share of staff let go (or dropped from insurance) in the month
    activity: np.ndarray  # multiplier on every meter
    meter: dict[str, np.ndarray]  # per-kind multiplier (rationing, solar, meter faults)
    meter_gap: dict[str, np.ndarray]  # bool: no reading published
    shut: np.ndarray  # extra share of the month shut (temporary shutdowns, lockdown)
    hf_mult: np.ndarray
    reporting: np.ndarray  # bool: headcount and housing fund records exist
    hc_gap: np.ndarray  # bool: this month's headcount record is never published
    suit_mult: np.ndarray  # multiplier on base suit rates (macro)
    suits: dict[str, np.ndarray]  # extra suits per month as defendant, by cause group
    plaintiff_extra: np.ndarray
    scheduled: list[dict[str, Any]]  # register, tax, listing and penalty events with a month
    default_month: np.ndarray  # simulated month of default, -1 if none
    decline_start: np.ndarray  # simulated month the decline starts, -1 if none
    truth: list[dict[str, Any]]
    shocks: list[dict[str, Any]] = field(default_factory=list)


def _empty(n: int, t: int) -> Plan:
    def ones() -> np.ndarray:
        return np.ones((n, t))

    def zeros() -> np.ndarray:
        return np.zeros((n, t))

    return Plan(
        trend_step=zeros(), trend_offset=zeros(), leave_mult=ones(), hire_mult=ones(), let_go=zeros(),
        activity=ones(), meter={k: ones() for k in ("electricity", "water", "gas")},
        meter_gap={k: np.zeros((n, t), bool) for k in ("electricity", "water", "gas")},
        shut=zeros(), hf_mult=ones(), reporting=np.ones((n, t), bool), hc_gap=np.zeros((n, t), bool),
        suit_mult=ones(), suits={g: zeros() for g in SUIT_GROUPS}, plaintiff_extra=zeros(),
        scheduled=[], default_month=np.full(n, -1), decline_start=np.full(n, -1),
        truth=[{"archetype": "healthy", "episodes": []} for _ in range(n)],
    )


def _ramp(length: int) -> np.ndarray:
    return np.arange(1, length + 1) / length


class _Builder:
    def __init__(self, rng: np.random.Generator, firms: Firms, hz: Horizon) -> None:
        self.rng, self.f, self.hz = rng, firms, hz
        self.p = _empty(firms.n, hz.total)

    def note(self, i: int, kind: str, j: int, **info: Any) -> None:
        self.p.truth[i]["episodes"].append({"kind": kind, "start": self.hz.period(j), **info})

    def schedule(self, i: int, j: int, type_: str, **data: Any) -> None:
        if 0 <= j < self.hz.total:
            self.p.scheduled.append({"firm": i, "month": int(j), "type": type_, **data})

    # -- whole life -------------------------------------------------------------------------------

    def baseline(self) -> None:
        rng, f, hz, p = self.rng, self.f, self.hz, self.p
        t = hz.total
        p.trend_step += rng.normal(0.0, 0.002, f.n)[:, None]
        for i in np.flatnonzero(f.entry > 0):
            p.reporting[i, : f.entry[i]] = False
            dur = int(rng.integers(10, 25))
            a, b = f.entry[i] + 1, min(t, f.entry[i] + 1 + dur)
            p.trend_step[i, a:b] += rng.uniform(0.03, 0.07)
            self.note(int(i), "founded", int(f.entry[i]), growth_months=dur)
        cal = np.array([calendar_month(hz.first + j) for j in range(t)])
        for i in np.flatnonzero(f.seasonal):
            season = np.log(np.array(SECTORS[f.sector[i]].staff_season))
            p.trend_offset[i] += (season - season.mean())[cal]
        # construction crews follow projects: the staffing target jumps when one starts or ends
        for i in np.flatnonzero(f.sector == 1):
            for j in np.flatnonzero(rng.random(t) < 1.2 / 12):
                p.trend_step[i, j] += float(np.clip(rng.normal(0, 0.25), -0.5, 0.5))

    def healthy_episodes(self, i: int, lo: int, hi: int) -> None:
        """Episodes of ordinary business life, starting in simulated months [lo, hi)."""
        rng, f, hz, p = self.rng, self.f, self.hz, self.p
        t = hz.total
        if hi - lo < 3:
            return

        def start() -> int:
            return int(rng.integers(lo, hi))

        sec = SECTORS[f.sector[i]]
        if rng.random() < sec.growth_share:
            j, dur = start(), int(rng.integers(6, 19))
            rate = rng.uniform(0.015, 0.04)
            p.trend_step[i, j : j + dur] += rate
            self.note(i, "growth", j, months=dur, monthly=round(rate, 4))
        if rng.random() < 0.05:
            j, dur = start(), int(rng.integers(8, 17))
            rate = rng.uniform(0.008, 0.02)
            p.trend_step[i, j : j + dur] -= rate
            p.hire_mult[i, j : j + dur] *= 0.5
            automation = rng.random() < 0.5
            if automation:  # fewer people, same machines: usage does not follow the staff down
                fall = np.minimum(np.arange(1, t - j + 1), dur) * rate
                p.activity[i, j:] *= np.exp(f.elasticity[i] * fall)
            self.note(i, "planned_downsizing", j, months=dur, monthly=round(-rate, 4), automation=automation)
        if rng.random() < 0.08:
            j = start()
            drop, act, back = rng.uniform(0.1, 0.3), rng.uniform(0.15, 0.4), int(rng.integers(4, 11))
            shape = np.concatenate([[0.6, 1.0], 1 - _ramp(back)])[: t - j]
            p.trend_offset[i, j : j + len(shape)] += np.log1p(-drop * shape)
            p.activity[i, j : j + len(shape)] *= 1 - act * shape
            p.hire_mult[i, j : j + 3] *= 0.4
            if rng.random() < 0.3:
                p.plaintiff_extra[i, j + 1 : j + 4] += 0.3
            self.note(i, "lost_contract", j, staff_dip=round(drop, 3), usage_dip=round(act, 3), recovery=back)
        if rng.random() < 0.04:
            j, dur = start(), 1 + int(rng.random() < 0.25)
            depth = rng.uniform(0.5, 0.95)
            p.shut[i, j : j + dur] += depth
            p.leave_mult[i, j : j + dur + 1] *= 1.5
            penalty = rng.random() < 0.6
            if penalty:
                self.schedule(i, j - int(rng.random() < 0.5), "penalty", cause="rectification")
            self.note(i, "temporary_shutdown", j, months=dur, depth=round(depth, 3), penalty=penalty)
        for kind in ("electricity", "water"):
            if f.meters[kind][i] and rng.random() < 0.04:
                j = start()
                if rng.random() < 0.5:
                    low = rng.uniform(0.0, 0.4)
                    p.meter[kind][i, j] *= low
                    if j + 1 < t:
                        p.meter[kind][i, j + 1] *= 2 - low
                    self.note(i, "meter_replaced", j, meter=kind, reading=round(low, 3))
                else:
                    step = rng.uniform(0.75, 0.9) if rng.random() < 0.5 else rng.uniform(1.1, 1.3)
                    p.meter[kind][i, j:] *= step
                    self.note(i, "meter_recalibrated", j, meter=kind, step=round(step, 3))
        if f.sector[i] in (0, 3) and f.meters["electricity"][i] and rng.random() < 0.05:
            j, share = start(), rng.uniform(0.15, 0.4)
            cal = np.array([calendar_month(hz.first + k) for k in range(j, t)])
            p.meter["electricity"][i, j:] *= 1 - share * SOLAR[cal] / SOLAR.mean()
            self.note(i, "rooftop_solar", j, share=round(share, 3))
        if rng.random() < 0.015:
            j = start()
            step = rng.uniform(0.6, 1.5)
            for kind in p.meter:
                p.meter[kind][i, j:] *= step
                p.meter_gap[kind][i, j] = True
            p.leave_mult[i, j : j + 2] *= 2.0
            self.schedule(i, j, "registration_change", field="address")
            self.note(i, "relocation", j, usage_step=round(step, 3))
        if rng.random() < 0.02:
            j, dur = start(), int(rng.integers(2, 4))
            p.hc_gap[i, j : j + dur] = True
            self.note(i, "records_missing", j, months=dur)

    def rare_exits(self, i: int, lo: int) -> bool:
        """Healthy but alarming: staff moved to a sister company, or an orderly wind-down. True if one."""
        rng, hz, p = self.rng, self.hz, self.p
        t = hz.total
        u = rng.random()
        if u < 0.004:
            j = int(rng.integers(max(lo, hz.burn_in), t - 1))
            share = rng.uniform(0.6, 0.95)
            p.let_go[i, j] = max(p.let_go[i, j], share)
            p.trend_step[i, j] += np.log1p(-share)
            self.schedule(i, j, "registration_change", field="shareholder")
            self.note(i, "staff_transferred_to_group_company", j, share=round(share, 3))
            return True
        if u < 0.009 and self.f.entry[i] == 0:
            j, dur = int(rng.integers(max(lo, hz.burn_in), t - 3)), int(rng.integers(4, 9))
            fade = np.linspace(1, 0.02, dur)
            end = min(t, j + dur)
            p.trend_offset[i, j:end] += np.log(fade[: end - j])
            p.trend_offset[i, end:] += np.log(0.02)
            p.hire_mult[i, j:] *= 0.1
            p.activity[i, j:end] *= fade[: end - j]
            p.reporting[i, end + 1 :] = False
            for kind in p.meter_gap:
                p.meter_gap[kind][i, end + 1 :] = True
            self.schedule(i, j, "registration_change", field="business_scope")
            self.note(i, "orderly_wind_down", j, months=dur)
            return True
        return False

    # -- the economy ---------------------------------------------------------------------------------

    def shocks(self) -> None:
        rng, f, hz, p = self.rng, self.f, self.hz, self.p
        t, b, m = hz.total, hz.burn_in, hz.months
        # 1. property-chain slump: construction, building materials makers and traders
        a = b + int(0.28 * m)
        k = np.arange(t) - a
        level = np.select([k < 0, k < 14, k < 24], [0.0, np.clip((k + 1) / 6, 0, 1), 1 - 0.06 * (k - 13)], 0.4)
        hit = np.flatnonzero(f.property_chain)
        exposure = rng.uniform(0.3, 1.3, len(hit))[:, None]
        grow = np.zeros(t)
        grow[a : a + 14] = -0.012
        grow[a + 14 : a + 24] = 0.005
        p.trend_step[hit] += exposure * grow
        p.hire_mult[hit] *= 1 - 0.35 * exposure * level
        p.leave_mult[hit] *= 1 + 0.25 * exposure * level
        p.activity[hit] *= 1 - 0.2 * exposure * level
        p.suit_mult[hit] *= 1 + 0.8 * exposure * level
        p.shocks.append({"name": "property_chain_slump", "start": hz.period(a), "full_from": hz.period(a + 6),
                         "easing_from": hz.period(a + 14), "firms": len(hit),
                         "effects": "target staff -1.2 %/month for 14 months, hiring x0.65, leavers x1.25, "
                                    "usage x0.8, suits x1.8 at full exposure"})
        # 2. a district-wide shutdown (public-health or safety lockdown) for about two weeks
        c = b + int(0.45 * m)
        district = 0  # 昆山
        local = np.flatnonzero(f.district == district)
        sites = local[np.isin(f.sector[local], [0, 1, 3])]
        others = local[~np.isin(f.sector[local], [0, 1, 3])]
        p.shut[sites, c] += rng.uniform(0.4, 0.65, len(sites))
        p.activity[others, c] *= rng.uniform(0.6, 0.8, len(others))
        p.leave_mult[local, c] *= 1.3
        p.hire_mult[local, c] *= 0.3
        if c + 1 < t:
            p.hire_mult[local, c + 1] *= 1.4
        p.shocks.append({"name": "district_lockdown", "start": hz.period(c), "district": DISTRICTS[district].code,
                         "firms": len(local), "effects": "sites shut 40-65 % of the month, others' usage "
                                                         "x0.6-0.8, leavers x1.3, hiring x0.3 then x1.4"})
        # 3. summer power rationing for heavy industrial users
        d = next((j for j in range(b + int(0.5 * m) - 3, t) if calendar_month(hz.first + j) == 7), None)
        if d is not None:
            heavy = np.flatnonzero((f.sector == 0) & f.meters["electricity"])
            heavy = heavy[f.base_usage["electricity"][heavy] >= np.quantile(f.base_usage["electricity"][heavy], 0.6)]
            p.meter["electricity"][heavy, d] *= rng.uniform(0.6, 0.8, len(heavy))
            second = heavy[rng.random(len(heavy)) < 0.5]
            if d + 1 < t:
                p.meter["electricity"][second, d + 1] *= rng.uniform(0.8, 0.95, len(second))
            p.shocks.append({"name": "power_rationing", "start": hz.period(d), "firms": len(heavy),
                             "effects": "grid electricity x0.6-0.8 for a month, half of them x0.8-0.95 the next"})

    def register_waves(self) -> None:
        """Healthy register, tax and listing events that arrive in waves or at base rates."""
        rng, f, hz = self.rng, self.f, self.hz
        for j in range(hz.burn_in, hz.total):
            m = hz.first + j
            year, cal = month_year(m), calendar_month(m)
            # 2024 Company Law: subscribed capital must be paid in within five years, so from July 2024
            # many sound firms cut a capital they never meant to pay.
            if (year, cal) >= (2024, 6):
                heavy = f.capital / np.maximum(f.size, 1) > 1e5
                p_cut = np.where(heavy, 0.012, 0.002) * ~f.individual
                for i in np.flatnonzero(rng.random(f.n) < p_cut):
                    self.schedule(int(i), j, "registration_change", field="registered_capital", cut=True)
            # Annual reports are due on 30 June; who has not filed is listed in July and mostly
            # removed once the report is in.
            if cal == 6:
                p_list = np.where(f.size <= 5, 0.03, 0.008)
                for i in np.flatnonzero(rng.random(f.n) < p_list):
                    self.schedule(int(i), j, "abnormal_operation", status="listed", reason="annual_report",
                                  removed_after=int(rng.integers(1, 9)) if rng.random() < 0.7 else None)
            for field_, rate in (("legal_representative", 0.03), ("shareholder", 0.04), ("address", 0.02),
                                 ("business_scope", 0.03), ("registered_capital", 0.02), ("name", 0.005)):
                for i in np.flatnonzero(rng.random(f.n) < rate / 12):
                    self.schedule(int(i), j, "registration_change", field=field_, cut=False)
            # small tax slips, announced quarterly
            if cal in (0, 3, 6, 9):
                for i in np.flatnonzero(rng.random(f.n) < 0.004):
                    self.schedule(int(i), j, "tax_arrears", scale="small")
            # a consumption-restriction order over a small dispute, lifted once paid
            for i in np.flatnonzero(rng.random(f.n) < 0.003 / 12):
                self.schedule(int(i), j, "consumption_restriction", lifted_after_days=int(rng.integers(10, 60)))
            for i in np.flatnonzero(rng.random(f.n) < 0.002 / 12):
                self.schedule(int(i), j, "abnormal_operation", status="listed", reason="unreachable",
                              removed_after=int(rng.integers(1, 6)))

    # -- default ------------------------------------------------------------------------------------

    def pick_defaulters(self, rate: float) -> tuple[np.ndarray, np.ndarray]:
        rng, f, hz = self.rng, self.f, self.hz
        weight = np.array([s.default_weight for s in SECTORS])[f.sector] * f.size.astype(float) ** -0.12
        age = np.array([(hz.first + hz.burn_in) // 12 - d.year for d in f.established])
        weight *= np.where(age < 3, 1.4, 1.0) * np.where(f.property_chain, 2.0, 1.0)
        weight[f.entry > 0] = 0.0
        k = int(round(rate * f.n))
        chosen = rng.choice(f.n, size=k, replace=False, p=weight / weight.sum())
        b, m = hz.burn_in, hz.months
        slump = b + int(0.28 * m)
        when = b + rng.integers(7, m, size=k)
        driven = f.property_chain[chosen] & (rng.random(k) < 0.6)
        when = np.where(driven, np.clip(slump + rng.integers(6, 21, size=k), b + 7, b + m - 1), when)
        return chosen, when

    def decline(self, i: int, td: int) -> None:
        rng, f, hz, p = self.rng, self.f, self.hz, self.p
        t = hz.total
        names = list(ARCHETYPES)
        arch = str(rng.choice(names, p=np.array([ARCHETYPES[a][0] for a in names])))
        lo, hi = ARCHETYPES[arch][1]
        dur = int(rng.integers(lo, hi + 1))
        ts = td - dur
        p.default_month[i], p.decline_start[i] = td, ts
        x = np.zeros(t)
        x[ts:td] = _ramp(dur)
        x[td:] = 1.0
        u = rng.uniform
        w = u(0.6, 1.4)  # how loudly this firm's trouble shows
        size = float(f.size[i])
        channels: dict[str, Any] = {}

        def workforce(h: float, ph: float, lv: float, pl: float, td_: float, pt: float) -> None:
            p.hire_mult[i] *= 1 - min(0.98, w * h) * x**ph
            p.leave_mult[i] *= 1 + w * lv * x**pl
            p.trend_offset[i] += np.log1p(-min(0.9, w * td_) * x**pt)
            channels.update(hiring_cut=round(min(0.98, w * h), 3), leaver_rise=round(w * lv, 3),
                            staff_target_cut=round(min(0.9, w * td_), 3))

        def usage(drop: float, shape: float) -> None:
            p.activity[i] *= 1 - min(0.9, w * drop) * x**shape
            channels["usage_cut"] = round(min(0.9, w * drop), 3)

        def suits(group: str, per_month: float, shape: float, start: float = 0.0) -> None:
            scale = np.clip((size / 20) ** (0.5 if group == "labour" else 0.3), 0.3, 4.0)
            on = np.clip((x - start) / max(1e-9, 1 - start), 0, 1)
            p.suits[group][i] += per_month * scale * on**shape
            channels[f"{group}_suits_per_month"] = round(float(per_month * scale), 3)

        def at(share: float) -> int:
            return min(td - 1, ts + max(0, int(round(share * dur)) - 1))

        if arch == "attrition":
            workforce(u(0.6, 0.95), 1.0, u(1.0, 3.0), 1.0, u(0.2, 0.5), 1.0)
            usage(u(0.15, 0.45), 1.5)
        elif arch == "hiring_freeze":
            workforce(u(0.8, 1.0), 0.5, u(0.0, 0.4), 1.0, u(0.2, 0.5), 1.0)
            usage(u(0.1, 0.35), 1.5)
        elif arch == "layoffs":
            workforce(u(0.6, 0.95), 0.7, u(0.3, 1.0), 1.0, 0.0, 1.0)
            layoffs = []
            for share in sorted(u(0.45, 0.95, size=1 + int(rng.random() < 0.4))):
                j, cut = at(share), u(0.2, 0.5)
                p.let_go[i, j] = max(p.let_go[i, j], cut)
                p.trend_offset[i, j:] += np.log1p(-cut)
                p.activity[i, j:] *= 1 - 0.7 * cut
                p.suits["labour"][i, j + 1 : j + 4] += min(1.0, cut * size / 15) * u(0.3, 1.0)
                layoffs.append({"period": hz.period(j), "share": round(cut, 3)})
            channels["layoffs"] = layoffs
        elif arch == "utility_led":
            usage(u(0.35, 0.75), 0.7)
            workforce(u(0.4, 0.8), 1.5, u(0.3, 1.5), 2.0, u(0.1, 0.3), 2.0)
            suits("supplier", u(0.03, 0.2), 1.0)
        elif arch == "litigation_led":
            suits("supplier", u(0.1, 0.45), 0.8)
            suits("lending", u(0.04, 0.25), 1.0)
            suits("labour", u(0.0, 0.1), 1.0)
            workforce(u(0.2, 0.6), 1.0, u(0.0, 0.6), 1.0, u(0.0, 0.2), 1.0)
            usage(u(0.0, 0.3), 1.5)
        elif arch == "wage_arrears":
            suits("labour", u(0.1, 0.6), 1.0, start=0.3)
            workforce(u(0.5, 0.95), 1.0, u(1.0, 3.0), 1.0, 0.0, 1.0)
            usage(u(0.1, 0.4), 1.5)
            if rng.random() < 0.7:
                j, cut = at(u(0.6, 0.95)), u(0.4, 0.9)
                p.let_go[i, j] = max(p.let_go[i, j], cut)
                p.trend_offset[i, j:] += np.log1p(-cut)
                channels["insurance_stopped"] = {"period": hz.period(j), "share": round(cut, 3)}
            if rng.random() < 0.85:
                j = at(u(0.2, 0.5))
                p.hf_mult[i, j:] = 0.0
                channels["housing_fund_stopped"] = hz.period(j)
            if rng.random() < 0.5:
                self._tax(i, ts, td, dur, 0.3, channels)
        elif arch == "quiet":
            w *= 0.4
            workforce(u(0.2, 0.6), 3.0, u(0.2, 1.0), 3.0, 0.0, 1.0)
            if rng.random() < 0.4:
                j, cut = td - 1, u(0.3, 0.8)
                p.let_go[i, j] = max(p.let_go[i, j], cut)
                p.trend_offset[i, j:] += np.log1p(-cut)
                channels["sudden_loss_of_staff"] = {"period": hz.period(j), "share": round(cut, 3)}
            suits("lending", u(0.0, 0.3), 3.0)
        elif arch == "admin_decay":
            workforce(u(0.4, 0.8), 1.0, u(0.2, 1.0), 1.0, u(0.1, 0.3), 1.0)
            usage(u(0.2, 0.45), 1.5)
            self._tax(i, ts, td, dur, 0.2, channels, always=True)
            if rng.random() < 0.7:
                self.schedule(i, at(u(0.5, 0.9)), "abnormal_operation", status="listed", reason="unreachable",
                              removed_after=None)
                channels["abnormal_operation"] = True
            if rng.random() < 0.6:
                self.schedule(i, at(u(0.3, 0.8)), "registration_change", field="legal_representative")
                channels["legal_representative_change"] = True
            if rng.random() < 0.4:
                self.schedule(i, at(u(0.3, 0.9)), "registration_change", field="shareholder")
            if rng.random() < 0.5:
                self.schedule(i, at(u(0.4, 0.9)), "registration_change", field="registered_capital", cut=True)
                channels["registered_capital_cut"] = True

        # secondary signs, whatever the archetype
        if "insurance_stopped" not in channels and rng.random() < (0.45 if size < 20 else 0.3):
            # short of cash, the firm stops paying contributions for part of its staff (断缴)
            j, cut = at(u(0.4, 0.9)), u(0.2, 0.6)
            p.let_go[i, j] = max(p.let_go[i, j], cut)
            p.trend_offset[i, j:] += np.log1p(-cut)
            channels["insurance_stopped"] = {"period": hz.period(j), "share": round(cut, 3)}
        if arch != "litigation_led" and rng.random() < 0.5:
            suits("supplier", u(0.03, 0.15), 1.0)
        if arch not in ("wage_arrears", "litigation_led") and rng.random() < 0.35:
            suits("labour", u(0.03, 0.15), 1.0)
        if arch not in ("litigation_led", "quiet") and rng.random() < 0.3:
            suits("lending", u(0.02, 0.12), 1.5)
        if "tax_arrears" not in channels and rng.random() < 0.3:
            self._tax(i, ts, td, dur, 0.4, channels)
        if f.hf_member[i] and "housing_fund_stopped" not in channels and rng.random() < 0.35:
            j = at(u(0.3, 0.9))
            p.hf_mult[i, j:] *= 0.0 if rng.random() < 0.6 else 0.4
            channels["housing_fund_stopped"] = hz.period(j)
        if arch != "admin_decay":
            if rng.random() < 0.12:
                self.schedule(i, at(u(0.3, 0.9)), "registration_change", field="legal_representative")
                channels["legal_representative_change"] = True
            if rng.random() < 0.06:
                self.schedule(i, at(u(0.3, 0.9)), "registration_change", field="registered_capital", cut=True)
                channels["registered_capital_cut"] = True
            if rng.random() < 0.12:
                self.schedule(i, at(u(0.6, 1.0)), "abnormal_operation", status="listed", reason="unreachable",
                              removed_after=None)
                channels["abnormal_operation"] = True
        listing_p = 0.7 if arch == "litigation_led" else 0.6 if arch == "quiet" else 0.45
        if rng.random() < listing_p:
            j = td + int(rng.integers(-2, 3))
            self.schedule(i, j, "listing", restriction=rng.random() < 0.8, dishonest=rng.random() < 0.75)
            channels["court_listing"] = hz.period(j)
        channels["loudness"] = round(w, 3)
        self._after_default(i, td, channels)
        visible = ts if arch != "quiet" else max(ts, td - 2)
        p.truth[i].update(
            archetype=arch, description=ARCHETYPES[arch][2], decline_start=hz.period(ts),
            decline_months=dur, default_period=hz.period(td), visible_from=hz.period(visible),
            channels=channels,
        )

    def _tax(self, i: int, ts: int, td: int, dur: int, start: float, channels: dict, always: bool = False) -> None:
        first = ts + int(start * dur)
        quarters = [j for j in range(first, td + 3) if calendar_month(self.hz.first + j) in (0, 3, 6, 9)]
        listed = [j for j in quarters if always or self.rng.random() < 0.6]
        for k, j in enumerate(listed):
            self.schedule(i, j, "tax_arrears", scale="decline", step=k)
        if listed:
            channels["tax_arrears"] = [self.hz.period(j) for j in listed]

    def _after_default(self, i: int, td: int, channels: dict) -> None:
        rng, hz, p = self.rng, self.hz, self.p
        t = hz.total
        if rng.random() < 0.55:
            j = min(t - 1, td + int(rng.integers(0, 4)))
            p.let_go[i, j] = max(p.let_go[i, j], rng.uniform(0.7, 1.0))
            p.trend_offset[i, j:] += np.log(0.02)
            p.hire_mult[i, j:] *= 0.05
            p.activity[i, j:] *= rng.uniform(0.05, 0.2)
            stop = j + int(rng.integers(2, 6))
            p.reporting[i, stop:] = False
            for kind in p.meter_gap:
                p.meter_gap[kind][i, stop:] = True
            if rng.random() < 0.5:
                self.schedule(i, stop + int(rng.integers(1, 7)), "abnormal_operation", status="listed",
                              reason="unreachable", removed_after=None)
            channels["after_default"] = {"kind": "closes", "records_stop": hz.period(stop)}
        else:
            cut = rng.uniform(0.3, 0.7)
            dur = int(rng.integers(3, 7))
            shape = np.concatenate([_ramp(dur), np.ones(max(0, t - td - dur))])[: t - td]
            p.trend_offset[i, td:] += np.log1p(-cut * shape)
            p.activity[i, td:] *= 1 - cut * shape
            p.hire_mult[i, td:] *= 0.3
            channels["after_default"] = {"kind": "goes_on_degraded", "staff_cut": round(cut, 3)}
        if rng.random() < 0.75:  # the lending bank sues
            self.schedule(i, td + int(rng.integers(1, 6)), "bank_suit")


def build_plan(rng: np.random.Generator, firms: Firms, hz: Horizon, default_rate: float = DEFAULT_RATE) -> Plan:
    b = _Builder(rng, firms, hz)
    b.baseline()
    b.shocks()
    b.register_waves()
    chosen, when = b.pick_defaulters(default_rate)
    defaulting = dict(zip(chosen.tolist(), when.tolist()))
    for i in range(firms.n):
        td = defaulting.get(i)
        if td is None:
            if b.rare_exits(i, hz.burn_in - 12):
                b.p.truth[i]["archetype"] = "healthy_exit"
            else:
                b.healthy_episodes(i, hz.burn_in - 12, hz.total - 1)
        else:
            b.decline(i, td)
            b.healthy_episodes(i, hz.burn_in - 12, int(b.p.decline_start[i]) - 3)
    return b.p
