"""One enterprise, one score: weak signs of distress from every family, added up as they arrive.

A firm that is sliding rarely shows it loudly in one place at first. It stops
replacing the people who leave, a few more leave than usual, the meters run a
little lower, a supplier sues for an unpaid invoice. Each alone is within the
noise of a healthy firm; together they are not. The score is a CUSUM (Page
1954) over the sum of each month's log-likelihood ratios "sliding" against
"as usual", one term per family:

* **workforce**: leavers up by ``leave_ratio`` and joiners down to
  ``join_ratio``, negative binomial, against the firm's own propensity times
  what the rest of the portfolio did that same month (``PeerBaseline``): the
  festival, the economy and a region's shocks move the peers too, and no
  calendar is needed; and the share of staff paid a housing fund falling
  below the firm's own (binomial: the first thing a firm short of cash
  trims). The propensity is the firm's ratio of its own flows
  to the peers' over months older than ``baseline_gap`` (a slide under way
  is not yet part of its own baseline), pulled towards the peers' by
  ``prior_months`` months' worth of evidence, so a 10-person firm is judged
  by Poisson counts, not by a Gaussian rate;
* **utilities**: the meter's log reading below the firm's own level (months
  older than ``usage_gap``, after the portfolio's movement in the same month
  is taken out) by ``usage_drop``, Gaussian with the firm's own spread shrunk
  towards the portfolio's, autocorrelation allowed for; festival months are
  left out;
* **litigation and administrative events**: each suit as defendant,
  enforcement, tax arrears, labour or other penalty, abnormal-operation
  listing, capital cut or new legal representative adds
  ``log(distress rate / base rate)``, the base rate being how often that
  class of event befalls a firm of that size across the portfolio, so a
  wage claim against a 15-person firm counts for more than a trademark
  dispute against a 2,000-person one.

The threshold is in units of log-likelihood ratio, and it comes from a
false-alert budget (``false_alert_budget``, false alerts per 100 healthy
firm-years), read off the portfolio itself: the daemon counts how often
enterprises' scores cross a ladder of low levels, and since most of a
portfolio performs, those crossings are the null distribution of the score
(an empirical null). The level at which that rate falls to the budget is the
threshold (``PeerBaseline.threshold_for``). Until a year of enough firms has
been seen, ``threshold`` stands in. An honest CUSUM of log-likelihood ratios
crosses ``h`` about once every ``e^h`` months (Lorden 1971); real data carry
noise no model knows, which is why the daemon measures instead of trusting
that. A finding holds while the score stays at ``hold`` times the threshold.
Its start is where the evidence of the current run starts, fixed once the
alarm is raised, so the alert identity does not move.

Every finding says which families contributed and by how much.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from detectors.exceptions import BadParameter
from detectors.festival import is_cny_month
from detectors.peers import EVENT_CLASSES, PeerBaseline, classified_events, segment_of, size_band
from detectors.periods import period_at
from detectors.records import Detection, Evidence, History
from detectors.severity import Severity

__all__ = ["EvidenceScore", "FAMILY_OF_CLASS", "DISTRESS_RATES", "STATISTIC"]

#: Where ``detect`` leaves the enterprise's current score in ``history.memo``, for the daemon's calibration.
STATISTIC = "evidence_score"

#: Events per month a firm in distress would see, per class: the alternative of each event's likelihood ratio.
DISTRESS_RATES: Mapping[str, float] = {
    "suit_wages": 0.06, "suit_lender": 0.05, "suit_supplier": 0.06, "suit_other": 0.02, "enforcement": 0.05,
    "tax_large": 0.03, "tax_small": 0.01, "penalty": 0.01, "penalty_labour": 0.02,
    "abnormal_unreachable": 0.03, "abnormal_operation": 0.01, "capital_cut": 0.01, "legal_representative": 0.01,
    "housing_fund_halved": 0.03,
}
#: Base rates used until the portfolio has measured its own (per firm-month, any size).
DEFAULT_BASE_RATES: Mapping[str, float] = {
    "suit_wages": 0.002, "suit_lender": 0.001, "suit_supplier": 0.003, "suit_other": 0.002, "enforcement": 0.0005,
    "tax_large": 0.0002, "tax_small": 0.0003, "penalty": 0.003, "penalty_labour": 0.0005,
    "abnormal_unreachable": 0.0003, "abnormal_operation": 0.002, "capital_cut": 0.0005, "legal_representative": 0.001,
    "housing_fund_halved": 0.0005,
}
FAMILY_OF_CLASS: Mapping[str, str] = {
    "suit_wages": "litigation", "suit_lender": "litigation", "suit_supplier": "litigation", "suit_other": "litigation",
    "enforcement": "litigation", "abnormal_unreachable": "administrative", "housing_fund_halved": "workforce",
    "tax_large": "administrative", "tax_small": "administrative", "penalty": "administrative",
    "penalty_labour": "administrative", "abnormal_operation": "administrative",
    "capital_cut": "registration", "legal_representative": "registration",
}
FAMILIES = ("workforce", "utilities", "litigation", "administrative", "registration")
_DEFAULT_USAGE_NOISE = (0.01, 0.45)


def _nb_llr(x: np.ndarray, mu: np.ndarray, ratio: float, size: float) -> np.ndarray:
    """log NB(x; ratio*mu, size) - log NB(x; mu, size): the evidence of one month's count for a rate ratio."""
    a = np.log((mu + size) / (ratio * mu + size))
    return x * (math.log(ratio) + a) + size * a


def _window(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums over positions [lo, hi) from a cumulative sum."""
    return np.where(hi > 0, cum[np.maximum(hi - 1, 0)], 0.0) - np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)


@dataclass(frozen=True)
class _Run:
    statistic: float
    peak: float
    start: int  # position in the timeline where the evidence of the current run starts
    alarm: int
    contributions: dict[str, float]


@dataclass(frozen=True)
class EvidenceScore:
    """Weak evidence of distress from every family, accumulated into one CUSUM per enterprise.

    Parameters
    ----------
    signal
        Reported name.
    false_alert_budget
        False alerts per 100 healthy firm-years the threshold is set for, on the portfolio's own crossings;
        None keeps ``threshold`` fixed.
    threshold
        Log-likelihood ratio at which the score alerts (medium) until the portfolio has calibrated it.
    threshold_bounds
        The calibrated threshold is kept within these.
    severity_steps
        Multiples of ``threshold`` at which the finding is high and critical.
    hold
        A finding stays while the score is at least this share of ``threshold``.
    leave_ratio, join_ratio
        The slide the workforce term is tuned to: leavers this many times the expected, joiners this share.
    coverage_ratio, coverage_weight
        The housing-fund share of staff falling to this share of the firm's own (binomial), and the weight of
        that term (0: off).
    prior_months
        Months of expected flows the firm's own propensity is pulled towards the peers' with.
    baseline_gap
        Months before the current one that are not yet part of the firm's own baseline.
    min_baseline
        Baseline months needed before the workforce term counts.
    usage_drop
        Log fall of a meter the utilities term is tuned to (0.25: about a fifth less).
    usage_weight
        Weight of the utilities term (meters share causes with headcount, so they count for less).
    usage_gap, usage_window, usage_min
        The meter's own level: months ``usage_window`` back from ``usage_gap`` months ago, at least
        ``usage_min`` of them.
    usage_prior
        Months' worth of the portfolio's noise the firm's own spread is pulled towards.
    month_cap, month_floor
        Bounds of one family's evidence in one month: a slide is sustained, a one-off wave is not.
    total_cap
        Most one month can add to the score.
    event_cap
        Most one event can add.
    event_decay
        Count a month without events as evidence against distress (the Poisson likelihood ratio's other term).
    event_prior
        Expected events the firm's own propensity for a family of events is pulled towards the portfolio's by.
    distress_rates
        Events per month of each class for a firm in distress (overrides ``DISTRESS_RATES``).
    history_months
        Months looked at, ending at the latest.

    Example
    -------
    >>> import numpy as np
    >>> from detectors.periods import period_range
    >>> rng = np.random.default_rng(3)
    >>> periods = period_range("2022-01", "2024-12")
    >>> left = np.r_[rng.poisson(2, 24), rng.poisson(6, 12)]
    >>> joined = np.r_[left[:24], rng.poisson(0.5, 12)]
    >>> insured = 80 - np.cumsum(left) + np.cumsum(joined)
    >>> rows = {p: {"insured": int(i), "joined": int(j), "left": int(x)}
    ...         for p, i, j, x in zip(periods, insured, joined, left)}
    >>> d = EvidenceScore(signal="distress_score").detect(History.from_records("X", {"headcount": rows}))
    >>> d[0].start_period >= "2024-01", d[0].evidence.contributions["workforce"] > 6
    (True, True)

    References
    ----------
    Page (1954), Continuous inspection schemes. Lorden (1971), Procedures for reacting to a change in
    distribution. Efron (2004), Large-scale simultaneous hypothesis testing: the choice of a null hypothesis.
    Lucas (1985), Counted data CUSUMs.
    """

    signal: str
    false_alert_budget: float | None = 2.0
    threshold: float = 4.0
    threshold_bounds: tuple[float, float] = (2.5, 10.0)
    severity_steps: tuple[float, float] = (1.6, 2.5)
    hold: float = 0.6
    leave_ratio: float = 2.0
    join_ratio: float = 0.6
    prior_months: float = 6.0
    baseline_gap: int = 6
    min_baseline: int = 6
    coverage_ratio: float = 0.9
    coverage_weight: float = 1.0
    usage_drop: float = 0.25
    usage_weight: float = 0.6
    usage_gap: int = 3
    usage_window: int = 12
    usage_min: int = 6
    usage_prior: float = 12.0
    month_cap: float = 3.0
    month_floor: float = -3.0
    total_cap: float = 4.0
    event_cap: float = 3.0
    distress_rates: Mapping[str, float] = field(default_factory=dict)
    event_decay: bool = True
    event_prior: float = 1.0
    history_months: int = 48
    family: str = "enterprise"
    same_change_months: int = 3

    def __post_init__(self) -> None:
        if not self.threshold > 0 or not math.isfinite(self.threshold):
            raise BadParameter("threshold must be a positive number")
        if self.false_alert_budget is not None and not (
                math.isfinite(self.false_alert_budget) and 0 < self.false_alert_budget <= 100):
            raise BadParameter("false_alert_budget must be a number of false alerts per 100 firm-years in (0, 100]")
        lo, hi = self.threshold_bounds
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
            raise BadParameter("threshold_bounds must be two positive numbers, low <= high")
        a, b = self.severity_steps
        if not 1.0 < a < b:
            raise BadParameter("severity_steps must be two increasing multiples of the threshold above 1")
        if not 0 < self.hold <= 1:
            raise BadParameter("hold must be in (0, 1]")
        if not self.leave_ratio > 1 or not 0 < self.join_ratio < 1:
            raise BadParameter("leave_ratio must be > 1 and join_ratio in (0, 1)")
        if not 0 < self.usage_drop < 2:
            raise BadParameter("usage_drop must be in (0, 2) (a log fall)")
        if self.usage_weight < 0 or self.prior_months <= 0 or self.usage_prior < 0:
            raise BadParameter("usage_weight >= 0, prior_months > 0 and usage_prior >= 0 are required")
        if min(self.baseline_gap, self.min_baseline, self.usage_gap, self.usage_min) < 0 or self.usage_window < 1:
            raise BadParameter("gaps and minimum months must be >= 0 and usage_window >= 1")
        if not self.month_floor < 0 < self.month_cap or self.total_cap <= 0 or self.event_cap <= 0:
            raise BadParameter("month_floor < 0 < month_cap, total_cap > 0 and event_cap > 0 are required")
        unknown = set(self.distress_rates) - set(EVENT_CLASSES)
        if unknown:
            raise BadParameter(f"unknown event classes {sorted(unknown)}; valid: {', '.join(EVENT_CLASSES)}")
        if any(not 0 < float(v) < 1 for v in self.distress_rates.values()):
            raise BadParameter("distress_rates must be event rates per month in (0, 1)")
        if self.history_months < 12:
            raise BadParameter("history_months must be at least 12")

    @property
    def inputs(self) -> None:
        """Reads every table and the events (and the peers), so findings are never reused."""
        return None

    # -- the terms ----------------------------------------------------------------------
    def _timeline(self, history: History) -> np.ndarray:
        months: set[int] = set()
        for key, table in history.monthly.items():
            if key == "headcount" or key.startswith("utility."):
                months.update(table.index.tolist())
        if not months:
            return np.zeros(0, dtype=np.int64)
        last = max(months)
        return np.array(sorted(m for m in months if m > last - self.history_months), dtype=np.int64)

    def _workforce(self, history: History, timeline: np.ndarray, peers: PeerBaseline | None,
                   segment: str) -> tuple[np.ndarray, dict]:
        z = np.zeros(len(timeline))
        heads = history.monthly.get("headcount")
        if heads is None or len(heads) == 0:
            return z, {}
        keep = heads.index > timeline[-1] - self.history_months
        idx = heads.index[keep]
        v = heads.values[keep]
        insured, joined, left = v[:, 0], v[:, 1], v[:, 2]
        start = insured - joined + left
        ok = start >= 1
        start = np.where(ok, start, 0.0)
        if peers is not None:
            pl, pj = peers.flow_rates(segment, idx.tolist())
        else:
            pl = pj = np.full(len(idx), np.nan)
        heads_sum = start.sum()
        own_l = left[ok].sum() / heads_sum if heads_sum > 0 else 0.0
        own_j = joined[ok].sum() / heads_sum if heads_sum > 0 else 0.0
        if np.isnan(pl).any():  # months the peers are too few for: their usual rate, else the firm's own
            pl = np.where(np.isnan(pl), np.nanmedian(pl) if np.isfinite(pl).any() else own_l, pl)
            pj = np.where(np.isnan(pj), np.nanmedian(pj) if np.isfinite(pj).any() else own_j, pj)
        el, ej = start * pl, start * pj
        lw, jw = np.where(ok, left, 0.0), np.where(ok, joined, 0.0)
        c_l, c_el = np.cumsum(lw), np.cumsum(el)
        c_j, c_ej = np.cumsum(jw), np.cumsum(ej)
        c_n = np.cumsum(ok)
        # baseline of month k: the months older than baseline_gap, i.e. positions [0, j(k))
        j = np.searchsorted(idx, idx - self.baseline_gap, side="left")
        take = lambda c: np.where(j > 0, c[np.maximum(j - 1, 0)], 0.0)  # noqa: E731
        prior_l = self.prior_months * np.maximum(pl, 1e-6) * np.maximum(start, 1.0)
        prior_j = self.prior_months * np.maximum(pj, 1e-6) * np.maximum(start, 1.0)
        # propensity: own flows over the peers' expectation, pulled to 1 by prior_months of expectation
        a = (take(c_l) + prior_l) / (take(c_el) + prior_l)
        b = (take(c_j) + prior_j) / (take(c_ej) + prior_j)
        mu_l = np.maximum(el * a, 1e-6)
        mu_j = np.maximum(ej * b, 1e-6)
        size_l = peers.leave_size if peers is not None else 15.0
        size_j = peers.join_size if peers is not None else 15.0
        term = _nb_llr(lw, mu_l, self.leave_ratio, size_l) + _nb_llr(jw, mu_j, self.join_ratio, size_j)
        if self.coverage_weight > 0:
            term = term + self.coverage_weight * self._coverage(history, idx, insured, j)
        ready = ok & (take(c_n.astype(float)) >= self.min_baseline)
        term = np.where(ready, np.clip(term, self.month_floor, self.month_cap), 0.0)
        pos = np.searchsorted(timeline, idx)
        z[pos] = term
        detail = {"months": idx, "left": lw, "joined": jw, "start": start, "expected_left": mu_l,
                  "expected_joined": mu_j, "ready": ready}
        return z, detail

    def _coverage(self, history: History, idx: np.ndarray, insured: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Binomial evidence that the share of staff paid a housing fund fell to ``coverage_ratio`` of the firm's
        own share over its months older than ``baseline_gap`` (the first thing a firm short of cash trims)."""
        out = np.zeros(len(idx))
        hf = history.monthly.get("housing_fund")
        if hf is None or len(hf) == 0:
            return out
        pos = np.minimum(np.searchsorted(hf.index, idx), len(hf.index) - 1)
        have = (hf.index[pos] == idx) & (insured > 0)
        if not have.any():
            return out
        paid = np.where(have, np.minimum(hf.values[pos, 0], insured), 0.0)
        heads = np.where(have, insured, 0.0)
        c_paid, c_heads = np.cumsum(paid), np.cumsum(heads)
        base_paid = np.where(j > 0, c_paid[np.maximum(j - 1, 0)], 0.0)
        base_heads = np.where(j > 0, c_heads[np.maximum(j - 1, 0)], 0.0)
        cover = (base_paid + 0.5) / (base_heads + 1.0)
        ready = have & (base_heads >= 6.0) & (cover > 0.05) & (cover < 0.999)
        cover = np.clip(cover, 1e-3, 0.999)
        r = self.coverage_ratio
        llr = paid * math.log(r) + (heads - paid) * np.log((1.0 - r * cover) / (1.0 - cover))
        return np.where(ready, llr, 0.0)

    def _utilities(self, history: History, timeline: np.ndarray, peers: PeerBaseline | None) -> tuple[np.ndarray, dict]:
        total = np.zeros(len(timeline))
        count = np.zeros(len(timeline))
        detail = {}
        for key, table in history.monthly.items():
            if not key.startswith("utility.") or len(table) == 0:
                continue
            kind = key.split(".", 1)[1]
            keep = (table.index > timeline[-1] - self.history_months) & (table.values[:, 0] > 0)
            idx = table.index[keep]
            if len(idx) == 0:
                continue
            y = np.log(table.values[keep, 0])
            eff = peers.usage_index(kind, idx.tolist()) if peers is not None else np.zeros(len(idx))
            x = y - eff
            fest = np.array([is_cny_month(period_at(int(t))) for t in idx.tolist()])
            use = ~fest
            xs = np.where(use, x, 0.0)
            c1, c2, cn = np.cumsum(xs), np.cumsum(xs * xs), np.cumsum(use.astype(float))
            hi = np.searchsorted(idx, idx - self.usage_gap, side="left")
            lo = np.searchsorted(idx, idx - self.usage_gap - self.usage_window, side="left")

            s1, s2, nn = (_window(c, lo, hi) for c in (c1, c2, cn))
            level = s1 / np.maximum(nn, 1.0)
            noise_var, rho = (peers.usage_noise.get(kind, _DEFAULT_USAGE_NOISE) if peers is not None
                              else _DEFAULT_USAGE_NOISE)
            var = (np.maximum(s2 - nn * level**2, 0.0) + self.usage_prior * noise_var) / (
                np.maximum(nn - 1.0, 0.0) + self.usage_prior)
            var = np.maximum(var * (1.0 + rho) / (1.0 - rho), 1e-4)
            e = x - level
            d = self.usage_drop
            term = np.clip((-d * e - d * d / 2.0) / var, self.month_floor, self.month_cap)
            ready = use & (nn >= self.usage_min)
            pos = np.searchsorted(timeline, idx)
            total[pos] += np.where(ready, term, 0.0)
            count[pos] += ready
            detail[kind] = {"months": idx, "log_usage": y, "level": level + eff, "ready": ready}
        z = np.where(count > 0, total / np.maximum(count, 1.0), 0.0) * self.usage_weight
        return z, detail

    def _events(self, history: History, timeline: np.ndarray, peers: PeerBaseline | None,
                band: int) -> tuple[dict[str, np.ndarray], list]:
        """Per family, each month's evidence from bad-news events.

        The base rate of each class is the portfolio's for firms of this size,
        times the firm's own propensity for that family of events: its own
        count over months older than ``baseline_gap`` against what the
        portfolio's rates expected there, pulled towards 1 by
        ``event_prior`` expected events (a firm that is always in court is
        less news when it is sued again; Gamma-Poisson shrinkage).
        """
        rates = {**DISTRESS_RATES, **{k: float(v) for k, v in self.distress_rates.items()}}
        n = len(timeline)
        by_family = {f: np.zeros(n) for f in ("workforce", "litigation", "administrative", "registration")}
        used: list = []
        if not n:
            return by_family, used
        base: dict[str, float] = {}
        for cls_name in rates:
            measured = peers.event_rate.get(cls_name) if peers is not None else None
            base[cls_name] = min(measured[band] if measured else DEFAULT_BASE_RATES[cls_name], 0.9 * rates[cls_name])
        events = [(t, cls) for t, cls in classified_events(history) if timeline[0] <= t <= timeline[-1]]
        # the firm's own propensity per family, from months older than baseline_gap
        counts = {f: np.zeros(n) for f in by_family}
        for t, cls in events:
            pos = int(np.searchsorted(timeline, t))
            if pos < n and timeline[pos] == t:
                counts[FAMILY_OF_CLASS[cls]][pos] += 1
        j = np.searchsorted(timeline, timeline - self.baseline_gap, side="left")
        propensity = {}
        for f, c in counts.items():
            expected_month = sum(base[k] for k in rates if FAMILY_OF_CLASS[k] == f)
            own = np.where(j > 0, np.cumsum(c)[np.maximum(j - 1, 0)], 0.0)
            seen = j.astype(float) * expected_month
            propensity[f] = (own + self.event_prior) / (seen + self.event_prior) if expected_month > 0 else np.ones(n)
        if self.event_decay:
            # a month without any such event is (weak) evidence against distress: -(l1 - l0) per class
            for cls_name, l1 in rates.items():
                f = FAMILY_OF_CLASS[cls_name]
                by_family[f] -= np.maximum(l1 - base[cls_name] * propensity[f], 0.0)
        for t, cls in events:
            pos = int(np.searchsorted(timeline, t))
            if pos >= n or timeline[pos] != t:
                continue
            f = FAMILY_OF_CLASS[cls]
            l0 = min(base[cls] * float(propensity[f][pos]), 0.9 * rates[cls])
            w = min(math.log(rates[cls] / l0), self.event_cap)
            by_family[f][pos] += w
            used.append((t, cls, w))
        return by_family, used

    # -- the score -------------------------------------------------------------------------
    def score(self, history: History, peers: PeerBaseline | None = None) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
        """(timeline, per-family monthly evidence, details): the terms the CUSUM adds up."""
        timeline = self._timeline(history)
        if not len(timeline):
            return timeline, {}, {}
        segment = segment_of(history)
        wz, wd = self._workforce(history, timeline, peers, segment)
        uz, ud = self._utilities(history, timeline, peers)
        start = wd.get("start")
        band = size_band(float(np.max(start))) if start is not None and len(start) else 0
        ez, used = self._events(history, timeline, peers, band)
        fam = {"workforce": wz + ez.pop("workforce"), "utilities": uz, **ez}
        return timeline, fam, {"workforce": wd, "utilities": ud, "events": used, "band": band}

    def effective_threshold(self, peers: PeerBaseline | None) -> tuple[float, str]:
        """(threshold, how it was set): from the false-alert budget on the portfolio's own crossings when it
        has seen enough of them, else ``threshold``."""
        if self.false_alert_budget is not None and peers is not None:
            h = peers.threshold_for(self.false_alert_budget)
            if h is not None:
                lo, hi = self.threshold_bounds
                return min(max(h, lo), hi), "calibrated"
        return self.threshold, "configured"

    def statistic(self, history: History, peers: PeerBaseline | None = None) -> float:
        """The score now (0 when there is nothing to score)."""
        timeline, fam, _ = self.score(history, peers)
        if not len(timeline):
            return 0.0
        path, _ = self._run(fam, self.threshold)
        return float(path[-1])

    def _run(self, fam: dict[str, np.ndarray], threshold: float) -> tuple[np.ndarray, _Run | None]:
        total = np.minimum(sum(fam.values()), self.total_cap)
        n = len(total)
        path = np.empty(n)
        s = 0.0
        run_start = 0
        starts = np.empty(n, dtype=np.int64)
        for k, inc in enumerate(total.tolist()):
            if s <= 0.0:
                run_start = k
            s = max(0.0, s + inc)
            path[k] = s
            starts[k] = run_start if s > 0 else k
        last = n - 1
        if path[last] < self.hold * threshold or path[last] <= 0:
            return path, None
        r0 = int(starts[last])
        above = np.flatnonzero(path[r0:] >= threshold)
        if not len(above):
            return path, None
        alarm = r0 + int(above[0])
        # where the evidence starts: the first month of the run, up to the alarm, that adds half a nat
        seg = total[r0:alarm + 1]
        strong = np.flatnonzero(seg >= 0.5)
        begin = r0 + (int(strong[0]) if len(strong) else 0)
        contributions = {f: round(float(np.sum(v[r0:last + 1])), 2) for f, v in fam.items()}
        return path, _Run(float(path[last]), float(path[r0:].max()), begin, alarm, contributions)

    def detect(self, history: History, *, shared: dict | None = None,
               peers: PeerBaseline | None = None) -> list[Detection]:
        timeline, fam, detail = self.score(history, peers)
        if not len(timeline):
            history.memo[STATISTIC] = 0.0
            return []
        h, how = self.effective_threshold(peers)
        path, run = self._run(fam, h)
        history.memo[STATISTIC] = float(path[-1])
        if run is None:
            return []
        return [self._finding(history, timeline, fam, detail, path, run, h, how)]

    def _finding(self, history: History, timeline: np.ndarray, fam: dict[str, np.ndarray], detail: dict,
                 path: np.ndarray, run: _Run, h: float, how: str) -> Detection:
        if run.peak >= self.severity_steps[1] * h:
            severity = Severity.CRITICAL
        elif run.peak >= self.severity_steps[0] * h:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        begin_month = int(timeline[run.start])
        before = after = rel = None
        wd = detail["workforce"]
        if wd:
            months, left, start, exp_l = wd["months"], wd["left"], wd["start"], wd["expected_left"]
            in_run = months >= begin_month
            heads_after = start[in_run].sum()
            if heads_after > 0:
                after = float(left[in_run].sum() / heads_after)
                before = float(exp_l[in_run].sum() / heads_after)
                rel = (after - before) / before if before > 0 else None
        periods = [period_at(int(t)) for t in timeline.tolist()]
        events = tuple({"period": period_at(int(t)), "class": cls, "weight": round(w, 2)}
                       for t, cls, w in detail["events"] if t >= begin_month)
        contributing = sorted((f for f, v in run.contributions.items() if v >= 0.5), key=lambda f: -run.contributions[f])
        note = "; ".join(f"{f} {run.contributions[f]:+.1f}" for f in contributing) + f" (threshold {h:.2f}, {how})"
        series = {"periods": periods, "score": [round(float(v), 3) for v in path.tolist()]}
        if wd:
            pos = {int(t): k for k, t in enumerate(wd["months"].tolist())}
            series["departures"] = [float(wd["left"][pos[t]]) if t in pos else None for t in timeline.tolist()]
            series["expected_departures"] = [round(float(wd["expected_left"][pos[t]]), 3) if t in pos else None
                                             for t in timeline.tolist()]
            series["hires"] = [float(wd["joined"][pos[t]]) if t in pos else None for t in timeline.tolist()]
            series["expected_hires"] = [round(float(wd["expected_joined"][pos[t]]), 3) if t in pos else None
                                        for t in timeline.tolist()]
        evidence = Evidence(
            level_before=before, level_after=after, relative_change=rel,
            baseline="peers_same_month", series=series, events=events, note=note,
            strength=round(run.statistic, 3), contributions=run.contributions,
            excluded_periods=tuple(p for p in periods if is_cny_month(p)),
        )
        return Detection(history.enterprise_id, self.signal, period_at(begin_month), "up", severity, evidence)
