"""Fast approximate tuning: score paths from the final state; first crossing = raise month (+arrival lag)."""
import sys, json, pickle, os
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.research.lab import State, pidx, jsonl_feed
from bench.research.run import feed as simfeed
from bench.research.product import histories
from detectors.peers import PeerBaseline, firm_sums, add_sums
from detectors.evidence import EvidenceScore

def load(name):
    cache = f"/tmp/lab_cache/{name}.pkl"
    if name.startswith("ho"):
        if os.path.exists(cache):
            return pickle.load(open(cache, "rb"))
        s = name[2:]
        fd = jsonl_feed(f"/tmp/ho{s}/events.jsonl", f"/tmp/ho{s}/outcomes.csv")
        pickle.dump(fd, open(cache, "wb")); return fd
    n, seed = name[3:].split("_")
    return simfeed(int(n), int(seed))

def prepare(fd, profiles=None):
    st = State(fd); st.advance(fd.m - 1)
    hs = histories(st)
    if profiles:
        from detectors.records import DiscreteEvent
        prof = {}
        for line in open(profiles, encoding="utf-8"):
            p = json.loads(line); prof[p["enterprise_id"]] = p
        for h in hs:
            p = prof.get(h.enterprise_id)
            if p:
                h.discrete.append(DiscreteEvent("enterprise_profile", "2000-01-01T00:00:00+08:00", "2000-01",
                                                {"industry": p["industry"]}, "profile"))
    sums = {}
    for h in hs: add_sums(sums, firm_sums(h))
    return hs, PeerBaseline.from_sums(sums)

def State_events(fd):
    return [(i, t, c, d) for _, i, t, c, d in fd.discrete]


def evaluate(fd, hs, peers, det, hs_list=(4, 5, 6), lag=1, lead=3, observed=None, use_rules=True):
    first = fd.first
    paths = []
    for h in hs:
        tl, fam, _ = det.score(h, peers)
        if not len(tl):
            paths.append(None); continue
        total = np.minimum(sum(fam.values()), det.total_cap)
        s = 0.0; path = []
        for inc in total.tolist():
            s = max(0.0, s + inc); path.append(s)
        paths.append((tl, np.array(path), fam))
    rule_alarms = {}
    for i, typ, col, d in State_events(fd):
        if (typ == "tax_arrears" and float(d.get("amount", 0)) >= 50_000) or (
                typ in ("dishonest_debtor", "consumption_restriction") and d.get("status") in ("listed", "issued")):
            rule_alarms.setdefault(i, set()).add((typ, fd.first + col))
    out = {}
    for H in hs_list:
        early = 0; n_def = 0; false = 0; fam_false = {}; leads = []
        for i, eid in enumerate(fd.firms):
            p = paths[i]
            d = fd.outcomes.get(eid)
            alarms = []
            if p is not None:
                tl, path, fam = p
                armed = True
                for k, v in enumerate(path):
                    if armed and v >= H:
                        alarms.append(k); armed = False
                    elif v < det.hold * H:
                        armed = True
            rules = sorted(m for _, m in rule_alarms.get(i, ())) if use_rules else []
            if d is not None:
                n_def += 1
                di = pidx(d)
                ok = sorted([int(tl[k]) + lag for k in alarms if int(tl[k]) + lag < di] + [m + lag for m in rules if m + lag < di])
                if ok:
                    L = di - ok[0]; leads.append(L); early += L >= lead
            else:
                false += len(alarms) + len(rule_alarms.get(i, ())) * use_rules
                fam_false["rules"] = fam_false.get("rules", 0) + len(rule_alarms.get(i, ())) * use_rules
                for k in alarms:
                    top = max(fam, key=lambda f: fam[f][max(0,k-5):k+1].sum())
                    fam_false[top] = fam_false.get(top, 0) + 1
        healthy = sum(1 for e in fd.firms if e not in fd.outcomes)
        years = healthy * fd.m / 12
        out[H] = dict(early=round(early / n_def, 3), false=round(100 * false / years, 2), med=float(np.median(leads)) if leads else None, fam_false=fam_false)
    return out
