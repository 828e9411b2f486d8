"""Candidate 2: one enterprise CUSUM over the summed evidence of every family.

Per month t and firm i, each family adds a log-likelihood ratio "sliding" against "as usual":
- workforce: leavers up (x rho_l), joiners down (x rho_j), against the firm's own propensity times the
  same month's rate across the portfolio (negative binomial, size r);
- utilities: log usage below the firm's level by delta, against its own level plus the same month's
  portfolio effect, Gaussian with the firm's own noise;
- litigation and administrative events: Poisson rate ratio lambda1/lambda0 per class, lambda0 the class's
  rate across the portfolio (per firm-month, by size for suits), lambda1 a fixed distress rate.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])
from bench.research.lab import nb_llr  # noqa: E402

CASH_CAUSES = ("劳动争议", "追索劳动报酬纠纷", "劳务合同纠纷", "民间借贷纠纷", "金融借款合同纠纷", "借款合同纠纷",
               "买卖合同纠纷", "拖欠工资", "确认劳动关系纠纷", "欠款纠纷", "票据追索权纠纷", "融资租赁合同纠纷")


@dataclass
class P:
    rho_l: float = 2.0
    rho_j: float = 0.5
    r: float = 30.0
    k_prior: float = 6.0
    zmax: float = 3.0
    zmin: float = -3.0
    h: float = 6.0
    min_base: int = 6
    wf: bool = True
    util: bool = True
    util_delta: float = 0.25
    util_floor_sigma: float = 0.05
    util_w: float = 1.0
    util_zmax: float = 2.0
    law: bool = True
    law_l1: float = 0.15  # distress rate of suits as defendant per month
    law_l1_cash: float = 0.15
    law_cap: float = 3.0
    admin: bool = True
    admin_l1: float = 0.05
    admin_cap: float = 3.0
    total_zmax: float = 4.0
    festival_skip_util: bool = True
    extra: dict = field(default_factory=dict)


def _flows(st, T):
    L = st.left[:, : T + 1]
    J = st.joined[:, : T + 1]
    I = st.insured[:, : T + 1]
    S = I - J + L
    ok = ~np.isnan(I) & (S >= 1)
    return np.where(ok, L, 0.0), np.where(ok, J, 0.0), np.where(ok, S, 0.0), ok


def _peer(x, S, ok):
    num = (np.where(ok, x, 0.0)).sum(axis=0)
    den = (np.where(ok, S, 0.0)).sum(axis=0)
    return np.where(den > 0, num / np.maximum(den, 1e-9), 0.0)


def _util_residuals(y):
    """log usage minus the same month's portfolio effect (median of each firm's deviation from its own
    median). Returns (residual matrix, month effect)."""
    ly = np.log(np.where(y > 0, y, np.nan))
    firm_med = np.nanmedian(ly, axis=1, keepdims=True)
    dev = ly - firm_med
    with np.errstate(all="ignore"):
        eff = np.nanmedian(dev, axis=0)
    eff = np.where(np.isnan(eff), 0.0, eff)
    return ly - eff[None, :], eff


def _size_band(S):
    s = np.nanmax(np.where(S > 0, S, np.nan), axis=1)
    s = np.where(np.isnan(s), 1.0, s)
    return np.digitize(np.log(s), [math.log(20), math.log(50), math.log(150), math.log(500)])


def discrete_evidence(st, T, p: P, band):
    """z[firm, month] from suits and administrative events, with base rates from the portfolio."""
    n = st.insured.shape[0]
    z = np.zeros((n, T + 1))
    exists = ~np.isnan(st.insured[:, : T + 1])
    firm_months = exists.sum()
    # classes
    counts = defaultdict(lambda: defaultdict(int))  # class -> firm -> list of months
    events = defaultdict(list)
    seen_cases = set()
    for i, typ, col, d in st.events:
        if col > T:
            continue
        if typ == "lawsuit":
            if d.get("role") != "defendant":
                continue
            stage = d.get("stage")
            case = d.get("case_no")
            if stage == "judgment" or (i, case) in seen_cases:
                continue
            seen_cases.add((i, case))
            cls = "enforcement" if stage == "enforcement" else (
                "suit_cash" if d.get("cause") in CASH_CAUSES else "suit_other")
        elif typ == "tax_arrears":
            cls = "tax_big" if d.get("amount", 0) >= 50_000 else "tax_small"
        elif typ == "penalty":
            cls = "penalty"
        elif typ == "abnormal_operation":
            if d.get("status") != "listed":
                continue
            cls = "abnormal"
        elif typ == "registration_change":
            f = d.get("field")
            if f == "registered_capital":
                try:
                    cut = float(d["after"]) < float(d["before"])
                except Exception:
                    cut = False
                if not cut:
                    continue
                cls = "capital_cut"
            elif f == "legal_representative":
                cls = "legal_rep"
            else:
                continue
        else:
            continue
        events[cls].append((i, col))
    for cls, evs in events.items():
        law = cls.startswith("suit") or cls == "enforcement"
        if law and not p.law:
            continue
        if not law and not p.admin:
            continue
        l1 = (p.law_l1_cash if cls in ("suit_cash", "enforcement") else p.law_l1) if law else p.admin_l1
        cap = p.law_cap if law else p.admin_cap
        if law and cls != "enforcement":
            # base rate per size band
            rates = np.zeros(5)
            for b in range(5):
                fm = exists[band == b].sum()
                k = sum(1 for i, _ in evs if band[i] == b)
                rates[b] = (k + 0.5) / (fm + 50)
            l0 = rates[band]
        else:
            l0 = np.full(n, (len(evs) + 0.5) / (firm_months + 50))
        l0 = np.minimum(l0, l1 * 0.9)
        w = np.minimum(np.log(l1 / l0), cap)
        if p.extra.get("nodecay", True) is False:
            z -= np.where(exists, (l1 - l0)[:, None], 0.0)
        for i, col in evs:
            z[i, col] += w[i]
    return z


def make(p: P):
    def detect(st):
        T = st.T
        L, J, S, ok = _flows(st, T)
        pl, pj = _peer(L, S, ok), _peer(J, S, ok)
        med_pl, med_pj = float(np.median(pl)), float(np.median(pj))
        n = L.shape[0]
        band = _size_band(S)
        zd = discrete_evidence(st, T, p, band) if (p.law or p.admin) else np.zeros((n, T + 1))
        ucum = []
        if p.util:
            util = []
            for kind in ("electricity", "water", "gas"):
                y = getattr(st, kind)[:, : T + 1]
                if np.isnan(y).all():
                    continue
                res, eff = _util_residuals(y)
                # empirical null from the cross-section: spread of month-on-month changes, lag-1 correlation
                dev = res - np.nanmedian(res, axis=1, keepdims=True)
                fest_cols = eff < -0.08
                dv = np.where(fest_cols[None, :], np.nan, dev)
                d1 = np.diff(dv, axis=1)
                pool_var = float(np.nanmedian(np.nanvar(dv, axis=1))) if np.isfinite(dv).sum() > 50 else 0.01
                a_, b_ = dv[:, 1:], dv[:, :-1]
                okk = ~np.isnan(a_) & ~np.isnan(b_)
                rho = float(np.corrcoef(a_[okk], b_[okk])[0, 1]) if okk.sum() > 50 else 0.0
                rho = min(max(rho, 0.0), 0.8) * p.extra.get("rho_use", 1.0)
                infl = (1 + rho) / (1 - rho)
                if p.extra.get("yoy"):
                    ly = np.log(np.where(y > 0, y, np.nan))
                    dd = np.full_like(ly, np.nan)
                    dd[:, 12:] = ly[:, 12:] - ly[:, :-12]
                    with np.errstate(all="ignore"):
                        pe = np.nanmedian(dd, axis=0)
                    pe = np.where(np.isnan(pe), 0.0, pe)
                    dd = dd - pe[None, :]
                    bad = (eff < -0.08)
                    badyoy = bad.copy(); badyoy[12:] |= bad[:-12]
                    dd[:, badyoy] = np.nan
                    pool_var = float(np.nanmedian(np.nanvar(dd, axis=1))) if np.isfinite(dd).sum() > 50 else 0.02
                    util.append(("yoy", dd, pool_var))
                    continue
                xs = np.where(np.isnan(res) | (eff[None, :] < -0.08), 0.0, res)
                xn = (~np.isnan(res) & (eff[None, :] >= -0.08)).astype(float)
                ucum.append((np.cumsum(xs, 1), np.cumsum(xs * xs, 1), np.cumsum(xn, 1)))
                util.append((res, eff, pool_var, infl))
        EL = S * pl[None, :]; EJ = S * pj[None, :]
        cumL, cumE, cumJ, cumJE = np.cumsum(L, 1), np.cumsum(EL, 1), np.cumsum(J, 1), np.cumsum(EJ, 1)
        C = np.zeros(n)
        start = np.zeros(n, dtype=int)
        bl = np.zeros(n); be = np.zeros(n); bj = np.zeros(n); bje = np.zeros(n); bn = np.zeros(n)
        ql = np.zeros(n); qe = np.zeros(n); qj = np.zeros(n); qje = np.zeros(n); qn = np.zeros(n)
        # utilities: baseline level and spread from in-control months
        nu = len(util) if p.util else 0
        ulev = [np.zeros(n) for _ in range(nu)]; uss = [np.zeros(n) for _ in range(nu)]; un = [np.zeros(n) for _ in range(nu)]
        qbuf = [[] for _ in range(nu)]
        for t in range(T + 1):
            o = ok[:, t]
            el = S[:, t] * pl[t]
            ej = S[:, t] * pj[t]
            l = L[:, t]
            j = J[:, t]
            ready = o & (bn >= p.min_base)
            if p.extra.get("wf_fest_skip") and (pl[t] > p.extra["wf_fest_skip"] * med_pl or pj[t] > p.extra["wf_fest_skip"] * med_pj):
                ready = ready & False
            z = np.zeros(n)
            if p.wf:
                lag = p.extra.get("lag")
                if lag:
                    ub = t - lag
                    if ub > 0:
                        cl, ce, cj, cje = cumL[:, ub - 1], cumE[:, ub - 1], cumJ[:, ub - 1], cumJE[:, ub - 1]
                    else:
                        cl = ce = cj = cje = np.zeros(n)
                    a = (cl + p.k_prior) / (ce + p.k_prior)
                    b = (cj + p.k_prior) / (cje + p.k_prior)
                    ready = o & ((ok[:, :max(ub, 0)].sum(axis=1) if ub > 0 else np.zeros(n)) >= p.min_base)
                else:
                    a = (bl + p.k_prior) / (be + p.k_prior)
                    b = (bj + p.k_prior) / (bje + p.k_prior)
                mu_l = np.maximum(el * a, 1e-6)
                mu_j = np.maximum(ej * b, 1e-6)
                zw = nb_llr(l, mu_l, p.rho_l, p.r) + nb_llr(j, mu_j, p.rho_j, p.r)
                z += np.where(ready, np.clip(zw, p.zmin, p.zmax), 0.0)
            if nu:
                zu_sum = np.zeros(n); zu_n = np.zeros(n)
                for k, u in enumerate(util):
                    if isinstance(u[0], str):
                        _, dd, pool_var = u
                        x = dd[:, t]
                        have = ~np.isnan(x)
                        vp = p.extra.get("var_prior", 12)
                        var = (uss[k] + vp * pool_var) / (un[k] + vp)
                        sd = np.sqrt(np.maximum(var, p.util_floor_sigma**2))
                        d = p.util_delta
                        zu = np.clip((-d * x - d * d / 2) / sd**2, -p.util_zmax, p.util_zmax)
                        good = have & (un[k] >= p.extra.get("umin", 6))
                        zu_sum += np.where(good, zu, 0.0); zu_n += good
                        qbuf[k].append((have, np.nan_to_num(x)))
                        continue
                    res, eff, pool_var, infl = u
                    x = res[:, t]
                    have = ~np.isnan(x)
                    fest = p.festival_skip_util and eff[t] < -0.08
                    nk = un[k]
                    level = ulev[k]
                    var = (uss[k] + p.extra.get("var_prior", 12) * pool_var) / (nk + p.extra.get("var_prior", 12))
                    if p.extra.get("ulag"):
                        ub = t - p.extra["ulag"]; W = p.extra.get("uW", 12)
                        lo = max(ub - W, 0)
                        if ub > 0:
                            cs, css, cn = ucum[k]
                            s1 = cs[:, ub - 1] - (cs[:, lo - 1] if lo > 0 else 0)
                            s2 = css[:, ub - 1] - (css[:, lo - 1] if lo > 0 else 0)
                            nn = cn[:, ub - 1] - (cn[:, lo - 1] if lo > 0 else 0)
                        else:
                            s1 = s2 = nn = np.zeros(n)
                        level = s1 / np.maximum(nn, 1)
                        vp = p.extra.get("var_prior", 12)
                        var = (np.maximum(s2 - nn * level**2, 0) + vp * pool_var) / (np.maximum(nn - 1, 0) + vp)
                        nk = nn
                    sd = np.sqrt(np.maximum(var * infl, p.util_floor_sigma**2))
                    e = x - level
                    d = p.util_delta
                    zu = (-d * e - d * d / 2) / sd**2
                    zu = np.clip(zu, -p.util_zmax, p.util_zmax)
                    good = have & (nk >= p.extra.get("umin", 12)) & (not fest)
                    zu_sum += np.where(good, zu, 0.0); zu_n += good
                    add = have & (not fest)
                    qbuf[k].append((add, np.nan_to_num(x)))
                z += p.util_w * np.where(zu_n > 0, zu_sum / np.maximum(zu_n, 1), 0.0)
            z += zd[:, t]
            z = np.minimum(z, p.total_zmax)
            Cn = np.maximum(0.0, C + z)
            began = (C == 0) & (Cn > 0)
            start = np.where(began, t, start)
            ql += l; qe += el; qj += j; qje += ej; qn += o
            flush = Cn == 0
            bl += np.where(flush, ql, 0); be += np.where(flush, qe, 0)
            bj += np.where(flush, qj, 0); bje += np.where(flush, qje, 0); bn += np.where(flush, qn, 0)
            for q in (ql, qe, qj, qje, qn):
                q[flush] = 0
            alpha = p.extra.get("alpha", 0.15)
            for k in range(nu):
                if isinstance(util[k][0], str):
                    for add, xv in qbuf[k]:
                        upd = flush & add
                        uss[k] += np.where(upd, xv * xv, 0.0)
                        un[k] += upd
                    qbuf[k] = [(add & ~flush, xv) for add, xv in qbuf[k] if (add & ~flush).any()]
                    continue
                for add, xv in qbuf[k]:
                    upd = flush & add
                    first = upd & (un[k] == 0)
                    e = xv - ulev[k]
                    ulev[k] = np.where(first, xv, np.where(upd, ulev[k] + alpha * e, ulev[k]))
                    uss[k] += np.where(upd & ~first, e * e, 0.0)
                    un[k] += upd
                qbuf[k] = [(add & ~flush, xv) for add, xv in qbuf[k] if (add & ~flush).any()]
            C = Cn
        out = [(i, "score", int(start[i])) for i in np.flatnonzero(p.h <= C)]
        if p.extra.get("rules"):
            for i, typ, col, d in st.events:
                if typ == "tax_arrears" and d.get("amount", 0) >= p.extra.get("tax_min", 50_000):
                    out.append((i, "tax", col))
                elif typ in ("dishonest_debtor", "consumption_restriction") and d.get("status") in ("listed", "issued"):
                    out.append((i, "listing", col))
        return out

    return detect
