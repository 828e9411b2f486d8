"""Court cases, penalties, tax arrears, listings and register changes.

Every firm is sued now and then and sues its own customers: base rates grow
with size (about 0.1 suits a year as defendant for a 5-person firm, 0.6 for
100 staff, 2 for 500), differ by sector (construction and logistics are
sued most: subcontracts, wages, traffic accidents) and by firm. Healthy
cases are mostly sales contracts, labour disputes, leases and services;
about half end in a judgment, few in enforcement. A firm in trouble adds
suits by cause group: suppliers (买卖合同纠纷 and kin), lenders (借款合同纠纷,
金融借款合同纠纷, 民间借贷纠纷) and staff (劳动争议, 追索劳动报酬纠纷), which
are judged and enforced more often, and enforcement leads to listings
(失信被执行人, 限制高消费令). A case is a chain of events with one case number
(filed, judgment); enforcement has its own number, as Chinese courts give it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

from bench.heldout.identity import DISTRICTS, INTERMEDIATE_COURT, person_name, street_address
from bench.heldout.months import days_in
from bench.heldout.plans import SUIT_GROUPS, Horizon, Plan
from bench.heldout.population import Firms
from bench.heldout.sectors import SECTORS

__all__ = ["Discrete", "discrete_events", "HEALTHY_CAUSES", "DECLINE_CAUSES"]

# cause: (share among a healthy defendant's suits, median claim CNY, spread of log claim)
HEALTHY_CAUSES: dict[str, tuple[float, float, float]] = {
    "买卖合同纠纷": (0.30, 150_000, 1.2),
    "劳动争议": (0.16, 30_000, 0.8),
    "追索劳动报酬纠纷": (0.04, 20_000, 0.7),
    "服务合同纠纷": (0.08, 80_000, 1.0),
    "租赁合同纠纷": (0.06, 100_000, 1.0),
    "承揽合同纠纷": (0.06, 150_000, 1.1),
    "劳务合同纠纷": (0.04, 40_000, 0.8),
    "产品责任纠纷": (0.03, 50_000, 1.0),
    "侵害商标权纠纷": (0.03, 50_000, 0.8),
    "著作权权属、侵权纠纷": (0.02, 100_000, 1.0),
    "机动车交通事故责任纠纷": (0.03, 80_000, 0.8),
    "建设工程施工合同纠纷": (0.03, 800_000, 1.2),
    "提供劳务者受害责任纠纷": (0.02, 150_000, 0.8),
    "民间借贷纠纷": (0.02, 300_000, 1.0),
    "借款合同纠纷": (0.01, 500_000, 1.0),
    "金融借款合同纠纷": (0.005, 1_000_000, 1.0),
    "房屋租赁合同纠纷": (0.03, 80_000, 0.9),
    "运输合同纠纷": (0.02, 60_000, 0.9),
    "计算机软件开发合同纠纷": (0.01, 200_000, 1.0),
}
SECTOR_CAUSE_BOOST: dict[str, dict[str, float]] = {
    "construction": {"建设工程施工合同纠纷": 8, "劳务合同纠纷": 3, "提供劳务者受害责任纠纷": 3, "追索劳动报酬纠纷": 2},
    "logistics": {"机动车交通事故责任纠纷": 10, "运输合同纠纷": 4},
    "software": {"著作权权属、侵权纠纷": 4, "计算机软件开发合同纠纷": 8},
    "retail": {"买卖合同纠纷": 1.5, "产品责任纠纷": 2, "侵害商标权纠纷": 2},
    "catering": {"劳动争议": 1.5, "产品责任纠纷": 2, "房屋租赁合同纠纷": 2},
}
PLAINTIFF_CAUSES = {"买卖合同纠纷": 0.5, "承揽合同纠纷": 0.12, "服务合同纠纷": 0.12, "租赁合同纠纷": 0.05,
                    "建设工程施工合同纠纷": 0.08, "运输合同纠纷": 0.05, "侵害商标权纠纷": 0.04, "劳动争议": 0.04}
DECLINE_CAUSES: dict[str, dict[str, float]] = {
    "supplier": {"买卖合同纠纷": 0.7, "承揽合同纠纷": 0.12, "租赁合同纠纷": 0.1, "服务合同纠纷": 0.08},
    "lending": {"借款合同纠纷": 0.3, "金融借款合同纠纷": 0.35, "民间借贷纠纷": 0.25, "融资租赁合同纠纷": 0.1},
    "labour": {"劳动争议": 0.45, "追索劳动报酬纠纷": 0.35, "经济补偿金纠纷": 0.1, "确认劳动关系纠纷": 0.1},
}
CLAIM = {"融资租赁合同纠纷": (600_000, 1.0), "经济补偿金纠纷": (40_000, 0.7), "确认劳动关系纠纷": (10_000, 0.6)}
# authority, decision-number prefix, reasons, median fine
PENALTIES: dict[str, list[tuple[str, str, list[str], float]]] = {
    "environment": [("苏州市生态环境局", "苏环罚", ["超标排放大气污染物", "未批先建", "危险废物贮存不规范",
                                               "未按规定运行污染防治设施"], 50_000)],
    "safety": [("苏州市应急管理局", "苏应急罚", ["未按规定开展安全生产教育培训", "安全设备未定期检测维护"], 20_000)],
    "fire": [("苏州市消防救援支队", "苏消行罚决字", ["消防设施未保持完好有效", "占用、堵塞疏散通道"], 10_000)],
    "market": [("苏州市市场监督管理局", "苏市监罚", ["销售不符合食品安全标准的食品", "价格标示不规范",
                                                  "发布虚假广告", "未按规定建立进货查验记录"], 8_000)],
    "traffic": [("苏州市交通运输局", "苏交执罚", ["车辆超限运输", "未按规定进行车辆维护"], 5_000)],
    "building": [("苏州市住房和城乡建设局", "苏建罚", ["施工现场扬尘防治不到位", "未按规定办理施工许可"], 30_000)],
    "city": [("苏州市城市管理局", "苏城管罚", ["擅自设置户外广告设施", "餐饮油烟直排"], 3_000)],
    "tax": [("国家税务总局苏州市税务局", "苏税罚", ["未按期办理纳税申报", "未按规定取得发票"], 2_000)],
}
SECTOR_PENALTIES = {
    "manufacturing": ["environment", "environment", "safety", "fire", "tax"],
    "construction": ["building", "building", "safety", "environment"],
    "retail": ["market", "market", "fire", "city", "tax"],
    "logistics": ["traffic", "traffic", "safety", "fire"],
    "catering": ["market", "market", "city", "fire"],
    "software": ["tax", "market"],
    "business_services": ["tax", "market", "city"],
    "resident_services": ["market", "city", "fire", "tax"],
}
TAX_TYPES = {"增值税": 0.45, "企业所得税": 0.15, "城市维护建设税": 0.08, "个人所得税": 0.08, "房产税": 0.08,
             "城镇土地使用税": 0.06, "印花税": 0.05, "教育费附加": 0.05}
ABNORMAL_REASONS = {
    "annual_report": "未依照《企业信息公示暂行条例》第八条规定的期限公示年度报告",
    "unreachable": "通过登记的住所或者经营场所无法联系",
}
SCOPES = ["一般项目：技术服务、技术开发、技术咨询；货物进出口", "许可项目：道路货物运输；一般项目：普通货物仓储服务",
          "一般项目：五金产品批发；建筑材料销售", "许可项目：餐饮服务；一般项目：食品销售（仅销售预包装食品）",
          "一般项目：企业管理咨询；会议及展览服务", "许可项目：建设工程施工；一般项目：园林绿化工程施工"]


@dataclass
class Discrete:
    firm: int
    type: str
    when: datetime  # China time, naive
    data: dict[str, Any]


@dataclass
class _Register:
    """What the register says about a firm now, so that each change's `before` is the last `after`."""

    rep: str
    capital: float
    address: str
    name: str
    scope: str
    holders: str = field(default="")


class _Courts:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.seq: dict[tuple[str, int, str], int] = {}

    def number(self, court_code: str, year: int, kind: str) -> str:
        key = (court_code, year, kind)
        n = self.seq.get(key, int(self.rng.integers(200, 3000))) + int(self.rng.integers(1, 30))
        self.seq[key] = n
        return f"({year}){court_code}{kind}{n}号"


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    w = np.array([weights[k] for k in keys], float)
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


def _when(rng: np.random.Generator, day: date) -> datetime:
    return datetime.combine(day, time(int(rng.integers(8, 19)), int(rng.integers(0, 60))))


class _Generator:
    def __init__(self, rng: np.random.Generator, f: Firms, plan: Plan, hz: Horizon, first: int) -> None:
        self.rng, self.f, self.plan, self.hz = rng, f, plan, hz
        self.first = first  # first simulated month whose events are published
        self.courts = _Courts(rng)
        self.out: list[Discrete] = []
        self.reg = [
            _Register(f.legal_rep[i], float(f.capital[i]), street_address(rng, DISTRICTS[f.district[i]]),
                      f.names[i], str(rng.choice(SCOPES)))
            for i in range(f.n)
        ]
        self.sales_ratio = (f.size.astype(float) / 20) ** 0.2

    def day_in(self, j: int) -> date:
        m = self.hz.first + j
        return date(m // 12, m % 12 + 1, int(self.rng.integers(1, days_in(m) + 1)))

    def emit(self, i: int, type_: str, when: datetime, **data: Any) -> None:
        self.out.append(Discrete(i, type_, when, data))

    # -- courts ---------------------------------------------------------------------------------

    def case(self, i: int, filed: date, role: str, cause: str, *, p_judgment: float, p_enforce: float,
             listing: float = 0.0) -> None:
        rng = self.rng
        median, spread = CLAIM.get(cause) or HEALTHY_CAUSES.get(cause, (100_000, 0.0, 1.0))[1:]
        amount = round(float(median * np.exp(spread * rng.standard_normal()) * self.sales_ratio[i]), -2)
        district = DISTRICTS[self.f.district[i]]
        court, code = (INTERMEDIATE_COURT if amount > 20_000_000 else (district.court, district.court_code))
        case_no = self.courts.number(code, filed.year, "民初")
        self.emit(i, "lawsuit", _when(rng, filed), case_no=case_no, role=role, cause=cause, amount=amount,
                  court=court, stage="filed")
        if rng.random() >= p_judgment:
            return  # settled, mediated or withdrawn: nothing more is published
        judged = filed + timedelta(days=int(rng.integers(60, 240)))
        award = round(amount * rng.uniform(0.5, 1.0), -2)
        self.emit(i, "lawsuit", _when(rng, judged), case_no=case_no, role=role, cause=cause, amount=award,
                  court=court, stage="judgment")
        if rng.random() >= p_enforce:
            return
        enforced = judged + timedelta(days=int(rng.integers(20, 120)))
        self.enforcement(i, enforced, role, cause, award, listing)

    def enforcement(self, i: int, day: date, role: str, cause: str, amount: float, listing: float) -> None:
        rng = self.rng
        district = DISTRICTS[self.f.district[i]]
        number = self.courts.number(district.court_code, day.year, "执")
        self.emit(i, "lawsuit", _when(rng, day), case_no=number, role=role, cause=cause, amount=amount,
                  court=district.court, stage="enforcement")
        if role == "defendant" and rng.random() < listing:
            restricted = day + timedelta(days=int(rng.integers(10, 60)))
            self.emit(i, "consumption_restriction", _when(rng, restricted), status="issued", case_no=number)
            if rng.random() < 0.6:
                listed = restricted + timedelta(days=int(rng.integers(20, 120)))
                self.emit(i, "dishonest_debtor", _when(rng, listed), status="listed", case_no=number,
                          court=district.court)

    def suits(self) -> None:
        rng, f, plan = self.rng, self.f, self.plan
        t = self.hz.total
        cols = slice(self.first, t)
        live = plan.reporting[:, cols] | (plan.default_month[:, None] >= 0)  # creditors sue closed firms too
        base_d = f.defendant_rate[:, None] / 12 * plan.suit_mult[:, cols] * live
        base_p = (f.plaintiff_rate[:, None] / 12 * plan.suit_mult[:, cols] + plan.plaintiff_extra[:, cols])
        base_p = base_p * plan.reporting[:, cols]
        causes = []
        for s in SECTORS:
            w = {c: v[0] * SECTOR_CAUSE_BOOST.get(s.key, {}).get(c, 1.0) for c, v in HEALTHY_CAUSES.items()}
            causes.append(w)
        for i, j, _ in self.draws(base_d):
            role = "third_party" if rng.random() < 0.03 else "defendant"
            self.case(i, self.day_in(j), role, _pick(rng, causes[f.sector[i]]),
                      p_judgment=0.45, p_enforce=0.06, listing=0.1)
        for i, j, _ in self.draws(base_p):
            self.case(i, self.day_in(j), "plaintiff", _pick(rng, PLAINTIFF_CAUSES), p_judgment=0.5, p_enforce=0.2)
        for group in SUIT_GROUPS:
            for i, j, _ in self.draws(plan.suits[group][:, cols]):
                self.case(i, self.day_in(j), "defendant", _pick(rng, DECLINE_CAUSES[group]),
                          p_judgment=0.7, p_enforce=0.5, listing=0.4)

    def draws(self, rate: np.ndarray) -> Iterator[tuple[int, int, int]]:
        """(firm, simulated month, k) for each of the Poisson(rate) events of the published months."""
        counts = self.rng.poisson(rate)
        for i, j in zip(*np.nonzero(counts)):
            for k in range(int(counts[i, j])):
                yield int(i), self.first + int(j), k

    # -- scheduled events -------------------------------------------------------------------------

    def scheduled(self) -> None:
        rng, f = self.rng, self.f
        for ev in self.plan.scheduled:
            i, j, kind = ev["firm"], ev["month"], ev["type"]
            if j < self.first:
                continue
            day = self.day_in(j)
            if kind == "penalty":
                self.penalty(i, day, rectification=True)
            elif kind == "tax_arrears":
                self.tax(i, j, ev)
            elif kind == "registration_change":
                self.register(i, day, ev)
            elif kind == "abnormal_operation":
                if ev["reason"] == "annual_report":
                    day = day.replace(day=int(rng.integers(1, 16)))
                self.emit(i, "abnormal_operation", _when(rng, day), status="listed",
                          reason=ABNORMAL_REASONS[ev["reason"]])
                if ev.get("removed_after"):
                    back = day + timedelta(days=30 * ev["removed_after"] + int(rng.integers(0, 20)))
                    self.emit(i, "abnormal_operation", _when(rng, back), status="removed",
                              reason=ABNORMAL_REASONS[ev["reason"]])
            elif kind == "consumption_restriction":
                district = DISTRICTS[f.district[i]]
                number = self.courts.number(district.court_code, day.year, "执")
                amount = round(float(20_000 * np.exp(0.8 * rng.standard_normal())), -2)
                self.emit(i, "lawsuit", _when(rng, day - timedelta(days=int(rng.integers(15, 60)))),
                          case_no=number, role="defendant", cause="买卖合同纠纷", amount=amount,
                          court=district.court, stage="enforcement")
                self.emit(i, "consumption_restriction", _when(rng, day), status="issued", case_no=number)
                lifted = day + timedelta(days=ev["lifted_after_days"])
                self.emit(i, "consumption_restriction", _when(rng, lifted), status="lifted", case_no=number)
            elif kind == "listing":
                self.default_listing(i, day, ev)
            elif kind == "bank_suit":
                self.case(i, day, "defendant", "金融借款合同纠纷", p_judgment=0.85, p_enforce=0.8, listing=0.7)

    def default_listing(self, i: int, day: date, ev: dict[str, Any]) -> None:
        rng = self.rng
        district = DISTRICTS[self.f.district[i]]
        cause = _pick(rng, {"买卖合同纠纷": 0.4, "民间借贷纠纷": 0.25, "金融借款合同纠纷": 0.2, "借款合同纠纷": 0.15})
        number = self.courts.number(district.court_code, day.year, "执")
        amount = round(float(400_000 * np.exp(rng.standard_normal()) * self.sales_ratio[i]), -2)
        self.emit(i, "lawsuit", _when(rng, day - timedelta(days=int(rng.integers(20, 90)))), case_no=number,
                  role="defendant", cause=cause, amount=amount, court=district.court, stage="enforcement")
        if ev["restriction"] or not ev["dishonest"]:
            self.emit(i, "consumption_restriction", _when(rng, day - timedelta(days=int(rng.integers(0, 20)))),
                      status="issued", case_no=number)
        if ev["dishonest"]:
            self.emit(i, "dishonest_debtor", _when(rng, day), status="listed", case_no=number, court=district.court)

    def penalty(self, i: int, day: date, rectification: bool = False) -> None:
        rng, sector = self.rng, SECTORS[self.f.sector[i]].key
        group = "environment" if rectification and sector in ("manufacturing", "construction") else str(
            rng.choice(SECTOR_PENALTIES[sector]))
        authority, prefix, reasons, median = PENALTIES[group][0]
        if group in ("tax", "market") and rng.random() < 0.6:  # the district's own bureau
            name = DISTRICTS[self.f.district[i]].name
            authority = authority.replace("苏州市", name if name.startswith("苏州") else name + "市", 1)
        number = f"{prefix}〔{day.year}〕{int(rng.integers(1, 3000))}号"
        amount = round(float(median * np.exp(0.9 * rng.standard_normal())), -2)
        self.emit(i, "penalty", _when(rng, day), decision_no=number, authority=authority,
                  reason=str(rng.choice(reasons)), amount=max(amount, 200.0))

    def penalties(self) -> None:
        for i, j, _ in self.draws(self.f.penalty_rate[:, None] / 12 * self.plan.reporting[:, self.first :]):
            self.penalty(i, self.day_in(j))

    def tax(self, i: int, j: int, ev: dict[str, Any]) -> None:
        rng = self.rng
        m = self.hz.first + j
        day = date(m // 12, m % 12 + 1, int(rng.integers(8, 26)))  # quarterly announcement
        if ev["scale"] == "small":
            amount = 8_000 * np.exp(1.0 * rng.standard_normal())
        else:
            amount = 60_000 * 1.6 ** ev.get("step", 0) * np.exp(0.8 * rng.standard_normal()) * self.sales_ratio[i]
        self.emit(i, "tax_arrears", _when(rng, day), amount=round(float(amount), 2), tax_type=_pick(rng, TAX_TYPES))

    def register(self, i: int, day: date, ev: dict[str, Any]) -> None:
        rng, r = self.rng, self.reg[i]
        fld = ev["field"]
        if fld == "legal_representative":
            before, r.rep = r.rep, person_name(rng)
            after = r.rep
        elif fld == "registered_capital":
            before = r.capital
            factor = rng.choice([0.1, 0.2, 0.3, 0.5]) if ev.get("cut") else rng.choice([1.5, 2.0, 3.0, 5.0])
            r.capital = after = float(round(before * factor, -3))
        elif fld == "shareholder":
            before = r.holders or f"{r.rep} 100%"
            share = int(rng.integers(10, 91))
            r.holders = after = f"{person_name(rng)} {share}%；{person_name(rng)} {100 - share}%"
        elif fld == "address":
            before, r.address = r.address, street_address(rng, DISTRICTS[self.f.district[i]])
            after = r.address
        elif fld == "business_scope":
            before, r.scope = r.scope, str(rng.choice(SCOPES))
            after = r.scope if r.scope != before else before + "；货物进出口"
            r.scope = after
        else:  # name
            before = r.name
            r.name = after = r.name.replace("有限公司", "科技有限公司") if "科技" not in r.name else r.name.replace(
                "科技", "智能", 1)
        self.emit(i, "registration_change", _when(rng, day), field=fld, before=before, after=after)


def discrete_events(rng: np.random.Generator, f: Firms, plan: Plan, hz: Horizon, first: int) -> list[Discrete]:
    """Events of simulated months ``first`` onwards (earlier ones belong to the unseen past).

    Later stages of a case can fall after the span; the feed drops what it cannot publish.
    """
    g = _Generator(rng, f, plan, hz, first)
    g.suits()
    g.penalties()
    g.scheduled()
    return g.out
