"""A test stream whose alerts do not depend on how it is cut into batches.

The guarantee tests compare what Kafka workers deliver with what the embedded
daemon delivers from the same input. That comparison is only fair for input
whose alerts are the same whatever the batch boundaries: a worker's batches
end wherever a fetch or a crash cut the stream, and on a realistic portfolio
(``monitor.simulate``) a detection run on half a month of data can raise an
alert that the next month escalates or resolves, while a run on the whole
month goes straight to the final state. So here:

- every enterprise has flat monthly series (headcount, electricity), which
  no detector reports however much of them it sees;
- some enterprises get exactly one discrete bad-news event in the last six
  months of the window: a court listing or a consumption restriction
  (critical, standing alone), tax arrears or a registered-capital cut
  (high, one level lower when uncorroborated: medium), and also kinds that
  stay below the banks' ``min_severity`` (an abnormal-operation listing, a
  new legal representative). One finding per enterprise, always within
  the recent window and the corroboration window, so its severity is fixed;
- exact duplicates and malformed lines, for the dedupe and the DLQ.

The volume is in the monthly events, so a worker killed "mid-stream" is
killed with batches still to come.
"""

from __future__ import annotations

import calendar
import json
import random
from collections import Counter
from dataclasses import dataclass, field

from detectors.periods import period_range
from streams.uscc import complete_uscc

BANKS = ("bank_a", "bank_b", "bank_c")
SOURCE = "lwtest"


@dataclass
class Stream:
    lines: list[str]  # arrival order, duplicates and bad lines included
    bad: list[str]  # the malformed lines among them
    watchlists: dict[str, list[str]]  # bank -> enterprise ids
    enterprises: list[str]
    counts: Counter = field(default_factory=Counter)

    @property
    def good(self) -> list[str]:
        bad = set(self.bad)
        return [ln for ln in self.lines if ln not in bad]

    def watchlist_csv(self, bank: str) -> str:
        rows = ["enterprise_id,loan_id,exposure,due_date,relationship_manager,name"]
        for i, eid in enumerate(self.watchlists[bank]):
            rows.append(f"{eid},{bank.replace('_', '').upper()}-{i:04d},{1_000_000 + 1000 * i},2029-06-30,王经理,"
                        f"测试企业{eid[-4:]}")
        return "\n".join(rows) + "\n"


def _month_end(period: str) -> str:
    y, m = int(period[:4]), int(period[5:])
    return f"{period}-{calendar.monthrange(y, m)[1]:02d}T23:59:59+08:00"


def _event(eid: str, n: int, type_: str, period: str, data: dict, *, day: str | None = None) -> dict:
    when = f"{period}-{day}T10:00:00+08:00" if day else _month_end(period)
    return {"event_id": f"{SOURCE}-{n:07d}", "enterprise_id": eid, "type": type_, "occurred_at": when,
            "source": SOURCE, "data": data}


_RULES = [
    ("dishonest_debtor", lambda i: {"status": "listed", "case_no": f"(2025)粤03执{i}号", "court": "深圳中院"}),
    ("tax_arrears", lambda i: {"amount": 80_000.0 + 1000 * i, "tax_type": "增值税"}),
    ("consumption_restriction", lambda i: {"status": "issued", "case_no": f"(2025)粤03执限{i}号"}),
    ("registration_change", lambda i: {"field": "registered_capital", "before": 10_000_000, "after": 4_000_000}),
    ("abnormal_operation", lambda i: {"status": "listed", "reason": "未按时公示年报"}),  # low after lowering
    ("registration_change", lambda i: {"field": "legal_representative", "before": "张三", "after": "李四"}),
]


def make_stream(n_enterprises: int = 240, months: int = 24, *, end: str = "2025-06", seed: int = 11,
                rule_share: float = 0.4, duplicate_every: int = 97, bad_lines: int = 24) -> Stream:
    rng = random.Random(seed)
    first = period_range("2000-01", end)[-months]
    periods = period_range(first, end)
    eids = [complete_uscc(f"91440300MA5{i:06d}") for i in range(n_enterprises)]
    n = 0
    by_period: dict[str, list[dict]] = {p: [] for p in periods}
    for i, eid in enumerate(eids):
        insured, kwh = 40 + (i * 7) % 200, 1000.0 * (1 + i % 9)
        for p in periods:
            n += 1
            by_period[p].append(_event(eid, n, "headcount", p, {"period": p, "insured": insured, "joined": 2,
                                                               "left": 2}))
            n += 1
            by_period[p].append(_event(eid, n, "utility", p, {"period": p, "kind": "electricity", "amount": kwh,
                                                             "unit": "kWh"}))
    counts: Counter = Counter()
    for i, eid in enumerate(eids):
        if rng.random() >= rule_share:
            continue
        type_, data = _RULES[i % len(_RULES)]
        p = periods[-1 - rng.randrange(6)]
        n += 1
        by_period[p].append(_event(eid, n, type_, p, data(i), day=f"{rng.randrange(1, 28):02d}"))
        counts[type_ if type_ != "registration_change" else data(i)["field"]] += 1
    events: list[dict] = []
    for p in periods:
        month = by_period[p]
        rng.shuffle(month)  # within a month, arrival order is anybody's guess
        events.extend(month)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    lines = [dumps(e) for e in events]
    out: list[str] = []
    for k, line in enumerate(lines):
        out.append(line)
        if k % duplicate_every == duplicate_every - 1:
            out.append(lines[k - rng.randrange(1, 50)])  # a repeat a little later, as platforms resend
    bad = _bad_lines(eids, periods[-1], bad_lines, rng)
    for line in bad:
        out.insert(rng.randrange(len(out)), line)
    watch = {b: sorted(rng.sample(eids, k=int(0.6 * len(eids)))) for b in BANKS}
    return Stream(out, bad, watch, eids, counts)


def _bad_lines(eids: list[str], last: str, n: int, rng: random.Random) -> list[str]:
    out = []
    for k in range(n):
        eid = eids[rng.randrange(len(eids))]
        base = {"event_id": f"{SOURCE}-bad-{k:04d}", "enterprise_id": eid, "type": "headcount",
                "occurred_at": _month_end(last), "source": SOURCE,
                "data": {"period": last, "insured": 10, "joined": 1, "left": 1}}
        kind = k % 4
        if kind == 0:
            base["enterprise_id"] = eid[:-1] + ("0" if eid[-1] != "0" else "1")  # bad check character
        elif kind == 1:
            base["data"]["left"] = -3
        elif kind == 2:
            base["type"] = "weather"
        if kind == 3:
            out.append('{"event_id": "' + base["event_id"] + '", "enterprise_id": "' + eid + '", "type": ')
        else:
            out.append(json.dumps(base, ensure_ascii=False))
    return out


def enterprise_of(line: str) -> bytes | None:
    """The Kafka key a producer would use: the enterprise id when the line has one."""
    try:
        eid = json.loads(line).get("enterprise_id")
    except (ValueError, AttributeError):
        return None
    return eid.encode() if isinstance(eid, str) else None
