"""A synthetic, seeded portfolio of enterprises for demos, tests and detection benchmarks.

The detectors are judged on this data, so it is built to be hard in the ways real
credit-platform data is hard, not to flatter them:

- healthy firms are noisy (binomial churn with a firm-specific base rate and
  month-to-month rate noise, autocorrelated meter noise, slow growth or slow
  shrinkage) and strongly seasonal around a Chinese New Year that moves every
  year (shutdown dip in power, a post-holiday departure spike, later refill);
- healthy firms are not spotless: lawsuits, small penalties, registration
  changes, a missed annual report now and then;
- a share of healthy firms take a one-off shock that recovers (plant
  maintenance, a seasonal contract ending, a relocation, a dispute that brings a
  cluster of lawsuits) and must not be mistaken for a slide;
- deteriorating firms slide gradually over 6-15 months, each with its own mix of
  channels (churn-led, utility-led, lawsuit-led, mixed, or quiet), with hard
  discrete signals (tax arrears, consumption restriction, dishonest-debtor
  listing) arriving late and only for some;
- the wire is messy: late and out-of-order arrivals, corrections, exact
  duplicates and, on request, malformed lines.

Generation is vectorised per month across firms and streamed, so a 10,000-firm,
36-month portfolio (about 1.5 million events) is written without holding the
events in memory.
"""

from __future__ import annotations

import calendar
import csv
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from detectors.festival import cny_weights
from detectors.periods import CHINA_TZ, add_months, month_index, period_at, period_index, year_month
from streams.uscc import ALPHABET, complete_uscc

__all__ = [
    "SOURCE",
    "Shock",
    "Enterprise",
    "WatchlistRow",
    "Outcome",
    "EventStats",
    "Portfolio",
    "simulate",
    "iter_events",
    "iter_lines",
    "write_events",
    "write_portfolio",
]

SOURCE = "simcredit"
_MIN_MONTHS = 12

# (admin code, province abbreviation used in case numbers, city, district, court code digits)
_REGIONS: tuple[tuple[str, str, str, str, str], ...] = (
    ("440303", "粤", "深圳市", "罗湖区", "0303"),
    ("440304", "粤", "深圳市", "福田区", "0304"),
    ("440305", "粤", "深圳市", "南山区", "0305"),
    ("440306", "粤", "深圳市", "宝安区", "0306"),
    ("440307", "粤", "深圳市", "龙岗区", "0307"),
    ("440309", "粤", "深圳市", "龙华区", "0309"),
    ("441900", "粤", "东莞市", "", "1971"),
    ("440106", "粤", "广州市", "天河区", "0106"),
    ("440113", "粤", "广州市", "番禺区", "0113"),
    ("320505", "苏", "苏州市", "虎丘区", "0505"),
    ("320506", "苏", "苏州市", "吴中区", "0506"),
    ("330106", "浙", "杭州市", "西湖区", "0106"),
    ("330110", "浙", "杭州市", "余杭区", "0110"),
)
_REGION_WEIGHTS = np.array([4, 6, 8, 12, 10, 8, 14, 4, 4, 6, 5, 3, 4], dtype=float)

# (name word, manufacturing, median kWh per insured employee per month, has gas)
_INDUSTRIES: tuple[tuple[str, bool, float, bool], ...] = (
    ("电子", True, 900.0, False),
    ("电子科技", True, 700.0, False),
    ("精密机械", True, 1500.0, False),
    ("塑胶制品", True, 2500.0, False),
    ("五金制品", True, 1800.0, False),
    ("光电科技", True, 1200.0, False),
    ("模具", True, 1600.0, False),
    ("纺织", True, 1400.0, True),
    ("服装", True, 500.0, False),
    ("包装材料", True, 1300.0, False),
    ("新材料", True, 3000.0, True),
    ("医疗器械", True, 800.0, False),
    ("食品", True, 1200.0, True),
    ("家具", True, 700.0, False),
    ("线路板", True, 2200.0, False),
    ("物流", False, 300.0, False),
    ("贸易", False, 150.0, False),
    ("信息技术", False, 250.0, False),
    ("建筑工程", False, 200.0, False),
    ("餐饮管理", False, 600.0, True),
)
_INDUSTRY_WEIGHTS = np.array([8, 7, 6, 6, 6, 4, 4, 4, 4, 3, 2, 3, 3, 3, 3, 4, 6, 5, 3, 2], dtype=float)

_TRADE_CHARS = "华鑫宏盛达恒泰兴远大新科创信联瑞腾飞安建金源通博嘉美益佳豪丰隆顺昌和力德凯威汇海天宇星光中正永成鼎晟昊锦富祥辉耀明启航迅捷卓越领优精诚智贝赛雅骏奥亿万龙阳"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛段雷龙黎史陶贺毛郝顾龚邵万钱戴严孔向常汤康易乔赖文"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华飞玉萍红鹏辉建文斌宇浩凯秀兰英梅琳俊峰志国东海波晨阳雪婷慧颖博宁欣然思佳嘉"
_ROADS = (
    "工业大道", "科技路", "创业路", "兴业路", "建设路", "人民路", "新华路", "环城路", "东方大道",
    "和平路", "振兴路", "宏发路", "高新南路", "滨海大道", "迎宾大道", "金沙路", "长江路", "学府路",
)  # fmt: skip

_HEALTHY_PLAINTIFF_CAUSES = ("买卖合同纠纷", "承揽合同纠纷", "服务合同纠纷", "侵害商标权纠纷")
_HEALTHY_DEFENDANT_CAUSES = ("劳动争议", "买卖合同纠纷", "服务合同纠纷", "房屋租赁合同纠纷")
# (cause, weight, median amount CNY): wages and suppliers first, lenders at the end.
_DISTRESS_CAUSES: tuple[tuple[str, float, float], ...] = (
    ("劳动争议", 4.0, 60_000.0),
    ("追索劳动报酬纠纷", 3.0, 30_000.0),
    ("买卖合同纠纷", 4.0, 500_000.0),
    ("承揽合同纠纷", 1.5, 400_000.0),
    ("房屋租赁合同纠纷", 1.5, 300_000.0),
    ("民间借贷纠纷", 1.5, 1_000_000.0),
    ("金融借款合同纠纷", 1.0, 5_000_000.0),
)
# (authority, abbreviation in the decision number, reason, amount range)
_HEALTHY_PENALTIES: tuple[tuple[str, str, str, tuple[float, float]], ...] = (
    ("市场监督管理局", "市监", "产品标识不符合规定", (2_000.0, 30_000.0)),
    ("生态环境局", "环", "未按规定设置危险废物识别标志", (10_000.0, 100_000.0)),
    ("应急管理局", "应急", "未按规定对从业人员进行安全生产教育和培训", (5_000.0, 50_000.0)),
    ("消防救援支队", "消", "消防设施、器材未保持完好有效", (5_000.0, 50_000.0)),
    ("税务局", "税", "未按照规定期限办理纳税申报", (200.0, 2_000.0)),
)
_DISTRESS_PENALTIES: tuple[tuple[str, str, str, tuple[float, float]], ...] = (
    ("人力资源和社会保障局", "人社", "未按时足额缴纳社会保险费", (5_000.0, 80_000.0)),
    ("人力资源和社会保障局", "人社", "拖欠劳动者工资报酬", (10_000.0, 200_000.0)),
    ("税务局", "税", "逾期未缴纳税款", (5_000.0, 100_000.0)),
)
_TAX_TYPES = ("增值税", "企业所得税", "城市维护建设税", "个人所得税", "房产税", "城镇土地使用税")
_ABNORMAL_REPORT = "未按照《企业信息公示暂行条例》第八条规定的期限公示年度报告"
_ABNORMAL_ADDRESS = "通过登记的住所或者经营场所无法联系"
_SCOPE_ADDITIONS = ("货物及技术进出口", "自有房屋租赁", "供应链管理服务", "电子元器件批发", "新能源技术开发")
_CAPITAL_STEPS = (50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 10000)  # 万元
_SUMMER = (0.0, 0.0, 0.0, 0.0, 0.0, 0.4, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0)  # by calendar month
_WINTER = (1.0, 0.8, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.6, 1.0)

_ARCHETYPES = ("churn", "utility", "lawsuit", "mixed", "quiet")
_ARCHETYPE_WEIGHTS = (0.32, 0.22, 0.12, 0.24, 0.10)
# weight ranges (low, high) per channel: churn, hiring, utilities, housing fund, lawsuits
_ARCHETYPE_RANGES: dict[str, tuple[tuple[float, float], ...]] = {
    "churn": ((0.7, 1.0), (0.4, 0.9), (0.0, 0.3), (0.2, 0.7), (0.2, 0.7)),
    "utility": ((0.3, 0.5), (0.1, 0.4), (0.6, 1.0), (0.0, 0.4), (0.2, 0.7)),
    "lawsuit": ((0.3, 0.6), (0.1, 0.5), (0.1, 0.4), (0.1, 0.5), (0.8, 1.0)),
    "mixed": ((0.4, 0.9), (0.4, 0.9), (0.4, 0.9), (0.3, 0.8), (0.4, 0.9)),
    "quiet": ((0.2, 0.35), (0.0, 0.3), (0.0, 0.3), (0.0, 0.3), (0.0, 0.3)),
}
_CHANNELS = ("churn", "hiring", "utilities", "housing_fund", "lawsuits")
_SHOCK_KINDS = ("plant_maintenance", "contract_end", "relocation", "lawsuit_cluster")
_SHOCK_WEIGHTS = (0.35, 0.30, 0.20, 0.15)
_MALFORMED_KINDS = (
    "bad_json",
    "bad_check_character",
    "negative_left",
    "unknown_type",
    "missing_field",
    "future_period",
)

Item = dict[str, Any] | str


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Shock:
    """A one-off disturbance of a healthy firm that recovers; kept so a benchmark can tell
    a false alarm on a shock from one on plain noise."""

    kind: str
    period: str
    months: int
    magnitude: float


@dataclass(frozen=True)
class Enterprise:
    """Ground truth for one firm, as the benchmark and truth.json need it."""

    enterprise_id: str
    name: str
    region: str
    industry: str
    size: int
    profile: str  # healthy / shock / deteriorating
    first_period: str
    archetype: str | None = None
    deterioration_start: str | None = None
    default_period: str | None = None
    last_reported_period: str | None = None
    signals: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)
    shocks: tuple[Shock, ...] = ()
    legal_representative: str = ""
    address: str = ""
    registered_capital: int = 0  # 万元


@dataclass(frozen=True)
class WatchlistRow:
    """One loan on one bank's watchlist, in the column order of the watchlist CSV."""

    enterprise_id: str
    loan_id: str
    exposure: int
    due_date: str
    relationship_manager: str
    name: str


@dataclass(frozen=True)
class Outcome:
    enterprise_id: str
    default_period: str


@dataclass
class EventStats:
    """What a pass over the stream produced; filled while streaming so the writer can
    describe the file without reading it back."""

    lines: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    late: int = 0
    corrections: int = 0
    duplicates: int = 0
    malformed: Counter[str] = field(default_factory=Counter)


@dataclass
class _Params:
    """Per-firm state vectors: the event stream is regenerated from these and the seed,
    which is what keeps a Portfolio small whatever its event count."""

    h0: np.ndarray
    q: np.ndarray
    growth: np.ndarray
    kappa: np.ndarray
    cny_mult: np.ndarray
    elec0: np.ndarray
    elec_sigma: np.ndarray
    elec_elasticity: np.ndarray
    shutdown_depth: np.ndarray
    summer_amp: np.ndarray
    water0: np.ndarray  # nan: no water meter reported
    gas0: np.ndarray  # nan: no gas
    hf_ratio: np.ndarray
    hf_percap: np.ndarray
    start_idx: np.ndarray
    last_idx: np.ndarray
    is_det: np.ndarray
    det_start: np.ndarray
    default_idx: np.ndarray
    gamma: np.ndarray
    w: np.ndarray  # (5, N) channel weights, order _CHANNELS
    churn_amp: np.ndarray
    util_amp: np.ndarray
    lawsuit_rate: np.ndarray
    hf_stop_p: np.ndarray  # inf: keeps paying the housing fund
    shock_elec: np.ndarray  # (M, N) multiplicative
    shock_leave: np.ndarray  # (M, N) extra share of headcount leaving
    shock_kappa: np.ndarray  # (M, N) extra refill speed
    region_idx: np.ndarray
    industry_idx: np.ndarray
    scheduled: dict[int, list[tuple[int, str]]]


@dataclass(frozen=True)
class Portfolio:
    """A generated portfolio: firms, watchlists and outcomes in memory, events on demand.

    Events are not stored: :func:`iter_events` / :func:`iter_lines` regenerate them
    deterministically from the seed, so a 10,000-firm portfolio costs a few MB.
    """

    seed: int
    periods: tuple[str, ...]
    banks: tuple[str, ...]
    enterprises: tuple[Enterprise, ...]
    watchlists: dict[str, tuple[WatchlistRow, ...]]
    outcomes: tuple[Outcome, ...]
    default_share: float
    shock_share: float
    bad_event_share: float
    late_share: float
    correction_share: float
    duplicate_share: float
    _params: _Params = field(repr=False, compare=False)

    @property
    def end_period(self) -> str:
        return self.periods[-1]

    @property
    def start_period(self) -> str:
        return self.periods[0]

    @property
    def n_enterprises(self) -> int:
        return len(self.enterprises)

    def events(self) -> Iterator[dict[str, Any]]:
        return iter_events(self)


# --------------------------------------------------------------------------- periods


def _checked_period(period: str) -> int:
    """``period_index`` of a period given by the caller, who may have written it wrong."""
    year, _, month = period.partition("-")
    if len(year) != 4 or len(month) != 2 or not year.isdigit() or not month.isdigit() or not 1 <= int(month) <= 12:
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    return period_index(period)


# --------------------------------------------------------------------------- names


def _person(rng: np.random.Generator) -> str:
    given = 1 + int(rng.random() < 0.7)
    return _SURNAMES[int(rng.integers(len(_SURNAMES)))] + "".join(
        _GIVEN[int(k)] for k in rng.integers(len(_GIVEN), size=given)
    )


def _address(rng: np.random.Generator, region: int) -> str:
    _, _, city, district, _ = _REGIONS[region]
    road = _ROADS[int(rng.integers(len(_ROADS)))]
    text = f"{city}{district}{road}{int(rng.integers(1, 400))}号"
    if rng.random() < 0.6:
        text += f"{int(rng.integers(1, 12))}栋{int(rng.integers(1, 9))}楼"
    return text


def _company_name(rng: np.random.Generator, region: int, industry: int, taken: set[str]) -> str:
    city = _REGIONS[region][2]
    word = _INDUSTRIES[industry][0]
    while True:
        length = 2 if rng.random() < 0.85 else 3
        trade = "".join(_TRADE_CHARS[int(k)] for k in rng.integers(len(_TRADE_CHARS), size=length))
        suffix = "股份有限公司" if rng.random() < 0.05 else "有限公司"
        name = f"{city}{trade}{word}{suffix}"
        if name not in taken:
            taken.add(name)
            return name


def _uscc(rng: np.random.Generator, region: int, taken: set[str]) -> str:
    while True:
        if rng.random() < 0.6:  # codes issued since 2015 mostly start the organisation part with MA
            tail = "MA" + "".join(ALPHABET[int(k)] for k in rng.integers(len(ALPHABET), size=7))
        else:
            tail = "".join(ALPHABET[int(k)] for k in rng.integers(10, size=9))
        code = complete_uscc("91" + _REGIONS[region][0] + tail)
        if code not in taken:
            taken.add(code)
            return code


# --------------------------------------------------------------------------- simulate


def simulate(
    n_enterprises: int = 300,
    months: int = 36,
    end_period: str | None = None,
    banks: Sequence[str] = ("bank_a", "bank_b", "bank_c"),
    seed: int = 7,
    default_share: float = 0.08,
    shock_share: float = 0.10,
    bad_event_share: float = 0.0,
    *,
    late_share: float = 0.015,
    correction_share: float = 0.003,
    duplicate_share: float = 0.002,
) -> Portfolio:
    """Draw a portfolio: every firm's parameters, its fate, and the banks' watchlists.

    ``end_period`` defaults to the month before the current one (China time): the
    event contract rejects future periods, and a month-end timestamp of the
    current month would be in the future. Defaults fall in the last 12 months of
    the window or up to 3 months after it, so outcomes.csv may name periods after
    ``end_period``; those firms are already sliding by the end of the data.
    """
    if n_enterprises < 1:
        raise ValueError("n_enterprises must be >= 1")
    if months < _MIN_MONTHS:
        raise ValueError(f"months must be >= {_MIN_MONTHS}: deterioration needs a year of context")
    if not banks:
        raise ValueError("at least one bank is needed")
    if len(set(banks)) != len(banks):
        raise ValueError("bank names must be unique")
    for name, share in (
        ("default_share", default_share),
        ("shock_share", shock_share),
        ("bad_event_share", bad_event_share),
        ("late_share", late_share),
        ("correction_share", correction_share),
        ("duplicate_share", duplicate_share),
    ):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {share}")
    now = datetime.now(CHINA_TZ)
    current = month_index(now.year, now.month)
    end = current - 1 if end_period is None else _checked_period(end_period)
    if end >= current:
        raise ValueError(f"end_period {period_at(end)} is not over yet: events would be in the future")
    first = end - months + 1
    periods = tuple(period_at(first + t) for t in range(months))
    if int(periods[0][:4]) < 1990 or int(periods[-1][:4]) > 2060:
        raise ValueError("periods must lie within 1990-2060 (the Chinese New Year table)")

    firm_ss, _, bank_ss = np.random.SeedSequence(seed).spawn(3)
    rng = np.random.default_rng(firm_ss)
    n, m = n_enterprises, months

    region_idx = rng.choice(len(_REGIONS), size=n, p=_REGION_WEIGHTS / _REGION_WEIGHTS.sum())
    industry_idx = rng.choice(len(_INDUSTRIES), size=n, p=_INDUSTRY_WEIGHTS / _INDUSTRY_WEIGHTS.sum())
    manufacturing = np.array([_INDUSTRIES[k][1] for k in industry_idx])
    kwh_per_head = np.array([_INDUSTRIES[k][2] for k in industry_idx])
    gas_industry = np.array([_INDUSTRIES[k][3] for k in industry_idx])

    # Heavy-tailed size: median ~60 insured, a few in the thousands.
    h0 = np.clip(np.rint(rng.lognormal(math.log(60.0), 1.1, n)), 10, 3000).astype(np.int64)
    q = np.exp(rng.uniform(math.log(0.01), math.log(0.04), n))
    growth = np.clip(rng.normal(0.02, 0.10, n), -0.25, 0.30) / 12.0
    kappa = rng.uniform(0.15, 0.35, n)
    cny_mult = np.where(manufacturing, rng.uniform(2.5, 5.0, n), rng.uniform(2.0, 3.0, n))
    elec0 = kwh_per_head * rng.lognormal(0.0, 0.5, n) * h0.astype(float) ** 0.95
    elec_sigma = rng.uniform(0.05, 0.10, n)
    elec_elasticity = rng.uniform(0.4, 0.8, n)
    shutdown_depth = rng.uniform(0.30, 0.60, n)
    summer_amp = rng.uniform(0.0, 0.15, n)
    has_water = rng.random(n) < np.where(manufacturing, 0.5, 0.25)
    water0 = np.where(has_water, rng.lognormal(math.log(4.0), 0.6, n) * h0, np.nan)
    has_gas = rng.random(n) < np.where(gas_industry, 0.8, 0.03)
    gas0 = np.where(has_gas, rng.lognormal(math.log(15.0), 0.7, n) * h0, np.nan)
    hf_ratio = rng.uniform(0.6, 1.0, n)
    hf_percap = rng.uniform(300.0, 2500.0, n)

    # Fates.
    order = rng.permutation(n)
    n_det = min(round(default_share * n), n - 1) if n > 1 else 0
    n_shock = min(round(shock_share * n), n - n_det)
    det_ids = np.sort(order[:n_det])
    shock_ids = np.sort(order[n_det : n_det + n_shock])
    healthy_ids = np.sort(order[n_det + n_shock :])

    start_idx = np.zeros(n, dtype=np.int64)
    if m >= 24 and len(healthy_ids):
        # A few firms join the platform late (new firms, newly insured): short histories.
        late_joiners = healthy_ids[rng.random(len(healthy_ids)) < 0.04]
        start_idx[late_joiners] = rng.integers(1, m - 12, size=len(late_joiners))
    last_idx = np.full(n, m - 1, dtype=np.int64)

    is_det = np.zeros(n, dtype=bool)
    is_det[det_ids] = True
    det_start = np.full(n, np.inf)
    default_idx = np.full(n, np.inf)
    gamma = np.ones(n)
    w = np.zeros((len(_CHANNELS), n))
    churn_amp = np.zeros(n)
    util_amp = np.zeros(n)
    lawsuit_rate = np.zeros(n)
    hf_stop_p = np.full(n, np.inf)
    archetypes: dict[int, str] = {}
    scheduled: dict[int, list[tuple[int, str]]] = defaultdict(list)
    det_signals: dict[int, list[str]] = {}
    floor_start = min(12, m // 3)
    for i in det_ids:
        d = int(rng.integers(m - 12, m + 3))
        s = max(d - int(rng.integers(6, 16)), floor_start)
        d = max(d, s + 6)
        det_start[i], default_idx[i] = s, d
        gamma[i] = rng.uniform(1.0, 2.2)
        arch = _ARCHETYPES[int(rng.choice(len(_ARCHETYPES), p=_ARCHETYPE_WEIGHTS))]
        archetypes[i] = arch
        for c, (lo, hi) in enumerate(_ARCHETYPE_RANGES[arch]):
            w[c, i] = rng.uniform(lo, hi)
        churn_amp[i] = rng.uniform(1.5, 4.0)
        util_amp[i] = rng.uniform(0.3, 0.7)
        lawsuit_rate[i] = rng.uniform(0.3, 1.5)
        if w[3, i] >= 0.5 and rng.random() < 0.5:
            hf_stop_p[i] = rng.uniform(0.8, 1.05)
        if d <= m - 1 and rng.random() < 0.5:
            last_idx[i] = min(d + int(rng.integers(0, 3)), m - 1)

        # Hard discrete signals, late and only for some; quiet firms get fewer.
        odds = 0.5 if arch == "quiet" else 1.0
        sig: list[str] = []

        def plan(kind: str, when: int, _i: int = int(i), _sig: list[str] = sig) -> None:
            if 0 <= when < m:
                scheduled[when].append((_i, kind))
                if kind not in _sig:
                    _sig.append(kind)

        span = d - s
        if rng.random() < 0.55 * odds:
            when = s + round(rng.uniform(0.5, 0.95) * span)
            plan("tax_arrears", when)
            if rng.random() < 0.5:
                plan("tax_arrears", when + 3)
        if rng.random() < 0.45 * odds:
            plan("consumption_restriction", d + int(rng.integers(-3, 4)))
        if rng.random() < 0.40 * odds:
            plan("dishonest_debtor", d + int(rng.integers(-1, 6)))
        if rng.random() < 0.25 * odds:
            plan("abnormal_operation", d + int(rng.integers(1, 6)))
        if rng.random() < 0.20 * odds:
            plan("legal_representative_change", s + round(rng.uniform(0.4, 0.9) * span))
        if rng.random() < 0.08 * odds:
            plan("registered_capital_decrease", s + round(rng.uniform(0.3, 0.9) * span))
        if rng.random() < 0.10 * odds:
            plan("address_change", s + round(rng.uniform(0.5, 1.0) * span))
        det_signals[int(i)] = sig

    # One-off shocks that recover.
    shock_elec = np.ones((m, n), dtype=np.float32)
    shock_leave = np.zeros((m, n), dtype=np.float32)
    shock_kappa = np.zeros((m, n), dtype=np.float32)
    firm_shocks: dict[int, list[Shock]] = defaultdict(list)
    for i in shock_ids:
        for _ in range(1 + int(rng.random() < 0.2)):
            kind = _SHOCK_KINDS[int(rng.choice(len(_SHOCK_KINDS), p=_SHOCK_WEIGHTS))]
            t = int(rng.integers(max(1, int(start_idx[i])), m))
            if kind == "plant_maintenance":
                length = int(rng.integers(1, 3))
                depth = float(rng.uniform(0.3, 0.7))
                shock_elec[t : t + length, i] *= 1.0 - depth
                firm_shocks[int(i)].append(Shock(kind, periods[t], min(length, m - t), round(depth, 3)))
            elif kind == "contract_end":
                share = float(rng.uniform(0.10, 0.30))
                shock_leave[t, i] += share
                shock_kappa[t + 1 : t + 5, i] += 0.25
                firm_shocks[int(i)].append(Shock(kind, periods[t], 1, round(share, 3)))
            elif kind == "relocation":
                depth = float(rng.uniform(0.4, 0.8))
                share = float(rng.uniform(0.05, 0.15))
                shock_elec[t, i] *= 1.0 - depth
                shock_leave[t, i] += share
                shock_kappa[t + 1 : t + 4, i] += 0.2
                scheduled[t].append((int(i), "address_change"))
                firm_shocks[int(i)].append(Shock(kind, periods[t], 1, round(depth, 3)))
            else:
                count = int(rng.integers(2, 5))
                for _k in range(count):
                    scheduled[t].append((int(i), "shock_lawsuit"))
                firm_shocks[int(i)].append(Shock(kind, periods[t], 1, float(count)))

    params = _Params(
        h0=h0, q=q, growth=growth, kappa=kappa, cny_mult=cny_mult, elec0=elec0, elec_sigma=elec_sigma,
        elec_elasticity=elec_elasticity, shutdown_depth=shutdown_depth, summer_amp=summer_amp,
        water0=water0, gas0=gas0, hf_ratio=hf_ratio, hf_percap=hf_percap, start_idx=start_idx,
        last_idx=last_idx, is_det=is_det, det_start=det_start, default_idx=default_idx, gamma=gamma, w=w,
        churn_amp=churn_amp, util_amp=util_amp, lawsuit_rate=lawsuit_rate, hf_stop_p=hf_stop_p,
        shock_elec=shock_elec, shock_leave=shock_leave, shock_kappa=shock_kappa, region_idx=region_idx,
        industry_idx=industry_idx, scheduled=dict(scheduled),
    )  # fmt: skip

    # Identities and truth.
    names: set[str] = set()
    codes: set[str] = set()
    enterprises: list[Enterprise] = []
    for i in range(n):
        region, industry = int(region_idx[i]), int(industry_idx[i])
        code = _uscc(rng, region, codes)
        name = _company_name(rng, region, industry, names)
        capital_need = h0[i] * rng.uniform(2.0, 12.0)
        capital = next((c for c in _CAPITAL_STEPS if c >= capital_need), _CAPITAL_STEPS[-1])
        common: dict[str, Any] = dict(
            enterprise_id=code,
            name=name,
            region=_REGIONS[region][0],
            industry=_INDUSTRIES[industry][0],
            size=int(h0[i]),
            first_period=periods[int(start_idx[i])],
            legal_representative=_person(rng),
            address=_address(rng, region),
            registered_capital=capital,
        )
        if is_det[i]:
            signals = [_CHANNELS[c] for c in range(len(_CHANNELS)) if w[c, i] >= 0.2]
            if "utilities" in signals:
                signals.remove("utilities")
                signals += ["electricity"] + [
                    k for k, v in (("water", water0[i]), ("gas", gas0[i])) if v == v
                ]
            if np.isfinite(hf_stop_p[i]):
                signals.append("housing_fund_stopped")
            signals += det_signals[i]
            enterprises.append(
                Enterprise(
                    **common,
                    profile="deteriorating",
                    archetype=archetypes[i],
                    deterioration_start=period_at(first + int(det_start[i])),
                    default_period=period_at(first + int(default_idx[i])),
                    last_reported_period=periods[int(last_idx[i])],
                    signals=tuple(signals),
                    weights={c: round(float(w[k, i]), 3) for k, c in enumerate(_CHANNELS)},
                )
            )
        else:
            enterprises.append(
                Enterprise(
                    **common,
                    profile="shock" if i in firm_shocks else "healthy",
                    last_reported_period=periods[-1],
                    shocks=tuple(firm_shocks.get(i, ())),
                )
            )

    watchlists = _watchlists(np.random.default_rng(bank_ss), enterprises, tuple(banks), h0, end)
    outcomes = tuple(
        Outcome(e.enterprise_id, e.default_period) for e in enterprises if e.default_period is not None
    )
    return Portfolio(
        seed=seed,
        periods=periods,
        banks=tuple(banks),
        enterprises=tuple(enterprises),
        watchlists=watchlists,
        outcomes=outcomes,
        default_share=default_share,
        shock_share=shock_share,
        bad_event_share=bad_event_share,
        late_share=late_share,
        correction_share=correction_share,
        duplicate_share=duplicate_share,
        _params=params,
    )


def _watchlists(
    rng: np.random.Generator,
    enterprises: list[Enterprise],
    banks: tuple[str, ...],
    h0: np.ndarray,
    end: int,
) -> dict[str, tuple[WatchlistRow, ...]]:
    """Overlapping watchlists: the fan-out of one detection to several banks, and the
    firm nobody watches, are both things the alerting side must get right."""
    n, b = len(enterprises), len(banks)
    share = rng.uniform(0.4, 0.6, b)
    watched = rng.random((n, b)) < share
    defaulting = np.array([e.default_period is not None for e in enterprises])
    for i in np.nonzero(defaulting & ~watched.any(axis=1))[0]:
        watched[i, int(rng.integers(b))] = True
    if watched.any(axis=1).all():  # someone must be watched by nobody
        candidates = np.nonzero(~defaulting)[0]
        if len(candidates):
            watched[int(rng.choice(candidates))] = False
    out: dict[str, tuple[WatchlistRow, ...]] = {}
    for k, bank in enumerate(banks):
        prefix = "".join(ch for ch in bank.upper() if ch.isalnum()) or f"BANK{k}"
        managers = sorted({_person(rng) for _ in range(int(rng.integers(6, 13)))})
        rows: list[WatchlistRow] = []
        seq = 0
        for i in np.nonzero(watched[:, k])[0]:
            e = enterprises[i]
            for _ in range(1 + int(rng.random() < 0.1)):
                seq += 1
                exposure = float(h0[i]) ** 0.8 * 60_000.0 * rng.lognormal(0.0, 0.4)
                exposure = int(round(min(max(exposure, 500_000.0), 50_000_000.0), -4))
                due = end + int(rng.integers(3, 37))
                due_date = f"{period_at(due)}-{int(rng.integers(1, 29)):02d}"
                rows.append(
                    WatchlistRow(
                        enterprise_id=e.enterprise_id,
                        loan_id=f"{prefix}-LN{seq:06d}",
                        exposure=exposure,
                        due_date=due_date,
                        relationship_manager=managers[int(rng.integers(len(managers)))],
                        name=e.name,
                    )
                )
        out[bank] = tuple(rows)
    return out


# --------------------------------------------------------------------------- events


class _Builder:
    """Event construction with the firm-level mutable state that discrete events need
    (who the legal representative is now, where the firm sits now)."""

    def __init__(self, portfolio: Portfolio, rng: np.random.Generator, stats: EventStats) -> None:
        self.pf = portfolio
        self.rng = rng
        self.stats = stats
        self.seq = 0
        self.ids = [e.enterprise_id for e in portfolio.enterprises]
        self.legal_rep = [e.legal_representative for e in portfolio.enterprises]
        self.address = [e.address for e in portfolio.enterprises]
        self.capital = [e.registered_capital for e in portfolio.enterprises]
        self.shareholders = [f"{_person(rng)}、{_person(rng)}" for _ in portfolio.enterprises]
        self.scope = [f"{e.industry}产品的研发、生产与销售" for e in portfolio.enterprises]
        self.followups: dict[int, list[tuple[int, str, dict[str, Any]]]] = defaultdict(list)

    def next_id(self) -> str:
        self.seq += 1
        return f"sim-{self.seq:08d}"

    def event(self, i: int, kind: str, occurred_at: str, data: dict[str, Any]) -> dict[str, Any]:
        self.stats.by_type[kind] += 1
        return {
            "event_id": self.next_id(),
            "enterprise_id": self.ids[i],
            "type": kind,
            "occurred_at": occurred_at,
            "source": SOURCE,
            "data": data,
        }

    def moment(self, t: int) -> str:
        """A working-hours timestamp on a random day of month ``t``: discrete records are
        published on a day, not at month end."""
        year, month = year_month(self.pf.periods[t])
        day = int(self.rng.integers(1, calendar.monthrange(year, month)[1] + 1))
        hour, minute, second = (
            int(self.rng.integers(9, 18)),
            int(self.rng.integers(60)),
            int(self.rng.integers(60)),
        )
        return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}+08:00"

    def _court(self, i: int) -> tuple[str, str]:
        region = int(self.pf._params.region_idx[i])
        if self.rng.random() < 0.25:  # sued where the other party sits
            region = int(self.rng.integers(len(_REGIONS)))
        _, prov, city, district, code = _REGIONS[region]
        court = f"{city}{district}人民法院" if district else f"{city}第一人民法院"
        return court, f"{prov}{code}"

    def _year(self, t: int) -> int:
        return year_month(add_months(self.pf.periods[0], t))[0]

    def lawsuit(self, i: int, t: int, role: str, distressed: bool) -> dict[str, Any]:
        rng = self.rng
        if distressed:
            weights = np.array([c[1] for c in _DISTRESS_CAUSES])
            cause, _, median = _DISTRESS_CAUSES[int(rng.choice(len(weights), p=weights / weights.sum()))]
        else:
            causes = _HEALTHY_PLAINTIFF_CAUSES if role == "plaintiff" else _HEALTHY_DEFENDANT_CAUSES
            cause = causes[int(rng.integers(len(causes)))]
            median = 50_000.0 if cause == "劳动争议" else 200_000.0
        amount = round(float(median * rng.lognormal(0.0, 0.8)), 2)
        court, code = self._court(i)
        case_no = f"({self._year(t)}){code}民初{int(rng.integers(100, 60000))}号"
        data = {
            "case_no": case_no,
            "role": role,
            "cause": cause,
            "amount": amount,
            "court": court,
            "stage": "filed",
        }
        # Cases move on: a judgment months later, enforcement when the loser does not pay.
        if rng.random() < (0.8 if distressed else 0.4):
            tj = t + int(rng.integers(2, 7))
            self.followups[tj].append((i, "lawsuit", {**data, "stage": "judgment"}))
            if role == "defendant" and rng.random() < (0.6 if distressed else 0.08):
                te = tj + int(rng.integers(1, 5))
                enforcement = f"({self._year(te)}){code}执{int(rng.integers(100, 30000))}号"
                self.followups[te].append(
                    (i, "lawsuit", {**data, "case_no": enforcement, "stage": "enforcement"})
                )
        return self.event(i, "lawsuit", self.moment(t), data)

    def penalty(self, i: int, t: int, distressed: bool) -> dict[str, Any]:
        table = _DISTRESS_PENALTIES if distressed else _HEALTHY_PENALTIES
        authority, abbr, reason, (lo, hi) = table[int(self.rng.integers(len(table)))]
        city = _REGIONS[int(self.pf._params.region_idx[i])][2]
        data = {
            "decision_no": f"{city[:2]}{abbr}罚〔{self._year(t)}〕{int(self.rng.integers(1, 3000))}号",
            "authority": f"{city}{authority}",
            "reason": reason,
            "amount": float(round(self.rng.uniform(lo, hi), -2)),
        }
        return self.event(i, "penalty", self.moment(t), data)

    def registration(self, i: int, t: int, field_name: str, distressed: bool = False) -> dict[str, Any]:
        rng = self.rng
        before: str | int
        after: str | int
        if field_name == "legal_representative":
            before = after = self.legal_rep[i]
            while after == before:
                after = _person(rng)
            self.legal_rep[i] = after
        elif field_name == "address":
            before = self.address[i]
            after = _address(rng, int(self.pf._params.region_idx[i]))
            self.address[i] = after
        elif field_name == "registered_capital":
            # In yuan, as a number: registers write "5000000", and the contract checks it is numeric.
            old = self.capital[i]
            steps = [c for c in _CAPITAL_STEPS if (c < old if distressed else c > old)]
            new = (steps[-1] if distressed else steps[0]) if steps else (old // 2 if distressed else old * 2)
            before, after = old * 10_000, new * 10_000
            self.capital[i] = new
        elif field_name == "shareholder":
            before = after = self.shareholders[i]
            while after == before:
                after = f"{before.split('、')[0]}、{_person(rng)}"
            self.shareholders[i] = after
        else:
            before = self.scope[i]
            extra = [x for x in _SCOPE_ADDITIONS if x not in before]
            after = f"{before}；{extra[int(rng.integers(len(extra)))]}" if extra else before.split("；")[0]
            self.scope[i] = after
        data = {"field": field_name, "before": before, "after": after}
        return self.event(i, "registration_change", self.moment(t), data)

    def scheduled(self, i: int, t: int, kind: str) -> dict[str, Any]:
        rng = self.rng
        if kind == "shock_lawsuit":
            return self.lawsuit(i, t, "defendant", distressed=False)
        if kind == "address_change":
            return self.registration(i, t, "address")
        if kind == "legal_representative_change":
            return self.registration(i, t, "legal_representative")
        if kind == "registered_capital_decrease":
            return self.registration(i, t, "registered_capital", distressed=True)
        if kind == "tax_arrears":
            amount = round(float(rng.lognormal(math.log(200_000.0), 1.0)), 2)
            data = {"amount": amount, "tax_type": _TAX_TYPES[int(rng.integers(3))]}
            return self.event(i, "tax_arrears", self.moment(t), data)
        court, code = self._court(i)
        case_no = f"({self._year(t)}){code}执{int(rng.integers(100, 30000))}号"
        if kind == "consumption_restriction":
            return self.event(i, kind, self.moment(t), {"status": "issued", "case_no": case_no})
        if kind == "dishonest_debtor":
            return self.event(
                i, kind, self.moment(t), {"status": "listed", "case_no": case_no, "court": court}
            )
        if kind == "abnormal_operation":
            return self.event(i, kind, self.moment(t), {"status": "listed", "reason": _ABNORMAL_ADDRESS})
        raise ValueError(f"unknown scheduled event kind {kind!r}")


def _corrected(ev: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """The same monthly key re-sent with a slightly different value (a late-filed leaver,
    a re-read meter): the later one must replace the earlier."""
    data = dict(ev["data"])
    kind = ev["type"]
    if kind == "headcount":
        k = min(int(rng.integers(1, 3)), data["insured"])
        if k == 0:
            data["joined"] += 1
            data["insured"] += 1
        else:
            data["left"] += k
            data["insured"] -= k
    elif kind == "utility":
        factor = 1.0 + float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.005, 0.04))
        data["amount"] = round(data["amount"] * factor, 1)
    else:
        per_head = data["amount"] / data["contributors"] if data["contributors"] else 0.0
        delta = -1 if data["contributors"] > 0 and rng.random() < 0.5 else 1
        data["contributors"] += delta
        data["amount"] = round(data["amount"] + delta * (per_head or 500.0), 2)
    return {**ev, "data": data}


def _malformed(ev: dict[str, Any], kind: str, rng: np.random.Generator, builder: _Builder) -> Item:
    """A broken copy of a real event, so the rejection path and the dead-letter store
    see each failure the contract names."""
    bad: dict[str, Any] = {**ev, "event_id": builder.next_id(), "data": dict(ev["data"])}
    if kind == "bad_json":
        text = json.dumps(bad, ensure_ascii=False)
        return text[: int(rng.integers(10, len(text) - 1))]
    if kind == "bad_check_character":
        code = bad["enterprise_id"]
        wrong = [c for c in ALPHABET if c != code[-1]]
        bad["enterprise_id"] = code[:-1] + wrong[int(rng.integers(len(wrong)))]
    elif kind == "negative_left":
        bad["type"] = "headcount"
        bad["data"] = {
            "period": ev["data"]["period"],
            "insured": 10,
            "joined": 0,
            "left": -int(rng.integers(1, 20)),
        }
    elif kind == "unknown_type":
        bad["type"] = "subsidy"  # government subsidies exist on the platform but not in the contract
        bad["data"] = {"period": ev["data"]["period"], "amount": 50000.0}
    elif kind == "missing_field":
        bad["data"].pop("period")
    elif kind == "future_period":
        year, month = bad["data"]["period"].split("-")
        future = f"{int(year) + 50}-{month}"  # far enough ahead to stay in the future
        bad["data"]["period"] = future
        bad["occurred_at"] = f"{future}-28T23:59:59+08:00"
    return bad


def _stream(portfolio: Portfolio, stats: EventStats) -> Iterator[Item]:
    """Events in arrival order: month by month, shuffled within a month, with late
    arrivals, corrections, duplicates and malformed lines mixed in."""
    pf, prm = portfolio, portfolio._params
    rng = np.random.default_rng(np.random.SeedSequence(pf.seed).spawn(3)[1])
    b = _Builder(pf, rng, stats)
    n, m = pf.n_enterprises, len(pf.periods)
    h0f = prm.h0.astype(float)
    h_prev = prm.h0.copy()
    ar_e = np.zeros(n)
    ar_w = np.zeros(n)
    ar_g = np.zeros(n)
    percap = prm.hf_percap.copy()
    has_water = ~np.isnan(prm.water0)
    has_gas = ~np.isnan(prm.gas0)
    water0 = np.nan_to_num(prm.water0)
    gas0 = np.nan_to_num(prm.gas0)
    size_factor = np.clip((h0f / 100.0) ** 0.35, 0.4, 4.0)
    det_start = np.where(prm.is_det, prm.det_start, 0.0)
    span = np.where(prm.is_det, prm.default_idx, 1.0) - det_start
    pending: dict[int, list[Item]] = defaultdict(list)
    w_churn, w_hire, w_util, w_hf, w_law = prm.w

    for t in range(m):
        period = pf.periods[t]
        year, month = year_month(period)
        month_end = f"{period}-{calendar.monthrange(year, month)[1]:02d}T23:59:59+08:00"
        sh, rt = cny_weights(period)
        if month == 7 and t > 0:  # the housing-fund contribution base is reset every July
            percap *= rng.uniform(1.02, 1.06, n)

        linear = np.where(prm.is_det, np.clip((t - det_start) / span, 0.0, 2.0), 0.0)
        p = linear**prm.gamma
        p1 = np.minimum(p, 1.0)
        p_churn = linear ** (0.6 * prm.gamma)  # churn leads: departures move before the rest

        # Headcount: binomial departures around a noisy firm rate, hires that replace
        # normal attrition and pull the firm back to its (trending) target size.
        season = 1.0 + (prm.cny_mult - 1.0) * rt + 0.2 * sh
        rate = prm.q * season * (1.0 + w_churn * prm.churn_amp * p_churn) * np.exp(rng.normal(-0.03, 0.25, n))
        left = rng.binomial(h_prev, np.minimum(rate, 0.9))
        left = np.minimum(left + np.floor(h_prev * prm.shock_leave[t]).astype(np.int64), h_prev)
        target = h0f * np.exp(prm.growth * t) * (1.0 - w_hire * 0.5 * np.minimum(p, 1.5))
        pull = (prm.kappa + prm.shock_kappa[t]) * (target - h_prev)
        hires = np.maximum(prm.q * h_prev + pull, 0.0) * (1.0 - w_hire * 0.9 * p1) * (1.0 - 0.75 * sh)
        joined = rng.poisson(hires * np.exp(rng.normal(-0.02, 0.2, n)))
        insured = np.maximum(h_prev - left + joined, 0)

        # Meters: autocorrelated noise, CNY shutdown dip, summer cooling, slide.
        sig = prm.elec_sigma
        ar_e = 0.6 * ar_e + rng.normal(0.0, 0.55, n) * sig
        ar_w = 0.6 * ar_w + rng.normal(0.0, 0.7, n) * sig
        ar_g = 0.6 * ar_g + rng.normal(0.0, 0.7, n) * sig
        slide = np.clip(1.0 - w_util * prm.util_amp * np.minimum(p, 1.8), 0.03, 1.0)
        rel_h = (np.maximum(insured, 1) / h0f) ** prm.elec_elasticity
        base = rel_h * slide * prm.shock_elec[t]
        elec = (
            prm.elec0 * base * (1.0 - prm.shutdown_depth * sh) * (1.0 - 0.15 * rt)
            * (1.0 + prm.summer_amp * _SUMMER[month - 1]) * np.exp(ar_e + rng.normal(0.0, 0.7, n) * sig)
        )  # fmt: skip
        water = (
            water0
            * base
            * (1.0 - 0.8 * prm.shutdown_depth * sh)
            * np.exp(ar_w + rng.normal(0.0, 0.9, n) * sig)
        )
        gas = (
            gas0
            * base
            * (1.0 - prm.shutdown_depth * sh)
            * (1.0 + 0.3 * _WINTER[month - 1])
            * np.exp(ar_g + rng.normal(0.0, 0.9, n) * sig)
        )

        # Housing fund: a share of the insured, the first thing a struggling firm trims.
        hf_share = np.clip(
            prm.hf_ratio * (1.0 - w_hf * 0.5 * np.minimum(p, 1.5)) + rng.normal(0.0, 0.01, n), 0, 1
        )
        contributors = rng.binomial(insured, hf_share)
        contributors[p >= prm.hf_stop_p] = 0
        hf_amount = contributors * percap * np.exp(rng.normal(0.0, 0.004, n))

        reporting = np.nonzero((prm.start_idx <= t) & (t <= prm.last_idx))[0].tolist()
        ins_l, jn_l, lf_l = insured.tolist(), joined.tolist(), left.tolist()
        elec_l = np.round(elec, 1).tolist()
        water_l = np.round(water, 1).tolist()
        gas_l = np.round(gas, 1).tolist()
        hw_l, hg_l = has_water.tolist(), has_gas.tolist()
        con_l, amt_l = contributors.tolist(), np.round(hf_amount, 2).tolist()
        monthly: list[dict[str, Any]] = []
        add = monthly.append
        ev = b.event
        for i in reporting:
            add(
                ev(
                    i,
                    "headcount",
                    month_end,
                    {"period": period, "insured": ins_l[i], "joined": jn_l[i], "left": lf_l[i]},
                )
            )
            add(
                ev(
                    i,
                    "utility",
                    month_end,
                    {"period": period, "kind": "electricity", "amount": elec_l[i], "unit": "kWh"},
                )
            )
            if hw_l[i]:
                add(
                    ev(
                        i,
                        "utility",
                        month_end,
                        {"period": period, "kind": "water", "amount": water_l[i], "unit": "m3"},
                    )
                )
            if hg_l[i]:
                add(
                    ev(
                        i,
                        "utility",
                        month_end,
                        {"period": period, "kind": "gas", "amount": gas_l[i], "unit": "m3"},
                    )
                )
            add(
                ev(
                    i,
                    "housing_fund",
                    month_end,
                    {"period": period, "contributors": con_l[i], "amount": amt_l[i]},
                )
            )
        h_prev = insured

        # Wire mess: late, corrected, duplicated.
        bucket = pending.pop(t, [])
        k = len(monthly)
        u = rng.random(k)
        late = u < pf.late_share
        delays = rng.integers(1, 3, k)
        for j, item in enumerate(monthly):
            if late[j]:
                pending[t + int(delays[j])].append(item)
                stats.late += 1
            else:
                bucket.append(item)
        for j in np.nonzero(rng.random(k) < pf.correction_share)[0]:
            fixed = _corrected(monthly[j], rng)
            fixed["event_id"] = b.next_id()
            stats.by_type[fixed["type"]] += 1
            stats.corrections += 1
            pending[t + int(rng.integers(1, 3))].append(fixed)
        for j in np.nonzero(rng.random(k) < pf.duplicate_share)[0]:
            stats.duplicates += 1
            copy = {**monthly[j], "data": dict(monthly[j]["data"])}
            pending[t + int(rng.integers(0, 3))].append(copy)

        # Discrete events: background rates for everyone, a slide's own on top.
        exists = prm.start_idx <= t
        draw = rng.random((8, n))
        sued = np.nonzero(exists & (draw[0] < 0.004 * size_factor + w_law * prm.lawsuit_rate * p**2 / 3.0))[0]
        for i in sued.tolist():
            bucket.append(b.lawsuit(i, t, "defendant", distressed=bool(p[i] > 0.05)))
        for i in np.nonzero(exists & (draw[1] < 0.010 * size_factor))[0].tolist():
            bucket.append(b.lawsuit(i, t, "plaintiff", distressed=False))
        for i in np.nonzero(exists & (draw[2] < 0.003 * size_factor + 0.02 * p1))[0].tolist():
            bucket.append(b.penalty(i, t, distressed=bool(p[i] > 0.3 and rng.random() < 0.7)))
        for row, field_name, rate_ in (
            (3, "address", 0.0015),
            (4, "business_scope", 0.003),
            (5, "shareholder", 0.0015),
            (6, "registered_capital", 0.0008),
            (7, "legal_representative", 0.0006),
        ):
            for i in np.nonzero(exists & (draw[row] < rate_))[0].tolist():
                bucket.append(b.registration(i, t, field_name))
        if month == 7:  # missed annual reports are listed in July and usually cured soon after
            for i in np.nonzero(exists & ~prm.is_det & (rng.random(n) < 0.004))[0].tolist():
                bucket.append(
                    b.event(
                        i, "abnormal_operation", b.moment(t), {"status": "listed", "reason": _ABNORMAL_REPORT}
                    )
                )
                b.followups[t + int(rng.integers(1, 5))].append(
                    (i, "abnormal_operation", {"status": "removed", "reason": _ABNORMAL_REPORT})
                )
        for i in np.nonzero(exists & (rng.random(n) < 0.0003))[0].tolist():
            data = {
                "amount": round(float(rng.uniform(1_000.0, 30_000.0)), 2),
                "tax_type": _TAX_TYPES[int(rng.integers(len(_TAX_TYPES)))],
            }
            bucket.append(b.event(i, "tax_arrears", b.moment(t), data))
        for i, kind in prm.scheduled.get(t, ()):
            bucket.append(b.scheduled(i, t, kind))
        for i, kind, data in b.followups.pop(t, ()):
            bucket.append(b.event(i, kind, b.moment(t), data))

        # Malformed copies, on request.
        if pf.bad_event_share > 0 and monthly:
            count = int(rng.binomial(len(bucket), pf.bad_event_share))
            for _ in range(count):
                kind = _MALFORMED_KINDS[int(rng.integers(len(_MALFORMED_KINDS)))]
                base_ev = monthly[int(rng.integers(len(monthly)))]
                bucket.append(_malformed(base_ev, kind, rng, b))
                stats.malformed[kind] += 1

        for j in rng.permutation(len(bucket)).tolist():
            yield bucket[j]

    # Whatever was still in flight when the window closed arrives afterwards.
    for t in sorted(pending):
        bucket = pending[t]
        for j in rng.permutation(len(bucket)).tolist():
            yield bucket[j]


def iter_events(portfolio: Portfolio, stats: EventStats | None = None) -> Iterator[dict[str, Any]]:
    """The event stream as dicts, in arrival order.

    Lines that are not even JSON (the ``bad_json`` malformed kind) have no dict form and
    are skipped here; use :func:`iter_lines` to see exactly what the file holds.
    """
    stats = stats if stats is not None else EventStats()
    for item in _stream(portfolio, stats):
        if isinstance(item, dict):
            stats.lines += 1
            yield item


def iter_lines(portfolio: Portfolio, stats: EventStats | None = None) -> Iterator[str]:
    """The event stream as JSONL lines (no newline), exactly as written to events.jsonl."""
    stats = stats if stats is not None else EventStats()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for item in _stream(portfolio, stats):
        stats.lines += 1
        yield item if isinstance(item, str) else dumps(item)


def write_events(portfolio: Portfolio, path: str | Path) -> EventStats:
    """Stream the events to a JSONL file in bounded memory; return what was written."""
    stats = EventStats()
    buffer: list[str] = []
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for line in iter_lines(portfolio, stats):
            buffer.append(line)
            if len(buffer) >= 8192:
                fh.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            fh.write("\n".join(buffer) + "\n")
    return stats


def _truth(e: Enterprise, banks: list[str]) -> dict[str, Any]:
    record = asdict(e)
    record["shocks"] = [asdict(s) for s in e.shocks]
    record["signals"] = list(e.signals)
    record["watched_by"] = banks
    return record


def write_portfolio(portfolio: Portfolio, out_dir: str | Path) -> dict[str, Path]:
    """Write events.jsonl, one watchlist CSV per bank, outcomes.csv, truth.json and
    manifest.json into ``out_dir``; return the paths by role."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"events": out / "events.jsonl"}
    stats = write_events(portfolio, paths["events"])

    watched_by: dict[str, list[str]] = defaultdict(list)
    for bank, rows in portfolio.watchlists.items():
        path = out / f"watchlist-{bank}.csv"
        paths[f"watchlist-{bank}"] = path
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(
                ["enterprise_id", "loan_id", "exposure", "due_date", "relationship_manager", "name"]
            )
            for r in rows:
                writer.writerow(
                    [r.enterprise_id, r.loan_id, r.exposure, r.due_date, r.relationship_manager, r.name]
                )
                if bank not in watched_by[r.enterprise_id]:
                    watched_by[r.enterprise_id].append(bank)

    paths["outcomes"] = out / "outcomes.csv"
    with open(paths["outcomes"], "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["enterprise_id", "default_period"])
        for o in portfolio.outcomes:
            writer.writerow([o.enterprise_id, o.default_period])

    paths["truth"] = out / "truth.json"
    truth = {e.enterprise_id: _truth(e, watched_by.get(e.enterprise_id, [])) for e in portfolio.enterprises}
    paths["truth"].write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")

    paths["manifest"] = out / "manifest.json"
    profiles = Counter(e.profile for e in portfolio.enterprises)
    end = portfolio.end_period
    manifest = {
        "generator": "monitor.simulate",
        "about": (
            "Synthetic post-loan monitoring portfolio. events.jsonl: wire-format events in arrival order "
            "(late arrivals, corrections, duplicates and, if requested, malformed lines included). "
            "watchlist-<bank>.csv: one row per loan. outcomes.csv: enterprises that default; a "
            "default_period after end_period means the default falls just after the data. truth.json: "
            "per enterprise the profile, deterioration start, injected signals and shocks."
        ),
        "seed": portfolio.seed,
        "source": SOURCE,
        "start_period": portfolio.start_period,
        "end_period": end,
        "months": len(portfolio.periods),
        "enterprises": portfolio.n_enterprises,
        "profiles": dict(profiles),
        "defaults": len(portfolio.outcomes),
        "defaults_within_window": sum(o.default_period <= end for o in portfolio.outcomes),
        "shocks": sum(len(e.shocks) for e in portfolio.enterprises),
        "banks": {bank: {"loans": len(rows), "enterprises": len({r.enterprise_id for r in rows})}
                  for bank, rows in portfolio.watchlists.items()},
        "unwatched_enterprises": sum(e.enterprise_id not in watched_by for e in portfolio.enterprises),
        "settings": {
            "default_share": portfolio.default_share,
            "shock_share": portfolio.shock_share,
            "bad_event_share": portfolio.bad_event_share,
            "late_share": portfolio.late_share,
            "correction_share": portfolio.correction_share,
            "duplicate_share": portfolio.duplicate_share,
        },
        "events": {
            "lines": stats.lines,
            "by_type": dict(sorted(stats.by_type.items())),
            "late": stats.late,
            "corrections": stats.corrections,
            "duplicates": stats.duplicates,
            "malformed": dict(sorted(stats.malformed.items())),
        },
        "files": {role: path.name for role, path in paths.items()},
    }  # fmt: skip
    paths["manifest"].write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return paths
