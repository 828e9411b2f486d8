import json
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.research.analyze import breakdown
from bench.research.lab import replay, score, sim_feed

CACHE = Path("/tmp/lab_cache"); CACHE.mkdir(exist_ok=True)

def feed(n=2000, seed=11):
    f = CACHE / f"sim_{n}_{seed}.pkl"
    if f.exists():
        return pickle.loads(f.read_bytes())
    fd = sim_feed(n, seed)
    f.write_bytes(pickle.dumps(fd))
    return fd

def run(mod, feeds, grid, show=False):
    for kw in grid:
        p = mod.P(**kw)
        rows = []
        for fd in feeds:
            al = replay(fd, mod.make(p))
            s = score(fd, al)
            rows.append(s)
            if show:
                print("   ", json.dumps(breakdown(fd, al), ensure_ascii=False))
        print(json.dumps(kw), " | ".join(f"{s['early_share']:.3f}@{s['false_per_100fy']:.2f} med{s['median_lead']} {s['false_by_year']}" for s in rows), flush=True)
