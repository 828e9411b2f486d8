"""Candidate 1: one CUSUM per firm over peer-relative NB log-likelihood ratios of flows (+ options)."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])
from bench.research.lab import nb_llr, replay, score, sim_feed  # noqa: E402


@dataclass
class P:
    rho_l: float = 2.0
    rho_j: float = 0.5
    r: float = 20.0  # NB size (dispersion): var = mu + mu^2/r
    k_prior: float = 6.0  # prior expected-leaver months pulling the firm's propensity to the peers'
    zmax: float = 3.0
    zmin: float = -3.0
    h: float = 6.0
    hold: float = 0.5
    min_base: int = 6
    use_joiners: bool = True
    util: bool = False
    util_delta: float = 0.25
    util_w: float = 1.0
    law: bool = False
    law_rho: float = 4.0


def flows(st, T):
    L = st.left[:, : T + 1]
    J = st.joined[:, : T + 1]
    I = st.insured[:, : T + 1]
    S = I - J + L
    ok = ~np.isnan(I) & (S >= 1)
    S = np.where(ok, S, np.nan)
    return L, J, S, ok


def peer(x, S, ok):
    num = np.nansum(np.where(ok, x, 0.0), axis=0)
    den = np.nansum(np.where(ok, S, 0.0), axis=0)
    return np.where(den > 0, num / np.maximum(den, 1e-9), np.nan)


def make(p: P):
    def detect(st):
        T = st.T
        L, J, S, ok = flows(st, T)
        pl, pj = peer(L, S, ok), peer(J, S, ok)
        n = L.shape[0]
        C = np.zeros(n)
        start = np.zeros(n, dtype=int)
        bl = np.zeros(n); be = np.zeros(n); bj = np.zeros(n); bje = np.zeros(n); bn = np.zeros(n)
        ql = np.zeros(n); qe = np.zeros(n); qj = np.zeros(n); qje = np.zeros(n); qn = np.zeros(n)
        for t in range(T + 1):
            o = ok[:, t]
            el = np.where(o, S[:, t] * pl[t], 0.0)
            ej = np.where(o, S[:, t] * pj[t], 0.0)
            l = np.where(o, L[:, t], 0.0)
            j = np.where(o, J[:, t], 0.0)
            a = (bl + p.k_prior) / (be + p.k_prior * 1.0)
            b = (bj + p.k_prior) / (bje + p.k_prior * 1.0)
            mu_l = np.maximum(el * a, 1e-6)
            mu_j = np.maximum(ej * b, 1e-6)
            z = nb_llr(l, mu_l, p.rho_l, p.r)
            if p.use_joiners:
                z = z + nb_llr(j, mu_j, p.rho_j, p.r)
            ready = o & (bn >= p.min_base)
            z = np.where(ready, np.clip(z, p.zmin, p.zmax), 0.0)
            Cn = np.maximum(0.0, C + z)
            began = (C == 0) & (Cn > 0)
            start = np.where(began, t, start)
            # in-control months feed the baseline; a run's months join it once the run ends at zero
            ql += l; qe += el; qj += j; qje += ej; qn += o
            flush = Cn == 0
            bl += np.where(flush, ql, 0); be += np.where(flush, qe, 0)
            bj += np.where(flush, qj, 0); bje += np.where(flush, qje, 0); bn += np.where(flush, qn, 0)
            for q in (ql, qe, qj, qje, qn):
                q[flush] = 0
            C = Cn
        # alarm: the current run reached h (anywhere in the run) and still holds hold*h
        return [(i, "wf", int(start[i])) for i in np.flatnonzero(p.h <= C)]

    return detect


if __name__ == "__main__":
    import json
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    t0 = time.time()
    feed = sim_feed(n, seed)
    print("loaded", round(time.time() - t0, 1), "s", feed.n, feed.m, file=sys.stderr)
    for h in (4, 5, 6, 7, 8):
        for r in (10.0, 30.0, math.inf):
            p = P(h=h, r=r)
            al = replay(feed, make(p), start=0)
            print(json.dumps({"h": h, "r": r, **score(feed, al)}))


def study(n=2000, seed=11, **kw):
    from bench.research.analyze import breakdown
    feed = sim_feed(n, seed)
    p = P(**kw)
    al = replay(feed, make(p))
    return feed, al, score(feed, al), breakdown(feed, al)
