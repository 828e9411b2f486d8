"""Research lab for early warning: a portfolio as arrays, replayed by arrival month.

Not product code. Loads a feed (events in arrival order), builds per-firm monthly arrays as they stood at
the end of each arrival month, and lets candidate detectors run causally: at arrival month T a detector
sees only what had arrived by then. Scores at raise time.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np


def pidx(p: str) -> int:
    return int(p[:4]) * 12 + int(p[5:7]) - 1


def pstr(i: int) -> str:
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


KINDS = ("insured", "joined", "left", "electricity", "water", "gas", "hf")


@dataclass
class Feed:
    firms: list[str]
    first: int  # month index of column 0
    m: int
    # monthly updates in arrival order: (arrival_col, firm, kind_id, col, values)
    updates: list[tuple[int, int, str, int, tuple]] = field(default_factory=list)
    # discrete events: (arrival_col, firm, type, col, data)
    discrete: list[tuple[int, int, str, int, dict]] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)
    sector: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.firms)


def load_feed(events, outcomes: dict[str, str], arrival=None) -> Feed:
    """``events``: dicts in arrival order. ``arrival(ev, watermark) -> month index`` (default: the
    watermark, i.e. the latest period seen so far, as the daemon judges 'now')."""
    raw = []
    seen = set()
    wm = -1
    for ev in events:
        key = (ev.get("source"), ev.get("event_id"))
        if key in seen:
            continue
        seen.add(key)
        d = ev["data"]
        if "period" in d:
            per = pidx(d["period"])
        else:
            per = pidx(ev["occurred_at"][:7])
        wm = max(wm, per)
        a = arrival(ev, wm) if arrival else wm
        raw.append((a, per, ev))
    firms = sorted({ev["enterprise_id"] for _, _, ev in raw})
    fid = {f: i for i, f in enumerate(firms)}
    first = min(p for _, p, _ in raw)
    last = max(a for a, _, _ in raw)
    feed = Feed(firms, first, last - first + 1, outcomes=outcomes)
    for a, per, ev in raw:
        i = fid[ev["enterprise_id"]]
        d = ev["data"]
        t = ev["type"]
        col = per - first
        ac = a - first
        if t == "headcount":
            feed.updates.append((ac, i, "hc", col, (d["insured"], d["joined"], d["left"])))
        elif t == "utility":
            feed.updates.append((ac, i, d["kind"], col, (d["amount"],)))
        elif t == "housing_fund":
            feed.updates.append((ac, i, "hf", col, (d["contributors"], d["amount"])))
        else:
            feed.discrete.append((ac, i, t, col, d))
    feed.updates.sort(key=lambda u: u[0])
    feed.discrete.sort(key=lambda u: u[0])
    return feed


class State:
    """Arrays as they stood at the end of an arrival month."""

    def __init__(self, feed: Feed) -> None:
        n, m = feed.n, feed.m
        self.feed = feed
        nan = lambda: np.full((n, m), np.nan)  # noqa: E731
        self.insured, self.joined, self.left = nan(), nan(), nan()
        self.electricity, self.water, self.gas = nan(), nan(), nan()
        self.hf = nan()
        self.events: list[tuple[int, str, int, dict]] = []
        self._u = 0
        self._d = 0
        self.T = -1

    def advance(self, T: int) -> None:
        f = self.feed
        while self._u < len(f.updates) and f.updates[self._u][0] <= T:
            _, i, k, col, v = f.updates[self._u]
            if k == "hc":
                self.insured[i, col], self.joined[i, col], self.left[i, col] = v
            elif k == "hf":
                self.hf[i, col] = v[0]
            else:
                getattr(self, k)[i, col] = v[0]
            self._u += 1
        while self._d < len(f.discrete) and f.discrete[self._d][0] <= T:
            _, i, t, col, d = f.discrete[self._d]
            self.events.append((i, t, col, d))
            self._d += 1
        self.T = T


def replay(feed: Feed, detector, start: int = 0, tol: int = 3):
    """Run ``detector(state) -> set of (firm, tag, change_col)`` alarms active at T, for every T.

    Returns the alerts as (firm, tag, change_col, raised_T), first raise of each identity."""
    st = State(feed)
    raised = {}
    known: dict = defaultdict(list)  # (firm, tag) -> change cols seen: a change that moves a little is the same
    for T in range(feed.m):
        st.advance(T)
        if start > T:
            continue
        for firm, tag, col in detector(st):
            cols = known[(firm, tag)]
            if any(abs(c - col) <= tol for c in cols):
                continue
            cols.append(col)
            raised[(firm, tag, col)] = T
    return [(f, tag, c, T) for (f, tag, c), T in raised.items()]


def score(feed: Feed, alerts, lead: int = 3, observed: dict | None = None) -> dict:
    """Raise-time scoring: early share, false alerts per 100 healthy firm-years."""
    out = feed.outcomes
    first_raise: dict[int, int] = {}
    first_change: dict[int, int] = {}
    false_ids = defaultdict(set)
    false_by_year = defaultdict(int)
    for f, tag, c, T in alerts:
        eid = feed.firms[f]
        if eid in out:
            d = pidx(out[eid]) - feed.first
            if d <= T:
                continue
            if f not in first_raise or first_raise[f] > T:
                first_raise[f] = T
                first_change[f] = c
        else:
            if (tag, c) not in false_ids[f]:
                false_ids[f].add((tag, c))
                false_by_year[T // 12] += 1
    n_def = 0
    early = 0
    leads = []
    hind = []
    for i, eid in enumerate(feed.firms):
        if eid not in out:
            continue
        d = pidx(out[eid]) - feed.first
        if d >= feed.m + 3 or d < 3:
            pass
        n_def += 1
        if i in first_raise:
            L = d - first_raise[i]
            leads.append(L)
            hind.append(d - first_change[i])
            early += lead <= L
    healthy = [i for i, e in enumerate(feed.firms) if e not in out]
    if observed is None:
        years = len(healthy) * feed.m / 12
    else:
        years = sum(observed[i] for i in healthy) / 12
    nf = sum(len(v) for v in false_ids.values())
    yrs_by = {}
    return {
        "defaults": n_def, "early": early, "early_share": round(early / max(n_def, 1), 3),
        "median_lead": float(np.median(leads)) if leads else None,
        "median_hindsight": float(np.median(hind)) if hind else None,
        "false": nf, "false_per_100fy": round(100 * nf / years, 2),
        "false_by_year": dict(sorted(false_by_year.items())), **yrs_by,
    }


def sim_feed(n: int, seed: int):
    from monitor.simulate import iter_events, simulate

    pf = simulate(n_enterprises=n, seed=seed)
    outcomes = {o.enterprise_id: o.default_period for o in pf.outcomes}
    feed = load_feed(iter_events(pf), outcomes)
    feed.size = {e.enterprise_id: e.size for e in pf.enterprises}
    feed.sector = {e.enterprise_id: e.industry for e in pf.enterprises}
    feed.truth = {e.enterprise_id: e for e in pf.enterprises}
    return feed


def jsonl_feed(path: str, outcomes_path: str):
    import csv

    with open(outcomes_path, encoding="utf-8") as fh:
        outcomes = {r["enterprise_id"]: r["default_period"] for r in csv.DictReader(fh)}

    def events():
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    yield json.loads(line)
                except Exception:
                    continue

    def arrival(ev, wm):
        a = ev.get("arrival")
        return pidx(a[:7]) if a else wm

    return load_feed(events(), outcomes, arrival)


def nb_llr(x, mu, ratio, r):
    """log NB(x; ratio*mu, r) - log NB(x; mu, r), elementwise; r = inf is Poisson."""
    if math.isinf(r):
        return x * math.log(ratio) - mu * (ratio - 1)
    a = np.log((mu + r) / (ratio * mu + r))
    return x * (math.log(ratio) + a) + r * a
