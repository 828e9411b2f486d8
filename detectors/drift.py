"""Sustained drifts in a firm's workforce flows and metered usage, found online with CUSUM.

The banks' own early warning is the flow of people, not the headcount: who
leaves, who is hired, who is still paid a housing fund. Those are counts and
shares, so they are tested as counts and shares (Poisson and binomial
likelihoods against the firm's own baseline, see ``detectors.online``), one
month at a time, the way the data arrives. Metered usage is tested on the log
scale (a fifth less power is the same news for a workshop and a plant).
Several streams of one firm can be tested jointly: their log-likelihood
ratios add, so departures a little up, hiring a little down and housing-fund
coverage a little down make one finding none of them would make alone.

A finding is reported while the CUSUM run that raised it still holds:

* its start is the first month of the run, which does not move as months
  accrue (the alert identity is stable);
* it disappears when the evidence is spent (a slide that reverted is no
  finding), with a hold band below the alarm level so one good month does not
  resolve it;
* severity is the lower of what the size of the change says
  (``severity_steps``) and what the strength of the evidence says
  (``strength_steps``, log-likelihood ratio), so a large change on a handful
  of people and a tiny change on thousands both stay modest.

Chinese New Year months are skipped (the festival's own departures, hires and
shutdown are not news); the evidence names them.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from detectors.base import checked_identity
from detectors.exceptions import BadParameter
from detectors.festival import is_cny_month
from detectors.online import BinomialStream, GaussianStream, JointCusum, MixtureCusum, PoissonStream
from detectors.online import mixture as _mixture
from detectors.peers import PeerBaseline
from detectors.periods import period_at
from detectors.records import Detection, Evidence, History
from detectors.severity import Severity

__all__ = ["DriftDetector", "STREAMS"]

# stream -> (model, record kind, direction that is bad news, name of the rate in the evidence)
STREAMS: dict[str, tuple[str, str, str, str]] = {
    "departures": ("poisson", "headcount", "up", "departure_rate"),
    "hires": ("poisson", "headcount", "down", "hiring_rate"),
    "hf_coverage": ("binomial", "housing_fund", "down", "hf_coverage_rate"),
    "electricity": ("gaussian", "utility.electricity", "down", "electricity"),
    "water": ("gaussian", "utility.water", "down", "water"),
    "gas": ("gaussian", "utility.gas", "down", "gas"),
}
_WORKFORCE = ("departures", "hires", "hf_coverage")


@functools.lru_cache(maxsize=1024)
def _festival(month_index: int) -> bool:
    return is_cny_month(period_at(month_index))


def _levels(value: float, steps: tuple[float, ...]) -> Severity | None:
    level = None
    for sev, step in zip(Severity, steps):
        if value >= step:
            level = sev
    return level


def _steps(name: str, steps) -> tuple[float, float, float, float]:
    s = tuple(float(v) for v in steps)
    if len(s) != 4 or any(v <= 0 for v in s) or list(s) != sorted(s):
        raise BadParameter(f"{name} must be 4 increasing positive numbers (low, medium, high, critical)")
    return s  # type: ignore[return-value]


class DriftDetector:
    """A sustained drift of one or more workforce flows or usage series (CUSUM against the firm's own past).

    Parameters
    ----------
    signal
        Reported name, e.g. ``departure_rate_rise``.
    family
        Evidence family for corroboration (``workforce``, ``utilities``); empty: its own.
    metrics
        Streams tested together: ``departures`` (leavers per head at the
        start of the month), ``hires`` (joiners per head), ``hf_coverage``
        (housing-fund contributors among the insured), or one of
        ``electricity``, ``water``, ``gas`` (usage). Workforce streams and
        usage streams are not mixed.
    ratios
        Per stream, the change the test is tuned to as a multiple of the
        baseline: 2.0 "twice the departures", 0.5 "half the hires", 0.9 "a
        tenth of the covered staff dropped", 0.8 "a fifth less power". The
        test still reacts to larger changes (Lucas 1985).
    strength_steps
        CUSUM log-likelihood ratios at which the evidence supports low,
        medium, high, critical. The first is the reporting threshold.
    severity_steps
        Sizes at which the change is low, medium, high, critical. For a
        workforce test, the people lost beyond what the baseline predicts
        (extra leavers, missing joiners, staff dropped from the housing
        fund) per head at the start of the change; for usage, the relative
        fall; for a single count stream, the relative change of its rate.
    hold
        A finding stays while the statistic is at least ``hold`` times the
        reporting threshold (hysteresis: one good month does not resolve it).
    max_step
        Most one month can add to the log-likelihood ratio: a slide is
        sustained, a one-off wave (a contract ending, an outage) is not, so
        no single month raises the alarm alone.
    min_months
        Months (festival months not counted) the change must have lasted
        since its start: a quarter, so one bad month or two is not yet news.
    min_people
        Workforce tests: the run must have lost at least this many people
        beyond the baseline, so one person in a firm of ten is never news.
    baseline_points, min_baseline
        In-control months the baseline is pooled over, and months needed
        before testing starts.
    skip_festival
        Leave Chinese New Year months out.
    overdispersion
        Divide count increments by the baseline's dispersion (quasi-Poisson).
    clip, min_spread
        Usage: how far one month can count, in baseline standard deviations
        from the midpoint of the two hypotheses, and the smallest spread
        assumed (log units; a meter's resolution).
    history_months
        Months looked at, ending at the latest.
    mix
        Several streams. ``None``: one CUSUM on their summed log-likelihood
        ratios, the test of "the workforce is sliding on every flow"; a
        stream that holds steady counts against the others. A probability
        ``p``: one CUSUM per stream, combined as the mixture likelihood ratio
        (Xie & Siegmund 2013) with each stream moving with probability ``p``,
        so a steady stream (a firm that still pays the housing fund) adds
        nothing instead. On the simulated portfolio the joint test is the
        better of the two (its veto also silences noise in one flow); the
        mixture is the safer choice where firms slide on one flow at a time.

    Example
    -------
    >>> import numpy as np
    >>> from detectors.periods import period_range
    >>> rng = np.random.default_rng(5)
    >>> periods = period_range("2023-01", "2024-12")
    >>> left = np.r_[rng.poisson(3, 17), rng.poisson(9, 7)]
    >>> joined = np.r_[left[:17], np.ones(7)]
    >>> insured = 150 - np.cumsum(left) + np.cumsum(joined)
    >>> rows = {p: {"insured": int(i), "joined": int(j), "left": int(x)}
    ...         for p, i, j, x in zip(periods, insured, joined, left)}
    >>> h = History.from_records("X", {"headcount": rows})
    >>> d = DriftDetector(signal="departure_rate_rise", metrics=("departures",), ratios=(2.0,),
    ...                   severity_steps=(0.3, 0.5, 1.0, 2.0)).detect(h)
    >>> d[0].start_period, d[0].severity.label, d[0].evidence.relative_change > 1
    ('2024-06', 'medium', True)

    References
    ----------
    Page (1954), Continuous inspection schemes, Biometrika 41. Lucas (1985),
    Counted data CUSUMs, Technometrics 27. McCullagh & Nelder (1989),
    Generalized Linear Models, ch. 9 (quasi-likelihood).
    """

    #: The start (the split of the run that best explains it) can move by a quarter and be the same change.
    same_change_months = 3

    def __init__(
        self,
        *,
        signal: str,
        family: str = "",
        metrics: tuple[str, ...],
        ratios: tuple[float, ...],
        strength_steps: tuple[float, float, float, float] = (6.0, 9.0, 14.0, 20.0),
        severity_steps: tuple[float, float, float, float] = (0.3, 0.5, 1.0, 2.0),
        hold: float = 0.5,
        max_step: float = 3.0,
        min_months: int = 3,
        min_people: float = 3.0,
        baseline_points: int = 12,
        min_baseline: int = 6,
        skip_festival: bool = True,
        overdispersion: bool = True,
        clip: float = 3.0,
        min_spread: float = 0.03,
        history_months: int = 48,
        mix: float | None = None,
    ) -> None:
        metrics = tuple(metrics)
        if not metrics or any(m not in STREAMS for m in metrics) or len(set(metrics)) != len(metrics):
            raise BadParameter(f"metrics must be distinct names from: {', '.join(STREAMS)}")
        usage = [m for m in metrics if STREAMS[m][0] == "gaussian"]
        if usage and len(metrics) > 1:
            raise BadParameter("a usage stream is tested on its own")
        ratios = tuple(float(r) for r in ratios)
        if len(ratios) != len(metrics):
            raise BadParameter("give one ratio per metric")
        for m, r in zip(metrics, ratios):
            if r <= 0 or r == 1 or (STREAMS[m][2] == "down") != (r < 1):
                raise BadParameter(f"ratio for {m} must be {'< 1' if STREAMS[m][2] == 'down' else '> 1'}")
        if not 0 < hold <= 1:
            raise BadParameter("hold must be in (0, 1]")
        if max_step <= 0 or min_people < 0 or min_months < 1:
            raise BadParameter("max_step must be > 0, min_people >= 0 and min_months >= 1")
        if history_months < 12:
            raise BadParameter("history_months must be at least 12")
        self.signal, self.family = checked_identity(signal, family)
        self.metrics = metrics
        self.ratios = ratios
        self.strength_steps = _steps("strength_steps", strength_steps)
        self.severity_steps = _steps("severity_steps", severity_steps)
        self.hold = float(hold)
        self.max_step = float(max_step)
        self.min_months = int(min_months)
        self.min_people = float(min_people)
        self.baseline_points = int(baseline_points)
        self.min_baseline = int(min_baseline)
        self.skip_festival = bool(skip_festival)
        self.overdispersion = bool(overdispersion)
        self.clip = float(clip)
        self.min_spread = float(min_spread)
        self.history_months = int(history_months)
        if mix is not None and not 0 < mix <= 1:
            raise BadParameter("mix must be None or in (0, 1]")
        self.mix = None if mix is None else float(mix)
        self.usage = bool(usage)
        self.direction = STREAMS[metrics[0]][2]
        self._new_test()  # settings are checked now, not on the first history

    @property
    def inputs(self) -> tuple[str, ...]:
        """The monthly record kinds ``detect`` reads: its findings depend on these tables alone."""
        if self.usage:
            return (STREAMS[self.metrics[0]][1],)
        return ("headcount", "housing_fund")

    # -- the online test ----------------------------------------------------------------
    def _new_test(self) -> JointCusum | MixtureCusum:
        common = dict(baseline_points=self.baseline_points, min_baseline=self.min_baseline)
        streams = []
        for m, r in zip(self.metrics, self.ratios):
            model = STREAMS[m][0]
            if model == "poisson":
                streams.append(PoissonStream(ratio=r, overdispersion=self.overdispersion, **common))
            elif model == "binomial":
                streams.append(BinomialStream(ratio=r, overdispersion=self.overdispersion, **common))
            else:
                streams.append(GaussianStream(shift=math.log(r), clip=self.clip, min_spread=self.min_spread,
                                              **common))
        h = self.strength_steps[0]
        if len(streams) == 1 or self.mix is None:
            return JointCusum(streams, threshold=h, max_step=self.max_step)
        return MixtureCusum([JointCusum([st], threshold=h, max_step=self.max_step) for st in streams],
                            mix=self.mix, threshold=h)

    def _columns(self, history: History):
        """(month indices, {metric: (numerator, denominator) arrays with NaN where missing})."""
        if self.usage:
            table = history.monthly.get(STREAMS[self.metrics[0]][1])
            if table is None or len(table) == 0:
                return None
            index = table.index
            amount = table.values[:, 0]
            keep = (index > index[-1] - self.history_months) & (amount > 0)
            return index[keep], {self.metrics[0]: (np.log(amount[keep]), np.ones(int(keep.sum())))}
        heads = history.monthly.get("headcount")
        if heads is None or len(heads) == 0:
            return None
        index = heads.index
        keep = index > index[-1] - self.history_months
        index = index[keep]
        v = heads.values[keep]
        insured, joined, left = v[:, 0], v[:, 1], v[:, 2]
        start = np.maximum(1.0, insured - joined + left)
        cols = {"departures": (left, start), "hires": (joined, start)}
        hf = history.monthly.get("housing_fund")
        num = np.full(len(index), np.nan)
        if hf is not None and len(hf):
            pos = np.minimum(np.searchsorted(hf.index, index), len(hf.index) - 1)
            found = (hf.index[pos] == index) & (insured > 0)
            num[found] = np.minimum(hf.values[pos[found], 0], insured[found])
        cols["hf_coverage"] = (num, np.where(insured > 0, insured, np.nan))
        return index, cols

    # -- public --------------------------------------------------------------------------
    def detect(self, history: History, *, shared: dict | None = None,
               peers: PeerBaseline | None = None) -> list[Detection]:
        """Findings on ``history``; ``shared`` (one dict per history, from ``DetectorSet.run``) lets
        detectors that read the same stream share its baseline arithmetic."""
        cache = {} if shared is None else shared
        key = ("columns", self.usage and self.metrics[0], self.history_months, self.skip_festival)
        prepared = cache.get(key)
        if prepared is None:
            prepared = cache[key] = self._prepare(history)
        if prepared is None:
            return []
        index, cols, festival, used, fed = prepared
        if len(used) < self.min_baseline + 2:
            return []
        fed.setdefault("columns", cols)
        fed.setdefault("used", used)
        parts = [self._stream(cache, key, fed, m, r) for m, r in zip(self.metrics, self.ratios)]
        if all(p is None for p in parts):
            return []
        state = self._combined(cache, key, parts)
        if state is None:
            return []
        start = self._change_start(state, cols, used)
        run = used[start:]
        if len(run) < self.min_months:
            return []
        return self._finding(history.enterprise_id, state, index, cols, festival, run)

    def _combined(self, cache: dict, key: tuple, parts: list) -> _RunState | None:
        """The current run of the joint CUSUM (or of the streams' mixture), if it is a finding.

        None unless the run reached the reporting threshold and still holds
        ``hold`` of it; otherwise where it started, where it alarmed, and the
        baseline each stream is compared with.
        """
        h = self.strength_steps[0]
        joint = self.mix is None or len(self.metrics) == 1
        paths = []
        if joint:
            path = self._path([p for p in parts if p is not None])
        else:
            for m, r, part in zip(self.metrics, self.ratios, parts):
                if part is None:
                    paths.append(None)
                    continue
                pkey = ("path", key, m, r, self.baseline_points, self.min_baseline, self.overdispersion,
                        self.clip, self.min_spread, self.max_step)
                p = cache.get(pkey)
                if p is None:
                    p = cache[pkey] = self._path([part])
                paths.append(p)
            stacked = np.minimum(np.array([p for p in paths if p is not None]), 600.0)
            path = np.log1p(self.mix * np.expm1(stacked)).sum(axis=0)
        statistic = float(path[-1])
        if statistic < self.hold * h or statistic <= 0.0:
            return None
        t0 = _run_start(path)
        above = np.flatnonzero(path[t0:] >= h)
        if not len(above):
            return None
        alarm = t0 + int(above[0])
        baselines = []
        for i, part in enumerate(parts):
            if part is None:
                baselines.append(None)
                continue
            if joint:
                k = t0
            elif paths[i][-1] > 0.0:
                k = _run_start(paths[i])  # the stream's own run
            else:
                k = None  # a stream that did not move: its baseline is its recent months
            kk = len(part["ready_k"]) - 1 if k is None else int(part["before"][k])
            baselines.append(_Baseline(part["model"], {n: float(v[kk]) for n, v in part["params"].items()})
                             if part["ready_k"][kk] else None)
        return _RunState(statistic, t0, alarm, baselines)

    def _change_start(self, state: _RunState, cols: dict, used: list[int]) -> int:
        """Where the change starts: the split of the run, up to the alarm, that best explains the data.

        The CUSUM run starts at the last time the statistic was zero, which a
        run of small positive increments can put months before the real
        change. The likelihood-ratio estimate with the change's size estimated
        too (Siegmund & Venkatraman 1995) picks the split ``k`` maximising the
        one-sided log-likelihood ratio of months ``k..alarm`` against the
        frozen baseline, summed over the streams. Only months up to the alarm
        are used, so the start does not move once the finding exists.
        """
        first, last = state.run_start, state.alarm_at
        if last <= first:
            return first
        spans = []
        for m, stream in zip(self.metrics, state.baselines):
            if stream is None:
                continue
            num, den = cols[m]
            pos = used[first:last + 1]
            x, e = num[pos], den[pos]
            ok = ~(np.isnan(x) | np.isnan(e))
            x, e = np.where(ok, x, 0.0), np.where(ok, e, 0.0)
            # suffix sums: months k..alarm for every k
            spans.append((STREAMS[m], stream, np.cumsum(x[::-1])[::-1].tolist(), np.cumsum(e[::-1])[::-1].tolist(),
                          np.cumsum(ok[::-1])[::-1].tolist()))
        best, best_k = -math.inf, first
        single = len(self.metrics) == 1 or self.mix is None
        for j in range(last - first + 1):
            llrs = [_one_sided_llr(spec, stream, sx[j], se[j], sn[j]) for spec, stream, sx, se, sn in spans]
            total = sum(llrs) if single else _mixture(llrs, self.mix)
            if total > best:
                best, best_k = total, first + j
        return best_k

    def _prepare(self, history: History):
        columns = self._columns(history)
        if columns is None:
            return None
        index, cols = columns
        festival = [self.skip_festival and _festival(i) for i in index.tolist()]
        used = [j for j, f in enumerate(festival) if not f]
        return index, cols, festival, used, {}

    def _stream(self, cache: dict, key: tuple, fed: dict, metric: str, ratio: float):
        """Per stream, over the months fed to the test: what a run starting at each month would freeze."""
        skey = (key, metric, ratio, self.baseline_points, self.min_baseline, self.overdispersion, self.clip,
                self.min_spread)
        if skey in cache:
            return cache[skey]
        if metric not in fed:
            num, den = fed["columns"][metric]
            fed[metric] = (num[fed["used"]], den[fed["used"]])
        x, e = fed[metric]
        missing = np.isnan(x) | np.isnan(e)
        model = STREAMS[metric][0]
        if missing.any():
            present = ~missing
            if not present.any():
                cache[skey] = None
                return None
            before = np.cumsum(present) - present  # present points before each month
            xp, ep = x[present], e[present]
            xs, es = np.where(present, x, 0.0), np.where(present, e, 0.0)
        else:
            present = None
            before = np.arange(len(x))
            xp = xs = x
            ep = es = e
        windows = _windows(len(xp), self.baseline_points, self.min_baseline)
        ready = windows["ready"]
        consts, params = _baseline_constants(model, xp, ep, windows, ratio, self)
        if present is None:  # every month has a value: the window before month t is the one at k = t
            consts = [c[:-1] for c in consts]
            ready_t = ready[:-1]
            live = ready_t
            blocked = ~ready_t
        else:
            consts = [c[before] for c in consts]
            ready_t = ready[before]
            live = present & ready_t
            blocked = present & ~ready_t
        # the increment of a run that would start at each month (the baseline then is the window before it)
        if model == "gaussian":
            mean, sd, gain, half = consts
            first = gain * np.clip((xs - mean) / sd - half, -self.clip, self.clip)
        else:
            first = consts[0] * xs - consts[1] * es
        first = np.where(live, first, 0.0)
        out = {"model": model, "present": present, "ready": ready_t, "consts": consts, "xs": xs, "es": es,
               "first": first, "blocked": blocked, "params": params, "ready_k": ready, "before": before}
        cache[skey] = out
        return out

    def _path(self, parts: list) -> np.ndarray:
        """The CUSUM statistic of one stream, or of several added (``JointCusum``), after every month fed.

        Same arithmetic as the online test. While in control, every stream's
        baseline is simply its last ``baseline_points`` present points (a
        finished run's points rejoin it), so the first increment of a run
        that would start at any month is computed for all months at once; the
        recursion is only walked inside runs, which are few.
        """
        first = parts[0]["first"] if len(parts) == 1 else np.sum([p["first"] for p in parts], axis=0)
        blocked = parts[0]["blocked"] if len(parts) == 1 else np.any([p["blocked"] for p in parts], axis=0)
        path = np.zeros(len(first))
        starts = np.flatnonzero((first > 0) & ~blocked).tolist()
        if not starts:
            return path
        first_l = first.tolist()
        n_used = len(first_l)
        cap = self.max_step
        clip = self.clip
        t = 0
        for t0 in starts:
            if t0 < t:
                continue
            frozen = [(p["model"] == "gaussian",) + _as_lists(p) + ([float(c[t0]) for c in p["consts"]],)
                      for p in parts if p["ready"][t0]]
            v = first_l[t0]
            s = v if v < cap else cap
            path[t0] = s
            u = t0 + 1
            while u < n_used:
                inc = 0.0
                for gaussian, present, xs, es, c in frozen:
                    if present is not None and not present[u]:
                        continue
                    if gaussian:
                        w = (xs[u] - c[0]) / c[1] - c[3]
                        w = clip if w > clip else -clip if w < -clip else w
                        inc += c[2] * w
                    else:
                        inc += c[0] * xs[u] - c[1] * es[u]
                s += inc if inc < cap else cap
                if s <= 0.0:
                    break
                path[u] = s
                u += 1
            t = u + 1
        return path

    def _finding(self, eid, state: _RunState, index, cols, festival, run) -> list[Detection]:
        parts = []  # (metric, before, after) per stream, in the bad direction's terms
        lost = 0.0
        for m, stream in zip(self.metrics, state.baselines):
            if stream is None:
                continue
            num, den = cols[m]
            rn, rd = num[run], den[run]
            ok = ~(np.isnan(rn) | np.isnan(rd))
            if not ok.any():
                continue
            rn, rd = rn[ok], rd[ok]
            if stream.model == "poisson":
                before, after = stream.rate, float(rn.sum() / rd.sum())
                expected = before * float(rd.sum())
                lost += (float(rn.sum()) - expected) if STREAMS[m][2] == "up" else (expected - float(rn.sum()))
            elif stream.model == "binomial":
                before, after = stream.share, float(rn.sum() / rd.sum())
                lost += (before - after) * float(rd.mean())
            else:
                before, after = math.exp(stream.mean), math.exp(float(np.mean(rn)))
            parts.append((m, before, after))
        if not parts:
            return []
        head, before, after = parts[0]
        relative = after / before - 1.0 if before > 0 else math.inf
        if self.usage:
            size = -relative
        else:
            if lost < self.min_people:
                return []
            if len(self.metrics) == 1 and self.metrics[0] != "hf_coverage":
                size = relative if self.direction == "up" else -relative
            else:
                start_heads = float(cols[self.metrics[0]][1][run[0]]) if self.metrics[0] != "hf_coverage" \
                    else float(cols["hf_coverage"][1][run[0]])
                size = lost / max(start_heads, 1.0)
        sev_size = _levels(size, self.severity_steps)
        sev_strength = _levels(state.statistic, self.strength_steps)
        if sev_size is None or sev_strength is None:
            return []
        severity = min(sev_size, sev_strength)
        first = max(0, len(index) - 24)
        periods = [period_at(int(i)) for i in index[first:]]
        series: dict[str, list] = {"metric": [STREAMS[head][3]], "periods": periods}
        for m in self.metrics:
            num, den = cols[m]
            shown = np.exp(num[first:]) if self.usage else num[first:] / den[first:]
            key = "values" if m == head else STREAMS[m][3]
            series[key] = [None if v != v else round(float(v), 6 if not self.usage else 1) for v in shown]
        yoy = _yoy(index, *cols[head], run, self.usage)
        unit = 2 if self.usage else 5
        note = f"CUSUM log-likelihood ratio {state.statistic:.1f} (reported from {self.strength_steps[0]:g})"
        if len(parts) > 1:
            note += "; " + ", ".join(f"{STREAMS[m][3]} {b:.3g} → {a:.3g}" for m, b, a in parts)
        if not self.usage:
            note += f"; {lost:.0f} people beyond the baseline"
        evidence = Evidence(
            level_before=round(before, unit),
            level_after=round(after, unit),
            relative_change=round(relative, 4),
            baseline="own_months_before_change",
            series=series,
            yoy_before=yoy[0],
            yoy_after=yoy[1],
            excluded_periods=tuple(p for p, f in zip(periods, festival[first:]) if f),
            note=note,
            strength=round(state.statistic, 2),
        )
        start = period_at(int(index[run[0]]))
        return [Detection(eid, self.signal, start, self.direction, severity, evidence)]


def _baseline_constants(model: str, x: np.ndarray, e: np.ndarray, windows: dict[str, np.ndarray], ratio: float,
                        det: DriftDetector) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Per possible run start (``k`` present points before it), the frozen baseline.

    Mirrors ``PoissonStream``/``BinomialStream``/``GaussianStream.freeze`` on the
    window of the ``n`` points before ``k``. Returns the increment constants
    (``(A, B)`` with increment ``A*x - B*e`` for counts and shares,
    ``(mean, sd, gain, half)`` for levels) and the baseline's parameters for
    the evidence. All window sums come from one cumulative sum.
    """
    k, lo, nn, nn1 = windows["k"], windows["lo"], windows["nn"], windows["nn1"]
    with np.errstate(divide="ignore", invalid="ignore"):
        if model == "gaussian":
            stacked = np.empty((3, len(x)))
            stacked[0] = x
            stacked[1] = x * x
            stacked[2, 0] = 0.0
            stacked[2, 1:] = x[1:] * x[:-1]  # product with the previous point
        else:
            stacked = np.empty((3, len(x)))
            stacked[0] = x
            stacked[1] = e
            stacked[2] = x * x / np.where(e > 0, e, np.inf)
        c = np.zeros((3, len(x) + 1))
        np.cumsum(stacked, axis=1, out=c[:, 1:])
        w = c[:, k] - c[:, lo]
        if model == "poisson":
            sx, se, sxx = np.maximum(w[0], 0.0), np.maximum(w[1], 1e-12), w[2]
            rate = (sx + 0.5) / se
            if det.overdispersion:
                phi = np.where(sx > 0, np.maximum(1.0, (sxx * se / np.where(sx > 0, sx, 1.0) - sx) / nn1), 1.0)
            else:
                phi = np.ones(len(k))
            return [math.log(ratio) / phi, (ratio - 1.0) * rate / phi], {"rate": rate, "dispersion": phi}
        if model == "binomial":
            sc, sn, scc = w
            p0 = np.clip((sc + 0.5) / (sn + 1.0), 1e-3, 1.0 - 1e-3)
            b = np.log((1.0 - p0 * ratio) / (1.0 - p0))
            if det.overdispersion:
                p = np.clip(sc / np.maximum(sn, 1e-12), 1e-3, 1.0 - 1e-3)
                phi = np.maximum(1.0, (scc - 2 * p * sc + p * p * sn) / (p * (1 - p)) / nn1)
            else:
                phi = np.ones(len(k))
            a, b = math.log(ratio) / phi, b / phi
            # the stream's increment c*a + (n - c)*b, written as A*c - B*n
            return [a - b, -b], {"share": p0, "dispersion": phi}
        s1, s2 = w[0], w[1]
        # lag products inside the window [lo, k) pair points lo..k-1, i.e. products lo+1..k-1
        lag = c[2, k] - c[2, windows["lag_lo"]]
        mean = s1 / nn
        var = np.maximum(s2 / nn - mean * mean, 0.0) * (nn / nn1)
        sd = np.maximum(np.sqrt(var), det.min_spread)
        num = lag - mean * (2 * s1 - x[windows["first"]] - x[windows["last"]]) + nn1 * mean * mean
        rho = np.clip(num / (var * nn1), 0.0, 0.9)
        f = np.where(windows["long"] & (var > 0), (1 + rho) / (1 - rho), 1.0)
        d = math.log(ratio) / sd
        return [mean, sd, d / f, d / 2.0], {"mean": mean, "spread": sd, "dispersion": f}


class _Baseline:
    """A stream's frozen baseline, as the evidence and the change-start estimate read it."""

    __slots__ = ("model", "rate", "share", "mean", "spread", "dispersion")

    def __init__(self, model: str, params: dict[str, float]) -> None:
        self.model = model
        self.rate = params.get("rate", math.nan)
        self.share = params.get("share", math.nan)
        self.mean = params.get("mean", math.nan)
        self.spread = params.get("spread", math.nan)
        self.dispersion = params["dispersion"]


class _RunState:
    """The current run of a test that is a finding: statistic, start, alarm, baselines per stream."""

    __slots__ = ("statistic", "run_start", "alarm_at", "baselines")

    def __init__(self, statistic: float, run_start: int, alarm_at: int, baselines: list) -> None:
        self.statistic, self.run_start, self.alarm_at, self.baselines = statistic, run_start, alarm_at, baselines


def _run_start(path: np.ndarray) -> int:
    """Index of the first month of the run that is going on at the end of ``path``."""
    zeros = np.flatnonzero(path <= 0.0)
    return int(zeros[-1]) + 1 if len(zeros) else 0


def _as_lists(part: dict) -> tuple:
    """(present, xs, es) as Python lists for the recursion, converted once per stream."""
    lists = part.get("lists")
    if lists is None:
        present = part["present"]
        lists = part["lists"] = (None if present is None else present.tolist(), part["xs"].tolist(),
                                 part["es"].tolist())
    return lists


@functools.lru_cache(maxsize=256)
def _windows(points: int, baseline_points: int, min_baseline: int) -> dict[str, np.ndarray]:
    """For k = 0..points present points before a month: the window [lo, k) of the baseline, its size
    and readiness, and the index arrays the level baseline needs (computed once per length)."""
    k = np.arange(points + 1)
    n = np.minimum(k, baseline_points)
    lo = k - n
    w = {"k": k, "lo": lo, "n": n, "ready": n >= min_baseline, "nn": np.maximum(n, 2.0),
         "lag_lo": np.minimum(lo + 1, k), "first": np.minimum(lo, max(points - 1, 0)),
         "last": np.maximum(k - 1, 0), "long": n > 3}
    w["nn1"] = w["nn"] - 1.0
    for a in w.values():
        a.flags.writeable = False
    return w


def _one_sided_llr(spec: tuple[str, str, str, str], stream, sx: float, se: float, n: int) -> float:
    """Log-likelihood ratio of a segment's own level against the frozen baseline, in the bad direction only."""
    if n == 0 or se <= 0:
        return 0.0
    model, _kind, direction, _name = spec
    if model == "poisson":
        expected = stream.rate * se
        if (sx > expected) != (direction == "up"):
            return 0.0
        llr = sx * math.log(sx / expected) - (sx - expected) if sx > 0 else expected
        return llr / stream.dispersion
    if model == "binomial":
        p0, p = stream.share, min(max(sx / se, 1e-6), 1 - 1e-6)
        if p >= p0:
            return 0.0
        llr = sx * math.log(p / p0) + (se - sx) * math.log((1 - p) / (1 - p0))
        return llr / stream.dispersion
    mean = sx / n
    if mean >= stream.mean:
        return 0.0
    return n * ((mean - stream.mean) / stream.spread) ** 2 / 2.0 / stream.dispersion


def _yoy(index: np.ndarray, num: np.ndarray, den: np.ndarray, run: list[int],
         usage: bool) -> tuple[float | None, float | None]:
    """The run's months against the same months a year earlier (the banks' own comparison)."""
    pos = {int(i): j for j, i in enumerate(index.tolist())}
    pairs = [(pos[int(index[j]) - 12], j) for j in run if int(index[j]) - 12 in pos]
    pairs = [(a, b) for a, b in pairs if num[a] == num[a] and num[b] == num[b]]
    if len(pairs) < 2:
        return None, None
    a = [p for p, _ in pairs]
    b = [q for _, q in pairs]
    if usage:
        return round(float(np.exp(num[a].mean())), 2), round(float(np.exp(num[b].mean())), 2)
    return (round(float(num[a].sum() / max(den[a].sum(), 1e-12)), 5),
            round(float(num[b].sum() / max(den[b].sum(), 1e-12)), 5))
