"""Detector-only replay: the simulated portfolio, month by month, through ``DetectorSet.run``.

A faster loop than ``bench/detection_quality.py`` for tuning detectors: no
store, no SQL. The event stream of ``monitor.simulate`` is validated with the
real contract, cut into batches as the pipeline cuts them, applied to
in-memory histories exactly as the pipeline's history cache does, and each
touched enterprise's detections are reconciled with the pipeline's own
``reconcile`` (so the start-period tolerance and resolution are the real
ones). One evaluation bank watches everything at ``--min-severity``; its
alerts are scored with ``monitor.evaluate.score``. Figures should be within
noise of ``detection_quality.py``; confirm final figures there.

Usage: python bench/replay_detectors.py [--enterprises 1000] [--seed 11] [--set signal.key=value ...]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import pickle
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.periods import months_between  # noqa: E402
from detectors.records import History  # noqa: E402
from detectors.registry import DetectorSet, build_detectors  # noqa: E402
from detectors.severity import Severity  # noqa: E402
from monitor.evaluate import AlertRecord, score  # noqa: E402
from monitor.reconcile import reconcile  # noqa: E402
from monitor.simulate import iter_events, simulate  # noqa: E402
from store.history import apply_event  # noqa: E402
from store.models import DetectionRow  # noqa: E402
from streams.contract import validate  # noqa: E402
from streams.records import Event  # noqa: E402

CACHE = Path(os.environ.get("LW_REPLAY_CACHE", "/tmp/lw_replay_cache"))


def half_month_of_events(n_enterprises: int) -> int:
    """Events in about half a month of a simulated portfolio (3.5 a firm a month).

    The daemon examines what changed every ``detect_every_events``; at city scale
    (millions of firms, 20000-event batches) that is many times a month, so every
    month's records are examined in the month they arrive. A small evaluation
    portfolio needs a proportionally small cadence to be judged the same way.
    """
    return max(500, round(1.75 * n_enterprises))


class _Session:
    """What ``reconcile`` needs of a session: somewhere to add rows."""

    def add(self, row) -> None:  # noqa: D401
        pass


def load(n: int, seed: int):
    """(portfolio, validated events in arrival order); events cached on disk per (n, seed)."""
    pf = simulate(n_enterprises=n, seed=seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"events-{n}-{seed}-{pf.periods[-1]}.pkl"
    if path.exists():
        with open(path, "rb") as fh:
            return pf, pickle.load(fh)
    now = datetime.now(UTC)
    events = []
    for raw in iter_events(pf):
        v = validate(raw, now=now)
        events.append(v if isinstance(v, Event) else None)
    with open(path, "wb") as fh:
        pickle.dump(events, fh)
    return pf, events


def collect(events, run, *, batch_size: int = 5000, history_months: int = 48) -> tuple[list, float, int]:
    """Replay the stream into histories; ``run(history)`` on every touched enterprise of every batch.

    Returns ([(watermark, enterprise_id, as_of, found), ...] in order, seconds in ``run``, calls).
    """
    histories: dict[str, History] = {}
    seen: set[tuple[str, str]] = set()
    watermark = ""
    log = []
    calls, run_seconds = 0, 0.0
    for b0 in range(0, len(events), batch_size):
        fresh = []
        for e in events[b0:b0 + batch_size]:
            if e is None or (e.source, e.event_id) in seen:
                continue
            seen.add((e.source, e.event_id))
            fresh.append(e)
        if not fresh:
            continue
        touched = set()
        for e in fresh:
            h = histories.setdefault(e.enterprise_id, History(e.enterprise_id))
            touched.add(e.enterprise_id)
            apply_event(h, e, history_months)
        watermark = max(watermark, max(e.period for e in fresh))
        for eid in sorted(touched):
            h = histories[eid]
            t0 = time.perf_counter()
            found = run(h)
            run_seconds += time.perf_counter() - t0
            calls += 1
            log.append((watermark, eid, h.last_period() or watermark, found))
    return log, run_seconds, calls


def settle(log, post=None, *, same_change_months: dict[str, int], min_severity: str = "medium",
           recent_window: int = 12) -> dict:
    """Reconcile each logged run with the stored detections and alert one bank, as the pipeline does.

    ``post(found, as_of)`` transforms each run's findings first (e.g. corroboration).
    """
    floor = Severity.parse(min_severity)
    stored: dict[str, list[DetectionRow]] = {}
    alerts: dict[tuple[str, str, str], dict] = {}  # (eid, signal, start) -> {"open": bool, "severity": int}
    raised: list[AlertRecord] = []
    session = _Session()
    now = datetime.now(UTC)
    kinds: Counter = Counter()
    for watermark, eid, as_of, found in log:
        if post is not None and found:
            found = post(found, as_of)
        rows = stored.setdefault(eid, [])
        if not (found or rows):
            continue
        transitions = reconcile(session, eid, found, rows, watermark=watermark, recent_window=recent_window,
                                as_of=as_of, now=now, same_change_months=same_change_months)
        for t in transitions:
            if t.row not in rows:
                rows.append(t.row)
            key = (eid, t.row.signal, t.row.start_period)
            a = alerts.get(key)
            sev = Severity(t.row.severity)
            if t.kind == "resolved":
                if a is not None and a["open"]:
                    a["open"] = False
                    kinds["resolved"] += 1
                continue
            if t.kind not in ("new", "escalated", "deescalated") or sev < floor:
                if a is not None and a["open"]:
                    a["severity"] = int(sev)
                continue
            told = None
            if a is None:
                alerts[key] = {"open": True, "severity": int(sev)}
                told = "new"
            elif not a["open"]:
                a.update(open=True, severity=int(sev))
                told = "new"
            elif sev > Severity(a["severity"]):
                a["severity"] = int(sev)
                told = "escalated"
            else:
                a["severity"] = int(sev)
            if told:
                kinds[told] += 1
                raised.append(AlertRecord(eid, t.row.signal, t.row.start_period, watermark, sev.label))
    return {"raised": raised, "kinds": kinds}


def replay(pf, events, detectors: DetectorSet, *, min_severity: str = "medium", batch_size: int = 5000) -> dict:
    """Both steps with a real ``DetectorSet`` (corroboration included, as the pipeline runs it)."""
    log, seconds, calls = collect(events, detectors.run, batch_size=batch_size)
    out = settle(log, same_change_months=detectors.same_change_months, min_severity=min_severity)
    out.update(calls=calls, run_seconds=seconds)
    return out


def summarise(pf, raised: list[AlertRecord], kinds: Counter | None = None) -> dict:
    outcomes = {o.enterprise_id: o.default_period for o in pf.outcomes}
    months = {e.enterprise_id: len(pf.periods) for e in pf.enterprises}
    card = score(raised, outcomes, months)
    first: dict[str, AlertRecord] = {}
    for a in sorted(raised, key=lambda a: a.raised_at_period):
        first.setdefault(a.enterprise_id, a)
    false_by_signal = Counter(a.signal for a in {(a.enterprise_id, a.signal, a.change_period): a
                                                 for a in raised if a.enterprise_id not in outcomes}.values())
    early_by_signal = Counter(first[e].signal for e in outcomes
                              if e in first and months_between(first[e].raised_at_period, outcomes[e]) >= 3)
    return {"score": card.to_dict(), "false_by_signal": dict(false_by_signal.most_common()),
            "first_early_signal": dict(early_by_signal.most_common()),
            "alerts": dict(kinds or {})}


def _parse_sets(items: list[str]) -> tuple[dict, dict]:
    """``signal.key=value`` overrides for ``[detectors.<signal>]``; ``set.key=value`` for the DetectorSet."""
    per_signal: dict[str, dict] = {}
    top: dict = {}
    for item in items:
        lhs, value = item.split("=", 1)
        signal, key = lhs.split(".", 1)
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        (top if signal == "set" else per_signal.setdefault(signal, {}))[key] = parsed
    return per_signal, top


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enterprises", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--min-severity", default="medium")
    ap.add_argument("--set", nargs="*", default=[], help="signal.key=value overrides")
    ap.add_argument("--detect-every", type=int, default=None,
                    help="events between detection passes (default: about half a month of the portfolio's events)")
    ap.add_argument("--only", nargs="*", default=None, help="run only these signals")
    ap.add_argument("--brief", action="store_true")
    args = ap.parse_args()
    per_signal, top = _parse_sets(args.set)
    dets = build_detectors(per_signal, only=args.only, **top)
    t0 = time.perf_counter()
    pf, events = load(args.enterprises, args.seed)
    t1 = time.perf_counter()
    out = replay(pf, events, dets, min_severity=args.min_severity,
                 batch_size=args.detect_every or half_month_of_events(args.enterprises))
    t2 = time.perf_counter()
    summary = summarise(pf, out["raised"], out["kinds"])
    summary["us_per_run"] = round(1e6 * out["run_seconds"] / max(out["calls"], 1), 1)
    summary["seconds"] = {"load": round(t1 - t0, 1), "replay": round(t2 - t1, 1)}
    if args.brief:
        s = summary["score"]
        print(f"seed={args.seed} n={args.enterprises} early={s['early_share']:.3f} "
              f"late={s['alerted_later']} missed={s['defaults'] - s['alerted_at_least_lead_before'] - s['alerted_later']}"
              f" false/100EY={s['false_alerts_per_100_enterprise_years']:.2f} us/run={summary['us_per_run']} "
              f"fbs={summary['false_by_signal']}")
    else:
        print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
