"""Run the product detector (detectors.evidence.EvidenceScore) inside the lab replay."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.research.lab import pstr
from detectors.evidence import EvidenceScore
from detectors.peers import PeerBaseline, add_sums, firm_sums
from detectors.records import DiscreteEvent, History, MonthlyTable


def histories(st):
    T = st.T; f = st.feed; first = f.first
    ev = {}
    for i, typ, col, d in st.events:
        if col <= T:
            p = pstr(first + col)
            ev.setdefault(i, []).append(DiscreteEvent(typ, p + "-15T12:00:00+08:00", p, d, d.get("case_no", "") or str(len(ev))))
    out = []
    for i in range(f.n):
        ins = st.insured[i, :T+1]
        ok = ~np.isnan(ins)
        monthly = {}
        if ok.any():
            idx = (np.flatnonzero(ok) + first).astype(np.int32)
            vals = np.stack([ins[ok], st.joined[i, :T+1][ok], st.left[i, :T+1][ok]], axis=1)
            monthly["headcount"] = MonthlyTable(("insured", "joined", "left"), idx, vals)
        for kind in ("electricity", "water", "gas"):
            y = getattr(st, kind)[i, :T+1]
            okk = ~np.isnan(y)
            if okk.any():
                idx = (np.flatnonzero(okk) + first).astype(np.int32)
                monthly[f"utility.{kind}"] = MonthlyTable(("amount",), idx, y[okk].reshape(-1, 1))
        out.append(History(f.firms[i], monthly, ev.get(i, [])))
    return out

def make(det: EvidenceScore, use_peers=True, rules=True):
    def detect(st):
        hs = histories(st)
        peers = None
        if use_peers:
            sums = {}
            for h in hs:
                add_sums(sums, firm_sums(h))
            peers = PeerBaseline.from_sums(sums)
            detect.peers = peers
        out = []
        from bench.research.lab import pidx
        for i, h in enumerate(hs):
            for d in det.detect(h, peers=peers):
                out.append((i, "score", pidx(d.start_period) - st.feed.first))
        if rules:
            for i, typ, col, d in st.events:
                if typ == "tax_arrears" and d.get("amount", 0) >= 50_000:
                    out.append((i, "tax", col))
                elif typ in ("dishonest_debtor", "consumption_restriction") and d.get("status") in ("listed", "issued"):
                    out.append((i, "listing", col))
        return out
    return detect
