"""Information ceiling on the project's own simulator: the oracle log-likelihood ratio of "deteriorating"
against "healthy" for each defaulter, knowing its true parameters and the start of its slide, using only
data up to each month. A firm whose oracle LLR at default-3 is below ~log(600) (the level a sequential test
needs for 2 false alerts per 100 firm-years) cannot be flagged 3 months ahead by any detector at that budget.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.research.lab import (  # noqa: E402
    State,
    load_feed,  # noqa: E402
    nb_llr,
)
from detectors.festival import cny_weights  # noqa: E402
from monitor.simulate import _SUMMER, iter_events, simulate  # noqa: E402


def oracle(n=2000, seed=11):
    pf = simulate(n_enterprises=n, seed=seed)
    prm = pf._params
    outcomes = {o.enterprise_id: o.default_period for o in pf.outcomes}
    feed = load_feed(iter_events(pf), outcomes)
    st = State(feed)
    st.advance(feed.m - 1)
    ids = [e.enterprise_id for e in pf.enterprises]
    col = {eid: feed.firms.index(eid) for eid in ids}
    m = len(pf.periods)
    res = []
    suits = {}
    for i, typ, c, d in st.events:
        if typ == "lawsuit" and d.get("role") == "defendant" and d.get("stage") == "filed":
            suits.setdefault(i, np.zeros(m))[c] += 1
    for k, e in enumerate(pf.enterprises):
        if not prm.is_det[k]:
            continue
        i = col[e.enterprise_id]
        s, d = int(prm.det_start[k]), int(prm.default_idx[k])
        span = d - s
        w = prm.w[:, k]
        tot = {"churn": 0.0, "hire": 0.0, "util": 0.0, "law": 0.0}
        h0 = float(prm.h0[k])
        for t in range(s, min(d - 3, m - 1) + 1):
            sh, rt = cny_weights(pf.periods[t])
            month = int(pf.periods[t][5:])
            lin = min(max((t - s) / span, 0.0), 2.0)
            p = lin ** prm.gamma[k]
            p1 = min(p, 1.0)
            pch = lin ** (0.6 * prm.gamma[k])
            ins, jn, lf = st.insured[i, t], st.joined[i, t], st.left[i, t]
            hp = st.insured[i, t - 1] if t > 0 else ins
            if np.isnan(ins) or np.isnan(hp):
                continue
            season = 1.0 + (prm.cny_mult[k] - 1.0) * rt + 0.2 * sh
            mu0 = max(hp * prm.q[k] * season, 1e-6)
            ratio = 1.0 + w[0] * prm.churn_amp[k] * pch
            tot["churn"] += float(nb_llr(lf, mu0, ratio, 15.5))
            tgt1 = h0 * math.exp(prm.growth[k] * t) * (1.0 - w[1] * 0.5 * min(p, 1.5))
            tgt0 = h0 * math.exp(prm.growth[k] * t)
            h1 = max(prm.q[k] * hp + prm.kappa[k] * (tgt1 - hp), 0.0) * (1 - w[1] * 0.9 * p1) * (1 - 0.75 * sh)
            hh0 = max(prm.q[k] * hp + prm.kappa[k] * (tgt0 - hp), 0.0) * (1 - 0.75 * sh)
            if hh0 > 1e-6 and h1 > 1e-6:
                tot["hire"] += float(nb_llr(jn, hh0, h1 / hh0, 24.5))
            x = st.electricity[i, t]
            if not np.isnan(x) and x > 0:
                slide = min(max(1.0 - w[2] * prm.util_amp[k] * min(p, 1.8), 0.03), 1.0)
                rel_h = (max(ins, 1) / h0) ** prm.elec_elasticity[k]
                m0 = math.log(prm.elec0[k] * rel_h * (1 - prm.shutdown_depth[k] * sh) * (1 - 0.15 * rt)
                              * (1 + prm.summer_amp[k] * _SUMMER[month - 1]))
                sig = prm.elec_sigma[k] * 0.98
                dlt = math.log(slide)
                ex = math.log(x) - m0
                tot["util"] += ((ex) ** 2 - (ex - dlt) ** 2) / (2 * sig * sig)
            sf = min(max((h0 / 100.0) ** 0.35, 0.4), 4.0)
            r0 = 0.004 * sf
            r1 = r0 + w[4] * prm.lawsuit_rate[k] * p * p / 3.0
            y = suits.get(i, np.zeros(m))[t]
            r1 = min(r1, 0.99)
            tot["law"] += y * math.log(r1 / r0) + (1 - min(y, 1)) * math.log((1 - r1) / (1 - r0))
        res.append((e.enterprise_id, e.archetype, int(prm.h0[k]), tot))
    return res


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    r = oracle(n, seed)
    tot = np.array([sum(t.values()) for *_, t in r])
    for h in (3, 4.6, 6.4, 8):
        print(f"oracle LLR at default-3 >= {h}: {np.mean(tot >= h):.3f} of {len(r)} defaulters")
    from collections import defaultdict
    by = defaultdict(list)
    for _, a, s, t in r:
        by[a].append(sum(t.values()))
    for a, v in by.items():
        v = np.array(v)
        print(a, len(v), "share >= 6.4:", round(float(np.mean(v >= 6.4)), 2), "median", round(float(np.median(v)), 1))
    for ch in ("churn", "hire", "util", "law"):
        v = np.array([t[ch] for *_, t in r])
        print(ch, "median", round(float(np.median(v)), 2), "p75", round(float(np.percentile(v, 75)), 2))
