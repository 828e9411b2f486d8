"""What the rest of the portfolio did in the same month: the peer baseline.

A healthy factory loses staff after Chinese New Year, a whole sector hires less
in a slump, a region's meters dip in a lockdown month. Judged against its own
past alone, every firm looks worse then; judged against what its peers did in
the same month, it does not. The peer baseline carries, per month, the pooled
rates of leavers and joiners, the portfolio's month-on-month movement of each
meter, how often each kind of bad-news event befalls a firm of a given size,
and the noise of it all, measured across the portfolio itself: since most of
a bank's portfolio performs, the cross-section is the null distribution
(an empirical null, Efron 2004), and a threshold set against it keeps its
false-alarm rate on data whose noise differs from any simulator's.

Two pieces, both pure:

* ``firm_sums(history)`` is one enterprise's contribution to additive sums,
  keyed by (segment, table, month). The daemon adds a firm's contribution
  after a batch and subtracts the one before it, so corrections and late
  months are exact and the sums never hold anyone's history;
* ``PeerBaseline.from_sums(sums)`` turns the sums into rates and noise.

Segments: ``""`` is the whole portfolio; ``"industry:<GB/T 4754 section>"`` is a
sector, used when the enterprise's registered profile names its industry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from detectors.festival import is_cny_month
from detectors.periods import period_at, period_index
from detectors.records import History

__all__ = ["PeerBaseline", "firm_sums", "add_sums", "event_class", "size_band", "SIZE_BANDS", "EVENT_CLASSES",
           "HC", "USAGE_KINDS", "cell_width", "diff_sums", "Sums"]

#: Upper bounds (start-of-month headcount) of the size bands; the last band is open.
SIZE_BANDS = (20, 50, 150, 500)
#: Columns of a headcount cell: firms reporting, leavers, joiners, heads at the start of the month, then
#: month-pair moments for the dispersion: pairs, sum((x_t - x_{t-1})^2 - x_t - x_{t-1}), sum(x_t * x_{t-1})
#: for leavers and for joiners.
HC = ("firms", "left", "joined", "start", "pairs", "l_dev", "l_prod", "j_dev", "j_prod")
_U = ("n1", "d1", "d1sq", "n2", "d2sq")
USAGE_KINDS = ("electricity", "water", "gas")
#: Bad-news events the evidence score counts, each counted once per case.
EVENT_CLASSES = ("suit_wages", "suit_lender", "suit_supplier", "suit_other", "enforcement", "tax_large", "tax_small",
                 "penalty", "penalty_labour", "abnormal_unreachable", "abnormal_operation", "capital_cut",
                 "legal_representative", "housing_fund_halved")

# Causes of action that mean the firm is short of cash, by who is owed: its staff, its lenders, its suppliers.
WAGE_CAUSES = frozenset({"劳动争议", "追索劳动报酬纠纷", "劳务合同纠纷", "确认劳动关系纠纷", "拖欠工资纠纷", "劳动合同纠纷",
                         "经济补偿金纠纷", "追索劳动报酬", "社会保险纠纷"})
LENDER_CAUSES = frozenset({"民间借贷纠纷", "金融借款合同纠纷", "借款合同纠纷", "小额借款合同纠纷", "融资租赁合同纠纷",
                           "票据追索权纠纷", "追偿权纠纷", "保证合同纠纷", "企业借贷纠纷"})
SUPPLIER_CAUSES = frozenset({"买卖合同纠纷", "欠款纠纷", "建设工程施工合同纠纷", "承揽合同纠纷", "租赁合同纠纷",
                             "房屋租赁合同纠纷", "服务合同纠纷", "加工合同纠纷", "运输合同纠纷"})
_UNREACHABLE_WORDS = ("无法联系", "下落不明")
_LABOUR_PENALTY_WORDS = ("社会保险", "工资", "劳动报酬", "欠缴", "逾期未缴")
_CLIP = 1.0  # one month's log change of a meter counts for at most this much in the peer moments


#: Score levels whose up-crossings the daemon counts, per month, to calibrate the evidence score's threshold.
CALIBRATION_LEVELS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0)


def crossings(before: float, after: float) -> np.ndarray:
    """Which calibration levels a score moving from ``before`` to ``after`` crossed upwards (1.0 each)."""
    lv = np.asarray(CALIBRATION_LEVELS)
    return ((before < lv) & (after >= lv)).astype(float)


def cell_width(table: str) -> int:
    """How many numbers a cell of ``table`` holds ("hc", "u.<kind>", "ev.<class>", "fm")."""
    if table == "hc":
        return len(HC)
    if table.startswith("u."):
        return len(_U)
    if table == "cal":
        return len(CALIBRATION_LEVELS)
    return len(SIZE_BANDS) + 1


def size_band(start_heads: float) -> int:
    """0: under 20 staff, 1: 20-49, 2: 50-149, 3: 150-499, 4: 500 and more."""
    for b, top in enumerate(SIZE_BANDS):
        if start_heads < top:
            return b
    return len(SIZE_BANDS)


def event_class(event_type: str, data: Mapping) -> str | None:
    """The evidence class of a discrete event, or None when it is no bad news for the firm."""
    if event_type == "lawsuit":
        if data.get("role") != "defendant":
            return None
        stage = data.get("stage")
        if stage == "enforcement":
            return "enforcement"
        if stage == "judgment":
            return None  # the same case again; counted when filed
        cause = str(data.get("cause", "")).strip()
        if cause in WAGE_CAUSES:
            return "suit_wages"
        if cause in LENDER_CAUSES:
            return "suit_lender"
        return "suit_supplier" if cause in SUPPLIER_CAUSES else "suit_other"
    if event_type == "tax_arrears":
        return "tax_large" if _num(data.get("amount")) >= 50_000 else "tax_small"
    if event_type == "penalty":
        reason = str(data.get("reason", ""))
        return "penalty_labour" if any(w in reason for w in _LABOUR_PENALTY_WORDS) else "penalty"
    if event_type == "abnormal_operation":
        if data.get("status") != "listed":
            return None
        reason = str(data.get("reason", ""))
        return "abnormal_unreachable" if any(w in reason for w in _UNREACHABLE_WORDS) else "abnormal_operation"
    if event_type == "registration_change":
        fld = data.get("field")
        if fld == "legal_representative":
            return "legal_representative"
        if fld == "registered_capital" and _num(data.get("after")) < _num(data.get("before")):
            return "capital_cut"
    return None


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def segment_of(history: History) -> str:
    """The firm's sector segment, from the latest registered profile that names an industry."""
    best = None
    for e in history.discrete:
        if e.type == "enterprise_profile" and e.data.get("industry") and (
                best is None or e.occurred_at > best.occurred_at):
            best = e
    return f"industry:{best.data['industry']}" if best is not None else ""


def classified_events(history: History) -> list[tuple[int, str]]:
    """(month index, class) of the firm's bad-news events, each case once (its first filing)."""
    out: list[tuple[int, str]] = []
    hf = history.monthly.get("housing_fund")
    if hf is not None and len(hf) > 1:
        # contributors halved from one month to the next: the firm stopped paying for many of its staff
        idx, c = hf.index, hf.values[:, 0]
        for k in range(1, len(idx)):
            if idx[k] - idx[k - 1] == 1 and c[k - 1] >= 2 and c[k] <= 0.5 * c[k - 1]:
                out.append((int(idx[k]), "housing_fund_halved"))
    seen: set[tuple[str, str]] = set()
    for e in sorted(history.discrete, key=lambda e: (e.occurred_at, e.event_id)):
        cls = event_class(e.type, e.data)
        if cls is None:
            continue
        case = e.data.get("case_no") or e.data.get("decision_no") or e.event_id
        if case and (cls, str(case)) in seen:
            continue
        seen.add((cls, str(case)))
        out.append((period_index(e.period), cls))
    return sorted(out)


Sums = dict[tuple[str, str, int], np.ndarray]


def firm_sums(history: History) -> Sums:
    """One enterprise's contribution to the peer sums, for every month of its history.

    Cells are tuples of floats (cheap to build and to compare, since a batch
    changes few of a firm's cells); ``add_sums`` turns them into arrays.
    """
    out: Sums = {}
    segments = ("",) if not (seg := segment_of(history)) else ("", seg)
    heads = history.monthly.get("headcount")
    band_at: dict[int, int] = {}
    if heads is not None and len(heads):
        idx = heads.index
        v = heads.values
        insured, joined, left = v[:, 0], v[:, 1], v[:, 2]
        start = np.maximum(insured - joined + left, 0.0)
        ok = start >= 1
        m = np.zeros((len(idx), len(HC)))
        m[:, 0], m[:, 1], m[:, 2], m[:, 3] = ok, left * ok, joined * ok, start * ok
        pair = np.zeros(len(idx), dtype=bool)
        pair[1:] = (np.diff(idx) == 1) & ok[1:] & ok[:-1]
        lp, jp = np.roll(left, 1), np.roll(joined, 1)
        m[:, 4] = pair
        m[:, 5] = np.where(pair, (left - lp) ** 2 - left - lp, 0.0)
        m[:, 6] = np.where(pair, left * lp, 0.0)
        m[:, 7] = np.where(pair, (joined - jp) ** 2 - joined - jp, 0.0)
        m[:, 8] = np.where(pair, joined * jp, 0.0)
        bands = np.searchsorted(np.asarray(SIZE_BANDS), start, side="right")
        months = idx.tolist()
        rows = [tuple(r) for r in m.tolist()]
        for s_ in segments:
            out.update({(s_, "hc", t): r for t, r in zip(months, rows)})
        width = len(SIZE_BANDS) + 1
        for t, b in zip(months, bands.tolist()):
            band_at[t] = b
            out[("", "fm", t)] = _ONE_HOT[width][b]
    for kind in USAGE_KINDS:
        table = history.monthly.get(f"utility.{kind}")
        if table is None or len(table) == 0:
            continue
        idx = table.index
        amount = table.values[:, 0]
        pos_ok = amount > 0
        logs = np.log(np.where(pos_ok, amount, 1.0))
        m = np.zeros((len(idx), len(_U)))
        for lag, (cn, cs, csq) in ((1, (0, 1, 2)), (2, (3, None, 4))):
            if len(idx) <= lag:
                continue
            j = np.searchsorted(idx, idx - lag)
            jj = np.minimum(j, len(idx) - 1)
            has = (idx[jj] == idx - lag) & pos_ok & pos_ok[jj]
            d = np.clip(logs - logs[jj], -_CLIP, _CLIP)
            m[:, cn] = has
            if cs is not None:
                m[:, cs] = np.where(has, d, 0.0)
            m[:, csq] = np.where(has, d * d, 0.0)
        keep = (m[:, 0] > 0) | (m[:, 3] > 0)
        rows = [tuple(r) for r in m[keep].tolist()]
        months = idx[keep].tolist()
        for s_ in segments:
            out.update({(s_, f"u.{kind}", t): r for t, r in zip(months, rows)})
    # A firm in trouble collects many events of a class; counting one per class and year keeps the
    # base rate what befalls a typical firm, not what the few sliding ones pile up.
    last_counted: dict[str, int] = {}
    events: dict[tuple[str, str, int], list[float]] = {}
    for t, cls in classified_events(history):
        if t - last_counted.get(cls, -10**6) < 12:
            continue
        last_counted[cls] = t
        cell = events.setdefault(("", f"ev.{cls}", t), [0.0] * (len(SIZE_BANDS) + 1))
        cell[band_at.get(t, _nearest_band(band_at, t))] += 1.0
    out.update({k: tuple(v) for k, v in events.items()})
    return out


_ONE_HOT = {w: [tuple(1.0 if i == b else 0.0 for i in range(w)) for b in range(w)] for w in (len(SIZE_BANDS) + 1,)}


def _nearest_band(band_at: Mapping[int, int], t: int) -> int:
    if not band_at:
        return 0
    nearest = min(band_at, key=lambda s: abs(s - t))
    return band_at[nearest]


def add_sums(total: Sums, part: Mapping[tuple[str, str, int], np.ndarray | tuple], sign: float = 1.0) -> None:
    """``total += sign * part``, in place; cells that fall to zero are dropped."""
    for key, cell in part.items():
        cur = total.get(key)
        if cur is None:
            total[key] = sign * np.asarray(cell, dtype=float)
        else:
            cur = cur + sign * np.asarray(cell, dtype=float)
            if not np.any(np.abs(cur) > 1e-9):
                del total[key]
            else:
                total[key] = cur


def diff_sums(before: Sums, after: Sums) -> Sums:
    """``after - before`` over the union of their keys, without the cells that did not change."""
    out: Sums = {}
    for key in before.keys() | after.keys():
        a, b = after.get(key), before.get(key)
        if a is None:
            out[key] = -np.asarray(b, dtype=float)
        elif b is None:
            out[key] = np.asarray(a, dtype=float)
        elif (a != b) if isinstance(a, tuple) and isinstance(b, tuple) else not np.array_equal(a, b):
            out[key] = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return out


@dataclass(frozen=True)
class PeerBaseline:
    """Rates and noise of the portfolio per month, derived from the peer sums.

    Rates are only given where at least ``min_firms`` firms reported the
    month; elsewhere the detectors fall back to the firm's own past.
    """

    leave: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    join: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    #: log movement of each meter across the portfolio, cumulated over months (an index, not a level)
    usage: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    #: (variance, lag-1 correlation) of a meter's monthly log noise across the portfolio
    usage_noise: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: negative binomial size of monthly leavers and joiners (variance mu + mu^2 / size)
    leave_size: float = 15.0
    join_size: float = 15.0
    #: events per firm-month, per class and size band
    event_rate: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    firms: int = 0
    #: up-crossings of each calibration level per 100 firm-years over the last year, and the firm-months behind
    crossing_rate: tuple[float, ...] = ()
    crossing_exposure: float = 0.0

    @classmethod
    def from_sums(cls, sums: Mapping[tuple[str, str, int], np.ndarray], *, min_firms: int = 30,
                  default_size: float = 15.0) -> PeerBaseline:
        hc: dict[str, dict[int, np.ndarray]] = {}
        usage: dict[str, dict[int, np.ndarray]] = {}
        events: dict[str, np.ndarray] = {}
        firm_months = np.zeros(len(SIZE_BANDS) + 1)
        cal: dict[int, np.ndarray] = {}
        for (seg, table, t), cell in sums.items():
            if table == "cal":
                cal[t] = cell
            elif table == "hc":
                hc.setdefault(seg, {})[t] = cell
            elif table.startswith("u.") and seg == "":
                usage.setdefault(table[2:], {})[t] = cell
            elif table.startswith("ev."):
                events[table[3:]] = events.get(table[3:], 0) + cell
            elif table == "fm":
                firm_months += cell
        leave: dict[str, dict[int, float]] = {}
        join: dict[str, dict[int, float]] = {}
        most = 0
        dev_l = prod_l = dev_j = prod_j = 0.0
        for seg, cells in hc.items():
            lv, jn = {}, {}
            for t, c in cells.items():
                if c[0] >= min_firms and c[3] > 0:
                    lv[t], jn[t] = c[1] / c[3], c[2] / c[3]
                if seg == "" and not is_cny_month(period_at(t)) and not is_cny_month(period_at(t - 1)):
                    dev_l, prod_l, dev_j, prod_j = dev_l + c[5], prod_l + c[6], dev_j + c[7], prod_j + c[8]
                if seg == "":
                    most = max(most, int(c[0]))
            if lv:
                leave[seg], join[seg] = lv, jn
        u_index: dict[str, dict[int, float]] = {}
        u_noise: dict[str, tuple[float, float]] = {}
        for kind, cells in usage.items():
            level, out = 0.0, {}
            v1n = v1 = v2n = v2 = 0.0
            for t in sorted(cells):
                c = cells[t]
                step = c[1] / c[0] if c[0] >= min_firms else 0.0
                level += step
                out[t] = level
                if not is_cny_month(period_at(t)) and not is_cny_month(period_at(t - 1)) and not is_cny_month(period_at(t - 2)):
                    if c[0] >= min_firms:
                        v1 += c[2] - c[0] * step * step
                        v1n += c[0]
                    if c[3] >= min_firms:
                        v2 += c[4]
                        v2n += c[3]
            u_index[kind] = out
            if v1n >= 10 * min_firms and v2n >= 10 * min_firms and v1 > 0:
                var1, var2 = v1 / v1n, v2 / v2n
                rho = min(max(var2 / var1 - 1.0, 0.0), 0.8)
                u_noise[kind] = (max(var1 / (2.0 * (1.0 - rho)), 1e-4), rho)
        rates = {}
        for cls_name, cell in events.items():
            rates[cls_name] = tuple(float((cell[b] + 0.5) / (firm_months[b] + 50.0)) for b in range(len(cell)))
        crossing_rate: tuple[float, ...] = ()
        exposure = 0.0
        if cal:
            last = max(cal)
            recent = [t for t in cal if t > last - 12]
            counts = sum(cal[t] for t in recent)
            exposure = float(sum(hc.get("", {}).get(t, np.zeros(len(HC)))[0] for t in recent))
            if exposure > 0:
                crossing_rate = tuple(float(1200.0 * c / exposure) for c in counts)
        return cls(leave=leave, join=join, usage=u_index, usage_noise=u_noise,
                   leave_size=_size(dev_l, prod_l, default_size), join_size=_size(dev_j, prod_j, default_size),
                   event_rate=rates, firms=most, crossing_rate=crossing_rate, crossing_exposure=exposure)

    def threshold_for(self, budget: float, *, min_exposure: float = 6000.0, min_crossings: float = 40.0) -> float | None:
        """The score level at which firms that are not sliding cross about ``budget`` times per 100 firm-years.

        Read off the portfolio itself (an empirical null): the up-crossing
        rate of low levels is dominated by the firms that perform, since those
        are most of the portfolio; the few sliding firms add a floor that
        hardly depends on the level (each crosses every level once on its way
        up), measured at the highest level and taken off. The null part falls
        exponentially with the level (a CUSUM's tail); its fit over the lower
        levels is solved for ``budget``. None until a year of enough firms has
        been seen (``min_exposure`` firm-months, ``min_crossings`` at the
        fitted levels).
        """
        if not self.crossing_rate or self.crossing_exposure < min_exposure:
            return None
        lv = np.asarray(CALIBRATION_LEVELS)
        rate = np.asarray(self.crossing_rate)
        floor = rate[-1]
        null = rate - floor
        fit = (lv <= 3.0) & (null > 0)
        if fit.sum() < 3 or null[fit][-1] * self.crossing_exposure / 1200.0 < min_crossings / 4:
            return None
        if rate[0] * self.crossing_exposure / 1200.0 < min_crossings:
            return None
        slope, intercept = np.polyfit(lv[fit], np.log(null[fit]), 1)
        if slope >= -0.1:
            return None
        return float((math.log(budget) - intercept) / slope)

    def flow_rates(self, segment: str, months: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """Pooled leaver and joiner rates for ``months`` (NaN where the peers are too few)."""
        seg = segment if segment in self.leave else ""
        lv, jn = self.leave.get(seg, {}), self.join.get(seg, {})
        ms = list(months)
        return (np.array([lv.get(t, np.nan) for t in ms], dtype=float),
                np.array([jn.get(t, np.nan) for t in ms], dtype=float))

    def usage_index(self, kind: str, months: Iterable[int]) -> np.ndarray:
        cells = self.usage.get(kind, {})
        return np.array([cells.get(t, 0.0) for t in months], dtype=float)


def _size(dev: float, prod: float, default: float) -> float:
    """Negative binomial size from month-pair moments: E[(x_t - x_{t-1})^2 - x_t - x_{t-1}] = 2 mu^2 / size."""
    if prod < 200.0:
        return default
    inv = dev / (2.0 * prod)
    if inv <= 1e-3:
        return 1000.0
    return float(min(max(1.0 / inv, 2.0), 1000.0))
