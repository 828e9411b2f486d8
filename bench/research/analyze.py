from collections import Counter

from bench.research.lab import pidx, pstr


def breakdown(feed, alerts, lead=3):
    tr = feed.truth
    out = feed.outcomes
    fp = Counter(); fp_month = Counter()
    first = {}
    for f, tag, c, T in alerts:
        eid = feed.firms[f]
        if eid in out:
            d = pidx(out[eid]) - feed.first
            if d > T and (f not in first or first[f][0] > T):
                first[f] = (T, tag, c)
        else:
            fp[tr[eid].profile] += 1
            fp_month[pstr(feed.first + T)[5:]] += 1
    arch = Counter(); caught = Counter()
    for i, eid in enumerate(feed.firms):
        if eid in out:
            a = tr[eid].archetype
            arch[a] += 1
            d = pidx(out[eid]) - feed.first
            if i in first and d - first[i][0] >= lead:
                caught[a] += 1
    return {"fp_profile": dict(fp), "fp_raise_month": dict(sorted(fp_month.items())),
            "recall_by_arch": {a: f"{caught[a]}/{arch[a]}" for a in arch}}
