"""F1 (with a margin) and segmentation covering, as in the TCPD benchmark (van den Burg & Williams, 2020).

Copied from the benchmark scorer shipped with the TCPD data (``score.py``, an independent
re-implementation of the metrics of TCPDBench), so that the bench does not import from the data
folder. Conventions:

* change point indices are 0-based; a change point t starts a new segment at t;
* predictions are de-duplicated and restricted to 1 <= t <= n_obs - 2;
* index 0 is then added to the prediction set and to every annotator's set before computing F1
  (so an empty prediction still scores one true positive).

Licence of TCPDBench / TCPD (MIT):

Copyright 2020 The Alan Turing Institute

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

from __future__ import annotations

__all__ = ["clean_predictions", "count_matches", "f1_score", "segments", "cover_single", "covering", "score_one"]


def clean_predictions(cps, n_obs):
    """De-duplicate and keep only interior indices 1..n_obs-2 (TCPDBench rule)."""
    out = set()
    for c in cps:
        c = int(c)
        if 1 <= c <= n_obs - 2:
            out.add(c)
    return sorted(out)


def count_matches(truth, preds, margin):
    """Number of true change points matched to distinct predictions.

    True points are visited in increasing order; each takes the nearest
    still-unused prediction within `margin` (ties go to the smaller index).
    """
    preds = sorted(preds)
    used = [False] * len(preds)
    hits = 0
    for t in sorted(truth):
        best_i, best_d = -1, None
        for i, p in enumerate(preds):
            if used[i]:
                continue
            d = abs(p - t)
            if d <= margin and (best_d is None or d < best_d):
                best_i, best_d = i, d
        if best_i >= 0:
            used[best_i] = True
            hits += 1
    return hits


def f1_score(annotations, predictions, margin=5):
    """Return (F1, precision, recall) against a dict annotator -> [cps]."""
    truth_sets = [set(v) | {0} for v in annotations.values()]
    pred = set(predictions) | {0}
    union = set().union(*truth_sets)
    precision = count_matches(union, pred, margin) / len(pred)
    # (1/K) * sum(...) rather than sum(...)/K: same value, and bit-identical to TCPDBench's floats
    recall = (1 / len(truth_sets)) * sum(count_matches(t, pred, margin) / len(t) for t in truth_sets)
    if precision + recall == 0:
        return 0.0, precision, recall
    f1 = precision * recall / (0.5 * recall + 0.5 * precision)
    return f1, precision, recall


def segments(cps, n_obs):
    """Half-open segments [a, b) covering 0..n_obs-1 induced by change points."""
    bounds = sorted({c for c in cps if 0 < c < n_obs})
    starts = [0] + bounds
    ends = bounds + [n_obs]
    return list(zip(starts, ends))


def _jaccard(a, b):
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union


def cover_single(pred_segs, true_segs, n_obs):
    total = 0
    for r in true_segs:
        total += (r[1] - r[0]) * max(_jaccard(r, q) for q in pred_segs)
    return total / n_obs


def covering(annotations, predictions, n_obs):
    pred_segs = segments(predictions, n_obs)
    scores = [cover_single(pred_segs, segments(v, n_obs), n_obs) for v in annotations.values()]
    return sum(scores) / len(scores)


def score_one(annotations, predictions, n_obs, margin=5, clean=True):
    if clean:
        predictions = clean_predictions(predictions, n_obs)
    f1, p, r = f1_score(annotations, predictions, margin)
    return {"f1": f1, "precision": p, "recall": r,
            "cover": covering(annotations, predictions, n_obs),
            "n_pred": len(predictions)}
