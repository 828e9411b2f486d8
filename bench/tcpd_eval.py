"""Score the default change-point engine on TCPD series against simple baselines.

Usage (from the repository root)::

    .venv/bin/python bench/tcpd_eval.py [--data-dir DIR] [--annotations FILE] [--margin 5]
                                        [--sensitivity] [--loo] [--timing] [--json OUT]

Methods: ``zero`` (no change point), ``pelt_l2_2logn_z`` (ruptures Pelt, l2 cost, penalty 2·log n
on the z-scored series, ddof=1, jump=1), ``engine_constant`` (the engine restricted to constant
segments) and ``engine`` (the default engine). Scores: F1 with a margin and segmentation cover
(bench/tcpd_metrics.py), averaged over the series. The published default-setting figures of the
TCPD benchmark's methods on the same 16 series are printed for reference (not recomputed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import timeit
from pathlib import Path

import numpy as np
import ruptures as rpt

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.tcpd_metrics import score_one  # noqa: E402
from detectors.changepoint import ChangePointEngine, find_changes  # noqa: E402
from monitor.tcpd import load_tcpd, tcpd_files  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "tcpd"

# Published means over these 16 series (README of the data folder): (F1, cover)
PUBLISHED = {
    "binseg (published)": (0.777, 0.713),
    "pelt (published)": (0.777, 0.714),
    "amoc (published)": (0.740, 0.717),
    "segneigh (published)": (0.737, 0.685),
    "bocpd (published)": (0.726, 0.656),
}

SENS_BETAS = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
SENS_MIN_SIZES = (3, 4, 5, 8)


def zero(_values: np.ndarray) -> list[int]:
    return []


def pelt_l2_2logn_z(values: np.ndarray) -> list[int]:
    """ruptures Pelt, l2 cost, penalty 2·log(n) on the z-scored series (missing rows dropped)."""
    x = values.reshape(len(values), -1)
    keep = np.flatnonzero(np.isfinite(x).all(axis=1))
    x = x[keep]
    sd = x.std(axis=0, ddof=1)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    bkps = rpt.Pelt(model="l2", min_size=2, jump=1).fit(z).predict(pen=2 * math.log(len(z)))
    return [int(keep[b]) for b in bkps[:-1]]


def engine(values: np.ndarray, **settings) -> list[int]:
    return find_changes(values, **settings)


METHODS = {
    "zero": zero,
    "pelt_l2_2logn_z": pelt_l2_2logn_z,
    "engine_constant": lambda v: engine(v, model="constant"),
    "engine": engine,
}


def load_all(data_dir: Path, annotations: Path) -> list[tuple[str, np.ndarray, dict]]:
    with open(annotations, encoding="utf-8") as fp:
        annos = json.load(fp)
    out = []
    for path in tcpd_files(data_dir):
        name, values = load_tcpd(path)
        if name in annos:
            out.append((name, values, annos[name]))
        else:
            print(f"skipped {name}: no annotations", file=sys.stderr)
    return out


def score(data, predict, margin: int) -> tuple[list[dict], float, float]:
    rows = []
    for name, values, annos in data:
        cps = predict(values)
        r = score_one(annos, cps, len(values), margin)
        rows.append({"name": name, "n": len(values), "cps": cps, **r})
    return rows, float(np.mean([r["f1"] for r in rows])), float(np.mean([r["cover"] for r in rows]))


def sensitivity(data, margin: int) -> dict[tuple[float, int], tuple[float, float]]:
    grid = {}
    for beta in SENS_BETAS:
        for m in SENS_MIN_SIZES:
            _, f1, cover = score(data, lambda v, b=beta, m=m: engine(v, penalty_per_param=b, min_size=m), margin)
            grid[beta, m] = (f1, cover)
    return grid


def leave_one_out(data, margin: int) -> tuple[float, float, list[float]]:
    """Pick penalty_per_param on 15 series (max mean F1 + mean cover), score the 16th."""
    per = {b: score(data, lambda v, b=b: engine(v, penalty_per_param=b), margin)[0] for b in SENS_BETAS}
    f1s, covers, chosen = [], [], []
    for i in range(len(data)):
        def train(b, i=i):
            rows = [r for j, r in enumerate(per[b]) if j != i]
            return np.mean([r["f1"] for r in rows]) + np.mean([r["cover"] for r in rows])
        best = max(SENS_BETAS, key=train)
        chosen.append(best)
        f1s.append(per[best][i]["f1"])
        covers.append(per[best][i]["cover"])
    return float(np.mean(f1s)), float(np.mean(covers)), chosen


def timing() -> list[tuple[str, float]]:
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(100, 3, 24), rng.normal(90, 3, 12)])  # 36 months, a drop at 24
    cases = [
        ("engine (mixed, default)", lambda: ChangePointEngine().fit(y).predict()),
        ("engine model='constant'", lambda: ChangePointEngine(model="constant").fit(y).predict()),
        ("raw rpt.KernelCPD linear", lambda: rpt.KernelCPD(kernel="linear", min_size=3).fit(y).predict(pen=10.0)),
    ]
    out = []
    for label, fn in cases:
        fn()
        number = 2000
        best = min(timeit.repeat(fn, number=number, repeat=5)) / number
        out.append((label, best * 1e6))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA / "datasets")
    ap.add_argument("--annotations", type=Path, default=DEFAULT_DATA / "annotations.json")
    ap.add_argument("--margin", type=int, default=5)
    ap.add_argument("--sensitivity", action="store_true", help="F1/cover over penalty_per_param x min_size")
    ap.add_argument("--loo", action="store_true", help="leave-one-out choice of penalty_per_param")
    ap.add_argument("--timing", action="store_true", help="per-call time on a 36-point series")
    ap.add_argument("--json", type=Path, help="write the engine's per-series predictions and scores here")
    args = ap.parse_args(argv)

    data = load_all(args.data_dir, args.annotations)
    if not data:
        print(f"no annotated TCPD series in {args.data_dir}", file=sys.stderr)
        return 1
    print(f"{len(data)} series from {args.data_dir}, margin {args.margin}\n")
    print(f"{'method':28s} {'F1':>6s} {'cover':>6s}")
    results = {}
    for label, fn in METHODS.items():
        rows, f1, cover = score(data, fn, args.margin)
        results[label] = rows
        print(f"{label:28s} {f1:6.3f} {cover:6.3f}")
    for label, (f1, cover) in PUBLISHED.items():
        print(f"{label:28s} {f1:6.3f} {cover:6.3f}")

    print(f"\nengine {ChangePointEngine()!r}, per series:")
    print(f"{'dataset':20s} {'n':>4s} {'F1':>6s} {'prec':>6s} {'recall':>6s} {'cover':>6s}  change points")
    for r in results["engine"]:
        print(f"{r['name']:20s} {r['n']:4d} {r['f1']:6.3f} {r['precision']:6.3f} {r['recall']:6.3f} "
              f"{r['cover']:6.3f}  {r['cps']}")

    if args.sensitivity:
        grid = sensitivity(data, args.margin)
        print("\nsensitivity: mean F1/cover, rows penalty_per_param, columns min_size")
        print(f"{'beta':>6s} " + " ".join(f"{'m=' + str(m):>13s}" for m in SENS_MIN_SIZES))
        for beta in SENS_BETAS:
            print(f"{beta:6.2f} " + " ".join(f"  {grid[beta, m][0]:.3f}/{grid[beta, m][1]:.3f}"
                                             for m in SENS_MIN_SIZES))
    if args.loo:
        f1, cover, chosen = leave_one_out(data, args.margin)
        print(f"\nleave-one-out (penalty_per_param chosen on the other series): F1 {f1:.3f} cover {cover:.3f}")
        print("  chosen: " + ", ".join(f"{name}={b}" for (name, _, _), b in zip(data, chosen)))
    if args.timing:
        print("\nper-call time, 36-point series (best of 5 x 2000 calls):")
        for label, us in timing():
            print(f"  {label:28s} {us:8.1f} us")
    if args.json:
        args.json.write_text(json.dumps({r["name"]: r for r in results["engine"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
