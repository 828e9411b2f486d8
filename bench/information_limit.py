"""Where the information runs out on Loanwatch's own simulator: the oracle evidence at default minus 3 months.

For every firm the simulator sends into default, the log-likelihood ratio of
"deteriorating" against "healthy" that its published data carry by three
months before its default, computed by an oracle that knows what no
detector can: the firm's true parameters and the month its slide began
(leavers, hires, electricity and suits as defendant, each with the
simulator's own model). A sequential test needs about ln(600) = 6.4 of
evidence to keep to 2 false alerts per 100 healthy firm-years (a CUSUM of
honest log-likelihood ratios crosses h about once every e^h months), so a
firm whose oracle evidence is below that cannot be warned 3 months ahead at
that budget by any detector: this share is an upper bound on the early share.

Usage: python bench/information_limit.py [--enterprises 2000] [--seed 23]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.festival import cny_weights  # noqa: E402
from detectors.periods import period_index  # noqa: E402
from monitor.simulate import _SUMMER, iter_events, simulate  # noqa: E402


def nb_llr(x: float, mu: float, ratio: float, size: float) -> float:
    a = math.log((mu + size) / (ratio * mu + size))
    return x * (math.log(ratio) + a) + size * a


class _Data:
    """The portfolio's published data, as arrays (firm x month)."""

    def __init__(self, pf) -> None:
        n, m = len(pf.enterprises), len(pf.periods)
        self.index = {e.enterprise_id: k for k, e in enumerate(pf.enterprises)}
        first = period_index(pf.periods[0])
        self.insured, self.joined, self.left, self.electricity = (np.full((n, m), np.nan) for _ in range(4))
        self.suits = np.zeros((n, m))
        seen = set()
        for ev in iter_events(pf):
            key = (ev["source"], ev["event_id"])
            if key in seen:
                continue
            seen.add(key)
            k, d = self.index[ev["enterprise_id"]], ev["data"]
            col = period_index(d.get("period") or ev["occurred_at"][:7]) - first
            if not 0 <= col < m:
                continue
            if ev["type"] == "headcount":
                self.insured[k, col], self.joined[k, col], self.left[k, col] = d["insured"], d["joined"], d["left"]
            elif ev["type"] == "utility" and d["kind"] == "electricity":
                self.electricity[k, col] = d["amount"]
            elif ev["type"] == "lawsuit" and d.get("role") == "defendant" and d.get("stage") == "filed":
                self.suits[k, col] += 1


def oracle(n: int, seed: int) -> list[tuple[str, str, int, dict[str, float]]]:
    pf = simulate(n_enterprises=n, seed=seed)
    prm = pf._params
    data = _Data(pf)
    m = len(pf.periods)
    res = []
    for k, e in enumerate(pf.enterprises):
        if not prm.is_det[k]:
            continue
        i = data.index[e.enterprise_id]
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
            ins, jn, lf = data.insured[i, t], data.joined[i, t], data.left[i, t]
            hp = data.insured[i, t - 1] if t > 0 else ins
            if np.isnan(ins) or np.isnan(hp):
                continue
            season = 1.0 + (prm.cny_mult[k] - 1.0) * rt + 0.2 * sh
            mu0 = max(hp * prm.q[k] * season, 1e-6)
            ratio = 1.0 + w[0] * prm.churn_amp[k] * pch
            tot["churn"] += (nb_llr(lf, mu0, ratio, 15.5))
            tgt1 = h0 * math.exp(prm.growth[k] * t) * (1.0 - w[1] * 0.5 * min(p, 1.5))
            tgt0 = h0 * math.exp(prm.growth[k] * t)
            h1 = max(prm.q[k] * hp + prm.kappa[k] * (tgt1 - hp), 0.0) * (1 - w[1] * 0.9 * p1) * (1 - 0.75 * sh)
            hh0 = max(prm.q[k] * hp + prm.kappa[k] * (tgt0 - hp), 0.0) * (1 - 0.75 * sh)
            if hh0 > 1e-6 and h1 > 1e-6:
                tot["hire"] += (nb_llr(jn, hh0, h1 / hh0, 24.5))
            x = data.electricity[i, t]
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
            y = data.suits[i, t]
            r1 = min(r1, 0.99)
            tot["law"] += y * math.log(r1 / r0) + (1 - min(y, 1)) * math.log((1 - r1) / (1 - r0))
        res.append((e.enterprise_id, e.archetype, int(prm.h0[k]), tot))
    return res




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enterprises", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=23)
    args = ap.parse_args()
    rows = oracle(args.enterprises, args.seed)
    total = np.array([sum(t.values()) for *_, t in rows])
    print(f"simulator seed {args.seed}, {args.enterprises} firms: {len(rows)} defaulters; oracle evidence "
          f"(log-likelihood ratio) by default - 3 months:")
    for h in (3.0, 4.6, 6.4, 8.0):
        print(f"  >= {h}: {np.mean(total >= h):.1%}")
    by = defaultdict(list)
    for _, archetype, _, t in rows:
        by[archetype].append(sum(t.values()))
    for archetype, v in sorted(by.items()):
        v = np.array(v)
        print(f"  {archetype}: {len(v)} firms, {np.mean(v >= 6.4):.0%} with >= 6.4, median {np.median(v):.1f}")


if __name__ == "__main__":
    main()
